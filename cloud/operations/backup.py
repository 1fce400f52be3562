"""Backup and restore of a cloud: its database (SQLite or PostgreSQL) and its data folder (secrets,
signing key, stored files), in one `.tar.gz`.

    3dpot cloud backup  -o cloud-2026-11-25.tar.gz
    3dpot cloud restore cloud-2026-11-25.tar.gz [--force]

SQLite is copied with its online backup API (consistent while the cloud runs); PostgreSQL with
`pg_dump --format=custom` and restored with `pg_restore --clean --if-exists`. A restore refuses to
overwrite a database that already has users unless forced, and brings the schema to the newest
revision afterwards (a backup from an older release upgrades on restore).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cloud.db import current_revision, migrate
from cloud.settings import CloudSettings

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_DUMP = "database.sqlite"
POSTGRES_DUMP = "database.pgdump"
DATA = "data"
SKIPPED = {"cloud.db", "cloud.db-wal", "cloud.db-shm"}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, for a person."""


@dataclass(frozen=True, slots=True)
class BackupManifest:
    format: int
    created_at: str
    dialect: str  # "sqlite" | "postgresql"
    revision: str | None


def _dialect(url: str) -> str:
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme in ("sqlite", "postgresql", "postgres"):
        return "postgresql" if scheme.startswith("postgres") else "sqlite"
    raise BackupError(f"cannot back up a {scheme!r} database")


def _sqlite_path(url: str) -> Path:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path == ":memory:":
        raise BackupError(f"{url!r} is not a SQLite file")
    return Path(path)


def _libpq_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def _run(argv: list[str]) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=3600)
    except FileNotFoundError:
        raise BackupError(f"{argv[0]} is not installed (PostgreSQL client tools)") from None
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {done.stderr.strip()[:500]}")


def backup(settings: CloudSettings, output: Path) -> BackupManifest:
    """Write the database and the data folder to `output` (a .tar.gz)."""
    url = settings.database_url
    dialect = _dialect(url)
    manifest = BackupManifest(
        FORMAT, datetime.now(UTC).isoformat(timespec="seconds"), dialect, asyncio.run(current_revision(url))
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if dialect == "sqlite":
            source = sqlite3.connect(_sqlite_path(url))
            target = sqlite3.connect(work / SQLITE_DUMP)
            with target:
                source.backup(target)
            source.close()
            target.close()
            dump = work / SQLITE_DUMP
        else:
            dump = work / POSTGRES_DUMP
            _run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", _libpq_url(url)])
        (work / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2))
        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(work / MANIFEST, MANIFEST)
            archive.add(dump, dump.name)
            if settings.data_dir.is_dir():
                for path in sorted(settings.data_dir.rglob("*")):
                    if path.is_file() and path.name not in SKIPPED:
                        archive.add(path, f"{DATA}/{path.relative_to(settings.data_dir)}")
        partial.replace(output)
    return manifest


def _has_users(settings: CloudSettings) -> bool:
    url = settings.database_url
    if _dialect(url) == "sqlite":
        path = _sqlite_path(url)
        if not path.exists():
            return False
        with sqlite3.connect(path) as connection:
            try:
                return bool(connection.execute("SELECT count(*) FROM users").fetchone()[0])
            except sqlite3.OperationalError:
                return False
    done = subprocess.run(
        ["psql", "-tAc", "SELECT count(*) FROM users", _libpq_url(url)],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0 and done.stdout.strip() not in ("", "0")


def _safe_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = archive.getmembers()
    for member in members:
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise BackupError(f"refusing a backup with a suspicious entry: {member.name!r}")
    return members


def restore(settings: CloudSettings, source: Path, *, force: bool = False) -> BackupManifest:
    """Put a backup back: the data folder's files, then the database, then migrate to the newest revision."""
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    if _has_users(settings) and not force:
        raise BackupError("the target database already has users: pass --force to overwrite it")
    url = settings.database_url
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(source, "r:gz") as archive:
        work = Path(tmp)
        archive.extractall(work, members=_safe_members(archive), filter="data")
        try:
            manifest = BackupManifest(**json.loads((work / MANIFEST).read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise BackupError(f"{source} is not a 3D Pot cloud backup: {exc}") from None
        if manifest.format != FORMAT:
            raise BackupError(
                f"backup format {manifest.format} is not supported (this release reads {FORMAT})"
            )
        if manifest.dialect != _dialect(url):
            raise BackupError(
                f"the backup holds a {manifest.dialect} database; the target is {_dialect(url)}"
            )
        data = work / DATA
        if data.is_dir():
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            shutil.copytree(data, settings.data_dir, dirs_exist_ok=True)
        if manifest.dialect == "sqlite":
            target = _sqlite_path(url)
            target.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("-wal", "-shm"):
                target.with_name(target.name + suffix).unlink(missing_ok=True)
            shutil.copyfile(work / SQLITE_DUMP, target)
        else:
            _run(
                [
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--dbname",
                    _libpq_url(url),
                    str(work / POSTGRES_DUMP),
                ]
            )
    asyncio.run(migrate(url))
    return manifest
