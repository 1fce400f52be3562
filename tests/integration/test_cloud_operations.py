"""Operating the cloud: backup → restore round trip, and migrations one revision back and forward again,
on SQLite and on PostgreSQL, through the real `3dpot cloud` command."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory

from cloud.db import current_revision, head_revision, migrate, rollback
from cloud.db.migrate import alembic_config
from tests.fixtures.broker import free_port
from tests.fixtures.cloud_process import ADMIN

pytestmark = pytest.mark.integration


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "threedpot", "cloud", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def config_file(workdir: Path, database_url: str | None) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "cloud.toml"
    lines = [f'data_dir = "{workdir / "data"}"']
    if database_url:
        lines.append(f'database_url = "{database_url}"')
    lines += [
        "[bootstrap_admin]",
        f'email = "{ADMIN["email"]}"',
        f'password = "{ADMIN["password"]}"',
        "[password_hashing]",
        "time_cost = 1",
        "memory_kib = 1024",
        "parallelism = 1",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
async def two_databases(
    request: pytest.FixtureRequest, pg_database_factory: object
) -> tuple[str | None, str | None]:
    if request.param == "sqlite":
        return None, None  # each config's own data_dir/cloud.db
    create = pg_database_factory
    return await create(), await create()  # type: ignore[operator]


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)


def serve(config: Path) -> Running:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "threedpot", "cloud", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    running = Running(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{running.url}/readyz", timeout=1).status_code == 200:
                return running
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the cloud did not start")


def enrol_one_printer(url: str) -> str:
    token = httpx.post(f"{url}/api/auth/login", json=ADMIN, timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    code = httpx.post(
        f"{url}/api/printers/claim-codes", json={"name": "kept"}, headers=headers, timeout=10
    ).json()
    enrolled = httpx.post(f"{url}/api/enrol", json={"claim_code": code["code"]}, timeout=10).json()
    return str(enrolled["printer_id"])


def printers(url: str) -> list[str]:
    token = httpx.post(f"{url}/api/auth/login", json=ADMIN, timeout=10).json()["access_token"]
    listed = httpx.get(f"{url}/api/printers", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    items = listed["items"] if isinstance(listed, dict) else listed
    return [p["id"] for p in items]


def test_a_backup_restores_into_an_empty_cloud_with_its_users_printers_and_keys(
    tmp_path: Path, two_databases: tuple[str | None, str | None]
) -> None:
    source_db, target_db = two_databases
    source = config_file(tmp_path / "a", source_db)
    target = config_file(tmp_path / "b", target_db)
    running = serve(source)
    try:
        pid = enrol_one_printer(running.url)
    finally:
        running.stop()
    archive = tmp_path / "backup.tar.gz"
    made = cli("backup", "--config", str(source), "-o", str(archive))
    assert made.returncode == 0, made.stderr
    assert archive.stat().st_size > 0

    restored = cli("restore", str(archive), "--config", str(target))
    assert restored.returncode == 0, restored.stderr
    keys = sorted(
        p.name
        for p in (tmp_path / "a" / "data").iterdir()
        if p.is_file() and not p.name.startswith("cloud.db")
    )
    for name in keys:  # secrets and the job-signing key came along: tokens and offers stay valid
        assert (tmp_path / "b" / "data" / name).read_bytes() == (tmp_path / "a" / "data" / name).read_bytes()
    running = serve(target)
    try:
        assert pid in printers(running.url)
    finally:
        running.stop()

    again = cli("restore", str(archive), "--config", str(target))
    assert again.returncode == 2 and "--force" in again.stderr
    forced = cli("restore", str(archive), "--config", str(target), "--force")
    assert forced.returncode == 0, forced.stderr


def test_a_damaged_or_hostile_backup_is_refused(tmp_path: Path) -> None:
    target = config_file(tmp_path / "t", None)
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as archive:
        data = b"x"
        info = tarfile.TarInfo("../../escape.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    refused = cli("restore", str(evil), "--config", str(target))
    assert refused.returncode == 2 and "suspicious" in refused.stderr
    assert not (tmp_path / "escape.txt").exists()
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not a tar")
    assert cli("restore", str(garbage), "--config", str(target)).returncode != 0


async def test_every_revision_goes_one_back_and_forward_again(tmp_path: Path, pg_database: str) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in script.walk_revisions()]  # newest first
    for url in (f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", pg_database):
        await migrate(url)
        assert await current_revision(url) == head_revision()
        for expected in revisions[1:]:
            await rollback(url)
            assert await current_revision(url) == expected
        await rollback(url)
        assert await current_revision(url) is None
        await migrate(url)
        assert await current_revision(url) == head_revision()
