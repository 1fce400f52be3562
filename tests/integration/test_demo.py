"""`3dpot demo` with the embedded broker (for machines without Mosquitto): the farm comes up, a job
prints, Ctrl-C stops every process it started. The browser test (tests/browser/test_demo.py) runs the
default demo with Mosquitto and looks at it."""

from __future__ import annotations

from pathlib import Path

import httpx
import psutil
import pytest

from tests.fixtures.demo import DemoProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_demo_on_the_embedded_broker_prints_and_stops_cleanly(tmp_path: Path) -> None:
    demo = DemoProcess(tmp_path, "--embedded-broker")
    try:
        banner = demo.wait_banner(timeout_s=60)
        took_s = demo.elapsed_s()
        assert banner["broker"] == "embedded (amqtt)"
        assert "on Bay" in banner["printing"], banner
        assert took_s < 30, f"the sample job printed only after {took_s:.1f} s"
        url = banner["dashboard"].rstrip("/")
        login = {"email": banner["login"], "password": banner["password"]}
        token = httpx.post(f"{url}/api/auth/login", json=login, timeout=10).json()["access_token"]
        fleet = httpx.get(
            f"{url}/api/fleet/printers", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()["items"]
        assert len(fleet) == 3 and all(p["online"] for p in fleet), fleet
        assert [p["printer_state"] for p in fleet].count("printing") == 1, fleet
        children = demo.descendants()
        assert len(children) >= 7, children  # cloud, 3 printers, 3 agents (the broker runs in-process)
    except BaseException:
        demo.kill()
        raise
    assert demo.interrupt() == 0, demo.stderr_text()
    assert "stopped cleanly" in demo.stderr_text()
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left running after Ctrl-C: {alive}"
