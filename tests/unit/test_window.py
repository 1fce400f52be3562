"""The send window, driven by scripted firmware replies: no I/O, no sleeps."""

from __future__ import annotations

import re

import pytest

from firmware_bridge.flavours import MARLIN, REPETIER
from firmware_bridge.protocol.framing import checksum, frame
from firmware_bridge.protocol.replies import parse_reply
from firmware_bridge.protocol.window import SendWindow, WindowLimits

LINE = re.compile(rb"^(?:N(\d+) )?(.*?)(?:\*(\d+))?$")


def sent_lines(data: bytes) -> list[tuple[int | None, str]]:
    out = []
    for raw in data.split(b"\n")[:-1]:
        m = LINE.match(raw)
        assert m, raw
        n = int(m.group(1)) if m.group(1) else None
        if m.group(3) is not None:
            assert checksum(raw[: raw.rindex(b"*")]) == int(m.group(3))
        out.append((n, m.group(2).decode()))
    return out


def reply(window: SendWindow, *lines: str, now: float = 0.0) -> None:
    for text in lines:
        window.on_reply(parse_reply(text), now)


def make(max_lines: int = 4, max_bytes: int = 128, flavour=MARLIN) -> SendWindow:
    return SendWindow(WindowLimits(max_lines=max_lines, max_bytes=max_bytes, probe_after_s=1.0), flavour)


def test_frame_matches_marlin_checksum() -> None:
    assert frame(0, "M110 N0") == b"N0 M110 N0*125\n"
    assert frame(1, "G28") == b"N1 G28*18\n"


def test_window_is_bounded_by_lines() -> None:
    w = make(max_lines=4)
    for i in range(10):
        w.submit(f"G1 X{i}")
    out = sent_lines(w.take_output(0))
    assert [n for n, _ in out] == [1, 2, 3, 4]
    assert w.take_output(0) == b""
    reply(w, "ok")
    assert sent_lines(w.take_output(0)) == [(5, "G1 X4")]
    assert w.acked_ticket == 0


def test_window_is_bounded_by_receive_buffer_bytes() -> None:
    w = make(max_lines=16, max_bytes=64)
    for _ in range(10):
        w.submit("G1 X100.000 Y100.000 E1.00000")  # 40 bytes framed
    # the oldest line is being executed; every younger one must fit the 64-byte receive buffer
    assert len(sent_lines(w.take_output(0))) == 2
    reply(w, "ok")
    assert len(sent_lines(w.take_output(0))) == 1


def test_single_line_larger_than_buffer_still_goes_when_nothing_is_in_flight() -> None:
    w = make(max_bytes=16)
    w.submit("M117 " + "x" * 40)
    assert len(sent_lines(w.take_output(0))) == 1


def test_resend_closes_a_gate_until_the_marker_echoes_then_resends_in_order() -> None:
    w = make(max_lines=4)
    for i in range(8):
        w.submit(f"G1 X{i}")
    assert [n for n, _ in sent_lines(w.take_output(0))] == [1, 2, 3, 4]
    reply(w, "ok")  # line 1 processed
    assert [n for n, _ in sent_lines(w.take_output(0))] == [5]
    # line 2 arrived corrupted: only the unnumbered marker goes out, nothing else
    reply(w, "Error:checksum mismatch, Last Line: 1", "Resend: 2", "ok")
    assert sent_lines(w.take_output(0)) == [(None, "M118 E1 3DPOT-RESYNC-1")]
    # 3, 4, 5 were already on their way: each is refused with another `Resend: 2`, swallowed
    for _ in range(3):
        reply(w, "Error:Line Number is not Last Line Number+1, Last Line: 1", "Resend: 2", "ok")
        assert w.take_output(0) == b""
    assert w.stats.ignored_resend_requests == 3
    assert w.acked_ticket == 0  # no ok of a rejected line acknowledged anything
    # the marker's echo and ok: the pipe is empty, the copies follow in order
    reply(w, "echo:3DPOT-RESYNC-1", "ok")
    assert [n for n, _ in sent_lines(w.take_output(0))] == [2, 3, 4, 5]
    reply(w, "ok", "ok", "ok", "ok")
    assert w.acked_ticket == 4
    assert [n for n, _ in sent_lines(w.take_output(0))] == [6, 7, 8]


def test_a_resend_after_the_gate_opened_is_about_our_copy() -> None:
    w = make(max_lines=4)
    for i in range(4):
        w.submit(f"G1 X{i}")
    w.take_output(0)
    reply(w, "Resend: 1", "ok")
    w.take_output(0)
    reply(w, "echo:3DPOT-RESYNC-1", "ok")
    assert [n for n, _ in sent_lines(w.take_output(0))] == [1, 2, 3, 4]
    reply(w, "Error:checksum mismatch, Last Line: 0", "Resend: 1", "ok")  # the copy was hit too
    assert sent_lines(w.take_output(0)) == [(None, "M118 E1 3DPOT-RESYNC-2")]


def test_a_lost_marker_is_asked_again_with_backoff() -> None:
    w = make()
    w.submit("G1 X1")
    w.take_output(0)
    reply(w, "Resend: 1", "ok", now=0.0)
    w.take_output(0.0)
    assert w.on_tick(0.01) == b""
    assert w.on_tick(0.06) == b"M118 E1 3DPOT-RESYNC-1\n"
    assert w.on_tick(0.10) == b""
    assert w.on_tick(0.17) == b"M118 E1 3DPOT-RESYNC-1\n"


def test_a_resend_that_disagrees_with_its_error_line_is_ignored() -> None:
    w = make()
    for i in range(3):
        w.submit(f"G1 X{i}")
    w.take_output(0)
    reply(w, "Error:checksum mismatch, Last Line: 1", "Resend: 1", "ok")
    assert w.stats.bogus_resend_requests == 1


