"""``TestProvider``: an in-process, deterministic payment provider for development and tests.

- Every card token is accepted except ``tok_decline`` (and any token starting with it), which is
  declined; ``decline(token)`` adds more.
- Payment ids are ``pay_<n>`` in call order; the same idempotency key returns the first result
  and moves no money again. ``calls`` lists every call, ``charges`` counts captures that moved money.
- Each capture and refund emits a signed webhook (``payment.captured`` / ``payment.refunded``) into
  ``outbox``; whoever runs the provider delivers them (``drain()``) to
  ``POST /api/market/webhooks/test-provider``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from cloud.market.payments.provider import Authorisation, PaymentDeclined, PaymentError, ProviderResult
from cloud.market.payments.webhooks import SignedWebhook, sign

DECLINE_TOKEN: Final = "tok_decline"


@dataclass(slots=True)
class _Payment:
    amount_cents: int
    currency: str
    captured: bool = False
    refunded_cents: int = 0


@dataclass(slots=True)
class TestProvider:
    secret: bytes
    clock: Callable[[], float] = time.time
    name: str = "test-provider"
    declined_tokens: set[str] = field(default_factory=lambda: {DECLINE_TOKEN})
    calls: list[tuple[str, str]] = field(default_factory=list)
    charges: int = 0
    outbox: list[SignedWebhook] = field(default_factory=list)
    _payments: dict[str, _Payment] = field(default_factory=dict)
    _answers: dict[str, Authorisation | ProviderResult | PaymentDeclined] = field(default_factory=dict)
    _events: int = 0

    __test__ = False  # not a pytest test class

    def decline(self, token: str) -> None:
        self.declined_tokens.add(token)

    def drain(self) -> list[SignedWebhook]:
        out, self.outbox = self.outbox, []
        return out

    def _replay(self, key: str) -> Authorisation | ProviderResult | None:
        answer = self._answers.get(key)
        if isinstance(answer, PaymentDeclined):
            raise answer
        return answer

    def _emit(self, kind: str, payment_id: str, amount_cents: int) -> None:
        self._events += 1
        body = json.dumps(
            {
                "id": f"evt_{self._events}_{payment_id}",
                "type": kind,
                "data": {"payment_id": payment_id, "amount_cents": amount_cents},
            },
            separators=(",", ":"),
        ).encode()
        self.outbox.append(sign(self.secret, body, int(self.clock())))

    async def authorise(
        self, *, amount_cents: int, currency: str, card_token: str, idempotency_key: str
    ) -> Authorisation:
        self.calls.append(("authorise", idempotency_key))
        replay = self._replay(idempotency_key)
        if replay is not None:
            assert isinstance(replay, Authorisation)
            return replay
        if amount_cents <= 0:
            raise PaymentError("nothing to authorise")
        if any(card_token.startswith(token) for token in self.declined_tokens):
            declined = PaymentDeclined("card_declined")
            self._answers[idempotency_key] = declined
            raise declined
        payment_id = f"pay_{len(self._payments) + 1}"
        self._payments[payment_id] = _Payment(amount_cents, currency)
        answer = Authorisation(payment_id, amount_cents, currency)
        self._answers[idempotency_key] = answer
        return answer

    async def capture(self, *, payment_id: str, idempotency_key: str) -> ProviderResult:
        self.calls.append(("capture", idempotency_key))
        replay = self._replay(idempotency_key)
        if replay is not None:
            assert isinstance(replay, ProviderResult)
            return replay
        payment = self._payments.get(payment_id)
        if payment is None:
            raise PaymentError(f"no payment {payment_id}")
        if not payment.captured:
            payment.captured = True
            self.charges += 1
            self._emit("payment.captured", payment_id, payment.amount_cents)
        answer = ProviderResult(payment_id, "captured", payment.amount_cents)
        self._answers[idempotency_key] = answer
        return answer

    async def refund(self, *, payment_id: str, amount_cents: int, idempotency_key: str) -> ProviderResult:
        self.calls.append(("refund", idempotency_key))
        replay = self._replay(idempotency_key)
        if replay is not None:
            assert isinstance(replay, ProviderResult)
            return replay
        payment = self._payments.get(payment_id)
        if payment is None or not payment.captured:
            raise PaymentError(f"no captured payment {payment_id}")
        if payment.refunded_cents + amount_cents > payment.amount_cents:
            raise PaymentError("the refund is larger than what is left of the payment")
        payment.refunded_cents += amount_cents
        self._emit("payment.refunded", payment_id, amount_cents)
        answer = ProviderResult(payment_id, "refunded", amount_cents)
        self._answers[idempotency_key] = answer
        return answer
