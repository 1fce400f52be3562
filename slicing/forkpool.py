"""Run jobs in forked children: the slicer's layer pool where ``os.fork`` exists.

concurrent.futures' process pool cost the slicer ~25 ms of every pooled run before any layer was sliced
(~9 ms to import it with multiprocessing, ~16 ms to start and feed it), a tenth of slicing the overhangs
bench mesh. Here each child is forked with the jobs already in its memory (nothing is pickled to it), asks
for nothing, and is handed the index of its next job over a pipe whenever it sends a result back (pickled,
length-prefixed), so a slow job holds up only its own child, as with the executor.

    for result in imap_unordered(run_job, jobs, workers=2): ...

A job that raises in a child raises the same exception here (children are then told to stop and reaped);
a child that dies without answering raises `ChildDied`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

J = TypeVar("J")
R = TypeVar("R")

_INDEX = struct.Struct("<q")  # parent -> child: next job index, -1 = stop
_LENGTH = struct.Struct("<Q")  # child -> parent: payload length, then pickle of (ok, value)


class ChildDied(RuntimeError):
    """A worker process ended without sending its job's result."""


def available() -> bool:
    return hasattr(os, "fork")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, n: int) -> bytes | None:
    parts: list[bytes] = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def _child(fn: Callable[[J], object], jobs: Sequence[J], cmd: int, res: int) -> None:
    while (raw := _read_exact(cmd, _INDEX.size)) is not None:
        (index,) = _INDEX.unpack(raw)
        if index < 0:
            return
        try:
            payload = pickle.dumps((True, fn(jobs[index])), pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # sent to the parent, which raises it
            payload = pickle.dumps((False, exc), pickle.HIGHEST_PROTOCOL)
        _write_all(res, _LENGTH.pack(len(payload)) + payload)


def imap_unordered(
    fn: Callable[[J], R], jobs: Sequence[J], workers: int, meanwhile: Callable[[], object] | None = None
) -> Iterator[R]:
    """``fn(job)`` for every job, in the order they finish, from up to ``workers`` forked children.
    ``meanwhile``: the parent's own work, run once the children have their first jobs (the parent
    would only wait for them)."""
    workers = max(1, min(workers, len(jobs)))
    children: dict[int, tuple[int, int]] = {}  # result fd -> (pid, command fd)
    try:
        for _ in range(workers):
            cmd_r, cmd_w = os.pipe()
            res_r, res_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child, which never returns
                code = 0
                try:
                    os.close(cmd_w)
                    os.close(res_r)
                    for fd, (_, other_cmd) in children.items():  # the other children's pipe ends
                        os.close(fd)
                        os.close(other_cmd)
                    _child(fn, jobs, cmd_r, res_w)
                except BaseException:  # nothing to report to; the parent sees EOF
                    code = 1
                finally:
                    os._exit(code)
            os.close(cmd_r)
            os.close(res_w)
            children[res_r] = (pid, cmd_w)
        next_job = 0
        for _, cmd_w in children.values():
            _write_all(cmd_w, _INDEX.pack(next_job))
            next_job += 1
        if meanwhile is not None:
            meanwhile()
        busy = set(children)
        while busy:
            ready, _, _ = select.select(list(busy), [], [])
            for fd in ready:
                head = _read_exact(fd, _LENGTH.size)
                payload = _read_exact(fd, _LENGTH.unpack(head)[0]) if head is not None else None
                if payload is None:
                    raise ChildDied(f"slicer worker {children[fd][0]} ended without a result")
                ok, value = pickle.loads(payload)
                if not ok:
                    raise value
                if next_job < len(jobs):
                    _write_all(children[fd][1], _INDEX.pack(next_job))
                    next_job += 1
                else:
                    busy.discard(fd)
                yield value
    finally:
        for fd, (pid, cmd_w) in children.items():
            with contextlib.suppress(OSError):  # that child is gone already
                _write_all(cmd_w, _INDEX.pack(-1))
            os.close(cmd_w)
            os.close(fd)
            os.waitpid(pid, 0)
