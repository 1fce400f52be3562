"""The pure parts of notifications: flap suppression, webhook signatures, retry delays, titles, preferences."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from cloud.notify.delivery import retry_delay_s
from cloud.notify.flapping import FlapSummary, FlapSuppressor
from cloud.notify.kinds import Channel, Kind, merge_preferences, title, wants
from cloud.notify.signing import new_secret, signature, verify
from cloud.settings import NotifySettings


def test_a_flapping_printer_is_one_notification_then_one_summary() -> None:
    flaps = FlapSuppressor(window_s=600)
    decisions = [flaps.offline("p1", t) for t in (0, 60, 120, 180, 240)]
    assert decisions == [True, False, False, False, False]
    assert flaps.suppressed("p1") == 4
    assert flaps.due(599) == []
    assert flaps.due(600) == [FlapSummary("p1", 5, 600)]
    assert flaps.due(601) == []  # sent once
    assert flaps.offline("p1", 700) is True  # a new window


def test_a_single_offline_has_no_summary_and_printers_are_independent() -> None:
    flaps = FlapSuppressor(window_s=10)
    assert flaps.offline("p1", 0) is True
    assert flaps.offline("p2", 1) is True
    assert flaps.offline("p2", 2) is False
    assert flaps.due(10.5) == []  # p1 went offline once: nothing to sum up; p2's window is still open
    assert flaps.due(11) == [FlapSummary("p2", 2, 10)]


@pytest.mark.parametrize(("times", "window_s"), [(2, 10), (7, 600), (30, 3600)])
def test_n_offlines_in_a_window_never_make_more_than_two_notifications(times: int, window_s: float) -> None:
    flaps = FlapSuppressor(window_s)
    step = window_s / (times + 1)
    notified = sum(flaps.offline("p", i * step) for i in range(times))
    summaries = flaps.due(window_s * 2)
    assert notified + len(summaries) == 2
    assert summaries[0].times == times


def test_signature_format_and_value() -> None:
    secret, body, ts = "whsec_test", b'{"id":"e1","kind":"job.completed"}', 1_700_000_000
    value = signature(secret, ts, body)
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", value)
    expected = hmac.new(b"whsec_test", b'1700000000.{"id":"e1","kind":"job.completed"}', hashlib.sha256)
    assert value == "sha256=" + expected.hexdigest()


def test_verify_refuses_tampering_other_secrets_and_stale_timestamps() -> None:
    secret, body, ts = new_secret(), b'{"a":1}', 1_700_000_000
    good = signature(secret, ts, body)
    assert secret.startswith("whsec_") and len(secret) > 40
    assert verify(secret, str(ts), body, good, now=ts + 10)
    assert not verify(secret, str(ts), b'{"a":2}', good, now=ts)
    assert not verify(new_secret(), str(ts), body, good, now=ts)
    assert not verify(secret, str(ts + 1), body, good, now=ts)
    assert not verify(secret, str(ts), body, good, now=ts + 301)
    assert not verify(secret, "soon", body, good, now=ts)


def test_retry_delays_grow_exponentially_within_the_jitter_and_cap() -> None:
    settings = NotifySettings(retry_initial_s=2, retry_factor=3, retry_max_s=100, retry_jitter=0.2)
    assert [retry_delay_s(n, settings, lambda: 0.5) for n in (1, 2, 3, 4, 5)] == [2, 6, 18, 54, 100]
    assert retry_delay_s(2, settings, lambda: 0.0) == pytest.approx(6 * 0.8)
    assert retry_delay_s(2, settings, lambda: 1.0) == pytest.approx(6 * 1.2)


def test_titles_read_well() -> None:
    assert title("job.completed", {"filename": "cube.gcode", "printer_name": "Bay 3"}) == (
        "Job cube.gcode completed on Bay 3"
    )
    assert title("job.failed", {"job_id": "j1", "printer_id": "p1", "reason": "thermal runaway"}) == (
        "Job j1 failed on p1: thermal runaway"
    )
    assert title("printer.offline", {"printer_id": "p1"}) == "Printer p1 went offline"
    assert title("printer.offline", {"printer_id": "p1", "times": 5, "window_s": 600}) == (
        "Printer p1 went offline 5 times in 10 min"
    )


def test_preferences_default_to_in_app_only_and_merge_known_keys() -> None:
    prefs = merge_preferences(None)
    assert set(prefs) == {k.value for k in Kind}
    assert all(wants(prefs, k, Channel.IN_APP) and not wants(prefs, k, Channel.EMAIL) for k in prefs)
    changed = merge_preferences(prefs, {"sale": {"email": True, "fax": True}, "bogus": {"email": True}})
    assert wants(changed, "sale", Channel.EMAIL) and "fax" not in changed["sale"] and "bogus" not in changed
