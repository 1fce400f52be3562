"""The one exception tree of the contract.

::

    ValueError
     └── ContractError               anything on the wire (or a key) that does not match this contract
          ├── InvalidTopicError      a topic (or printer id) that is not ours or is malformed
          ├── InvalidJsonError       the payload is not JSON (or not UTF-8)
          ├── UnsupportedSchemaError the payload's ``schema`` is missing or not one we speak
          ├── InvalidPayloadError    valid JSON of our schema, wrong shape or values
          └── SigningKeyError        an Ed25519 key (configuration, not wire) that is not base64
                                     of a raw 32-byte key

Every one carries a message a person can act on. A component that receives from the broker
catches ``ContractError``, counts it and drops the message (or acks ``rejected``); bugs propagate.
``SigningKeyError`` is the exception: it comes from our own configuration, so settings validate
keys at startup and it is never caught per message. ``ContractError`` subclasses ``ValueError``
so pydantic validators may raise it directly.
"""

from __future__ import annotations


class ContractError(ValueError):
    """A message (or a signing key) that does not match the wire contract."""


class InvalidTopicError(ContractError):
    """A topic string or printer id that cannot be built or parsed."""


class InvalidJsonError(ContractError):
    """The payload bytes are not a JSON document."""


class UnsupportedSchemaError(ContractError):
    """The payload's ``schema`` field is missing or names a version this peer does not speak."""


class InvalidPayloadError(ContractError):
    """The payload is JSON of our schema but its shape or values are wrong."""


class SigningKeyError(ContractError):
    """An Ed25519 key that is not base64 (standard, padded) of a raw 32-byte key."""
