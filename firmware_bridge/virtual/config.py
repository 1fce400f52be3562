"""Settings of one virtual printer: the firmware's buffers, the wire, the heaters, the faults to inject."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VirtualPrinterConfig:
    """Everything that shapes how the virtual Marlin behaves; the CLI flags map one to one onto these.

    Sizes are Marlin's own names: ``rx_buffer_bytes`` is the serial receive ring (RX_BUFFER_SIZE),
    ``bufsize`` the command ring (BUFSIZE), ``planner_blocks`` BLOCK_BUFFER_SIZE.
    """

    baud: int = 250_000
    """Wire speed, 10 bits a byte each way; 0 = bytes arrive the moment they are written."""
    ack_delay_ms: float = 0.0
    """Extra latency added to every reply line (USB polling, hubs)."""
    corrupt_ratio: float = 0.0
    """Probability that one line (either direction) gets one bit flipped."""
    seed: int = 0
    rx_buffer_bytes: int = 128
    bufsize: int = 4
    planner_blocks: int = 16
    move_time_scale: float = 0.0
    """Seconds a move takes = distance / feedrate x this; 0 = moves are instant."""
    advanced_ok: bool = False
    emergency_parser: bool = True
    autoreport_temp: bool = True  # False: an older board without M155 (the host must poll M105)
    link: str | None = None
    """Keep a symlink here pointing at the current slave pty."""
    thermal_tau_s: float = 2.0
    ambient_c: float = 22.0
    tools: int = 1
    record_executed: bool = False
    """Keep every executed numbered line as (line number, command) in ``MarlinCore.executed``."""

    def __post_init__(self) -> None:
        if self.baud < 0:
            raise ValueError("baud must be >= 0")
        if self.ack_delay_ms < 0:
            raise ValueError("ack_delay_ms must be >= 0")
        if not 0.0 <= self.corrupt_ratio <= 1.0:
            raise ValueError("corrupt_ratio must be within 0..1")
        if self.rx_buffer_bytes < 1 or self.bufsize < 1 or self.planner_blocks < 1:
            raise ValueError("rx_buffer_bytes, bufsize and planner_blocks must be >= 1")
        if self.move_time_scale < 0:
            raise ValueError("move_time_scale must be >= 0")
        if self.thermal_tau_s <= 0:
            raise ValueError("thermal_tau_s must be > 0")
        if self.tools not in (1, 2):
            raise ValueError("tools must be 1 or 2")

    @property
    def byte_time_s(self) -> float:
        """Seconds one byte occupies the wire (8N1 = 10 bits), 0 without a wire model."""
        return 10.0 / self.baud if self.baud else 0.0
