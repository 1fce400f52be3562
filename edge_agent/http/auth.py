"""API-key check for `/api/*` and `/downloads/*`, the way OctoPrint clients send it.

A key may come as the `X-Api-Key` header (PrusaSlicer, OrcaSlicer, Cura), the `apikey` query parameter, or
`Authorization: Bearer <key>`; a missing or wrong key is answered 403 (OctoPrint's status, which slicers
report as "wrong API key"). Keys are compared in constant time.

With no key configured every request passes; the agent must then only listen on loopback — the caller
checks `requires_key(host)` before serving.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import HTTPException, Request


class ApiKeyCheck:
    """A FastAPI dependency: `Depends(ApiKeyCheck(key))` on every router that needs a key."""

    def __init__(self, api_key: str | None) -> None:
        self._key = None if api_key is None else api_key.encode()

    async def __call__(self, request: Request) -> None:
        if self._key is None:
            return
        offered = presented_key(request)
        if offered is None:
            raise HTTPException(status_code=403, detail="an API key is required (X-Api-Key header)")
        if not hmac.compare_digest(offered.encode(), self._key):
            raise HTTPException(status_code=403, detail="invalid API key")


def presented_key(request: Request) -> str | None:
    """The key the client sent, by the first of: X-Api-Key, ?apikey=, Authorization: Bearer."""
    header = request.headers.get("x-api-key")
    if header:
        return header
    query = request.query_params.get("apikey")
    if query:
        return query
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def requires_key(host: str) -> bool:
    """Whether serving on `host` needs an API key: anything but a loopback address or `localhost` does.

    `0.0.0.0`, `::` and host names other than `localhost` need one (they may be reachable from the LAN)."""
    if host.lower() in ("localhost", "localhost."):
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True
