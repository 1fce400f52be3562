"""The pieces of a farm as processes a test can start, stop and kill (``harness.Farm`` puts them together).

- ``PostgresCluster``: a throwaway PostgreSQL cluster of our own (``initdb`` into a temp dir owned by the
  ``postgres`` user when we are root), on a free port — never the machine's shared server.
- ``TcpProxy``: a loopback TCP relay between one agent and the broker; ``sever()`` drops every
  connection and refuses new ones until ``heal()``.
- ``CloudServer``: ``3dpot cloud`` on that PostgreSQL, its data dir (and so its keys) kept across restarts.
- ``Printer`` / ``Agent``: the tests' ``PrinterProcess`` / ``AgentProcess`` with start timeouts for a
  loaded machine, ending what failed to start.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from firmware_bridge.virtual.process import PrinterProcess
from tests.fixtures.agent import AgentProcess
from tests.fixtures.broker import free_port

ADMIN = {"email": "chaos@example.com", "password": "a long and proper passphrase"}
CLOUD_START_TIMEOUT_S = 60.0


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str, *, every_s: float = 0.25) -> Any:
    """Poll ``condition()`` until truthy (HTTP and OS errors count as not yet); its value."""
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what} (last error: {last_error!r})")
        time.sleep(every_s)


# -- PostgreSQL --------------------------------------------------------------------------------------


def find_pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<v>/bin`` with ``initdb`` and ``pg_ctl`` (or ``$PG_BIN``)."""
    override = os.environ.get("PG_BIN")
    if override:
        return Path(override)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PostgresCluster:
    """A private cluster (trust auth, user ``postgres``) in a temp dir, on 127.0.0.1:``port``."""

    def __init__(self, bin_dir: Path, port: int | None = None) -> None:
        self.bin_dir = bin_dir
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="3dpot-chaos-pg-"))
        self.data_dir = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0  # initdb refuses root
        if self._as_postgres:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            os.chmod(self.root, 0o755)
        self._run("initdb", "-D", str(self.data_dir), "--auth=trust", "-U", "postgres", "-E", "UTF8")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bin_dir / tool), *args]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stdout}{result.stderr}")
        return result

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop")

    def kill(self) -> None:
        self.stop("immediate")

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.dsn(name)

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# -- the TCP proxy -----------------------------------------------------------------------------------


class TcpProxy:
    """A relay from ``127.0.0.1:port`` to ``upstream``; ``sever()`` cuts it, ``heal()`` restores it.

    While severed, live connections are closed and new ones are accepted and closed at once (as if the
    far side reset them), so a client retries with its own backoff.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self.severed = False
        self.connections = 0
        self._closed = False
        threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True).start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.severed:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._live.update((client, upstream))
                self.connections += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._drop(src, dst)

    def _drop(self, *sockets: socket.socket) -> None:
        with self._lock:
            for sock in sockets:
                self._live.discard(sock)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def sever(self) -> None:
        self.severed = True
        with self._lock:
            live = list(self._live)
        self._drop(*live)

    def heal(self) -> None:
        self.severed = False

    def close(self) -> None:
        self._closed = True
        self.sever()
        self._listener.close()


# -- the cloud ---------------------------------------------------------------------------------------


class CloudServer:
    """``3dpot cloud`` on a fixed port and data dir, so a restart is the same cloud."""

    def __init__(
        self, workdir: Path, mqtt_url: str, database_url: str, *, persistent_ingest: bool = True
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "cloud.log"
        self.config = workdir / "cloud.toml"
        self.config.write_text(
            f'data_dir = "{workdir / "cloud"}"\n'
            f'database_url = "{database_url}"\n'
            f'mqtt_url = "{mqtt_url}"\n'
            f'public_base_url = "{self.url}"\n'
            f'[bootstrap_admin]\nemail = "{ADMIN["email"]}"\npassword = "{ADMIN["password"]}"\n'
            "[password_hashing]\ntime_cost = 1\nmemory_kib = 1024\nparallelism = 1\n"
            "[login_rate_limit]\nburst = 10000\nper_minute = 10000\n"
            "[enrol_rate_limit]\nburst = 10000\nper_minute = 10000\n"
            "[jobs]\npoll_interval_s = 0.5\nretry_initial_s = 1.0\nretry_max_s = 5.0\n"
            # the broker keeps what arrives for the ingest while the cloud is down (see RELIABILITY.md)
            f"[ingest]\npersistent_session = {str(persistent_ingest).lower()}\nreconnect_max_s = 2.0\n"
        )
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"\n===== harness: start at {time.strftime('%H:%M:%S')} =====\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "threedpot",
                    "cloud",
                    "--config",
                    str(self.config),
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.wait_ready()

    def wait_ready(self, timeout_s: float = CLOUD_START_TIMEOUT_S) -> None:
        def ready() -> bool:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"the cloud exited:\n{self.log_text()[-4000:]}")
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200

        wait_for(ready, timeout_s, f"the cloud answers /readyz\n{self.log_text()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM: an orderly shutdown."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
                raise AssertionError("the cloud did not stop within 20 s of SIGTERM") from None

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# -- printers and agents ----------------------------------------------------------------------------

START_UNDER_LOAD_S = 90.0  # fifty agents and printers starting on two busy cores take their time


class Printer(PrinterProcess):
    """``PrinterProcess`` that waits up to ``START_UNDER_LOAD_S`` for the printer's pty path."""

    def __init__(self, *flags: str) -> None:
        self.argv = [sys.executable, "-m", "threedpot", "virtual-printer", *flags]
        self.popen = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0
        )
        self._stdout = bytearray()
        try:
            self.path = self._readline(START_UNDER_LOAD_S)
        except BaseException:
            self.kill()  # nobody holds a printer that failed to start: end it here
            raise


class Agent(AgentProcess):
    """``AgentProcess`` that waits up to ``START_UNDER_LOAD_S`` for the agent's HTTP API."""

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
            )

        def answers() -> bool:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"agent exited with {self.popen.returncode}:\n{self.log_text()[-3000:]}")
            return httpx.get(f"{self.url}/api/version", headers=self.headers, timeout=2.0).status_code == 200

        try:
            wait_for(answers, START_UNDER_LOAD_S, f"the agent answers on {self.url}", every_s=0.2)
        except BaseException:
            self.kill()  # nobody holds an agent that failed to start: end it here
            raise
