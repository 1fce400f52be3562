"""Signed webhooks: ``HMAC-SHA256(secret, "<timestamp>." + body)``, hex, with the timestamp in a header.

Headers: ``X-Webhook-Timestamp: <unix seconds>`` and ``X-Webhook-Signature: v1=<hex>``. The
timestamp is inside the signed message, so an old body cannot be replayed with a fresh timestamp;
one further than ``tolerance_s`` from now (either way) is refused. Signatures are compared in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

TIMESTAMP_HEADER: Final = "X-Webhook-Timestamp"
SIGNATURE_HEADER: Final = "X-Webhook-Signature"
SCHEME: Final = "v1="
DEFAULT_TOLERANCE_S: Final = 300


class WebhookRejected(ValueError):
    """The webhook's signature or timestamp is not acceptable."""


@dataclass(frozen=True, slots=True)
class SignedWebhook:
    body: bytes
    headers: dict[str, str]


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int) -> SignedWebhook:
    headers = {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: SCHEME + signature(secret, timestamp, body),
        "Content-Type": "application/json",
    }
    return SignedWebhook(body=body, headers=headers)


def verify(
    secret: bytes,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    now_s: float,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Return when the webhook is authentic and fresh; ``WebhookRejected`` (with why) otherwise."""
    if not timestamp_header or not signature_header:
        raise WebhookRejected("the webhook has no timestamp or signature header")
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        raise WebhookRejected("the webhook timestamp is not a number") from None
    offered = signature_header.strip()
    if not offered.startswith(SCHEME):
        raise WebhookRejected("the webhook signature is not of scheme v1")
    expected = signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), offered[len(SCHEME) :].lower().encode("utf-8")):
        raise WebhookRejected("the webhook signature is not valid")
    if abs(now_s - timestamp) > tolerance_s:
        raise WebhookRejected("the webhook timestamp is too old (or in the future)")
