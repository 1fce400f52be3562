"""The pseudo-terminal a host opens as if it were ``/dev/ttyACM0``, and the optional stable symlink to it."""

from __future__ import annotations

import contextlib
import logging
import os
import termios
import tty
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PtyPort:
    """One plugged-in "USB cable": we keep the master (board side) and hold the slave open ourselves.

    Holding the slave keeps the pts alive between host opens (no EIO on the master when the host closes).
    """

    master_fd: int
    slave_fd: int
    path: str

    @classmethod
    def open(cls) -> PtyPort:
        master_fd, slave_fd = os.openpty()
        try:
            tty.setraw(slave_fd, termios.TCSANOW)
            attrs = termios.tcgetattr(slave_fd)
            attrs[3] &= ~(termios.ECHO | termios.ICANON)
            termios.tcsetattr(slave_fd, termios.TCSANOW, attrs)
            os.set_blocking(master_fd, False)
            path = os.ttyname(slave_fd)
        except BaseException:
            os.close(master_fd)
            os.close(slave_fd)
            raise
        log.debug("pty opened at %s", path)
        return cls(master_fd, slave_fd, path)

    def close(self) -> None:
        """Unplug: the host's next read on the slave fails (EOF / EIO) once no one holds the master."""
        for fd in (self.master_fd, self.slave_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def point_link(link: str, target: str) -> None:
    """Atomically make ``link`` a symlink to ``target`` (replacing whatever was there)."""
    temporary = f"{link}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    os.symlink(target, temporary)
    os.replace(temporary, link)


def remove_link(link: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(link)
