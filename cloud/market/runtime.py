"""The marketplace's runtime, built with the app: the payment provider, the webhook key, the fee.

``build`` makes the ``TestProvider`` (the only provider so far) and registers the per-print
royalty hook on the dispatcher (``services.dispatch_hooks``). Routes reach it through ``Market``
(``app.state.market``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request

from cloud.market.payments import PaymentProvider, TestProvider
from cloud.market.royalties import RoyaltyRecorder
from cloud.services import CloudServices

_DERIVATION_LABEL: Final = b"3dpot cloud: market webhooks v1"


@dataclass(slots=True)
class MarketRuntime:
    provider: PaymentProvider
    webhook_secret: bytes
    fee_bps: int
    currency: str
    webhook_tolerance_s: int


def webhook_secret(services: CloudServices) -> bytes:
    configured = services.settings.market.webhook_secret
    if configured is not None:
        return configured.get_secret_value().encode("utf-8")
    root = services.secrets.jwt_secret.get_secret_value().encode("utf-8")
    return hmac.new(root, _DERIVATION_LABEL, hashlib.sha256).digest()


def build(services: CloudServices) -> MarketRuntime:
    settings = services.settings.market
    secret = webhook_secret(services)
    provider = TestProvider(secret, clock=lambda: services.now().timestamp())
    recorder = RoyaltyRecorder(fee_bps=settings.fee_bps, currency=settings.currency)
    services.dispatch_hooks.on_offered.append(recorder.on_offered)
    return MarketRuntime(
        provider=provider,
        webhook_secret=secret,
        fee_bps=settings.fee_bps,
        currency=settings.currency,
        webhook_tolerance_s=settings.webhook_tolerance_s,
    )


def get_market(request: Request) -> MarketRuntime:
    market = getattr(request.app.state, "market", None)
    if not isinstance(market, MarketRuntime):
        raise TypeError("app.state.market is not set: build the app with cloud.main.create_app")
    return market


Market = Annotated[MarketRuntime, Depends(get_market)]
