"""Printer A's MQTT credentials against printer B, on a real Mosquitto running the password file and ACL
the cloud wrote at enrolment (tests/integration/test_cloud_mosquitto.py has the set-up and the basic
case: A forging B's state, A subscribing to B's commands).

Here every topic of B and every wildcard: A publishes forged commands to B, forged state, events,
acks and telemetry of B, Home Assistant discovery of B, and outside the prefix; A subscribes to B's
commands, to ``+`` and ``#`` wildcards and to ``$SYS``. The broker drops all of it: B (listening on its
command topic) and the ingest user (reading the whole prefix) see nothing forged, and A receives
nothing of B's, while the same messages from the rightful senders do arrive.
"""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest

from tests.fixtures.cloud import CloudHarness
from tests.integration.test_cloud_mosquitto import (
    INGEST_PASSWORD,
    AuthBroker,
    _client,
    _eventually_connects,
    auth_broker,
    mosquitto_files,
    secured_cloud,
)

pytestmark = [pytest.mark.security, pytest.mark.integration]
__all__ = ["auth_broker", "mosquitto_files", "secured_cloud"]  # fixtures, used by name

PREFIX = "fleet/v1"


def forged_publications(b: str) -> list[str]:
    return [
        f"{PREFIX}/{b}/cmd/print.cancel",
        f"{PREFIX}/{b}/cmd/gcode",
        f"{PREFIX}/{b}/cmd/job.offer",
        f"{PREFIX}/{b}/state",
        f"{PREFIX}/{b}/status",
        f"{PREFIX}/{b}/info",
        f"{PREFIX}/{b}/evt",
        f"{PREFIX}/{b}/ack",
        f"{PREFIX}/{b}/tele",
        f"{PREFIX}/{b}/anything/else",
        f"homeassistant/device/{b}/config",
        "homeassistant/status",
        f"{PREFIX}/{b}",
        "other/prefix",
    ]


WILDCARD_SUBSCRIPTIONS = [
    "{prefix}/{b}/cmd/#",
    "{prefix}/+/cmd/#",
    "{prefix}/{b}/#",
    "{prefix}/#",
    "#",
    "$SYS/#",
]


async def drain(
    client: aiomqtt.Client, into: list[tuple[str, bytes]], until: bytes | None, timeout_s: float
) -> None:
    """Collect messages into ``into`` until one carries ``until`` (or, with None, until quiet)."""

    async def run() -> None:
        async for message in client.messages:
            into.append((str(message.topic), bytes(message.payload)))
            if until is not None and message.payload == until:
                return

    try:
        await asyncio.wait_for(run(), timeout=timeout_s)
    except TimeoutError:
        if until is not None:
            raise


async def test_printer_a_cannot_publish_to_or_read_printer_b(
    secured_cloud: CloudHarness, auth_broker: AuthBroker
) -> None:
    device_a = await secured_cloud.enrol(name="A")
    device_b = await secured_cloud.enrol(name="B")
    a, b = device_a["printer_id"], device_b["printer_id"]
    await _eventually_connects(auth_broker, a, device_a["mqtt_password"], expected=True)
    await _eventually_connects(auth_broker, b, device_b["mqtt_password"], expected=True)
    forged = json.dumps({"forged_by": a}).encode()
    at_ingest: list[tuple[str, bytes]] = []
    at_b: list[tuple[str, bytes]] = []
    at_a: list[tuple[str, bytes]] = []
    async with (
        _client(auth_broker, "cloud-ingest", INGEST_PASSWORD) as ingest,
        _client(auth_broker, b, device_b["mqtt_password"]) as printer_b,
        _client(auth_broker, a, device_a["mqtt_password"]) as printer_a,
    ):
        await ingest.subscribe(f"{PREFIX}/#", qos=1)
        await ingest.subscribe("homeassistant/#", qos=1)
        await printer_b.subscribe(f"{PREFIX}/{b}/cmd/#", qos=1)
        await printer_b.subscribe("homeassistant/status", qos=1)
        for pattern in WILDCARD_SUBSCRIPTIONS:
            await printer_a.subscribe(pattern.format(prefix=PREFIX, b=b), qos=1)

        # A's forgeries first, then A's own genuine message: per-client order is kept, so a forgery
        # the broker let through would reach the subscribers before the sentinel.
        for topic in forged_publications(b):
            await printer_a.publish(topic, forged, qos=1)
        await printer_a.publish(f"{PREFIX}/{a}/state", b"genuine-a", qos=1)
        # The rightful senders: B's own state, the cloud's command to B.
        await printer_b.publish(f"{PREFIX}/{b}/state", b"genuine-b", qos=1)
        await ingest.publish(f"{PREFIX}/{b}/cmd/print.pause", b"command-for-b", qos=1)

        await drain(ingest, at_ingest, b"command-for-b", 5.0)
        await drain(printer_b, at_b, b"command-for-b", 5.0)
        await drain(printer_a, at_a, None, 0.5)
        await drain(ingest, at_ingest, None, 0.3)

    assert (f"{PREFIX}/{a}/state", b"genuine-a") in at_ingest
    assert (f"{PREFIX}/{b}/state", b"genuine-b") in at_ingest, "the rightful publisher gets through"
    assert [m for m in at_ingest if m[1] == forged] == [], "the broker dropped every forgery"
    assert at_b == [(f"{PREFIX}/{b}/cmd/print.pause", b"command-for-b")], at_b
    assert [m for m in at_a if b in m[0] or m[1] in (b"genuine-b", b"command-for-b")] == [], at_a
    assert not [m for m in at_a if m[0].startswith("$SYS")], "no broker internals for a device"
    log = auth_broker.log_text()
    assert f"Denied PUBLISH from {a}" in log, log[-2000:]
