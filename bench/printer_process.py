"""A `3dpot virtual-printer` subprocess, driven through its stdin control channel."""

from __future__ import annotations

import json
import subprocess
import sys
from types import TracebackType
from typing import Any


class PrinterProcess:
    """Starts the virtual printer in its own process (so it has its own core), stops it on exit."""

    def __init__(self, *flags: str) -> None:
        self._argv = [sys.executable, "-m", "threedpot", "virtual-printer", *flags]
        self._proc: subprocess.Popen[str] | None = None
        self.path = ""

    def __enter__(self) -> PrinterProcess:
        self._proc = subprocess.Popen(
            self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert self._proc.stdout is not None
        self.path = self._proc.stdout.readline().strip()
        if not self.path:
            raise RuntimeError(f"virtual printer did not start: {' '.join(self._argv)}")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)

    def control(self, word: str) -> dict[str, Any]:
        """Send one control word (`stats`, `reset`, ...) and return its JSON answer."""
        assert self._proc is not None and self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(word + "\n")
        self._proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self._proc.stdout.readline())
        return answer
