"""Payment providers: the ``PaymentProvider`` protocol, the in-process ``TestProvider`` and the
signed-webhook scheme they share."""

from cloud.market.payments.provider import (
    Authorisation,
    PaymentDeclined,
    PaymentError,
    PaymentProvider,
    ProviderResult,
)
from cloud.market.payments.test_provider import TestProvider
from cloud.market.payments.webhooks import SignedWebhook, WebhookRejected, sign, verify

__all__ = [
    "Authorisation",
    "PaymentDeclined",
    "PaymentError",
    "PaymentProvider",
    "ProviderResult",
    "SignedWebhook",
    "TestProvider",
    "WebhookRejected",
    "sign",
    "verify",
]
