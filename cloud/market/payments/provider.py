"""The seam to a payment provider: authorise, capture, refund — each with an idempotency key.

A provider answers the same idempotency key with the same result and moves money once, so the
cloud can retry a call whose answer it lost. Exceptions::

    PaymentError            the provider could not do it (a 502 for the caller)
     └── PaymentDeclined    the card was declined (a 402 for the caller)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class PaymentError(Exception):
    """The provider failed or refused."""


class PaymentDeclined(PaymentError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"the payment was declined: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Authorisation:
    payment_id: str
    amount_cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class ProviderResult:
    payment_id: str
    status: str  # "captured" | "refunded"
    amount_cents: int


class PaymentProvider(Protocol):
    name: str

    async def authorise(
        self, *, amount_cents: int, currency: str, card_token: str, idempotency_key: str
    ) -> Authorisation:
        """Hold ``amount_cents`` on the card; ``PaymentDeclined`` when it is refused."""
        ...

    async def capture(self, *, payment_id: str, idempotency_key: str) -> ProviderResult:
        """Take the authorised money."""
        ...

    async def refund(self, *, payment_id: str, amount_cents: int, idempotency_key: str) -> ProviderResult:
        """Give ``amount_cents`` of a captured payment back."""
        ...
