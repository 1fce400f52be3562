"""download() against a real HTTP server on a random loopback port: resume, caps, hashes, retries.

The server is the standard library's ``ThreadingHTTPServer`` with ``Range`` support, run in a
background thread. Each test scripts it with ``plan``: one behaviour per request, in order, then
plain ``serve`` once the plan is used up. It records every request's headers.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from contract import AckCode
from edge_agent.offers import (
    DownloadError,
    DownloadFailedError,
    HashMismatchError,
    SizeMismatchError,
    StorageFullError,
    download,
)

pytestmark = pytest.mark.integration

CONTENT = random.Random(7).randbytes(1024 * 1024 + 123)
CONTENT_SHA256 = hashlib.sha256(CONTENT).hexdigest()
HALF = len(CONTENT) // 2
SEND_BLOCK_BYTES = 64 * 1024


class FileServer(ThreadingHTTPServer):
    """Serves ``content`` at any path, behaving per request as ``plan`` says.

    Behaviours: ``serve`` (honours ``Range``), ``ignore_range`` (always 200, whole file),
    ``drop_half`` (announces the full length, sends half the body, closes the connection),
    ``endless`` (200 without Content-Length, far more bytes than the file, until the client hangs
    up), ``announce_double`` (200 with a Content-Length twice the file's), ``status <code>``.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FileHandler)
        self.content = CONTENT
        self.plan: list[str] = []
        self.requests: list[dict[str, str]] = []
        self.client_hung_up = threading.Event()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/files/part.gcode"

    def next_behaviour(self, headers: dict[str, str]) -> str:
        with self._lock:
            self.requests.append(headers)
            return self.plan.pop(0) if self.plan else "serve"

    @property
    def ranges(self) -> list[str | None]:
        return [request.get("range") for request in self.requests]


class FileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FileServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        behaviour = self.server.next_behaviour({k.lower(): v for k, v in self.headers.items()})
        content = self.server.content
        self.close_connection = True
        try:
            if behaviour.startswith("status "):
                self.send_response(int(behaviour.split()[1]))
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
            elif behaviour in ("serve", "drop_half"):
                self.serve(content, drop_half=behaviour == "drop_half")
            elif behaviour == "ignore_range":
                self.send_body(200, content, {})
            elif behaviour == "announce_double":
                self.send_body(200, content * 2, {})
            elif behaviour == "endless":
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                for _ in range(64 * len(content) // SEND_BLOCK_BYTES):
                    self.wfile.write(content[:SEND_BLOCK_BYTES])
            else:
                raise AssertionError(f"unknown behaviour {behaviour!r}")
        except (BrokenPipeError, ConnectionResetError):
            self.server.client_hung_up.set()

    def serve(self, content: bytes, *, drop_half: bool) -> None:
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match is None:
            self.send_body(200, content, {}, drop_half=drop_half)
            return
        start = int(match[1])
        if start >= len(content):
            self.send_body(416, b"", {"Content-Range": f"bytes */{len(content)}"})
            return
        content_range = f"bytes {start}-{len(content) - 1}/{len(content)}"
        self.send_body(206, content[start:], {"Content-Range": content_range}, drop_half=drop_half)

    def send_body(
        self, status: int, body: bytes, headers: dict[str, str], *, drop_half: bool = False
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if drop_half:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[FileServer]:
    file_server = FileServer()
    thread = threading.Thread(target=file_server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield file_server
    finally:
        file_server.shutdown()
        file_server.server_close()
        thread.join(timeout=5)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as http_client:
        yield http_client


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, received_bytes: int, total_bytes: int) -> None:
        self.calls.append((received_bytes, total_bytes))


async def fetch(
    client: httpx.AsyncClient, url: str, dest: Path, progress: Progress | None = None, **overrides: Any
) -> Path:
    arguments: dict[str, Any] = {
        "expected_size": len(CONTENT),
        "expected_sha256": CONTENT_SHA256,
        "max_bytes": 8 * len(CONTENT),
        "on_progress": progress,
        "first_retry_delay_s": 0.01,
        "max_retry_delay_s": 0.05,
    } | overrides
    return await download(client, url, dest, **arguments)


def part_of(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


# ---------------------------------------------------------------- success paths


async def test_plain_download(server: FileServer, client: httpx.AsyncClient, tmp_path: Path) -> None:
    dest = tmp_path / "job.gcode"
    progress = Progress()
    assert await fetch(client, server.url, dest, progress) == dest
    assert dest.read_bytes() == CONTENT
    assert not part_of(dest).exists()
    assert server.ranges == [None]
    assert server.requests[0]["accept-encoding"] == "identity"
    received = [done for done, _ in progress.calls]
    assert received == sorted(received)
    assert progress.calls[-1] == (len(CONTENT), len(CONTENT))


async def test_resume_after_the_connection_drops_mid_body(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    server.plan = ["drop_half"]
    dest = tmp_path / "job.gcode"
    await fetch(client, server.url, dest)
    assert dest.read_bytes() == CONTENT
    assert server.ranges == [None, f"bytes={HALF}-"]


async def test_resume_a_part_file_left_by_an_earlier_run(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dest = tmp_path / "job.gcode"
    part_of(dest).write_bytes(CONTENT[:300_000])
    progress = Progress()
    await fetch(client, server.url, dest, progress)
    assert dest.read_bytes() == CONTENT
    assert server.ranges == ["bytes=300000-"]
    assert progress.calls[0][0] > 300_000


async def test_complete_part_file_is_verified_without_a_request(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dest = tmp_path / "job.gcode"
    part_of(dest).write_bytes(CONTENT)
    await fetch(client, server.url, dest)
    assert dest.read_bytes() == CONTENT
    assert server.requests == []


async def test_server_ignoring_range_restarts_from_byte_zero(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dest = tmp_path / "job.gcode"
    part_of(dest).write_bytes(b"stale bytes that must not survive")
    server.plan = ["ignore_range"]
    await fetch(client, server.url, dest)
    assert dest.read_bytes() == CONTENT
    assert server.ranges == ["bytes=33-"]


async def test_drop_then_server_ignoring_range(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    server.plan = ["drop_half", "ignore_range"]
    dest = tmp_path / "job.gcode"
    await fetch(client, server.url, dest)
    assert dest.read_bytes() == CONTENT
    assert server.ranges == [None, f"bytes={HALF}-"]


async def test_range_not_satisfiable_restarts_without_range(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dest = tmp_path / "job.gcode"
    part_of(dest).write_bytes(CONTENT[:1000])
    server.plan = ["status 416"]
    await fetch(client, server.url, dest)
    assert dest.read_bytes() == CONTENT
    assert server.ranges == ["bytes=1000-", None]


async def test_stale_part_that_does_not_verify_is_downloaded_again(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dest = tmp_path / "job.gcode"
    part_of(dest).write_bytes(bytes(HALF))  # right length, wrong bytes: only the hash can tell
    await fetch(client, server.url, dest)
    assert dest.read_bytes() == CONTENT
    assert server.ranges == [f"bytes={HALF}-", None]


async def test_503_then_success_is_retried(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    server.plan = ["status 503", "status 503"]
    dest = tmp_path / "job.gcode"
    await fetch(client, server.url, dest)
    assert dest.read_bytes() == CONTENT
    assert len(server.requests) == 3


# ---------------------------------------------------------------- refusals


async def test_hash_mismatch_removes_the_part_file(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    corrupted = bytearray(CONTENT)
    corrupted[HALF] ^= 0xFF
    server.content = bytes(corrupted)
    dest = tmp_path / "job.gcode"
    with pytest.raises(HashMismatchError, match=CONTENT_SHA256) as info:
        await fetch(client, server.url, dest)
    assert info.value.code is AckCode.HASH_MISMATCH
    assert not part_of(dest).exists()
    assert not dest.exists()
    assert len(server.requests) == 1


async def test_more_bytes_than_declared_stops_early(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    server.plan = ["endless"]
    dest = tmp_path / "job.gcode"
    progress = Progress()
    with pytest.raises(SizeMismatchError, match="more than") as info:
        await fetch(client, server.url, dest, progress)
    assert info.value.code is AckCode.SIZE_MISMATCH
    assert max(done for done, _ in progress.calls) <= len(CONTENT)
    assert not part_of(dest).exists()
    assert not dest.exists()
    assert server.client_hung_up.wait(timeout=5), "the server was allowed to send its whole body"
    assert len(server.requests) == 1


async def test_announced_length_over_declared_fails_before_the_body(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    server.plan = ["announce_double"]
    dest = tmp_path / "job.gcode"
    progress = Progress()
    with pytest.raises(SizeMismatchError, match=str(2 * len(CONTENT))):
        await fetch(client, server.url, dest, progress)
    assert progress.calls == []
    assert not part_of(dest).exists()


async def test_404_fails_without_retries(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    server.plan = ["status 404"]
    dest = tmp_path / "job.gcode"
    with pytest.raises(DownloadFailedError, match="HTTP 404") as info:
        await fetch(client, server.url + "?sig=SECRET", dest)
    assert info.value.code is AckCode.DOWNLOAD_FAILED
    assert "/files/part.gcode" in str(info.value)
    assert "SECRET" not in str(info.value)  # a signed URL's secret stays out of messages and logs
    assert len(server.requests) == 1
    assert not dest.exists()


async def test_gives_up_after_the_last_attempt_and_keeps_the_part(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    server.plan = ["drop_half", "status 503", "status 503"]
    dest = tmp_path / "job.gcode"
    with pytest.raises(DownloadFailedError, match=r"after 3 attempts.*503") as info:
        await fetch(client, server.url, dest, attempts=3)
    assert info.value.code is AckCode.DOWNLOAD_FAILED
    assert len(server.requests) == 3
    assert part_of(dest).read_bytes() == CONTENT[:HALF]  # kept: the next call resumes it


async def test_connection_refused_is_retried_then_fails(client: httpx.AsyncClient, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(DownloadFailedError, match=r"after 2 attempts.*ConnectError"):
        await fetch(client, f"http://127.0.0.1:{closed_port}/x.gcode", tmp_path / "job.gcode", attempts=2)


@pytest.mark.parametrize("existing_part", [False, True])
async def test_over_the_cap_is_refused_without_a_request(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path, existing_part: bool
) -> None:
    dest = tmp_path / "job.gcode"
    if existing_part:
        part_of(dest).write_bytes(CONTENT[:10])
    with pytest.raises(StorageFullError, match="at most") as info:
        await fetch(client, server.url, dest, max_bytes=len(CONTENT) - 1)
    assert info.value.code is AckCode.STORAGE_FULL
    assert server.requests == []
    assert isinstance(info.value, DownloadError)


async def test_not_enough_free_disk_space_is_refused_without_a_request(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(free=len(CONTENT) - 1))
    dest = tmp_path / "job.gcode"
    with pytest.raises(StorageFullError, match=r"only .* free") as info:
        await fetch(client, server.url, dest)
    assert info.value.code is AckCode.STORAGE_FULL
    assert server.requests == []
    assert not part_of(dest).exists()
