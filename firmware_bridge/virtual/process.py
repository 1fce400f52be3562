"""`3dpot virtual-printer` in its own process (its own core), driven through its stdin control channel.

Used by the tests and the benchmarks: stdout carries the path first, then one JSON object per control line.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from types import TracebackType
from typing import Any

PROCESS_START_TIMEOUT_S = 10.0
CONTROL_TIMEOUT_S = 5.0


class PrinterProcess:
    """``3dpot virtual-printer`` in a subprocess; stdout carries the path, then one JSON per control line."""

    def __init__(self, *flags: str) -> None:
        self.argv = [sys.executable, "-m", "threedpot", "virtual-printer", *flags]
        self.popen = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
        )
        self._stdout = bytearray()
        self.path = self._readline(PROCESS_START_TIMEOUT_S)

    def _readline(self, timeout_s: float) -> str:
        assert self.popen.stdout is not None
        fd = self.popen.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._stdout:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer from {' '.join(self.argv)}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    stderr = self.popen.stderr.read().decode() if self.popen.stderr else ""
                    raise EOFError(f"virtual printer exited ({self.popen.poll()}): {stderr}")
                self._stdout += chunk
        line, _, rest = bytes(self._stdout).partition(b"\n")
        self._stdout = bytearray(rest)
        return line.decode()

    def control(self, word: str, timeout_s: float = CONTROL_TIMEOUT_S) -> dict[str, Any]:
        assert self.popen.stdin is not None
        self.popen.stdin.write(word.encode() + b"\n")
        self.popen.stdin.flush()
        answer: dict[str, Any] = json.loads(self._readline(timeout_s))
        return answer

    def stats(self) -> dict[str, Any]:
        return self.control("stats")

    def stop(self) -> dict[str, Any]:
        """SIGTERM; returns the final stats the process prints on its way out."""
        if self.popen.poll() is not None:
            return {}
        self.popen.terminate()
        final: dict[str, Any] = json.loads(self._readline(CONTROL_TIMEOUT_S))
        self.popen.wait(timeout=CONTROL_TIMEOUT_S)
        return final

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=CONTROL_TIMEOUT_S)
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> PrinterProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()
