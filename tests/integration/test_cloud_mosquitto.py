"""Per-device MQTT credentials and ACL, written by the cloud, enforced by a real Mosquitto.

The broker runs on a random loopback port with ``allow_anonymous false`` and the password file
and ACL the cloud writes at enrolment; the cloud reloads it by SIGHUP through a pid file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from tests.fixtures.broker import accepts_tcp, find_mosquitto, free_port, missing_infrastructure
from tests.fixtures.cloud import CloudFactory, CloudHarness

pytestmark = pytest.mark.integration

INGEST_PASSWORD = "ingest-password-for-tests-0123456789"
CONNECT_RETRY_S = 5.0


@dataclass
class AuthBroker:
    host: str
    port: int
    files: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        path = self.files / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def mosquitto_files(tmp_path: Path) -> Path:
    files = tmp_path / "mosquitto"
    files.mkdir()
    return files


@pytest.fixture
async def secured_cloud(cloud_factory: CloudFactory, mosquitto_files: Path) -> CloudHarness:
    return await cloud_factory(
        mqtt_ingest_password=INGEST_PASSWORD,
        mosquitto={
            "password_file": mosquitto_files / "passwd",
            "acl_file": mosquitto_files / "acl",
            "pid_file": mosquitto_files / "mosquitto.pid",
        },
    )


def _start_broker(binary: str, files: Path) -> AuthBroker:
    port = free_port()
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous false",
        f"password_file {files / 'passwd'}",
        f"acl_file {files / 'acl'}",
        "persistence false",
        f"log_dest file {files / 'mosquitto.log'}",
        "log_type all",
    ]
    if os.geteuid() == 0:
        lines.append(f"user {pwd.getpwuid(os.geteuid()).pw_name}")
    (files / "mosquitto.conf").write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [binary, "-c", str(files / "mosquitto.conf")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    (files / "mosquitto.pid").write_text(f"{process.pid}\n")
    broker = AuthBroker("127.0.0.1", port, files, process)
    deadline = time.monotonic() + 5.0
    while not accepts_tcp("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"mosquitto did not start:\n{broker.log_text()[-2000:]}")
        time.sleep(0.02)
    return broker


@pytest.fixture
def auth_broker(secured_cloud: CloudHarness, mosquitto_files: Path) -> Iterator[AuthBroker]:
    """Mosquitto using the files the cloud wrote at startup (the ingest user, no printer yet)."""
    binary = find_mosquitto()
    if binary is None:
        missing_infrastructure(
            "mosquitto binary not found (install the mosquitto package or set MOSQUITTO_BIN)"
        )
    assert (mosquitto_files / "passwd").read_text().startswith("cloud-ingest:$7$")
    broker = _start_broker(binary, mosquitto_files)
    try:
        yield broker
    finally:
        broker.process.terminate()
        try:
            broker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            broker.process.kill()
            broker.process.wait()


@contextlib.asynccontextmanager
async def _client(
    broker: AuthBroker, username: str | None, password: str | None
) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        username=username,
        password=password,
        identifier=username or "anonymous",
        timeout=5.0,
    ) as client:
        yield client


async def _can_connect(broker: AuthBroker, username: str | None, password: str | None) -> bool:
    try:
        async with _client(broker, username, password):
            return True
    except aiomqtt.MqttError:
        return False


async def _eventually_connects(broker: AuthBroker, username: str, password: str, expected: bool) -> None:
    """Wait (≤5 s) until connecting succeeds / fails as ``expected`` (the broker reloads on SIGHUP)."""
    deadline = time.monotonic() + CONNECT_RETRY_S
    while await _can_connect(broker, username, password) is not expected:
        assert time.monotonic() < deadline, (
            f"{username} connect != {expected}; log:\n{broker.log_text()[-3000:]}"
        )
        await asyncio.sleep(0.1)


async def test_a_device_publishes_only_as_itself(
    secured_cloud: CloudHarness, auth_broker: AuthBroker
) -> None:
    cloud = secured_cloud
    # Both printers enrol while the broker runs: the cloud rewrites the files and SIGHUPs it.
    device_a = await cloud.enrol(name="A")
    device_b = await cloud.enrol(name="B")
    a, b = device_a["printer_id"], device_b["printer_id"]
    await _eventually_connects(auth_broker, a, device_a["mqtt_password"], expected=True)
    await _eventually_connects(auth_broker, b, device_b["mqtt_password"], expected=True)

    assert not await _can_connect(auth_broker, None, None), "anonymous must be refused"
    assert not await _can_connect(auth_broker, a, device_b["mqtt_password"]), "A with B's password"
    assert not await _can_connect(auth_broker, "cloud-ingest", "wrong")

    received: list[tuple[str, bytes]] = []
    async with (
        _client(auth_broker, "cloud-ingest", INGEST_PASSWORD) as ingest,
        _client(auth_broker, a, device_a["mqtt_password"]) as printer_a,
        _client(auth_broker, b, device_b["mqtt_password"]) as printer_b,
    ):
        await ingest.subscribe("fleet/v1/#", qos=1)
        await printer_b.subscribe(f"fleet/v1/{b}/cmd/#", qos=1)
        await printer_a.subscribe(f"fleet/v1/{b}/cmd/#", qos=1)  # denied by the ACL: delivers nothing

        # A forges B's state first, then publishes its own: per-client order is kept, so had the
        # forgery passed it would reach the subscriber before the genuine message.
        await printer_a.publish(f"fleet/v1/{b}/state", b"forged", qos=1)
        await printer_a.publish(f"fleet/v1/{a}/state", b"genuine", qos=1)
        await ingest.publish(f"fleet/v1/{b}/cmd/print.pause", b"pause-b", qos=1)

        async def collect_ingest() -> None:
            async for message in ingest.messages:
                received.append((str(message.topic), bytes(message.payload)))
                if message.payload == b"genuine":
                    return

        async def first_command(client: aiomqtt.Client) -> tuple[str, bytes]:
            async for message in client.messages:
                return str(message.topic), bytes(message.payload)
            raise AssertionError("no message")

        await asyncio.wait_for(collect_ingest(), timeout=5.0)
        assert await asyncio.wait_for(first_command(printer_b), timeout=5.0) == (
            f"fleet/v1/{b}/cmd/print.pause",
            b"pause-b",
        )
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(first_command(printer_a), timeout=0.3)
        # Give a stray forged message a moment, then check nothing but A's own state arrived.
        await asyncio.sleep(0.2)
        while True:
            try:
                message = ingest.messages.__anext__()
                extra = await asyncio.wait_for(message, timeout=0.05)
            except TimeoutError:
                break
            received.append((str(extra.topic), bytes(extra.payload)))
    assert (f"fleet/v1/{a}/state", b"genuine") in received
    assert all(payload != b"forged" for _, payload in received), received
    assert (f"fleet/v1/{b}/cmd/print.pause", b"pause-b") in received  # the ingest user reads commands too


async def test_a_deleted_printer_is_disconnected_and_cannot_reconnect(
    secured_cloud: CloudHarness, auth_broker: AuthBroker
) -> None:
    device = await secured_cloud.enrol(name="short-lived")
    pid, password = device["printer_id"], device["mqtt_password"]
    await _eventually_connects(auth_broker, pid, password, expected=True)
    async with _client(auth_broker, pid, password) as live:
        deleted = await secured_cloud.client.delete(
            f"/api/printers/{pid}", headers=secured_cloud.admin_headers
        )
        assert deleted.status_code == 204
        # On reload Mosquitto drops connected clients whose credentials are gone.
        deadline = time.monotonic() + CONNECT_RETRY_S
        with pytest.raises(aiomqtt.MqttError):
            while time.monotonic() < deadline:
                await live.publish(f"fleet/v1/{pid}/state", b"still here?", qos=1, timeout=1.0)
                await asyncio.sleep(0.1)
    await _eventually_connects(auth_broker, pid, password, expected=False)
