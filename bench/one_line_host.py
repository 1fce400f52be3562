"""The reference host for the benchmark: one line in flight, the way the best-known host streams.

Send a framed line, block until its `ok`, send the next; on `Resend: N` go back to N. Written
plainly on blocking pyserial so that its cost is the protocol's round trips, not our overheads.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import serial

from firmware_bridge.protocol.framing import frame

_RESEND = re.compile(rb"^(?:Resend|rs)\s*:?\s*N?(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HostRun:
    lines: int
    bytes_sent: int
    seconds: float
    cpu_seconds: float


def stream(port: str, baud: int, commands: list[str], timeout_s: float = 10.0) -> HostRun:
    with serial.Serial(port, baud, timeout=timeout_s) as ser:
        ser.reset_input_buffer()
        framed = [frame(0, "M110 N0")] + [frame(i, c) for i, c in enumerate(commands, start=1)]
        sent = 0
        cpu0, t0 = time.process_time(), time.perf_counter()
        index = 0
        while index < len(framed):
            ser.write(framed[index])
            sent += len(framed[index])
            while True:
                line = ser.readline()
                if not line:
                    raise TimeoutError(f"no ok for line {index} within {timeout_s}s")
                if line.startswith(b"ok"):
                    index += 1
                    break
                resend = _RESEND.match(line)
                if resend:
                    index = int(resend.group(1))
                    ser.readline()  # the ok that follows a resend request
                    break
        return HostRun(len(commands), sent, time.perf_counter() - t0, time.process_time() - cpu0)
