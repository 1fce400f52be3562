"""Mosquitto's password file and per-device ACL, written from the database, then a SIGHUP.

For a broker at scale (``allow_anonymous false``, ``password_file``, ``acl_file``), the cloud is
the source of truth: every printer's MQTT password is stored only as the Mosquitto line hash
(PBKDF2-SHA512, ``$7$<iterations>$<salt b64>$<hash b64>``, what ``mosquitto_passwd`` writes), so
the password file is rendered straight from the ``printers`` table, plus the cloud's own ingest
user. The ACL is the contract's (``shared/design/mqtt-contract.md``): a printer writes only its
own topics and reads only its own commands; the ingest user reads everything under the prefix
and writes commands.

Files are replaced atomically (written aside, fsynced, renamed) so the broker never reads half a
file, then the broker is told to reload by SIGHUP to the pid in ``mosquitto.pid_file``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import secrets
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.printers.models import Printer
from cloud.settings import MosquittoFiles
from contract.topics import HA_DISCOVERY_PREFIX

log = logging.getLogger(__name__)

PBKDF2_ITERATIONS: Final = 101
"""``mosquitto_passwd``'s default. MQTT passwords we issue are 192-bit random, so cost adds nothing."""
SALT_BYTES: Final = 12
HASH_BYTES: Final = 64


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS, salt: bytes | None = None) -> str:
    """The Mosquitto 2 password-file hash of ``password`` (``$7$`` = PBKDF2-SHA512)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, HASH_BYTES)
    salt_b64 = base64.b64encode(salt).decode("ascii")
    return f"$7${iterations}${salt_b64}${base64.b64encode(digest).decode('ascii')}"


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches a ``$7$`` hash (as the broker would decide)."""
    try:
        _, kind, iterations, salt_b64, digest_b64 = password_hash.split("$")
        if kind != "7":
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(digest_b64, validate=True)
        actual = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, int(iterations), len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _check_username(username: str) -> str:
    if not username or any(c in username for c in ":\r\n") or username != username.strip():
        raise ValueError(f"{username!r} cannot be a Mosquitto username")
    return username


def render_password_file(entries: Iterable[tuple[str, str]]) -> str:
    """``username:hash`` lines, sorted by username, for ``(username, hash)`` pairs."""
    lines = [f"{_check_username(user)}:{password_hash}" for user, password_hash in sorted(entries)]
    return "".join(line + "\n" for line in lines)


def render_acl(prefix: str, ingest_username: str, ha_prefix: str = HA_DISCOVERY_PREFIX) -> str:
    """The contract's per-device ACL (username = printer id) plus the cloud ingest user."""
    _check_username(ingest_username)
    lines = [
        "# Written by the 3D Pot cloud; edits are overwritten. Username = printer id.",
        *(f"pattern write {prefix}/%u/{leaf}" for leaf in ("status", "info", "state", "tele", "evt", "ack")),
        f"pattern read {prefix}/%u/cmd/#",
        f"pattern write {ha_prefix}/device/%u/config",
        f"pattern read {ha_prefix}/status",
        "",
        f"user {ingest_username}",
        f"topic read {prefix}/#",
        f"topic write {prefix}/+/cmd/#",
    ]
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str, mode: int) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(aside, mode)  # the umask may have narrowed it
        os.replace(aside, path)
    except BaseException:
        aside.unlink(missing_ok=True)
        raise


def signal_reload(pid_file: Path) -> bool:
    """SIGHUP the process whose pid is in ``pid_file``; False (and a warning) when that fails."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        log.warning("could not make Mosquitto reload (pid file %s): %s", pid_file, exc)
        return False
    log.info("sent SIGHUP to Mosquitto (pid %d)", pid)
    return True


class MosquittoAuth:
    """Keeps the broker's password file and ACL in step with the ``printers`` table."""

    def __init__(
        self, files: MosquittoFiles, topic_prefix: str, ingest_username: str, ingest_password: SecretStr
    ) -> None:
        self.files = files
        self.topic_prefix = topic_prefix
        self.ingest_username = _check_username(ingest_username)
        # A salt derived from the username: every replica renders the same file, so an unchanged
        # fleet never rewrites it (the password is random, so a fixed salt costs nothing).
        salt = hashlib.sha256(b"3dpot-mosquitto-salt:" + ingest_username.encode()).digest()[:SALT_BYTES]
        self._ingest_hash = hash_password(ingest_password.get_secret_value(), salt=salt)
        self._lock = asyncio.Lock()

    async def sync(self, session: AsyncSession) -> bool:
        """Rewrite the files from the database and reload the broker.

        A file that cannot be written is logged and reported as False, not raised: the database
        is already right, and the next sync (the next enrolment, or a restart) repairs the files.
        """
        async with self._lock:
            rows = (await session.execute(select(Printer.pid, Printer.mqtt_password_hash))).all()
            entries = [(pid, password_hash) for pid, password_hash in rows]
            entries.append((self.ingest_username, self._ingest_hash))
            try:
                await asyncio.to_thread(self._write, entries)
            except OSError as exc:
                log.error("could not write the Mosquitto password file / ACL: %s", exc)
                return False
        return True

    def _write(self, entries: list[tuple[str, str]]) -> None:
        changed = False
        if self.files.password_file is not None:
            changed |= self._replace(self.files.password_file, render_password_file(entries))
        if self.files.acl_file is not None:
            changed |= self._replace(self.files.acl_file, render_acl(self.topic_prefix, self.ingest_username))
        if changed and self.files.pid_file is not None:
            signal_reload(self.files.pid_file)

    def _replace(self, path: Path, text: str) -> bool:
        try:
            if path.read_text(encoding="utf-8") == text:
                return False
        except FileNotFoundError:
            pass
        write_atomic(path, text, self.files.file_mode)
        return True
