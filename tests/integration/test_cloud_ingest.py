"""The MQTT ingest against a real Mosquitto, on SQLite and PostgreSQL: printers publish contract
payloads with aiomqtt as agents do, and what they said shows up in the fleet API.

The helpers here (``ingest_cloud``, ``fake_printer``, ``eventually``) are shared by the other
``test_cloud_fleet*`` modules. Each cloud uses a topic prefix of its own, so retained messages other
tests left on the session's broker never reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt
import pytest
from sqlalchemy import select, text

from cloud.fleet.hooks import IngestedAck, IngestedEvent
from cloud.fleet.metrics import FleetMetrics
from cloud.fleet.models import CommandAck
from contract.acks import Ack, AckStatus
from contract.codec import encode
from contract.envelope import now_ms
from contract.events import Event, EventType
from contract.state import (
    HeaterReading,
    JobProgress,
    LinkState,
    PrinterState,
    QueueSnapshot,
    QueueState,
    StateSnapshot,
)
from contract.telemetry import Telemetry
from contract.topics import Topics
from tests.fixtures.broker import ClientFactory, MosquittoBroker
from tests.fixtures.cloud import CloudFactory, CloudHarness

pytestmark = pytest.mark.integration

FAST_INGEST = {"batch_max_delay_s": 0.02, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5}
FAST_FLEET = {"feed_poll_interval_s": 0.1}


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 10.0, what: str = "") -> Any:
    """Await ``check()`` until it returns something truthy (which is returned) or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        await asyncio.sleep(0.05)


def metrics_of(cloud: CloudHarness) -> FleetMetrics:
    metrics = cloud.app.state.fleet_metrics
    assert isinstance(metrics, FleetMetrics)
    return metrics


def sample(metric: Any, **labels: str) -> float:
    child = metric.labels(**labels) if labels else metric
    value: float = child._value.get()
    return value


async def ingest_cloud(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, **overrides: Any
) -> CloudHarness:
    """A cloud with the ingest on, subscribed (both connections) before this returns."""
    prefix = overrides.pop("mqtt_topic_prefix", None) or f"t{uuid.uuid4().hex[:10]}/v1"
    overrides.setdefault("ingest", {**FAST_INGEST, "share_group": f"g{uuid.uuid4().hex[:8]}"})
    overrides.setdefault("fleet", FAST_FLEET)
    cloud = await cloud_factory(mqtt_url=mosquitto.url, mqtt_topic_prefix=prefix, **overrides)
    metrics = metrics_of(cloud)

    async def subscribed() -> bool:
        return all(sample(metrics.connected, connection=name) == 1 for name in ("shared", "presence"))

    await eventually(subscribed, what="the ingest to subscribe")
    return cloud


