"""The ingest / fleet settings groups: the ingest's on/off rule, and typos refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from cloud.fleet.lifecycle import ingest_enabled
from cloud.settings import CloudSettings, load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("THREEDPOT_CLOUD_"):
            monkeypatch.delenv(name)


def test_the_ingest_runs_when_an_mqtt_url_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not ingest_enabled(CloudSettings())
    assert ingest_enabled(CloudSettings(mqtt_url="mqtt://broker:1883"))
    assert not ingest_enabled(CloudSettings(mqtt_url="mqtt://broker:1883", ingest={"enabled": False}))
    assert ingest_enabled(CloudSettings(ingest={"enabled": True}))
    path = tmp_path / "cloud.toml"
    path.write_text(
        'mqtt_url = "mqtt://broker:1883"\n[ingest]\nbatch_max_items = 500\n[fleet]\nraw_retention_s = 3600\n'
    )
    from_file = load_settings(path)
    assert ingest_enabled(from_file)
    assert from_file.ingest.batch_max_items == 500
    assert from_file.fleet.raw_retention_s == 3600
    monkeypatch.setenv("THREEDPOT_CLOUD_MQTT_URL", "mqtt://other:1883")
    assert ingest_enabled(load_settings())


@pytest.mark.parametrize(
    "overrides",
    [
        {"ingest": {"batch_max_item": 5}},
        {"ingest": {"share_group": "a/b"}},
        {"ingest": {"batch_max_delay_s": 0}},
        {"fleet": {"raw_retention_s": 1}},
        {"fleet": {"feed_heartbeat_s": -1}},
    ],
)
def test_bad_fleet_settings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CloudSettings(**overrides)  # type: ignore[arg-type]
