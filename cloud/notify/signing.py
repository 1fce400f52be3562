"""Webhook signatures (pure): what a receiver checks to know a request came from this cloud.

Each request carries ``X-3DPot-Timestamp: <unix seconds>`` and
``X-3DPot-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``. A receiver
recomputes the HMAC over the raw body bytes with the endpoint's secret, compares in constant time,
and refuses a timestamp older than a few minutes (replays). ``X-3DPot-Delivery`` is the same on
every retry of one delivery: a receiver that has seen it already can answer 200 and do nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

SIGNATURE_HEADER: Final = "X-3DPot-Signature"
TIMESTAMP_HEADER: Final = "X-3DPot-Timestamp"
DELIVERY_HEADER: Final = "X-3DPot-Delivery"
EVENT_HEADER: Final = "X-3DPot-Event"
SECRET_MARK: Final = "whsec_"
DEFAULT_TOLERANCE_S: Final = 300


def new_secret() -> str:
    return SECRET_MARK + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-3DPot-Signature`` value: ``sha256=<64 lowercase hex>``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    given: str,
    *,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """True when ``given`` signs ``body`` at ``timestamp`` with ``secret`` and the time is recent."""
    try:
        at = int(timestamp)
    except ValueError:
        return False
    if abs(now - at) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, at, body), given)
