"""Async serial transport: opens `/dev/ttyACM0`, a `/dev/pts/N` pty or a symlink to either, alike.

A thin shell over pyserial + pyserial-asyncio-fast. Bytes arrive through a callback, already cut
into lines; every way a port can fail maps to one typed `PortError` (see `firmware_bridge.errors`).
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable
from typing import cast

import serial
import serial_asyncio_fast

from firmware_bridge.errors import PortBusy, PortDisconnected, PortError, PortNotFound

log = logging.getLogger(__name__)

LineHandler = Callable[[bytes], None]
LostHandler = Callable[[PortError], None]
MAX_LINE_BYTES = 4096  # a reply longer than this is garbage; cut it so memory stays bounded


class _LineProtocol(asyncio.Protocol):
    def __init__(self, on_lines: Callable[[list[bytes]], None], on_lost: LostHandler) -> None:
        self._on_lines = on_lines
        self._on_lost = on_lost
        self._partial = b""

    def data_received(self, data: bytes) -> None:
        if self._partial:
            data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE_BYTES:
            lines.append(self._partial)
            self._partial = b""
        if lines:
            self._on_lines(lines)

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else ""
        self._on_lost(PortDisconnected(f"serial port closed{reason}"))


class SerialConnection:
    """One open serial port. `write` never blocks; lines go to `on_lines`; loss goes to `on_lost`."""

    def __init__(self, transport: asyncio.Transport, path: str) -> None:
        self._transport = transport
        self.path = path

    def write(self, data: bytes) -> None:
        if data:
            self._transport.write(data)

    @property
    def closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self._transport.close()


def _map_open_error(path: str, exc: BaseException) -> PortError:
    os_error = exc if isinstance(exc, OSError) else getattr(exc, "__context__", None)
    code = getattr(os_error, "errno", None) or getattr(exc, "errno", None)
    text = str(exc)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or "No such file" in text:
        return PortNotFound(f"no serial device at {path}")
    if code in (errno.EBUSY, errno.EAGAIN) or "Could not exclusively lock" in text:
        return PortBusy(f"{path} is in use by another program")
    if code == errno.EACCES:
        return PortError(f"permission denied on {path} (is the user in the dialout group?)")
    return PortError(f"cannot open {path}: {exc}")


async def open_serial(
    path: str,
    baud: int,
    on_lines: Callable[[list[bytes]], None],
    on_lost: LostHandler,
) -> SerialConnection:
    """Open `path` at `baud` (8N1, exclusive). Raises a PortError subclass, never hangs."""
    loop = asyncio.get_running_loop()
    protocol = _LineProtocol(on_lines, on_lost)
    try:
        transport, _ = await serial_asyncio_fast.create_serial_connection(
            loop, lambda: protocol, path, baudrate=baud, exclusive=True
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise _map_open_error(path, exc) from exc
    log.info("opened %s at %d baud", path, baud)
    return SerialConnection(cast(asyncio.Transport, transport), path)
