"""Ed25519 keys and job-manifest signatures, shared by the cloud (signs) and the agent (verifies).

Keys are text: base64 (standard alphabet, padded) of the raw 32-byte Ed25519 key — the private
key is the 32-byte seed, the public key the 32-byte encoded point. The signature is base64 of the
64-byte Ed25519 signature over ``JobManifest.canonical_bytes()`` (see ``contract.jobs``).

Base64 is decoded strictly: only the standard alphabet, correct padding, and the canonical
encoding (the text must be exactly what re-encoding the bytes gives), so one key or signature
has exactly one spelling.

Errors: a malformed *key* is a configuration mistake and raises ``SigningKeyError``; a malformed,
missing or wrong *signature* is a property of the message and makes ``verify_manifest`` return
False — it never raises for anything the sender controls.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from contract.errors import SigningKeyError
from contract.jobs import JobManifest

KEY_BYTES = 32
"""Length of a raw Ed25519 private seed or public key."""

SIGNATURE_BYTES = 64
"""Length of a raw Ed25519 signature."""


def _strict_b64decode(text: str) -> bytes | None:
    """The bytes ``text`` encodes, or None unless it is canonical, padded, standard base64."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII characters in a str
        return None
    if base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _key_bytes(key_b64: str, what: str) -> bytes:
    if not isinstance(key_b64, str):
        raise SigningKeyError(f"the {what} key must be a base64 string, not {type(key_b64).__name__}")
    raw = _strict_b64decode(key_b64)
    if raw is None:
        raise SigningKeyError(f"the {what} key is not valid base64 (standard alphabet, padded)")
    if len(raw) != KEY_BYTES:
        raise SigningKeyError(
            f"the {what} key decodes to {len(raw)} bytes; a raw Ed25519 key is {KEY_BYTES} bytes"
        )
    return raw


def _private_key(private_b64: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_key_bytes(private_b64, "private"))


def _public_key(public_b64: str) -> Ed25519PublicKey:
    raw = _key_bytes(public_b64, "public")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:  # a backend that checks the point may refuse some 32-byte strings
        raise SigningKeyError(f"the public key is not a valid Ed25519 public key: {exc}") from exc


def _public_b64(private: Ed25519PrivateKey) -> str:
    return _b64encode(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def generate_signing_key() -> tuple[str, str]:
    """A fresh key pair as ``(private_b64, public_b64)``."""
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return _b64encode(seed), _public_b64(private)


def public_key_of(private_b64: str) -> str:
    """The public key (base64) matching ``private_b64``; raises ``SigningKeyError`` for a bad key."""
    return _public_b64(_private_key(private_b64))


def validate_public_key(public_b64: str) -> str:
    """``public_b64`` unchanged if it is a usable public key, else ``SigningKeyError``.

    Meant for settings validators, so a bad key is a startup error rather than every offer
    being refused later.
    """
    _public_key(public_b64)
    return public_b64


def sign_manifest(manifest: JobManifest, private_b64: str) -> JobManifest:
    """A copy of ``manifest`` whose ``signature`` covers its canonical bytes (any old one is replaced)."""
    signature = _private_key(private_b64).sign(manifest.canonical_bytes())
    return manifest.with_signature(_b64encode(signature))


def verify_manifest(manifest: JobManifest, public_b64: str) -> bool:
    """True only if ``manifest.signature`` is a valid signature of its canonical bytes by ``public_b64``.

    False for an unsigned manifest, a signature that is not canonical base64 or not 64 bytes, and
    a signature that does not verify. Raises ``SigningKeyError`` only for a bad ``public_b64``.
    """
    public = _public_key(public_b64)
    signature = _strict_b64decode(manifest.signature) if manifest.signature else None
    if signature is None or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        public.verify(signature, manifest.canonical_bytes())
    except InvalidSignature:
        return False
    return True
