"""The fleet API on SQLite and PostgreSQL: summary, filters and pagination, organisation scoping,
telemetry history and its rollup. Data arrives the real way: over MQTT through the ingest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloud.fleet.lifecycle import fleet_metrics
from cloud.fleet.rollup import TelemetryRollup
from contract.state import PrinterState
from tests.fixtures.broker import ClientFactory, MosquittoBroker
from tests.fixtures.cloud import CloudFactory, CloudHarness
from tests.integration.test_cloud_ingest import eventually, fake_printer, ingest_cloud

pytestmark = pytest.mark.integration


async def _get(cloud: CloudHarness, url: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = await cloud.client.get(url, params=params, headers=headers or cloud.admin_headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_summary_list_filters_and_pagination(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    cloud = await ingest_cloud(cloud_factory, mosquitto)
    a = await fake_printer(cloud, mqtt_client_factory, name="a-prusa", tags=["bay-1"], material="PETG")
    b = await fake_printer(cloud, mqtt_client_factory, name="b-voron", tags=["bay-2"], material="pla")
    c = await fake_printer(cloud, mqtt_client_factory, name="c-ender", tags=["bay-1", "big"], material="PLA")
    await fake_printer(cloud, mqtt_client_factory, name="d-silent")  # never says anything
    await a.state(PrinterState.PRINTING)
    await b.state(PrinterState.ERROR)
    await c.state(PrinterState.PAUSED)
    await a.raw("status", b"online")
    await c.raw("status", b"online")

    async def settled() -> dict[str, Any] | None:
        summary: dict[str, Any] = await _get(cloud, "/api/fleet/summary")
        return summary if summary["online"] == 2 and summary["by_state"].get("unknown") == 1 else None

    summary = await eventually(settled, what="three states and two online")
    assert summary == {
        "printers": 4,
        "online": 2,
        "offline": 2,
        "printing": 1,
        "paused": 1,
        "errors": 1,
        "by_state": {"printing": 1, "error": 1, "paused": 1, "unknown": 1},
    }

    async def names(**params: Any) -> list[str]:
        page = await _get(cloud, "/api/fleet/printers", **params)
        return [p["name"] for p in page["items"]]

    assert await names() == ["a-prusa", "b-voron", "c-ender", "d-silent"]
    assert await names(state="printing") == ["a-prusa"]
    assert await names(state="unknown") == ["d-silent"]
    assert await names(tag="bay-1") == ["a-prusa", "c-ender"]
    assert await names(material="pla") == ["b-voron", "c-ender"]
    assert await names(online="true") == ["a-prusa", "c-ender"]
    assert await names(online="false", tag="bay-2") == ["b-voron"]
    page = await _get(cloud, "/api/fleet/printers", limit=2, offset=1)
    assert [p["name"] for p in page["items"]] == ["b-voron", "c-ender"]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)
    first = page["items"][0]
    assert first["printer_state"] == "error" and first["tags"] == ["bay-2"] and first["material"] == "pla"
    assert first["temps"]["bed"]["actual"] == 60.0 and first["online"] is False
    bad = await cloud.client.get("/api/fleet/printers?state=exploded", headers=cloud.admin_headers)
    assert bad.status_code == 422


async def test_another_organisations_printer_is_a_404_and_viewers_may_read(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    cloud = await ingest_cloud(cloud_factory, mosquitto)
    _, org_b = await cloud.add_organisation("Org B")
    mine = await fake_printer(cloud, mqtt_client_factory, name="mine")
    theirs = await fake_printer(cloud, mqtt_client_factory, org_b, name="theirs")
    await theirs.state(PrinterState.PRINTING)
    await mine.state(PrinterState.PRINTING)

    async def both_stored() -> bool:
        got = await cloud.client.get(f"/api/fleet/printers/{theirs.pid}", headers=org_b)
        return bool(got.json().get("seq")) and bool(
            (await _get(cloud, f"/api/fleet/printers/{mine.pid}"))["seq"]
        )

    await eventually(both_stored, what="both states")
    for suffix in ("", "/events", "/telemetry"):
        response = await cloud.client.get(
            f"/api/fleet/printers/{theirs.pid}{suffix}", headers=cloud.admin_headers
        )
        assert response.status_code == 404, (suffix, response.text)
        assert response.json()["code"] == "printer_not_found"
    assert [p["id"] for p in (await _get(cloud, "/api/fleet/printers"))["items"]] == [mine.pid]
    assert (await _get(cloud, "/api/fleet/summary"))["printers"] == 1
    assert (await _get(cloud, "/api/fleet/summary", org_b))["printing"] == 1
    _, viewer = await cloud.add_user("viewer")
    assert (await _get(cloud, f"/api/fleet/printers/{mine.pid}", viewer))["name"] == "mine"
    assert (await cloud.client.get("/api/fleet/summary")).status_code == 401


async def test_telemetry_history_raw_then_rolled_up_per_minute(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    cloud = await ingest_cloud(cloud_factory, mosquitto)
    printer = await fake_printer(cloud, mqtt_client_factory)
    now = datetime.now(UTC)
    old_minute = (now - timedelta(hours=7)).replace(second=0, microsecond=0)
    old_ms = int(old_minute.timestamp() * 1000)
    for i, tool_c in enumerate((200.0, 210.0, 230.0)):
        await printer.tele(old_ms + i * 1000, tool_c, progress=0.1 * (i + 1))
    await printer.tele(old_ms + 61_000, 190.0)  # the next minute
    recent_ms = int(now.timestamp() * 1000) - 5_000
    await printer.tele(recent_ms, 215.0)
    url = f"/api/fleet/printers/{printer.pid}/telemetry"
    window = {
        "since": (old_minute - timedelta(minutes=1)).isoformat(),
        "until": (now + timedelta(minutes=1)).isoformat(),
    }

    async def five_raw() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await _get(cloud, url, **window))["items"]
        return items if len(items) == 5 else None

    raw = await eventually(five_raw, what="five raw samples")
    assert [s["temps"]["tool0"]["actual"] for s in raw] == [200.0, 210.0, 230.0, 190.0, 215.0]
    assert raw[0]["layer"] == 3
    recent = await _get(cloud, url)  # default window: the last hour
    assert [s["temps"]["tool0"]["actual"] for s in recent["items"]] == [215.0]

    rollup = TelemetryRollup(
        cloud.services.database,
        cloud.settings.fleet,
        fleet_metrics(cloud.app, cloud.services),
        cloud.services.now,
    )
    assert await rollup.roll_up(now) == 4
    assert await rollup.roll_up(now) == 0  # idempotent
    raw_after = (await _get(cloud, url, **window))["items"]
    assert [s["temps"]["tool0"]["actual"] for s in raw_after] == [215.0]
    minutes = await _get(cloud, url, resolution="minute", **window)
    assert minutes["resolution"] == "minute"
    first, second = minutes["items"]
    assert datetime.fromisoformat(first["minute"]) == old_minute
    assert first["samples"] == 3
    assert first["temps"]["tool0"] == {"mean": pytest.approx(640.0 / 3), "max": 230.0, "target": 215.0}
    assert first["progress"] == pytest.approx(0.3)
    assert second["samples"] == 1 and second["temps"]["tool0"]["max"] == 190.0

    # Per-minute rows expire after minute_retention_s.
    assert await rollup.roll_up(now + timedelta(days=31)) == 1  # the recent raw sample rolls up too
    assert (await _get(cloud, url, resolution="minute", **window))["items"] == []
    bad = await cloud.client.get(
        url, params={"since": now.isoformat(), "until": old_minute.isoformat()}, headers=cloud.admin_headers
    )
    assert bad.status_code == 400
