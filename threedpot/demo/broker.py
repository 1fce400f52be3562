"""The demo's MQTT broker on 127.0.0.1: Mosquitto when it is installed, else amqtt in this process.

Both listen on a port of their own (never 1883, which a system broker may hold), allow anonymous
clients (the demo binds to loopback only) and keep nothing on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

from amqtt.broker import Broker

from threedpot.demo.children import Children

READY_TIMEOUT_S = 10.0
EMBEDDED = "embedded (amqtt)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_listening(port: int, timeout_s: float = READY_TIMEOUT_S) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no MQTT broker listening on 127.0.0.1:{port}") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


@contextlib.asynccontextmanager
async def embedded_broker(port: int) -> AsyncIterator[str]:
    """amqtt's broker in this event loop; yields its ``mqtt://`` URL."""

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()
    try:
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        logging.getLogger("amqtt").setLevel(logging.CRITICAL)  # its shutdown logs cancelled loops
        await broker.shutdown()


@contextlib.asynccontextmanager
async def mosquitto_broker(children: Children, work_dir: Path, port: int, binary: str) -> AsyncIterator[str]:
    config = work_dir / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "log_dest stdout\nlog_type error\nlog_type warning\nlog_type notice\n"
    )
    await children.start("mosquitto", [binary, "-c", str(config)])
    await _wait_listening(port)
    yield f"mqtt://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def demo_broker(
    children: Children, work_dir: Path, *, prefer_embedded: bool = False
) -> AsyncIterator[tuple[str, str]]:
    """Yields ``(url, kind)`` where kind says which broker runs."""
    port = free_port()
    binary = shutil.which("mosquitto", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if binary is not None and not prefer_embedded:
        async with mosquitto_broker(children, work_dir, port, binary) as url:
            yield url, f"Mosquitto ({binary})"
    else:
        async with embedded_broker(port) as url:
            yield url, EMBEDDED
