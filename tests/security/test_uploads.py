"""Hostile uploads over real TCP: the agent's OctoPrint upload (``POST /api/files/local``, a real
`3dpot agent` process) and the cloud's job upload (``POST /api/jobs``, a real `3dpot cloud` process).

- Path-traversal, absolute, NUL, backslash, drive, very long and unicode-trick file names are refused
  (400/422) or sanitised to one plain name inside the data folder; nothing is written anywhere else
  (searched on the filesystem by a marker the names carry) and no answer is a 5xx.
- A body far over the upload limit, sent chunked from a generator, is refused with 413 while it
  streams: the server answers (and stops reading) long before the end, stores nothing, and its
  memory does not take the body.
"""

from __future__ import annotations

import os
import select
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.fixtures.agent import AgentProcess
from tests.fixtures.cloud_process import CloudProcess
from tests.security import hostile

pytestmark = [pytest.mark.security, pytest.mark.integration, pytest.mark.slow]

BOUNDARY = "----3dpotSecurityBoundaryQ9x"
GCODE = b"; hostile upload\nG28\nG1 X10 Y10 F3000\n"

OVERSIZE_BYTES = 256 * 1024 * 1024
"""What the oversize upload would send if nobody stopped it: 256 times the limit."""
RSS_GROWTH_LIMIT = 64 * 1024 * 1024


def _plain(name: str) -> bool:
    return (
        "/" not in name
        and "\\" not in name
        and not name.startswith(".")
        and len(name.encode()) <= 255
        and all(ord(c) >= 32 and ord(c) != 127 for c in name)
    )


def _files_named(roots: list[Path], token: str, skip: Path) -> list[Path]:
    found = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            if Path(dirpath).is_relative_to(skip):
                dirnames.clear()
                continue
            found += [Path(dirpath) / n for n in filenames + dirnames if token in n]
    return found


def _search_roots(tmp_path: Path) -> list[Path]:
    """Where a traversal would land: the test's tree up to pytest's base, /tmp's top level, cwd."""
    return [tmp_path.parent.parent, Path.cwd()]


def _assert_traversal_contained(
    post: Callable[[bytes], httpx.Response], data_dir: Path, tmp_path: Path, ok: set[int]
) -> dict[str, int]:
    token = f"tok{uuid.uuid4().hex[:10]}"
    passwd = Path("/etc/passwd").read_bytes() if Path("/etc/passwd").exists() else b""
    outcomes: dict[str, int] = {}
    for case, raw in hostile.HOSTILE_NAMES.items():
        response = post(raw.replace(b"TOKEN", token.encode()))
        assert response.status_code < 500, (case, response.status_code, response.text[:300])
        assert response.status_code in ok, (case, response.status_code, response.text[:300])
        outcomes[case] = response.status_code
    # Nothing named after the marker exists outside the data folder ...
    outside = _files_named(_search_roots(tmp_path), token, skip=data_dir)
    outside += [Path("/tmp") / n for n in os.listdir("/tmp") if token in n]
    assert outside == [], outside
    # ... every stored file has one plain name, no temporary file is left (the cloud's store keeps an
    # empty `.incoming` folder of its own), and /etc/passwd is what it was.
    for path in data_dir.rglob("*"):
        if path.is_file() and path.suffix != ".db" and "keys" not in path.parts:
            assert _plain(path.name) and _plain(path.parent.name), path
    assert (Path("/etc/passwd").read_bytes() if passwd else b"") == passwd
    print("observed:", outcomes)  # for docs/RELIABILITY.md (pytest -rP)
    assert any(code < 300 for code in outcomes.values()), "some names are sanitised and stored"
    assert any(code >= 400 for code in outcomes.values()), "some names are refused"
    return outcomes


