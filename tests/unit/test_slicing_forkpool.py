"""The slicer's fork pool: every job's result once, a job's exception raised in the parent, no child left."""

from __future__ import annotations

import os

import pytest

from slicing import forkpool

pytestmark = pytest.mark.skipif(not forkpool.available(), reason="no os.fork here")


def _square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _fails_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"job {x} failed")
    return x


def test_every_job_runs_once_in_children() -> None:
    jobs = list(range(20))
    out = list(forkpool.imap_unordered(_square_and_pid, jobs, workers=2))
    assert sorted(r for r, _ in out) == [x * x for x in jobs]
    pids = {pid for _, pid in out}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2


def test_a_large_result_comes_through_the_pipe() -> None:
    big = list(forkpool.imap_unordered(lambda n: "x" * n, [3_000_000, 5], workers=2))
    assert sorted(map(len, big)) == [5, 3_000_000]


def test_a_jobs_exception_is_raised_and_children_are_reaped(monkeypatch: pytest.MonkeyPatch) -> None:
    forked: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    with pytest.raises(ValueError, match="job 3 failed"):
        list(forkpool.imap_unordered(_fails_on_three, list(range(8)), workers=2))
    assert len(forked) == 2
    for pid in forked:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped already
