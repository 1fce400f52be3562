"""The send-ahead window: which framed lines go to the firmware, when, and what each reply means.

Pure and synchronous (sans-I/O): the link feeds it replies and clock ticks, and writes whatever
bytes it hands back. Every rule here is about one fact of Marlin-style firmware:

* every line the firmware *reads* earns one `ok` (accepted, or rejected with `Error:...` /
  `Resend: N` / `ok`), so in-flight lines are counted, not guessed;
* lines in flight are bounded by the firmware's command buffer (lines) and its serial receive
  buffer (bytes), so nothing is ever dropped for lack of room (see `_room_for`);
* `Resend: N` means "everything before N is accepted, N and later were thrown away". Lines
  already on their way are refused too, each with one more `Resend: N`, and a firmware that
  flushes its receive buffer on an error (Marlin on AVR) silently drops whatever sits there —
  including a copy of N sent too early. Honouring repeats, or sending copies into that churn, is
  how resend storms start. So a rewind closes a *gate*: an unnumbered `M105` marker goes out
  alone; every request until its `ok T:...` is a repeat; once it is answered, every line sent
  before it has been read and the pipe is empty, so the copies from N on go out and any further
  `Resend: N` is really about them. The marker costs one round trip per resend;
* an `ok` lost on the wire is recovered by a numbered `M105` probe: its `ok T:...` can only come
  after every earlier line was processed, so the lines before it are settled. A probe goes out
  after silence (`probe_after_s`) or at once when a garbled reply suggests an `ok` was eaten.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from firmware_bridge.flavours import Flavour
from firmware_bridge.protocol.framing import command_word, frame, is_emergency, validate_command
from firmware_bridge.protocol.replies import (
    Busy,
    FirmwareError,
    Info,
    Ok,
    Reply,
    Resend,
    UnknownCommand,
    Wait,
)

LONG_COMMANDS = frozenset({"G28", "G29", "M109", "M190", "M191", "M303", "M400", "G4", "M0", "M1", "M600"})
PROBE_COMMAND = "M105"
SYNC_TOKEN = "3DPOT-SYNC-"  # probe echo: `echo:3DPOT-SYNC-<its line number>`
MARKER_TOKEN = "3DPOT-RESYNC-"  # M118 echoes it back: `echo:3DPOT-RESYNC-7` (or an Unknown command)
MARKER_RETRY_S = 0.05  # a marker can be flushed away with the lines around it: ask again, backing off
MARKER_RETRIES = 5  # then (after ~1.6 s) go on without an echo


@dataclass(frozen=True, slots=True)
class WindowLimits:
    """How much the firmware can hold: lines in its command buffer, bytes in its receive buffer."""

    max_lines: int = 4
    max_bytes: int = 128
    #: lines kept for resends; far deeper than any window (OctoPrint keeps 50 and dies past it).
    history: int = 4096
    #: seconds without any reply, while lines are outstanding, before a probe goes out.
    probe_after_s: float = 2.5
    #: learn max_lines from ADVANCED_OK `B` fields (when the profile did not pin it).
    learn_from_advanced_ok: bool = True

    def __post_init__(self) -> None:
        if self.max_lines < 1 or self.max_bytes < 16:
            raise ValueError("a window needs at least 1 line and 16 bytes")
        if self.history < 2 * self.max_lines:
            raise ValueError("history must be deeper than the window")


@dataclass(slots=True)
class _Sent:
    line_no: int | None
    ticket: int | None
    nbytes: int
    word: str
    discarded: bool = False
    emergency: bool = False
    marker: bool = False


@dataclass(slots=True)
class WindowStats:
    lines_sent: int = 0
    bytes_sent: int = 0
    resends: int = 0  # lines sent again
    resend_requests: int = 0
    ignored_resend_requests: int = 0
    bogus_resend_requests: int = 0
    probes: int = 0
    timeouts: int = 0
    stray_oks: int = 0
    garbled_replies: int = 0
    firmware_errors: int = 0


class SendWindow:
    """Send-ahead window over one firmware connection. See the module docstring for the rules."""

    def __init__(self, limits: WindowLimits, flavour: Flavour, now: float = 0.0) -> None:
        self.limits = limits
        self.flavour = flavour
        self.max_lines = limits.max_lines
        self.stats = WindowStats()
        #: highest ticket whose line the firmware acknowledged (tickets count submitted commands).
        self.acked_ticket = -1
        self.acked_line_no = -1  # the line number the firmware gave `acked_ticket`
        self._pending: deque[tuple[int, str]] = deque()
        self._next_ticket = 0
        self._next_line = 1
        self._history: dict[int, tuple[int | None, str, bytes]] = {}
        self._resend_from: int | None = None
        self._inflight: deque[_Sent] = deque()
        self._inflight_bytes = 0
        self._inflight_lines = 0
        self._out = bytearray()
        self._last_rx = now
        self._last_probe = now
        self._gate = False
        self._markers_sent = 0
        self._gate_generation = 0
        self._marker_echoed = False
        self._late_marker_echoes = 0
        self._probe_echoed: int | None = None
        self._marker_retry_s = MARKER_RETRY_S
        self._error_last_line: int | None = None
        self._error_oks_due = 0
        self._stray_oks_due = 0
        self._sync_wanted = False
        self._max_b_seen = -1

    # ---- what the host asks -------------------------------------------------------------------

    def submit(self, command: str) -> int:
        """Queue one clean command; returns its ticket (tickets count up from 0 in submit order)."""
        validate_command(command)
        ticket = self._next_ticket
        self._next_ticket += 1
        self._pending.append((ticket, command))
        return ticket

    def restart_numbering(self) -> None:
        """Next line goes out as `N0 M110 N0`: the firmware's line counter is set to 0."""
        self._history.clear()
        self._resend_from = None
        self._gate = False
        self._next_line = 0
        ticket = self._next_ticket
        self._next_ticket += 1
        self._pending.appendleft((ticket, "M110 N0"))

    def emergency(self, command: str) -> bytes:
        """Bytes to write *now*, outside the window (M112/M108/M410 for an emergency parser)."""
        word = command_word(validate_command(command))
        if not is_emergency(command):
            raise ValueError(f"{command!r} is not an emergency command")
        data = f"{command}\n".encode("ascii")
        if word != "M112":  # the firmware also queues M108/M410 and answers them with an ok
            self._inflight.append(_Sent(None, None, len(data), word, emergency=True))
            self._inflight_bytes += len(data)
        self.stats.bytes_sent += len(data)
        return data

    def clear_pending(self) -> int:
        """Drop every command not yet sent (cancel); returns how many were dropped."""
        dropped = len(self._pending)
        self._pending.clear()
        return dropped

    def firmware_reset(self) -> None:
        """The board rebooted (`start`): whatever was in flight is gone; numbering starts over."""
        self._inflight.clear()
        self._inflight_bytes = 0
        self._inflight_lines = 0
        self._pending.clear()
        self._history.clear()
        self._resend_from = None
        self._gate = False
        self._marker_echoed = False
        self._late_marker_echoes = 0
        self._error_oks_due = 0
        self._stray_oks_due = 0
        self._sync_wanted = False
        self._next_line = 1

    # ---- what the host reads ------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def idle(self) -> bool:
        """Nothing queued, nothing to resend, nothing awaiting an ok."""
        return not self._pending and not self._inflight and self._resend_from is None and not self._gate

    @property
    def next_ticket(self) -> int:
        return self._next_ticket

    def take_output(self, now: float) -> bytes:
        """Fill the window and return the bytes to write (b'' when nothing may go now)."""
        self._fill()
        if not self._out:
            return b""
        data = bytes(self._out)
        self._out.clear()
        return data

    # ---- what the firmware says ---------------------------------------------------------------

    def on_reply(self, reply: Reply, now: float) -> None:
        if isinstance(reply, Ok | Resend | Busy | FirmwareError):
            # signs that the firmware works through our lines; an auto-reported temperature is not:
            # it keeps coming while a lost ok leaves us waiting
            self._last_rx = now
        if isinstance(reply, Ok):
            self._on_ok(reply)
        elif isinstance(reply, Resend):
            self._on_resend(reply.line_no, now)
        elif isinstance(reply, Info | UnknownCommand) and self._on_echo(reply):
            pass
        elif isinstance(reply, UnknownCommand):
            if not any(s.word == reply.command.split(" ")[0].upper() for s in self._inflight):
                self._stray_oks_due += 1  # a fragment of a garbled line: its ok belongs to no line of ours
        elif isinstance(reply, FirmwareError):
            self.stats.firmware_errors += 1
            self._error_last_line = reply.last_line
        elif isinstance(reply, Wait) and self._inflight:
            self._sync_wanted = True  # idle firmware while we wait for oks: settle the count

    def on_garbage(self, now: float) -> None:
        """A reply line that was not valid text or not recognisable: it may have been an ok."""
        self.stats.garbled_replies += 1
        if self._inflight:
            self._sync_wanted = True

    def on_tick(self, now: float) -> bytes:
        """Called periodically; returns probe or marker bytes to write when the firmware went quiet."""
        silence = now - max(self._last_rx, self._last_probe)
        if self._gate:
            if silence < self._marker_retry_s:
                return b""
            if self._markers_sent > MARKER_RETRIES:
                # a firmware that never echoes the marker (no M118, no token in its complaint):
                # everything sent before it has long been read, so go on without the echo
                self._open_gate(keep_markers=False)
                return b""
            self._marker_retry_s = min(2 * self._marker_retry_s, self.limits.probe_after_s)
            self._last_probe = now
            return self._send_marker()
        if not self._inflight:
            return b""
        oldest = next((s for s in self._inflight if not s.discarded), None)
        limit = self.limits.probe_after_s
        if oldest is not None and oldest.word in LONG_COMMANDS and not self.flavour.sends_busy:
            limit = max(limit, self.flavour.long_command_timeout_s)
        if silence < limit:
            return b""
        self.stats.timeouts += 1
        self._last_probe = now
        self._send_probe()
        data = bytes(self._out)
        self._out.clear()
        return data

    # ---- internals ------------------------------------------------------------------------------

    def _room_for(self, nbytes: int) -> bool:
        """Lines are capped by `max_lines`; bytes so that the receive buffer can never overflow.

        The oldest line in flight is not in the receive buffer: every line before it is processed,
        so the firmware has read it (it is executing or its ok is on the way back). Every younger
        line may still sit in the receive buffer — while a G28 or M109 blocks the firmware they do.
        """
        if self._inflight_lines >= self.max_lines:
            return False
        if not self._inflight:
            return True
        return self._inflight_bytes - self._inflight[0].nbytes + nbytes <= self.limits.max_bytes

    def _emit(self, line_no: int, ticket: int | None, command: str, data: bytes) -> None:
        self._out += data
        self._inflight.append(_Sent(line_no, ticket, len(data), command_word(command)))
        self._inflight_bytes += len(data)
        self._inflight_lines += 1
        self.stats.lines_sent += 1
        self.stats.bytes_sent += len(data)

    def _new_line(self, ticket: int | None, command: str) -> tuple[int, bytes]:
        line_no = self._next_line
        data = frame(line_no, command)
        self._next_line += 1
        self._history[line_no] = (ticket, command, data)
        stale = line_no - self.limits.history
        if stale in self._history:
            del self._history[stale]
        return line_no, data

    def _fill(self) -> None:
        while not self._gate:
            if self._resend_from is not None:
                ticket, command, data = self._history[self._resend_from]
                if not self._room_for(len(data)):
                    return
                self._emit(self._resend_from, ticket, command, data)
                self.stats.resends += 1
                self._resend_from += 1
                if self._resend_from >= self._next_line:
                    self._resend_from = None
                continue
            if self._sync_wanted:
                if not self._room_for(16):
                    return
                self._sync_wanted = False
                self._send_probe()
                continue
            if not self._pending:
                return
            ticket, command = self._pending[0]
            line_no = self._next_line
            data = frame(line_no, command)
            if not self._room_for(len(data)):
                return
            self._pending.popleft()
            self._new_line(ticket, command)
            self._emit(line_no, ticket, command, data)

    def _send_probe(self) -> None:
        """A numbered `M118 E1 3DPOT-SYNC-<n>`: its echo names it, so its ok settles exactly the
        lines sent before it; its number makes a firmware that lost a line ask for it."""
        self.stats.probes += 1
        line_no = self._next_line
        self._new_line(None, f"M118 E1 {SYNC_TOKEN}{line_no}")
        self._emit(line_no, None, "M118", self._history[line_no][2])

    def _release(self, sent: _Sent, acknowledge: bool) -> None:
        self._inflight_bytes -= sent.nbytes
        if not sent.emergency:
            self._inflight_lines -= 1
        if acknowledge and not sent.discarded and sent.ticket is not None and sent.ticket > self.acked_ticket:
            self.acked_ticket = sent.ticket
            self.acked_line_no = sent.line_no if sent.line_no is not None else -1

    def _pop_rejected(self) -> _Sent | None:
        """The entry an error's `ok` answers: the oldest discarded line, else the oldest line.
        Never a marker: only its own `ok T:` may open the gate."""
        for want_discarded in (True, False):
            for i, sent in enumerate(self._inflight):
                if sent.discarded == want_discarded and not sent.marker:
                    del self._inflight[i]
                    return sent
        return None

    def _on_ok(self, ok: Ok) -> None:
        if ok.buffer_free is not None:
            self._learn(ok.buffer_free)
        if self._marker_echoed:
            self._open_gate()
            return
        if self._late_marker_echoes:
            self._late_marker_echoes -= 1
            marker = next((s for s in self._inflight if s.marker), None)
            if marker is not None:
                self._inflight.remove(marker)
                self._release(marker, acknowledge=False)
            return
        if self._probe_echoed is not None:
            probe, self._probe_echoed = self._probe_echoed, None
            if self._settle_through(probe):
                return
        if self._stray_oks_due:
            self._stray_oks_due -= 1
            self.stats.stray_oks += 1
            return
        if not self._inflight:
            self.stats.stray_oks += 1
            return
        if self._error_oks_due:
            self._error_oks_due -= 1
            sent = self._pop_rejected()
            if sent is not None:
                self._release(sent, acknowledge=False)
            return
        if ok.temperatures and self.flavour.m105_ok_carries_temps:
            # `ok T:...` answers the oldest M105 in flight; every line before it is processed.
            for i, sent in enumerate(self._inflight):
                if sent.word == PROBE_COMMAND and not sent.discarded:
                    for _ in range(i + 1):
                        done = self._inflight.popleft()
                        self._release(done, acknowledge=True)
                    return
        sent = self._pop_answered()
        if sent is not None:
            self._release(sent, acknowledge=True)

    def _settle_through(self, line_no: int) -> bool:
        """The probe `line_no` was processed: so was every line sent before it."""
        index = next((i for i, s in enumerate(self._inflight) if s.line_no == line_no), None)
        if index is None or self._inflight[index].discarded:
            return False
        for _ in range(index + 1):
            sent = self._inflight.popleft()
            self._release(sent, acknowledge=True)
        return True

    def _pop_answered(self) -> _Sent | None:
        """The entry a plain `ok` answers: the oldest accepted line (a marker only as a last resort)."""
        fallback: int | None = None
        for i, sent in enumerate(self._inflight):
            if sent.discarded:
                continue
            if not sent.marker:
                del self._inflight[i]
                return sent
            if fallback is None:
                fallback = i
        if fallback is not None:
            sent = self._inflight[fallback]
            del self._inflight[fallback]
            return sent
        return self._inflight.popleft() if self._inflight else None

    def _on_echo(self, reply: Info | UnknownCommand) -> bool:
        """Our marker's or probe's echo: its own ok comes next. True when it was one of ours."""
        text = reply.text if isinstance(reply, Info) else reply.command
        if MARKER_TOKEN in text:
            if self._gate and f"{MARKER_TOKEN}{self._gate_generation}" in text:
                self._marker_echoed = True
            else:
                self._late_marker_echoes += 1  # a retry answered after the gate opened
            return True
        at = text.find(SYNC_TOKEN)
        if at >= 0:
            digits = text[at + len(SYNC_TOKEN) :].split()[0] if text[at + len(SYNC_TOKEN) :] else ""
            if digits.isdigit():
                self._probe_echoed = int(digits)
            return True
        return False

    def _open_gate(self, keep_markers: bool = True) -> None:
        """The marker is answered: every line sent before it has been read (answered or dropped),
        so their entries go, and the copies from N on may follow. Later markers of the same
        rewind (retries) keep their entries until their own echo and ok arrive."""
        self._gate = False
        self._marker_echoed = False
        self._marker_retry_s = MARKER_RETRY_S
        self._error_oks_due = 0
        self._stray_oks_due = 0
        first_marker = next((s for s in self._inflight if s.marker), None)
        for sent in list(self._inflight):
            if sent.marker and keep_markers and sent is not first_marker:
                continue
            self._inflight.remove(sent)
            self._release(sent, acknowledge=not sent.marker)

    def _on_resend(self, line_no: int, now: float) -> None:
        """`Resend: N`: honoured unless it is a repeat (the gate is closed) or plainly garbled."""
        self.stats.resend_requests += 1
        if self.flavour.ok_after_resend:
            self._error_oks_due += 1
        error_last_line, self._error_last_line = self._error_last_line, None
        if self._gate:
            self.stats.ignored_resend_requests += 1
        elif error_last_line is not None and error_last_line + 1 != line_no:
            # `Error:... Last Line: X` then `Resend: N` must agree; one of them was garbled
            self.stats.bogus_resend_requests += 1
            self._sync_wanted = True
        elif line_no >= self._next_line or line_no not in self._history:
            self.stats.bogus_resend_requests += 1
            self._sync_wanted = True
        else:
            self._rewind(line_no, now)
        self._release_rejected()

    def _rewind(self, line_no: int, now: float) -> None:
        for sent in self._inflight:
            if sent.line_no is not None and sent.line_no >= line_no:
                sent.discarded = True
        self._resend_from = line_no
        ticket = self._history[line_no][0]
        if ticket is not None:  # the firmware holds everything before N and nothing from N on
            self.acked_ticket = min(self.acked_ticket, ticket - 1)
        self._gate = True
        self._markers_sent = 0
        self._gate_generation += 1
        self._marker_echoed = False
        self._marker_retry_s = MARKER_RETRY_S
        self._last_probe = now
        self._out += self._send_marker()

    def _send_marker(self) -> bytes:
        """An unnumbered `M118 E1 3DPOT-RESYNC-<n>` outside the window: the only thing sent while
        the gate is closed. The firmware takes unnumbered lines whatever line it waits for, and
        its echo is unmistakable (an `ok T:` could also answer an M105 of the file)."""
        self._markers_sent += 1
        data = f"M118 E1 {MARKER_TOKEN}{self._gate_generation}\n".encode("ascii")
        self._inflight.append(_Sent(None, None, len(data), "M118", marker=True))
        self._inflight_bytes += len(data)
        self._inflight_lines += 1
        self.stats.bytes_sent += len(data)
        self.stats.probes += 1
        return data

    def _release_rejected(self) -> None:
        """Firmwares that send no ok after a resend free the rejected line's room with the resend."""
        if self.flavour.ok_after_resend:
            return
        sent = self._pop_rejected()
        if sent is not None:
            self._release(sent, acknowledge=False)

    def _learn(self, buffer_free: int) -> None:
        if not self.limits.learn_from_advanced_ok or buffer_free <= self._max_b_seen:
            return
        self._max_b_seen = buffer_free
        self.max_lines = max(self.limits.max_lines, buffer_free + 1)
