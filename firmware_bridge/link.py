"""PrinterLink: one live connection to one printer — the I/O shell around `SendWindow`.

    async with PrinterLink(port="/dev/ttyACM0", baud=250000) as link:
        await link.execute("G28")
        ticket = await link.submit("G1 X10 Y10")   # returns once the line is queued
        await link.wait_acked(ticket)               # the firmware has processed it

Replies are read by the transport's callback and handled at once; the only timer is a tick that
lets the window probe a silent firmware. No background task: nothing to leak. When the port
goes away, the firmware halts or the board resets, every waiter is woken with the typed error.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from firmware_bridge.errors import (
    BridgeError,
    FirmwareHalted,
    FirmwareReset,
    HandshakeFailed,
    PortDisconnected,
    PortError,
)
from firmware_bridge.flavours import MARLIN, Flavour, detect_flavour
from firmware_bridge.protocol.framing import frame, is_emergency
from firmware_bridge.protocol.replies import (
    Busy,
    Capability,
    FirmwareError,
    FirmwareInfo,
    Info,
    Ok,
    PositionReport,
    Reply,
    Start,
    Temperatures,
    decode_reply,
)
from firmware_bridge.protocol.temperatures import HeaterReading, Position
from firmware_bridge.protocol.window import SendWindow, WindowLimits
from firmware_bridge.transport import SerialConnection, open_serial

log = logging.getLogger(__name__)

ReplyListener = Callable[[Reply], None]
TICK_S = 0.05
PENDING_HIGH_WATER = 64  # commands queued ahead of the window before `submit` waits
LINE_COUNTER_QUERY_N = 999_999_999  # never the next line: the board answers `Last Line: <n>`


@dataclass(slots=True)
class LinkStats:
    reply_lines: int = 0
    garbage_lines: int = 0  # undecodable bytes, control characters, unrecognisable text


@dataclass(slots=True)
class PrinterStatus:
    """What the firmware last told us about itself."""

    firmware: dict[str, str] = field(default_factory=dict)
    capabilities: dict[str, bool] = field(default_factory=dict)
    temperatures: dict[str, HeaterReading] = field(default_factory=dict)
    position: Position | None = None
    busy_reason: str = ""
    line_counter_at_connect: int | None = None  # the board's last accepted line number, when asked


class PrinterLink:
    """One connection to one printer. Use as an async context manager."""

    def __init__(
        self,
        port: str,
        baud: int = 250000,
        *,
        flavour: Flavour | None = None,
        limits: WindowLimits | None = None,
        handshake_timeout_s: float = 5.0,
        autoreport_temp_s: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self.baud = baud
        self._pinned_flavour = flavour
        self.flavour = flavour or MARLIN
        self._limits = limits
        self.window = SendWindow(limits or self._default_limits(self.flavour), self.flavour, clock())
        self.status = PrinterStatus()
        self.stats = LinkStats()
        self._handshake_timeout_s = handshake_timeout_s
        self._autoreport_temp_s = autoreport_temp_s
        self._clock = clock
        self._conn: SerialConnection | None = None
        self._failure: BridgeError | None = None
        self._halt: FirmwareHalted | None = None
        self._progress = asyncio.Event()
        self._tick: asyncio.TimerHandle | None = None
        self._listeners: list[ReplyListener] = []
        self._handshaking = False
        self._hello = 0
        self._query_line_counter = False

    @staticmethod
    def _default_limits(flavour: Flavour) -> WindowLimits:
        return WindowLimits(max_lines=flavour.default_bufsize, max_bytes=flavour.default_rx_buffer)

    # ---- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> PrinterLink:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def open(self, handshake: bool = True, *, query_line_counter: bool = False) -> None:
        """Open the port and (by default) handshake: line counter, M115, capabilities, auto-report.

        With `query_line_counter`, first ask a board that kept running (the host crashed, the board did
        not) for the number of the last line it accepted: `status.line_counter_at_connect`. Every line
        up to it will be executed, so a resumed stream must start after it."""
        self._query_line_counter = query_line_counter
        self._failure = None
        self._halt = None
        self._conn = await open_serial(self.port, self.baud, self._on_lines, self._on_lost)
        self._schedule_tick()
        if handshake:
            try:
                await self._handshake()
            except BaseException:
                self.close()
                raise

    async def reconnect(self, timeout_s: float = 30.0, first_delay_s: float = 0.1) -> None:
        """Open again once the port is back (a USB cable replugged), with jittered backoff.
        Raises the last PortError or HandshakeFailed when `timeout_s` runs out."""
        self.close()
        deadline = self._clock() + timeout_s
        delay_s = first_delay_s
        while True:
            try:
                await self.open()
                return
            except (PortError, HandshakeFailed):
                if self._clock() + delay_s > deadline:
                    raise
            await asyncio.sleep(delay_s * (0.5 + random.random()))
            delay_s = min(2 * delay_s, 2.0)

    def close(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._failure is None:
            self._fail(PortDisconnected("link closed"))

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._failure is None

    @property
    def failure(self) -> BridgeError | None:
        return self._failure

    def add_listener(self, listener: ReplyListener) -> None:
        """Call `listener` with every parsed reply (actions, errors, temperatures...)."""
        self._listeners.append(listener)

    # ---- sending ----------------------------------------------------------------------------

    async def submit(self, command: str) -> int:
        """Queue a clean command behind the others; returns its ticket. Waits while the queue is full."""
        while self.window.pending >= PENDING_HIGH_WATER:
            await self._wait_progress()
        self._raise_if_failed()
        ticket = self.window.submit(command)
        self._flush()
        return ticket

    async def wait_acked(self, ticket: int) -> None:
        """Until the firmware has acknowledged the command with this ticket."""
        while self.window.acked_ticket < ticket:
            await self._wait_progress()

    async def execute(self, command: str) -> None:
        """Send one command and wait for its `ok`."""
        await self.wait_acked(await self.submit(command))

    async def drain(self) -> None:
        """Until everything queued has been sent and acknowledged."""
        while not self.window.idle:
            await self._wait_progress()

    def restart_numbering(self) -> None:
        """The next line sent is `N0 M110 N0` (start of every job)."""
        self.window.restart_numbering()
        self._flush()

    def emergency(self, command: str) -> None:
        """M112 / M108 / M410 now, ahead of everything queued (the firmware's emergency parser acts
        on arrival). Without an emergency parser the queue is dropped so the command comes next."""
        if not is_emergency(command):
            raise ValueError(f"{command!r} is not an emergency command")
        self._raise_if_failed(allow_halted=True)
        if not self.has_emergency_parser:
            self.window.clear_pending()
        assert self._conn is not None
        self._conn.write(self.window.emergency(command))

    def clear_pending(self) -> int:
        return self.window.clear_pending()

    @property
    def has_emergency_parser(self) -> bool:
        cap = self.status.capabilities.get("EMERGENCY_PARSER")
        return cap if cap is not None else self.flavour.emergency_parser

    # ---- internals --------------------------------------------------------------------------

    async def _wait_progress(self) -> None:
        self._raise_if_failed()
        event = self._progress
        await event.wait()
        self._raise_if_failed()

    def _raise_if_failed(self, allow_halted: bool = False) -> None:
        if self._failure is not None and not (allow_halted and isinstance(self._failure, FirmwareHalted)):
            raise self._failure

    def _wake(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    def _fail(self, error: BridgeError) -> None:
        if self._failure is None or isinstance(error, PortError):
            self._failure = error
        self._wake()

    def _flush(self) -> None:
        if self._conn is None or self._failure is not None:
            return
        data = self.window.take_output(self._clock())
        if data:
            self._conn.write(data)

    def _schedule_tick(self) -> None:
        self._tick = asyncio.get_running_loop().call_later(TICK_S, self._on_tick)

    def _on_tick(self) -> None:
        if self._conn is None:
            return
        if self._failure is None:
            probe = self.window.on_tick(self._clock())
            if probe:
                log.info("%s: firmware quiet, probing (%d bytes)", self.port, len(probe))
                self._conn.write(probe)
                self._wake()
        self._schedule_tick()

    def _on_lost(self, error: PortError) -> None:
        log.warning("%s: %s", self.port, error)
        self._conn = None
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        self._fail(error)

    def _on_lines(self, lines: list[bytes]) -> None:
        now = self._clock()
        acked = self.window.acked_ticket
        for raw in lines:
            if not raw or raw == b"\r":
                continue
            self.stats.reply_lines += 1
            reply = decode_reply(raw)
            if reply is None:
                self.stats.garbage_lines += 1
                self.window.on_garbage(now)
                continue
            self._handle(reply, now)
        self._flush()
        if self.window.acked_ticket != acked or not self.window.in_flight:
            self._wake()

    def _handle(self, reply: Reply, now: float) -> None:
        self.window.on_reply(reply, now)
        if isinstance(reply, Ok):
            if reply.temperatures:
                self.status.temperatures.update(reply.temperatures)
            if reply.firmware:
                self._on_firmware_info(reply.firmware)
            self.status.busy_reason = ""
        elif isinstance(reply, Temperatures):
            self.status.temperatures.update(reply.readings)
        elif isinstance(reply, PositionReport):
            self.status.position = reply.position
        elif isinstance(reply, FirmwareInfo):
            self._on_firmware_info(reply.fields)
        elif isinstance(reply, Capability):
            self.status.capabilities[reply.name] = reply.enabled
        elif isinstance(reply, Busy):
            self.status.busy_reason = reply.reason
        elif isinstance(reply, FirmwareError):
            if reply.fatal or self._halt is not None:
                self._on_halt(reply.message)
            else:
                log.info("%s: firmware error: %s", self.port, reply.message)
        elif isinstance(reply, Start):
            self._on_start()
        for listener in self._listeners:
            listener(reply)

    def _on_firmware_info(self, fields: dict[str, str]) -> None:
        self.status.firmware = dict(fields)
        if self._pinned_flavour is None:
            flavour = detect_flavour(fields.get("FIRMWARE_NAME", ""))
            if flavour is not self.flavour:
                self.flavour = flavour
                self.window.flavour = flavour

    def _on_halt(self, message: str) -> None:
        if self._halt is None:
            log.error("%s: firmware halted: %s", self.port, message)
            self._halt = FirmwareHalted([message])
            self._fail(self._halt)
        elif message not in self._halt.messages:
            self._halt.messages.append(message)

    def _on_start(self) -> None:
        had_work = not self.window.idle
        acked = self.window.acked_ticket
        self.window.firmware_reset()
        self._halt = None
        if self._failure is not None and isinstance(self._failure, FirmwareHalted):
            self._failure = None
        if had_work and not self._handshaking:
            log.warning("%s: printer reset while printing", self.port)
            self._fail(FirmwareReset(acked))

    def recover_from_reset(self) -> None:
        """Accept a reset (or halt) the caller has handled: the link may be used again."""
        if isinstance(self._failure, FirmwareReset | FirmwareHalted):
            self._failure = None
            self._halt = None
            self.window.firmware_reset()

    async def _settle(self, timeout_s: float) -> bool:
        """Read past whatever a running board still says to an earlier host (oks of buffered moves
        after a replug): an unnumbered `M118` echo marks where our conversation starts."""
        self._hello += 1
        token = f"3DPOT-HELLO-{self._hello}"
        seen: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        echoed = False

        def watch(reply: Reply) -> None:
            nonlocal echoed
            text = reply.text if isinstance(reply, Info) else getattr(reply, "command", "")
            if token in text:
                echoed = True
            elif echoed and isinstance(reply, Ok) and not seen.done():
                seen.set_result(None)

        self._listeners.append(watch)
        try:
            assert self._conn is not None
            self._conn.write(f"M118 E1 {token}\n".encode("ascii"))
            await asyncio.wait_for(seen, timeout=timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            self._listeners.remove(watch)

    async def _ask_line_counter(self, timeout_s: float) -> int | None:
        """Send a line numbered out of sequence: the board refuses it with `Last Line: <n>`, naming the
        last line it accepted (and executes nothing). None when the board does not say."""
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def watch(reply: Reply) -> None:
            if isinstance(reply, FirmwareError) and reply.last_line is not None and not answer.done():
                answer.set_result(reply.last_line)

        self._listeners.append(watch)
        try:
            assert self._conn is not None
            self._conn.write(frame(LINE_COUNTER_QUERY_N, "M105"))
            last_line = await asyncio.wait_for(answer, timeout=timeout_s)
            log.info("%s: the board's last accepted line is N%d", self.port, last_line)
            return last_line
        except TimeoutError:
            log.warning("%s: the board did not name its last line", self.port)
            return None
        finally:
            self._listeners.remove(watch)

    async def _handshake(self) -> None:
        """Settle, then M110 N0 until answered (a board may still be booting), M115, auto-report."""
        self._handshaking = True
        self.window.firmware_reset()
        if not await self._settle(1.0):
            log.debug("%s: no echo to M118, going on without it", self.port)
        if self._query_line_counter:
            self.status.line_counter_at_connect = await self._ask_line_counter(1.0)
        try:
            deadline = self._clock() + self._handshake_timeout_s
            while True:
                self.window.firmware_reset()
                self.restart_numbering()
                ticket = self.window.next_ticket - 1
                try:
                    await asyncio.wait_for(self.wait_acked(ticket), timeout=1.0)
                    break
                except TimeoutError:
                    if self._clock() >= deadline:
                        raise HandshakeFailed(
                            f"no printer answered on {self.port} within {self._handshake_timeout_s:.0f}s"
                        ) from None
            await asyncio.wait_for(self.execute("M115"), timeout=self._handshake_timeout_s)
            if self._limits is None:
                self.window.limits = self._default_limits(self.flavour)
                self.window.max_lines = self.window.limits.max_lines
            if self.status.capabilities.get("AUTOREPORT_TEMP") and self._autoreport_temp_s > 0:
                await self.execute(f"M155 S{self._autoreport_temp_s}")
        except TimeoutError:
            raise HandshakeFailed(f"{self.port} did not answer M115") from None
        finally:
            self._handshaking = False
