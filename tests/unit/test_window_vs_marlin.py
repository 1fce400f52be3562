"""The send window against the virtual Marlin's pure core, on a simulated clock.

No pty, no sleeps: host, wire (250000 baud, 2 ms latency), bit flips in both directions and the
firmware advance in virtual time, so thousands of lines and dozens of seeds run in a few seconds.
Every run must execute every move exactly once, in order, and never fall into a resend storm.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest

from firmware_bridge.flavours import MARLIN
from firmware_bridge.protocol.replies import decode_reply
from firmware_bridge.protocol.window import SendWindow, WindowLimits
from firmware_bridge.samples import dense_print
from firmware_bridge.virtual.config import VirtualPrinterConfig
from firmware_bridge.virtual.marlin import MarlinCore
from firmware_bridge.virtual.wire import InboundWire, LineCorruptor, OutboundWire

TICK_S = 0.05


@dataclass
class Outcome:
    seconds: float
    executed: list[str]
    resend_requests: int
    corrupted: int
    probes: int
    timeouts: int


def simulate(
    commands: list[str], *, seed: int, ratio: float, limits: WindowLimits, **printer: object
) -> Outcome:
    config = VirtualPrinterConfig(baud=250_000, ack_delay_ms=2.0, record_executed=True, **printer)  # type: ignore[arg-type]
    core = MarlinCore(config, 0.0)
    core.take_output()
    wire_in = InboundWire(config.byte_time_s)
    wire_out = OutboundWire(config.byte_time_s, config.ack_delay_ms / 1000)
    corrupt_in = LineCorruptor(ratio, random.Random(seed))
    corrupt_out = LineCorruptor(ratio, random.Random(seed + 1))
    window = SendWindow(limits, MARLIN)
    window.restart_numbering()
    for command in commands:
        window.submit(command)
    outbox: list[tuple[float, bytes]] = []
    partial = b""
    now = 0.0
    next_tick = TICK_S
    last_ticket = window.next_ticket - 1
    while window.acked_ticket < last_ticket or not window.idle:
        assert now < 60, (
            f"stalled: acked {window.acked_ticket}/{last_ticket} in flight {window.in_flight} "
            f"pending {window.pending} {window.stats} resend_from={window._resend_from} "
            f"inflight={list(window._inflight)[:6]} core last_n={core.stats_dict()['last_n']}"
        )
        data = window.take_output(now)
        if data:
            wire_in.push(corrupt_in.feed(data), now)
        # the firmware consumes what has arrived and acts until `now`
        while True:
            core_s, wire_s = core.next_event_s(), wire_in.next_arrival_s()
            if core_s > now and wire_s > now:
                break
            if core_s <= wire_s:
                core.advance(core_s)
            else:
                chunk, arrived = wire_in.take(min(now, core_s))
                core.receive(chunk, min(arrived, now))
        for emitted, line in core.take_output():
            damaged = corrupt_out.line(line)
            outbox.append((wire_out.schedule(len(damaged), emitted), damaged))
        outbox.sort(key=lambda item: item[0])
        while outbox and outbox[0][0] <= now:
            partial += outbox.pop(0)[1]
        *lines, partial = partial.split(b"\n")
        for raw in lines:
            if not raw:
                continue
            reply = decode_reply(raw)
            if reply is None:
                window.on_garbage(now)
            else:
                window.on_reply(reply, now)
        if now >= next_tick:
            probe = window.on_tick(now)
            if probe:
                wire_in.push(corrupt_in.feed(probe), now)
            next_tick = now + TICK_S
        upcoming = [next_tick, core.next_event_s(), wire_in.next_arrival_s()]
        if outbox:
            upcoming.append(outbox[0][0])
        step = min(t for t in upcoming if t > now) if any(t > now for t in upcoming) else now + TICK_S
        now = step if step < math.inf else now + TICK_S
    return Outcome(
        seconds=now,
        executed=[cmd for _, cmd in core.executed],
        resend_requests=core.stats.resend_requests,
        corrupted=corrupt_in.corrupted + corrupt_out.corrupted,
        probes=window.stats.probes,
        timeouts=window.stats.timeouts,
    )


COMMANDS = [
    line for line in dense_print(1500, with_header=False).splitlines() if line and not line.startswith(";")
]


def moves(commands: list[str]) -> list[str]:
    return [c.replace(" ", "") for c in commands if c.startswith("G1")]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(
    "limits",
    [WindowLimits(max_lines=4, max_bytes=128), WindowLimits(max_lines=64, max_bytes=128)],
    ids=["profile", "max"],
)
def test_every_move_runs_exactly_once_in_order_through_2pct_corruption(
    seed: int, limits: WindowLimits
) -> None:
    run = simulate(COMMANDS, seed=seed, ratio=0.02, limits=limits)
    assert run.corrupted > 20
    assert moves(run.executed) == moves(COMMANDS)
    # no resend storm: a request per damaged line, a few more for the lines behind it
    assert run.resend_requests < 12 * run.corrupted
    # close to the wire: 1,500 lines of ~37 bytes need 2.2 s at 25,000 bytes/s
    assert run.seconds < 2.2 * 3


def test_clean_line_streams_at_wire_speed() -> None:
    run = simulate(COMMANDS, seed=0, ratio=0.0, limits=WindowLimits(max_lines=4, max_bytes=128))
    wire_s = sum(len(c) + 12 for c in COMMANDS) / 25_000
    assert moves(run.executed) == moves(COMMANDS)
    assert run.resend_requests == 0 and run.probes == 0
    assert run.seconds < wire_s * 1.15


def test_tiny_receive_buffer_and_slow_planner_still_lose_nothing() -> None:
    run = simulate(
        COMMANDS[:400],
        seed=3,
        ratio=0.02,
        limits=WindowLimits(max_lines=8, max_bytes=64),
        rx_buffer_bytes=64,
        move_time_scale=0.02,
    )
    assert moves(run.executed) == moves(COMMANDS[:400])