def test_resend_reaches_far_back_in_history() -> None:
    w = make(max_lines=64, max_bytes=4096)
    for i in range(200):
        w.submit(f"G1 X{i}")
    w.take_output(0)
    reply(w, *["ok"] * 10)
    reply(w, "Resend: 11", "ok")
    w.take_output(0)
    reply(w, "echo:3DPOT-RESYNC-1", "ok")
    out = sent_lines(w.take_output(0))
    assert out[0] == (11, "G1 X10")


def test_bogus_resend_beyond_what_was_sent_is_ignored() -> None:
    w = make()
    w.submit("G1 X1")
    w.take_output(0)
    reply(w, "Resend: 999", "ok")
    assert w.stats.bogus_resend_requests == 1


def test_rejected_line_unacks_a_prematurely_counted_ok() -> None:
    w = make()
    for i in range(3):
        w.submit(f"G1 X{i}")
    w.take_output(0)
    # the Resend line of line 2's rejection was garbled: its ok is taken as line 2's ...
    reply(w, "ok", "ok")
    assert w.acked_ticket == 1
    # ... until line 3 is refused with `Resend: 2`, which says line 2 was never accepted
    reply(w, "Resend: 2", "ok")
    assert w.acked_ticket == 0


def test_silence_is_probed_with_a_numbered_echo_which_settles_lost_oks() -> None:
    w = make()
    for i in range(3):
        w.submit(f"G1 X{i}")
    w.take_output(0)
    assert w.on_tick(0.5) == b""
    probe = sent_lines(w.on_tick(1.5))
    assert probe == [(4, "M118 E1 3DPOT-SYNC-4")]
    reply(w, "echo:3DPOT-SYNC-4", "ok", now=1.6)
    assert w.acked_ticket == 2
    assert w.idle


def test_probe_answered_by_resend_recovers_a_lost_line() -> None:
    w = make()
    for i in range(3):
        w.submit(f"G1 X{i}")
    w.take_output(0)
    reply(w, "ok", "ok")  # line 3 vanished on the wire: no answer at all
    probe = sent_lines(w.on_tick(2.0))
    assert probe == [(4, "M118 E1 3DPOT-SYNC-4")]
    reply(w, "Error:Line Number is not Last Line Number+1, Last Line: 2", "Resend: 3", "ok", now=2.1)
    assert sent_lines(w.take_output(2.1)) == [(None, "M118 E1 3DPOT-RESYNC-1")]
    reply(w, "echo:3DPOT-RESYNC-1", "ok", now=2.2)
    assert sent_lines(w.take_output(2.2)) == [(3, "G1 X2"), (4, "M118 E1 3DPOT-SYNC-4")]


def test_garbled_reply_asks_for_a_sync_probe() -> None:
    w = make()
    for i in range(4):
        w.submit(f"G1 X{i}")
    w.take_output(0)
    w.on_garbage(0.1)
    assert sent_lines(w.take_output(0.1)) == []  # window full: the probe waits for room
    reply(w, "ok")
    assert sent_lines(w.take_output(0.2)) == [(5, "M118 E1 3DPOT-SYNC-5")]


def test_fragment_of_a_garbled_line_gets_no_credit() -> None:
    w = make()
    for i in range(2):
        w.submit(f"G1 X{i}")
    w.take_output(0)
    reply(w, 'echo:Unknown command: "35"', "ok")
    assert w.acked_ticket == -1
    assert w.stats.stray_oks == 1


def test_firmware_without_ok_after_resend_frees_room_on_the_resend() -> None:
    w = make(max_lines=2, flavour=REPETIER)
    for i in range(4):
        w.submit(f"G1 X{i}")
    assert len(sent_lines(w.take_output(0))) == 2
    reply(w, "Resend: 1")
    w.take_output(0)
    reply(w, "echo:3DPOT-RESYNC-1", "ok")
    assert [n for n, _ in sent_lines(w.take_output(0))] == [1, 2]


def test_advanced_ok_grows_the_window() -> None:
    w = make(max_lines=2, max_bytes=4096)
    for i in range(20):
        w.submit(f"G1 X{i}")
    w.take_output(0)
    reply(w, "ok N1 P15 B7")
    assert w.max_lines == 8


def test_emergency_bypasses_a_full_window() -> None:
    w = make(max_lines=1)
    w.submit("M109 S200")
    w.submit("G1 X1")
    w.take_output(0)
    assert w.emergency("M108") == b"M108\n"
    reply(w, "ok")  # M109 broken off
    reply(w, "ok")  # M108 itself
    assert w.acked_ticket == 0


def test_restart_numbering_sends_m110_first() -> None:
    w = make()
    w.submit("G28")
    w.restart_numbering()
    assert sent_lines(w.take_output(0))[:2] == [(0, "M110 N0"), (1, "G28")]


@pytest.mark.parametrize("command", ["", "G1 X1*12", "M117 olá", "G1\nG1"])
def test_unframeable_commands_are_refused(command: str) -> None:
    with pytest.raises(ValueError):
        make().submit(command)


def test_a_firmware_that_never_echoes_the_marker_only_delays_the_resend() -> None:
    w = make()
    for i in range(3):
        w.submit(f"G1 X{i}")
    w.take_output(0)
    reply(w, "Resend: 1", "ok", now=0.0)
    w.take_output(0.0)
    now, markers = 0.0, 0
    while w.take_output(now) == b"" and now < 10:
        now += 0.05
        markers += w.on_tick(now) != b""
    assert now < 6, "stuck behind a marker nobody echoes"
    assert markers >= 3
    assert [n for n, _ in sent_lines(w.take_output(now) or b"")][:1] in ([], [1])
