"""Serving the app with uvicorn as a component: `await HttpServer(app, host=..., port=...).run()`.

`run` binds the socket itself (a bind failure is an `OSError`, not uvicorn's `sys.exit`), sets `ready`
once it accepts connections, and serves until cancelled; cancellation closes the listener, lets
in-flight requests finish (up to `drain_timeout_s`) and re-raises. Signals stay with the agent's main:
uvicorn's own SIGINT/SIGTERM handlers are not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, ready: asyncio.Event | None) -> None:
        super().__init__(config)
        self._ready = ready

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the agent's main owns SIGINT/SIGTERM and cancels us

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._ready is not None:
            self._ready.set()


class HttpServer:
    def __init__(self, app: ASGIApp, *, host: str, port: int, drain_timeout_s: int = 5) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.drain_timeout_s = drain_timeout_s
        self.port: int | None = None  # the bound port, once `run` has bound it (useful with port 0)

    async def run(self, *, ready: asyncio.Event | None = None) -> None:
        sock = self._bind()
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=self.drain_timeout_s,
        )
        server = _Server(config, ready)
        log.info("HTTP API on %s port %d", self.host, self.port)
        try:
            await server.serve(sockets=[sock])
        except asyncio.CancelledError:
            server.should_exit = True
            if server.started:
                await server.shutdown(sockets=[sock])
            log.info("HTTP API stopped")
            raise
        finally:
            sock.close()

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host.strip("[]"), self.requested_port))
            sock.listen(128)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock


async def serve(app: ASGIApp, host: str, port: int, *, ready: asyncio.Event | None = None) -> None:
    """Serve `app` on `host:port` until cancelled (see `HttpServer`)."""
    await HttpServer(app, host=host, port=port).run(ready=ready)