@dataclass
class FakePrinter:
    """Publishes contract payloads on one printer's topics, like an agent."""

    pid: str
    client: aiomqtt.Client
    topics: Topics
    seq: int = 0

    async def state(
        self,
        printer_state: PrinterState = PrinterState.PRINTING,
        *,
        seq: int | None = None,
        progress: float = 0.5,
        ts: int | None = None,
        tool_c: float = 215.0,
    ) -> StateSnapshot:
        self.seq = seq if seq is not None else self.seq + 1
        job = None
        if printer_state in (PrinterState.PRINTING, PrinterState.PAUSED):
            job = JobProgress(
                job_id="job-1",
                filename="part.gcode",
                progress=progress,
                print_duration=12.0,
                filament_used=34.0,
            )
        snapshot = StateSnapshot(
            ts=ts if ts is not None else now_ms(),
            seq=self.seq,
            link=LinkState.CONNECTED,
            printer_state=printer_state,
            queue=QueueSnapshot(state=QueueState.READY, length=0),
            job=job,
            temps={
                "tool0": HeaterReading(actual=tool_c, target=215.0),
                "bed": HeaterReading(actual=60.0, target=60.0),
            },
        )
        await self.client.publish(self.topics.state(self.pid), encode(snapshot), qos=1, retain=True)
        return snapshot

    async def event(
        self, event_type: EventType, *, event_id: str | None = None, seq: int | None = None
    ) -> Event:
        self.seq = seq if seq is not None else self.seq + 1
        event = Event(
            ts=now_ms(),
            event_id=event_id or uuid.uuid4().hex,
            seq=self.seq,
            event_type=event_type,
            job_id="job-1",
            data={"note": "test"},
        )
        await self.client.publish(self.topics.evt(self.pid), encode(event), qos=1)
        return event

    async def tele(self, ts: int, tool_c: float, *, progress: float | None = 0.5) -> None:
        sample_ = Telemetry(
            ts=ts,
            seq=self.seq,
            temps={"tool0": HeaterReading(actual=tool_c, target=215.0)},
            progress=progress,
            layer=3,
        )
        await self.client.publish(self.topics.tele(self.pid), encode(sample_), qos=1)

    async def raw(self, kind: str, payload: bytes, *, pid: str | None = None, retain: bool = False) -> None:
        await self.client.publish(
            f"{self.topics.prefix}/{pid or self.pid}/{kind}", payload, qos=1, retain=retain
        )


async def fake_printer(
    cloud: CloudHarness, connect: ClientFactory, headers: dict[str, str] | None = None, **body: Any
) -> FakePrinter:
    """Enrol a printer (in ``headers``' organisation) and connect a client that publishes as it."""
    pid = (await cloud.enrol(headers, **body))["printer_id"]
    client = await connect()
    return FakePrinter(pid=pid, client=client, topics=Topics(prefix=cloud.settings.mqtt_topic_prefix))


# -- tests ------------------------------------------------------------------------------------------


