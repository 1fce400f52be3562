"""Fixtures of the security suite: a real agent process and a real cloud process, both with a 1 MiB
upload limit (set through their environment, as an operator would)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.agent import AgentProcess
from tests.fixtures.broker import MosquittoBroker
from tests.fixtures.cloud_process import CloudProcess
from tests.security import hostile


@pytest.fixture
def agent(
    tmp_path: Path,
    agent_process: Callable[..., AgentProcess],
    mosquitto: MosquittoBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> AgentProcess:
    monkeypatch.setenv("THREEDPOT_AGENT_MAX_UPLOAD_MB", str(hostile.UPLOAD_LIMIT_MB))
    return agent_process(
        serial_port=str(tmp_path / "no-printer-here"),
        mqtt_url=mosquitto.url,
        printer_id="sec1",
        data_dir=tmp_path / "agent-data",
    )


@pytest.fixture
def small_cloud(
    tmp_path: Path, mosquitto: MosquittoBroker, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CloudProcess]:
    monkeypatch.setenv("THREEDPOT_CLOUD_STORAGE__MAX_UPLOAD_MB", str(hostile.UPLOAD_LIMIT_MB))
    monkeypatch.setenv("THREEDPOT_CLOUD_JOBS__DISPATCHER", "false")
    workdir = tmp_path / "cloud-process"
    workdir.mkdir()
    cloud = CloudProcess(workdir, mosquitto.url)
    yield cloud
    cloud.stop()
