"""The farm queue's matcher, as tables: requirements x printers → a printer or a reason; order; stagger."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloud.files.storage import check_key, sanitise_filename
from cloud.files.urls import UrlSigner
from cloud.jobs.dispatch import (
    PrinterView,
    QueuedJob,
    Requirements,
    busy_reason,
    fits,
    plan,
    retry_delay_s,
    stagger_budget,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def printer(pid: str, **kw: object) -> PrinterView:
    base = PrinterView(
        pid=pid,
        material="PLA",
        nozzle_mm=0.4,
        build_mm=(220.0, 220.0, 250.0),
        tags=frozenset(),
        online=True,
        printer_state="standby",
        queue_state="ready",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def job(job_id: str, priority: int = 0, age_s: float = 0, **req: Any) -> QueuedJob:
    return QueuedJob(
        job_id=job_id,
        priority=priority,
        created_at=T0 - timedelta(seconds=age_s),
        requirements=Requirements(**req),
    )


FARM = [
    printer("p-pla-04"),
    printer("p-petg-06", material="PETG", nozzle_mm=0.6),
    printer(
        "p-petg-04-big",
        material="PETG",
        nozzle_mm=0.4,
        build_mm=(350.0, 350.0, 400.0),
        tags=frozenset({"bay-3"}),
    ),
]


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        ({"material": "PETG", "nozzle_mm": 0.6}, "p-petg-06"),
        ({"material": "petg", "nozzle_mm": 0.605}, "p-petg-06"),  # case-insensitive; within 0.01 mm
        ({"material": "PETG"}, "p-petg-06"),  # the smallest printer that fits
        ({"material": "PETG", "min_build_mm": (300.0, 300.0, 300.0)}, "p-petg-04-big"),
        ({"tags": frozenset({"bay-3"})}, "p-petg-04-big"),
        ({}, "p-petg-06"),  # anything fits: smallest volume, then by id
        ({"material": "ABS"}, "no printer with material ABS"),
        ({"material": "PETG", "nozzle_mm": 0.8}, "no printer with material PETG and nozzle 0.8 mm"),
        ({"nozzle_mm": 0.62}, "no printer with nozzle 0.62 mm"),
        (
            {"material": "PLA", "min_build_mm": (300.0, 300.0, 300.0), "tags": frozenset({"bay-3"})},
            "no printer with material PLA, a build volume of at least 300 x 300 x 300 mm and tag bay-3",
        ),
    ],
)
def test_requirements_choose_a_printer_or_say_why_not(requirements: dict[str, Any], expected: str) -> None:
    result = plan([job("j", **requirements)], FARM, budget=10)
    chosen = [a.pid for a in result.assignments]
    assert chosen == [expected] if expected.startswith("p-") else result.reasons == {"j": expected}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"online": False}, "offline"),
        ({"printer_state": "printing"}, "printing"),
        ({"printer_state": "paused"}, "paused"),
        ({"printer_state": "error"}, "error"),
        ({"printer_state": "complete", "queue_state": "paused"}, "waiting for the bed to be cleared"),
        ({"printer_state": "standby", "queue_state": "paused"}, "waiting for the bed to be cleared"),
        ({"queue_length": 1}, "with jobs in its own queue"),
        ({"held_by_job": True}, "holding a job"),
        ({"printer_state": None}, "not reporting its state"),
        ({"printer_state": "complete"}, None),
        ({"printer_state": "cancelled"}, None),
    ],
)
def test_idle_means_online_finished_bed_clear_and_unheld(
    change: dict[str, object], reason: str | None
) -> None:
    assert busy_reason(printer("p", **change)) == reason


def test_all_fitting_printers_busy_is_counted_by_cause() -> None:
    farm = [
        printer("a", material="PETG", printer_state="printing"),
        printer("b", material="PETG", printer_state="printing"),
        printer("c", material="PETG", online=False),
        printer("d", material="PLA"),
    ]
    result = plan([job("j", material="PETG")], farm, budget=5)
    assert result.assignments == []
    assert result.reasons["j"] == "3 printers fit but all are busy (2 printing, 1 offline)"
    one = plan([job("j", material="PETG")], farm[2:], budget=5)
    assert one.reasons["j"] == "1 printer fits but it is busy (offline)"


def test_highest_priority_first_then_oldest() -> None:
    farm = [printer("a"), printer("b")]
    jobs = [job("new-low", 0, age_s=1), job("old-low", 0, age_s=100), job("urgent", 5, age_s=0)]
    result = plan(jobs, farm, budget=10)
    assert [a.job_id for a in result.assignments] == ["urgent", "old-low"]
    assert (
        result.reasons["new-low"] == "2 printers fit but all are busy (2 given to a job ahead in the queue)"
    )


def test_a_printer_that_refused_the_job_is_tried_last() -> None:
    farm = [printer("a"), printer("b")]
    queued = replace(job("j"), avoid_printers=frozenset({"a"}))
    assert [a.pid for a in plan([queued], farm, budget=1).assignments] == ["b"]
    assert [a.pid for a in plan([queued], farm[:1], budget=1).assignments] == ["a"]


def test_stagger_budget_limits_offers_per_round() -> None:
    farm = [printer(f"p{i}") for i in range(5)]
    result = plan([job(f"j{i}", age_s=10 - i) for i in range(5)], farm, budget=2, stagger_note="wait")
    assert [a.job_id for a in result.assignments] == ["j0", "j1"]
    assert result.reasons == {"j2": "wait", "j3": "wait", "j4": "wait"}


@pytest.mark.parametrize(
    ("offer_ages_s", "budget"),
    [([], 3), ([1.0], 2), ([1.0, 5.0, 9.9], 0), ([1.0, 10.0, 30.0], 2), ([0.0, 0.0, 0.0, 0.0], 0)],
)
def test_stagger_budget_counts_offers_in_the_window(offer_ages_s: list[float], budget: int) -> None:
    offers = [T0 - timedelta(seconds=age) for age in offer_ages_s]
    assert stagger_budget(offers, T0, limit=3, window_s=10.0) == budget


def test_retry_backoff_doubles_up_to_the_cap() -> None:
    assert [retry_delay_s(n, initial_s=2, max_s=10) for n in range(1, 6)] == [2, 4, 8, 10, 10]


def test_fits_needs_known_values_for_every_requirement() -> None:
    unknown = printer("u", material=None, nozzle_mm=None, build_mm=None)
    assert fits(Requirements(), unknown)
    assert not fits(Requirements(material="PLA"), unknown)
    assert not fits(Requirements(nozzle_mm=0.4), unknown)
    assert not fits(Requirements(min_build_mm=(1.0, 1.0, 1.0)), unknown)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("bracket.gcode", "bracket.gcode"),
        ("../../etc/passwd.gcode", "passwd.gcode"),
        ("C:\\Users\\me\\part v2.gcode", "part_v2.gcode"),
        ("pässwd .gcode", "passwd_.gcode"),
        ("...", "upload.gcode"),
        ("a" * 300 + ".gcode", "a" * 114 + ".gcode"),
    ],
)
def test_uploaded_file_names_are_sanitised(name: str, safe: str) -> None:
    assert sanitise_filename(name) == safe
    check_key(safe)


@pytest.mark.parametrize("key", ["", "..", "a/../b", "/abs", "a//b", ".hidden", "sp ace", "x\x00"])
def test_unsafe_storage_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError):
        check_key(key)


def test_signed_urls_are_bound_to_key_and_expiry() -> None:
    signer = UrlSigner(b"k" * 32, "https://cloud.example", ttl_s=60)
    url = signer.url("org-job-part.gcode", T0)
    expires = int(T0.timestamp()) + 60
    assert url.startswith(
        f"https://cloud.example/api/files/download/org-job-part.gcode?expires={expires}&sig="
    )
    sig = url.rsplit("sig=", 1)[1]
    assert signer.check("org-job-part.gcode", expires, sig, T0) is None
    assert signer.check("org-job-part.gcode", expires, sig, T0 + timedelta(seconds=61)) == (
        "the download link has expired"
    )
    assert signer.check("other.gcode", expires, sig, T0) is not None
    assert signer.check("org-job-part.gcode", expires + 1, sig, T0) is not None
    other = UrlSigner(b"x" * 32, "https://cloud.example", ttl_s=60)
    assert other.check("org-job-part.gcode", expires, sig, T0) is not None
    for garbage in (
        "é" * 64,
        "\udcff",
        "",
        "0" * 1000,
    ):  # found by schemathesis: must be a refusal, not a 500
        assert (
            signer.check("org-job-part.gcode", expires, garbage, T0)
            == "the download link's signature is not valid"
        )
