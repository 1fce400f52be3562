"""Where the broker is and how one connection to it is opened: the seam between the link and aiomqtt.

``mqtt://host[:port]`` (default port 1883) or ``mqtts://host[:port]`` (TLS with the system's
default certificate store, default port 8883); ``user:password@`` in the URL is used unless
``username`` / ``password`` are given explicitly. Each connection is a fresh ``aiomqtt.Client``
speaking MQTT 3.1.1 (the embedded broker speaks nothing newer) with a persistent session
(``clean_session=False``) and the retained ``offline`` last will.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

import aiomqtt

from contract.presence import Presence, format_presence

DEFAULT_PORTS: Final = {"mqtt": 1883, "mqtts": 8883}
PAHO_LOGGER: Final = logging.getLogger("edge_agent.mqtt.paho")
"""paho-mqtt and aiomqtt log here (socket errors, "pending publish calls" warnings)."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """A parsed broker URL."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse ``mqtt://`` / ``mqtts://`` URLs; anything else raises ``ValueError``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"broker URL {url!r} must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"broker URL {url!r} must not have a path, query or fragment")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise ValueError(f"broker URL {url!r} has an invalid port: {exc}") from None
    return BrokerAddress(
        host=parts.hostname,
        port=port,
        tls=scheme == "mqtts",
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """Everything needed to open one connection; built once per link."""

    address: BrokerAddress
    client_id: str
    will_topic: str
    keepalive_s: int
    timeout_s: float
    max_inflight: int
    tls_context: ssl.SSLContext | None

    @classmethod
    def build(
        cls,
        address: BrokerAddress,
        *,
        client_id: str,
        will_topic: str,
        keepalive_s: int,
        timeout_s: float,
        max_inflight: int,
    ) -> ConnectOptions:
        """Options for ``address``; loads the default TLS context (a blocking read) once for mqtts."""
        return cls(
            address=address,
            client_id=client_id,
            will_topic=will_topic,
            keepalive_s=keepalive_s,
            timeout_s=timeout_s,
            max_inflight=max_inflight,
            tls_context=ssl.create_default_context() if address.tls else None,
        )


def new_client(options: ConnectOptions) -> aiomqtt.Client:
    """A fresh, not yet connected client (``async with`` it to connect). Must run in the event loop.

    A fresh client per connection means nothing paho-mqtt buffered for a dead connection is
    re-sent behind our back: what must survive a reconnect (outbox rows, acks) is re-sent by the
    link itself, in order.
    """
    address = options.address
    client = aiomqtt.Client(
        hostname=address.host,
        port=address.port,
        username=address.username,
        password=address.password,
        identifier=options.client_id,
        protocol=aiomqtt.ProtocolVersion.V311,
        clean_session=False,
        keepalive=options.keepalive_s,
        timeout=options.timeout_s,
        will=aiomqtt.Will(
            topic=options.will_topic, payload=format_presence(Presence.OFFLINE), qos=1, retain=True
        ),
        tls_context=options.tls_context,
        max_inflight_messages=options.max_inflight,
        logger=PAHO_LOGGER,
    )
    # aiomqtt warns once per publish when more than this many calls await their ack; a full outbox
    # window is expected, so warn only well beyond it.
    client.pending_calls_threshold = options.max_inflight * 2 + 10
    return client


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that ``asyncio.wait_for`` swallowed.

    aiomqtt 2.5.1 waits for CONNACK, SUBACK and PUBACK with ``asyncio.wait_for``. On Python 3.11,
    when the cancellation lands in the same loop iteration as the ack, ``wait_for`` returns the
    result instead of raising (CPython gh-86296, fixed in 3.12), and a loop that publishes on a
    heartbeat then never stops. ``Task.cancelling()`` still counts the request, so every loop of
    the link calls this after its aiomqtt call.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
