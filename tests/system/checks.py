"""Checks after a fault, reusable by the chaos and soak tests. Each raises ``AssertionError`` saying why.

- ``wait_jobs_final``: every submitted job reaches a final state (completed, failed, cancelled).
- ``no_job_lost``: every submitted job is ``completed``; a bay allowed to pass through ``interrupted``
  must show it in the job's history.
- ``no_job_printed_twice``: each printer executed exactly the moves of the jobs it completed (plus the
  slack a fault allows).
- ``events_in_order``: per printer the cloud holds seqs 1..N with no gap; a completed job's history
  ends with ``job.completed``.
- ``converged``: the cloud's fleet view of every printer equals what its agent says locally; returns
  the seconds it took.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection
from typing import Any

import httpx

from tests.system.harness import Bay, Farm, SubmittedJob

FINAL = ("completed", "failed", "cancelled")


def wait_jobs_final(farm: Farm, jobs: list[SubmittedJob], timeout_s: float) -> dict[str, dict[str, Any]]:
    """Job id → the cloud's job detail once every job is final (fails with the stragglers)."""
    deadline = time.monotonic() + timeout_s
    details: dict[str, dict[str, Any]] = {}
    while True:
        try:
            for job in jobs:
                if details.get(job.id, {}).get("state") not in FINAL:
                    details[job.id] = farm.job(job.id)
        except httpx.HTTPError:
            pass
        pending = [j.id for j in jobs if details.get(j.id, {}).get("state") not in FINAL]
        if not pending:
            return details
        if time.monotonic() > deadline:
            summary = {
                i: (details.get(i, {}).get("state"), details.get(i, {}).get("reason")) for i in pending
            }
            raise AssertionError(f"jobs not final within {timeout_s:.0f} s: {summary}")
        time.sleep(1.0)


def no_job_lost(
    farm: Farm,
    details: dict[str, dict[str, Any]],
    interrupted_bays: Collection[int] = (),
) -> None:
    by_pid = {b.pid: b for b in farm.bays}
    problems = []
    for job_id, job in details.items():
        kinds = [e["event_type"] for e in job["history"]]
        if job["state"] != "completed":
            problems.append(f"{job_id}: {job['state']} ({job['reason']}); history {kinds}")
            continue
        if not kinds or kinds[-1] != "job.completed":
            problems.append(f"{job_id}: completed but its history ends {kinds[-3:]}")
        bay = by_pid.get(job["printer_id"])
        if "job.interrupted" in kinds and (bay is None or bay.n not in interrupted_bays):
            problems.append(f"{job_id}: interrupted on {job['printer_id']} where nothing should interrupt it")
    assert not problems, "jobs lost or mangled:\n" + "\n".join(problems)


def completed_moves(farm: Farm) -> dict[str, int]:
    """Printer id → the moves of every job the cloud saw it complete."""
    moves = {j.id: j.moves for j in farm.jobs}
    out: dict[str, int] = defaultdict(int)
    for job in farm.list_jobs():
        if job["state"] == "completed" and job["printer_id"] and job["id"] in moves:
            out[job["printer_id"]] += moves[job["id"]]
    return out


def no_job_printed_twice(farm: Farm, extra_moves: dict[int, int]) -> dict[str, int]:
    """Every printer's ``moves_executed`` equals its completed jobs' moves (+ allowed slack, per bay).

    ``extra_moves`` accumulates across faults on a shared farm. Returns printer name → executed moves.
    """
    expected = completed_moves(farm)
    problems = []
    executed: dict[str, int] = {}
    for bay in farm.bays:
        done = bay.printer.stats()["moves_executed"]
        executed[bay.name] = done
        want = expected.get(bay.pid, 0)
        slack = extra_moves.get(bay.n, 0)
        if not want <= done <= want + slack:
            problems.append(
                f"{bay.name}: executed {done} moves, its completed jobs have {want} (+{slack} allowed)"
            )
    assert not problems, "\n".join(problems)
    return executed


def events_in_order(farm: Farm) -> dict[str, int]:
    """Per printer the cloud's event seqs are exactly 1..N; returns printer name → N."""
    problems = []
    counts: dict[str, int] = {}
    for bay in farm.bays:
        seqs = [e["seq"] for e in farm.events(bay.pid)]
        counts[bay.name] = len(seqs)
        if seqs != list(range(1, len(seqs) + 1)):
            missing = sorted(set(range(1, max(seqs, default=0) + 1)) - set(seqs))
            problems.append(f"{bay.name}: {len(seqs)} events, missing seqs {missing[:20]}")
    assert not problems, "\n".join(problems)
    return counts


def agent_view(bay: Bay) -> tuple[bool, str, str]:
    printer = bay.agent.get("/api/agent/printer").json()
    return True, str(printer["link"]), str(printer["printer_state"])


def cloud_view(printer: dict[str, Any]) -> tuple[bool, str, str]:
    return bool(printer["online"]), str(printer["link"]), str(printer["printer_state"])


def diverging(farm: Farm) -> list[str]:
    """Bays whose cloud view (online, link, printer_state) differs from their agent's."""
    cloud = {p["id"]: p for p in farm.fleet_printers()}
    out = []
    for bay in farm.bays:
        local, remote = agent_view(bay), cloud_view(cloud[bay.pid]) if bay.pid in cloud else None
        if local != remote:
            out.append(f"{bay.name}: agent {local} cloud {remote}")
    return out


def converged(farm: Farm, timeout_s: float, *, stable_s: float = 1.0) -> float:
    """Seconds until the cloud agrees with every agent (and still does ``stable_s`` later)."""
    started = time.monotonic()
    last: list[str] = ["not asked yet"]
    while time.monotonic() - started < timeout_s:
        try:
            last = diverging(farm)
        except (httpx.HTTPError, OSError) as exc:
            last = [repr(exc)]
        if not last:
            at = time.monotonic() - started
            time.sleep(stable_s)
            try:
                if not diverging(farm):
                    return at
            except (httpx.HTTPError, OSError):
                pass
        time.sleep(0.25)
    raise AssertionError(f"the cloud did not converge within {timeout_s:.0f} s: {last}")
