"""Child processes of the demo: each writes to its own log file; ``stop_all`` ends them newest first.

A child is sent SIGTERM (every component of 3D Pot shuts down cleanly on it), then SIGKILL after
``grace_s``. Children start in their own session so the terminal's Ctrl-C reaches only the demo,
which then stops them in order: agents before printers, the cloud last.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path


class ChildFailed(RuntimeError):
    """A child exited while the demo needed it; the message ends with the tail of its log."""


@dataclass(slots=True)
class Child:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.process.returncode is not None:
            raise ChildFailed(
                f"{self.name} exited with code {self.process.returncode}; its log "
                f"({self.log_path}) ends with:\n{self.log_tail()}"
            )

    async def stop(self, grace_s: float) -> int | None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        return self.process.returncode


@dataclass(slots=True)
class Children:
    """Starts ``3dpot`` subcommands (and other programs) with logs under ``log_dir``."""

    log_dir: Path
    started: list[Child] = field(default_factory=list)

    async def start(self, name: str, argv: list[str], *, stdout_pipe: bool = False) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdout_pipe else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if stdout_pipe else log,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        child = Child(name, process, log_path)
        self.started.append(child)
        return child

    async def start_3dpot(self, name: str, *args: str, stdout_pipe: bool = False) -> Child:
        return await self.start(name, [sys.executable, "-m", "threedpot", *args], stdout_pipe=stdout_pipe)

    def check_alive(self) -> None:
        for child in self.started:
            child.check_alive()

    async def stop_all(self, grace_s: float = 15.0) -> None:
        while self.started:
            child = self.started.pop()
            await child.stop(grace_s)