async def _printer(cloud: CloudHarness, pid: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await cloud.client.get(f"/api/fleet/printers/{pid}", headers=headers or cloud.admin_headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _events(cloud: CloudHarness, pid: str, **params: Any) -> list[dict[str, Any]]:
    response = await cloud.client.get(
        f"/api/fleet/printers/{pid}/events", params=params, headers=cloud.admin_headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_newer_seq_wins_and_an_older_snapshot_is_ignored(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    cloud = await ingest_cloud(cloud_factory, mosquitto)
    printer = await fake_printer(cloud, mqtt_client_factory, name="voron")
    await printer.state(PrinterState.PRINTING, seq=10, progress=0.25)

    async def at_seq_10() -> dict[str, Any] | None:
        body = await _printer(cloud, printer.pid)
        return body if body["seq"] == 10 else None

    body = await eventually(at_seq_10, what="seq 10 stored")
    assert body["printer_state"] == "printing"
    assert body["progress"] == 0.25
    assert body["job"]["filename"] == "part.gcode"
    assert body["temps"]["tool0"] == {"actual": 215.0, "target": 215.0, "power": None}

    # An older snapshot (a replay, or another replica's late batch) changes nothing; a marker event
    # published after it tells us it has been processed.
    await printer.state(PrinterState.ERROR, seq=7)
    marker = await printer.event(EventType.QUEUE_CHANGED, seq=11)

    async def marker_stored() -> bool:
        return any(e["event_id"] == marker.event_id for e in await _events(cloud, printer.pid))

    await eventually(marker_stored, what="the marker event")
    body = await _printer(cloud, printer.pid)
    assert (body["seq"], body["printer_state"]) == (10, "printing")

    await printer.state(PrinterState.PAUSED, seq=12, progress=0.5)
    body = await eventually(lambda: _seq_is(cloud, printer.pid, 12), what="seq 12 stored")
    assert body["printer_state"] == "paused"


async def _seq_is(cloud: CloudHarness, pid: str, seq: int) -> dict[str, Any] | None:
    body = await _printer(cloud, pid)
    return body if body["seq"] == seq else None


async def test_duplicate_events_are_stored_once_and_listed_in_seq_order(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    cloud = await ingest_cloud(cloud_factory, mosquitto)
    printer = await fake_printer(cloud, mqtt_client_factory)
    seen: list[IngestedEvent] = []

    async def on_events(events: Any) -> None:
        seen.extend(events)

    cloud.services.hooks.on_events.append(on_events)
    # Published out of order, one twice (an outbox replay after a reconnect).
    third = await printer.event(EventType.JOB_COMPLETED, seq=3)
    first = await printer.event(EventType.JOB_STARTED, seq=1)
    await printer.event(EventType.JOB_COMPLETED, seq=3, event_id=third.event_id)
    second = await printer.event(EventType.JOB_PAUSED, seq=2)

    async def three_events() -> list[dict[str, Any]] | None:
        events = await _events(cloud, printer.pid)
        return events if len(events) == 3 else None

    await eventually(three_events, what="three events")
    await printer.event(EventType.JOB_COMPLETED, seq=3, event_id=third.event_id)  # later duplicate
    last = await printer.event(EventType.QUEUE_CHANGED, seq=4)
    events = await eventually(lambda: _events_if(cloud, printer.pid, 4), what="the fourth event")
    assert [e["event_id"] for e in events] == [first.event_id, second.event_id, third.event_id, last.event_id]
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert events[0]["event_type"] == "job.started" and events[0]["job_id"] == "job-1"
    assert events[0]["data"] == {"note": "test"}
    page = await _events(cloud, printer.pid, after_seq=1, limit=2)
    assert [e["seq"] for e in page] == [2, 3]
    # Hooks hear each stored event once, duplicates never.
    assert sorted(e.event.seq for e in seen) == [1, 2, 3, 4]
    assert all(e.printer_id == printer.pid for e in seen)


async def _events_if(cloud: CloudHarness, pid: str, count: int) -> list[dict[str, Any]] | None:
    events = await _events(cloud, pid)
    return events if len(events) == count else None


async def test_bad_messages_are_dropped_and_counted_while_good_ones_go_through(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    cloud = await ingest_cloud(cloud_factory, mosquitto)
    printer = await fake_printer(cloud, mqtt_client_factory)
    other = await fake_printer(cloud, mqtt_client_factory)
    good = encode(Event(ts=now_ms(), event_id="evt-good", seq=1, event_type=EventType.JOB_QUEUED))
    await printer.raw("evt", b"{not json")
    await printer.raw("evt", good.replace(b'"schema":1', b'"schema":2'))
    await printer.raw("evt", b'{"schema":1,"ts":1,"seq":1}')  # no event_id / event_type
    await printer.raw("evt", good[:-1] + f',"pid":"{other.pid}"}}'.encode())  # claims another printer
    await printer.raw("evt", good, pid="pr-notenrolled")
    await printer.raw("state", b'{"schema":1,"ts":1,"seq":1,"message":"a\\u0000b"}')
    await printer.raw("whatever", good)  # not an ingest topic: never subscribed, never counted
    await printer.raw("evt", good[:-1] + f',"pid":"{printer.pid}"}}'.encode())  # agrees with its topic

    events = await eventually(lambda: _events_if(cloud, printer.pid, 1), what="the good event")
    assert events[0]["event_id"] == "evt-good"
    metrics = (await cloud.client.get("/metrics")).text
    for reason, count in (
        ("invalid_json", 1),
        ("schema", 1),
        ("invalid_payload", 2),
        ("pid_mismatch", 1),
        ("unknown_printer", 1),
    ):
        line = f'threedpot_cloud_ingest_dropped_total{{reason="{reason}"}} {count}.0'
        assert line in metrics, (line, [m for m in metrics.splitlines() if "dropped_total" in m])
    assert 'threedpot_cloud_ingest_messages_total{kind="evt"} 1.0' in metrics
    assert await _events(cloud, other.pid) == []


async def test_presence_from_retained_status_and_from_a_last_will(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    # Printers go online while no ingest runs (a cloud without ingest enrols them).
    prefix = f"t{uuid.uuid4().hex[:10]}/v1"
    offline_cloud = await cloud_factory(mqtt_topic_prefix=prefix, ingest={"enabled": False})
    first = await fake_printer(offline_cloud, mqtt_client_factory)
    second = await fake_printer(offline_cloud, mqtt_client_factory)
    topics = first.topics
    # An agent: retained "online" after connecting, retained "offline" as its will.
    agent = await mqtt_client_factory(
        will=aiomqtt.Will(topics.status(first.pid), b"offline", qos=1, retain=True), keepalive=5
    )
    await agent.publish(topics.status(first.pid), b"online", qos=1, retain=True)
    await second.raw("status", b"online", retain=True)

    # The ingest, started afterwards, learns presence from the retained statuses alone.
    cloud = await ingest_cloud(cloud_factory, mosquitto, mqtt_topic_prefix=prefix)
    await eventually(lambda: _online_in(cloud, first.pid), what="online from the retained status")
    await eventually(lambda: _online_in(cloud, second.pid), what="online from the retained status")
    assert (await _printer(cloud, first.pid))["online_since"]
    assert (await _printer(cloud, first.pid))["printer_state"] is None  # presence only, no state yet

    # The agent's connection dies without a DISCONNECT: the broker publishes its will.
    sock = agent._client.socket()
    assert sock is not None
    sock.shutdown(socket.SHUT_RDWR)

    async def offline() -> bool:
        body = await _printer(cloud, first.pid)
        return not body["online"] and body["online_since"] is None

    await eventually(offline, what="offline from the will")
    with contextlib.suppress(aiomqtt.MqttError):
        await agent._disconnected  # retrieve the agent's own "unexpected disconnection"
    summary = (await cloud.client.get("/api/fleet/summary", headers=cloud.admin_headers)).json()
    assert (summary["online"], summary["offline"]) == (1, 1)
    await second.raw("status", b"", retain=True)  # clear the retained message


async def _online_in(cloud: CloudHarness, pid: str) -> bool:
    return bool((await _printer(cloud, pid))["online"])


async def test_acks_are_stored_and_hooks_called_and_a_failing_hook_is_counted(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    cloud = await ingest_cloud(cloud_factory, mosquitto)
    printer = await fake_printer(cloud, mqtt_client_factory)
    heard: list[IngestedAck] = []

    async def broken(_acks: Any) -> None:
        raise RuntimeError("a bug in a hook")

    async def record(acks: Any) -> None:
        heard.extend(acks)

    cloud.services.hooks.on_acks.extend([broken, record])
    for status in (AckStatus.RECEIVED, AckStatus.ACCEPTED, AckStatus.RECEIVED, AckStatus.QUEUED):
        ack = Ack(ts=now_ms(), cmd_id="cmd-1", status=status)
        await printer.client.publish(printer.topics.ack(printer.pid), encode(ack), qos=1)
    rejected = Ack(ts=now_ms(), cmd_id="cmd-2", status=AckStatus.REJECTED, code="bad_signature", message="no")
    await printer.client.publish(printer.topics.ack(printer.pid), encode(rejected), qos=1)

    async def all_heard() -> bool:
        return len(heard) == 4

    await eventually(all_heard, what="four distinct acks")
    assert sorted((a.ack.cmd_id, a.ack.status.value) for a in heard) == [
        ("cmd-1", "accepted"),
        ("cmd-1", "queued"),
        ("cmd-1", "received"),
        ("cmd-2", "rejected"),
    ]
    assert {a.printer_id for a in heard} == {printer.pid}
    assert sample(metrics_of(cloud).hook_failures, kind="acks") >= 1
    async with cloud.services.database.session() as session:
        rows = (
            (await session.execute(select(CommandAck).order_by(CommandAck.cmd_id, CommandAck.status)))
            .scalars()
            .all()
        )
    assert [(r.cmd_id, r.status, r.code) for r in rows] == [
        ("cmd-1", "accepted", None),
        ("cmd-1", "queued", None),
        ("cmd-1", "received", None),
        ("cmd-2", "rejected", "bad_signature"),
    ]


async def test_stale_telemetry_is_shed_and_counted_while_states_and_events_go_through(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    """The database stalls (the telemetry table locked for 1.5 s) while 3,000 tele arrive in one burst
    (mosquitto_pub -l): the reader waits behind the writer, the inbox fills, and once the lock goes every
    tele that waited more than 0.3 s is skipped and counted. Every tele is either ingested or counted, and
    the state and event published after the burst are stored."""
    ingest = {
        **FAST_INGEST,
        "share_group": f"g{uuid.uuid4().hex[:8]}",
        "shed_tele_after_s": 0.3,
        "max_pending_batches": 1,
        "batch_max_items": 100,
    }
    cloud = await ingest_cloud(cloud_factory, mosquitto, ingest=ingest)
    printer = await fake_printer(cloud, mqtt_client_factory)
    burst = 3_000
    lines = b"".join(
        encode(Telemetry(ts=now_ms(), seq=i, temps={"tool0": HeaterReading(actual=215.0, target=215.0)}))
        + b"\n"
        for i in range(1, burst + 1)
    )
    async with _telemetry_locked(cloud, hold_s=1.5):
        publisher = await asyncio.create_subprocess_exec(
            "mosquitto_pub", "-h", mosquitto.host, "-p", str(mosquitto.port), "-q", "0", "-l",
            "-t", printer.topics.tele(printer.pid),
            stdin=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await publisher.communicate(lines)
        assert publisher.returncode == 0
        await printer.state(seq=burst + 1, tool_c=220.0)
        event = Event(ts=now_ms(), event_id="evt-after-burst", seq=1, event_type=EventType.JOB_QUEUED)
        await printer.raw("evt", encode(event))
    metrics = metrics_of(cloud)

    async def all_accounted() -> bool:
        ingested = sample(metrics.messages, kind="tele")
        shed = sample(metrics.dropped, reason="tele_shed")
        return ingested + shed == burst

    await eventually(all_accounted, timeout_s=30, what="every tele ingested or counted as shed")
    shed = sample(metrics.dropped, reason="tele_shed")
    print(f"tele shed: {shed:.0f} of {burst}")
    assert 0 < shed < burst
    events = await eventually(lambda: _events_if(cloud, printer.pid, 1), what="the event after the burst")
    assert events[0]["event_id"] == "evt-after-burst"
    stored = await eventually(
        lambda: _state_seq_at_least(cloud, printer.pid, burst + 1), what="the state after the burst"
    )
    assert stored["seq"] == burst + 1


@contextlib.asynccontextmanager
async def _telemetry_locked(cloud: CloudHarness, hold_s: float) -> AsyncIterator[None]:
    """Writers to the telemetry table wait (SQLite: another connection's write transaction; PostgreSQL:
    LOCK TABLE) until ``hold_s`` after entering, whatever the body does meanwhile."""
    database = cloud.services.database
    if database.dialect == "sqlite":
        path = database.url.database
        assert path is not None
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            yield
            await asyncio.sleep(hold_s)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        return
    async with database.engine.connect() as conn:
        await conn.execute(text("LOCK TABLE fleet_telemetry IN EXCLUSIVE MODE"))
        try:
            yield
            await asyncio.sleep(hold_s)
        finally:
            await conn.rollback()


async def _state_seq_at_least(cloud: CloudHarness, pid: str, seq: int) -> dict[str, Any] | None:
    printer = await _printer(cloud, pid)
    return printer if (printer.get("seq") or 0) >= seq else None