def _stream_until_refused(url: str, path: str, headers: dict[str, str], filename: bytes) -> tuple[int, int]:
    """Send a chunked multipart upload of ``OVERSIZE_BYTES`` over a raw socket, watching for the
    answer after every chunk. Returns (status, bytes of body sent before the server answered or
    closed). A server that reads on and discards would let the whole body through."""
    host, port = url.removeprefix("http://").split(":")
    head = hostile.multipart(filename, b"", BOUNDARY).split(b"\r\n\r\n\r\n")[0] + b"\r\n\r\n"
    chunk = b"G1 X1 Y1\n" * (64 * 1024 // 9)
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        "Transfer-Encoding: chunked",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        body_chunks: Iterator[bytes] = (
            head if i == 0 else chunk for i in range(OVERSIZE_BYTES // len(chunk))
        )
        reply = b""
        for piece in body_chunks:
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        deadline = time.monotonic() + 20
        while b"\r\n" not in reply and time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            reply += data
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0
    return status, sent


# ---- the agent ---------------------------------------------------------------------------------------


def test_agent_upload_names_stay_inside_the_files_folder(tmp_path: Path, agent: AgentProcess) -> None:
    def post(name: bytes) -> httpx.Response:
        return httpx.post(
            f"{agent.url}/api/files/local",
            content=hostile.multipart(name, GCODE, BOUNDARY, path="../../.."),
            headers={**agent.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            timeout=10,
        )

    outcomes = _assert_traversal_contained(post, tmp_path / "agent-data", tmp_path, ok={201, 400, 415})
    assert outcomes["absolute"] == 400  # /etc/passwd is not a G-code file
    assert outcomes["nul"] == 400
    listed = agent.get("/api/files/local").json()["files"]
    assert listed and all(_plain(f["name"]) for f in listed)
    assert "agent exited" not in agent.log_text() and "Traceback" not in agent.log_text()


def test_agent_oversize_upload_is_refused_while_streaming(tmp_path: Path, agent: AgentProcess) -> None:
    assert agent.popen is not None
    process = psutil.Process(agent.popen.pid)
    rss_before = process.memory_info().rss
    status, sent = _stream_until_refused(agent.url, "/api/files/local", agent.headers, b"huge.gcode")
    print(f"observed: {status} after {sent} bytes sent, RSS +{process.memory_info().rss - rss_before} bytes")
    assert status == 413
    assert sent < 32 * hostile.UPLOAD_LIMIT_MB * 1024 * 1024, f"the agent read {sent} bytes before refusing"
    assert process.memory_info().rss - rss_before < RSS_GROWTH_LIMIT
    files = [p for p in (tmp_path / "agent-data").rglob("*") if p.is_file() and "files" in p.parts]
    assert all(p.stat().st_size <= hostile.UPLOAD_LIMIT_MB * 1024 * 1024 for p in files), files
    assert not [p for p in files if p.name.startswith(".upload-")], "the temporary file is gone"
    assert agent.get("/api/version").status_code == 200


# ---- the cloud ---------------------------------------------------------------------------------------


def test_cloud_upload_names_stay_inside_the_data_folder(tmp_path: Path, small_cloud: CloudProcess) -> None:
    token = small_cloud.token()

    def post(name: bytes) -> httpx.Response:
        return httpx.post(
            f"{small_cloud.url}/api/jobs",
            content=hostile.multipart(name, GCODE, BOUNDARY),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
            timeout=10,
        )

    _assert_traversal_contained(post, tmp_path / "cloud-process" / "cloud", tmp_path, ok={201, 400, 422})
    jobs = httpx.get(f"{small_cloud.url}/api/jobs", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert jobs.json() and all(_plain(j["filename"]) for j in jobs.json())
    assert "Traceback" not in small_cloud.log_text()


def test_cloud_oversize_upload_is_refused_while_streaming(tmp_path: Path, small_cloud: CloudProcess) -> None:
    process = psutil.Process(small_cloud.popen.pid)
    rss_before = process.memory_info().rss
    auth = {"Authorization": f"Bearer {small_cloud.token()}"}
    status, sent = _stream_until_refused(small_cloud.url, "/api/jobs", auth, b"huge.gcode")
    print(f"observed: {status} after {sent} bytes sent, RSS +{process.memory_info().rss - rss_before} bytes")
    assert status == 413
    assert sent < 32 * hostile.UPLOAD_LIMIT_MB * 1024 * 1024, f"the cloud read {sent} bytes before refusing"
    assert process.memory_info().rss - rss_before < RSS_GROWTH_LIMIT
    data = tmp_path / "cloud-process" / "cloud"
    stored = [p for p in data.rglob("*") if p.is_file() and "files" in p.parts]
    assert stored == [], stored
    assert httpx.get(f"{small_cloud.url}/api/jobs", headers=auth, timeout=10).json() == []
