"""Every error the bridge raises, one tree:

BridgeError
 ├── PortError                 the serial port itself
 │    ├── PortNotFound         no such device (unplugged before open, wrong path)
 │    ├── PortBusy             another program holds it
 │    └── PortDisconnected     it went away while open (USB unplug, pty closed)
 ├── HandshakeFailed           the port opened but no firmware answered like a printer
 ├── FirmwareHalted            the firmware reported a fatal error (thermal runaway, kill(), M112)
 ├── FirmwareReset             the board rebooted (`start`) while work was in flight
 └── StreamCancelled           a stream was cancelled by the user
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error the firmware bridge raises."""


class PortError(BridgeError):
    pass


class PortNotFound(PortError):
    pass


class PortBusy(PortError):
    pass


class PortDisconnected(PortError):
    pass


class HandshakeFailed(BridgeError):
    pass


class FirmwareHalted(BridgeError):
    """The firmware stopped itself; `messages` holds every error line of the kill sequence."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(messages[0] if messages else "firmware halted")
        self.messages = messages

    def __str__(self) -> str:
        return "firmware halted: " + " / ".join(self.messages)


class FirmwareReset(BridgeError):
    """The board printed `start` while lines were in flight: its buffers and position are lost."""

    def __init__(self, acked_ticket: int) -> None:
        super().__init__(f"printer reset (last acknowledged command #{acked_ticket})")
        self.acked_ticket = acked_ticket


class StreamCancelled(BridgeError):
    pass
