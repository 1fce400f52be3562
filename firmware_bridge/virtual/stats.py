"""Counters a test or benchmark reads to judge the host: every line once, errors seen, bytes lost."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class Stats:
    lines_received_ok: int = 0
    """Lines that passed the framing checks and entered the command buffer."""
    commands_executed: int = 0
    numbered_executed: int = 0
    """Executed lines that carried a line number (M110 excluded)."""
    last_executed_line: int = 0
    duplicates: int = 0
    """Numbered lines executed again with a line number already executed since the last M110 N0/reset."""
    moves_executed: int = 0
    checksum_errors: int = 0
    line_number_errors: int = 0
    no_checksum_errors: int = 0
    no_line_number_errors: int = 0
    resend_requests: int = 0
    rx_overflow_bytes: int = 0
    """Bytes that arrived while the receive buffer was full and were dropped."""
    rx_flushed_bytes: int = 0
    """Bytes discarded from the receive buffer after a line error (Marlin empties it before ``Resend:``)."""
    corrupted_in: int = 0
    corrupted_out: int = 0
    emergency_commands: int = 0
    unknown_commands: int = 0
    lines_sent: int = 0
    resets: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
