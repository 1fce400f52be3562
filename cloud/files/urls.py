"""Short-lived signed download URLs: ``<base>/api/files/download/<key>?expires=<unix>&sig=<hex>``.

``sig`` is HMAC-SHA256 (hex) under a server secret of ``"<key>\\n<expires>"``. The URL is the
credential — agents download without user auth — so it is bound to one key and dies at
``expires`` (Unix seconds). The secret is ``storage.url_secret`` when set, otherwise derived from
the JWT secret (which every replica shares), so any replica verifies what another signed.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Final
from urllib.parse import quote, urlencode

DOWNLOAD_PATH: Final = "/api/files/download"
_DERIVATION_LABEL: Final = b"3dpot cloud: file download URLs v1"


def derive_url_secret(root_secret: str) -> bytes:
    """A key for URL signatures only, derived from another secret (domain-separated)."""
    return hmac.new(root_secret.encode("utf-8"), _DERIVATION_LABEL, hashlib.sha256).digest()


class UrlSigner:
    def __init__(self, secret: bytes, base_url: str, ttl_s: int) -> None:
        if len(secret) < 16:
            raise ValueError("the URL-signing secret must be at least 16 bytes")
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.ttl_s = ttl_s

    def signature(self, key: str, expires: int) -> str:
        message = f"{key}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, key: str, now: datetime, ttl_s: int | None = None) -> str:
        """A URL for ``key`` valid until ``now + ttl_s`` (default: the configured lifetime)."""
        expires = int(now.timestamp()) + (self.ttl_s if ttl_s is None else ttl_s)
        query = urlencode({"expires": expires, "sig": self.signature(key, expires)})
        return f"{self.base_url}{DOWNLOAD_PATH}/{quote(key, safe='/')}?{query}"

    def check(self, key: str, expires: int, sig: str, now: datetime) -> str | None:
        """``None`` when the signature is valid and not expired, else why not (for the 403 message)."""
        expected = self.signature(key, expires)
        offered = sig.lower().encode("utf-8", "surrogateescape")  # any text a client sends, never a 500
        if not hmac.compare_digest(expected.encode("ascii"), offered):
            return "the download link's signature is not valid"
        if now.timestamp() > expires:
            return "the download link has expired"
        return None
