"""Firmware flavours: what differs between Marlin, Prusa-Firmware, RepRapFirmware, Klipper and Repetier.

A flavour is data, not code: the link reads these fields where dialects behave differently.
`detect_flavour` picks one from the `FIRMWARE_NAME` of an M115 reply.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Flavour:
    name: str
    #: after `Resend: N` the firmware also sends `ok` for the rejected line (Marlin does; some don't).
    ok_after_resend: bool = True
    #: the firmware sends `echo:busy:` keepalives during long commands, so silence means trouble.
    sends_busy: bool = True
    #: an emergency parser acts on M112/M108/M410 on arrival (Marlin: only with the Cap, see link).
    emergency_parser: bool = False
    #: command buffer (lines) and serial receive buffer (bytes) when the profile does not say.
    default_bufsize: int = 4
    default_rx_buffer: int = 128
    #: the firmware answers an M105 with `ok T:...` on the same line, so that ok can be told apart.
    m105_ok_carries_temps: bool = True
    #: seconds of silence before a long-running command (G28, M109, ...) is probed.
    long_command_timeout_s: float = 600.0


MARLIN = Flavour("marlin")
PRUSA = Flavour("prusa", emergency_parser=False, default_rx_buffer=128)
REPRAPFIRMWARE = Flavour(
    "reprapfirmware",
    sends_busy=False,
    emergency_parser=True,
    default_bufsize=8,
    default_rx_buffer=512,
)
# Klipper's pty answers `ok` as soon as a line is queued in the host, buffers plenty, has no busy.
KLIPPER = Flavour(
    "klipper",
    sends_busy=False,
    emergency_parser=True,
    default_bufsize=16,
    default_rx_buffer=4096,
)
REPETIER = Flavour("repetier", ok_after_resend=False, sends_busy=True, default_rx_buffer=63)

FLAVOURS: dict[str, Flavour] = {f.name: f for f in (MARLIN, PRUSA, REPRAPFIRMWARE, KLIPPER, REPETIER)}


def detect_flavour(firmware_name: str) -> Flavour:
    """The flavour for an M115 `FIRMWARE_NAME` value; Marlin when nothing better matches."""
    name = firmware_name.lower()
    if "prusa" in name:
        return PRUSA
    if "reprapfirmware" in name or "rrf" in name.split():
        return REPRAPFIRMWARE
    if "klipper" in name:
        return KLIPPER
    if "repetier" in name:
        return REPETIER
    return MARLIN


def flavour_named(name: str) -> Flavour:
    """The flavour for a name given in settings; a clear error for an unknown one."""
    try:
        return FLAVOURS[name.lower()]
    except KeyError:
        known = ", ".join(sorted(FLAVOURS))
        raise ValueError(f"unknown firmware flavour {name!r}; known: {known}") from None
