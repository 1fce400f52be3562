"""The cloud's own secrets: JWT signing secret, job-signing key, MQTT ingest password.

Each comes from settings when given there; otherwise it is generated once and kept in a file of
``data_dir`` (mode 0600), so a restart keeps issued tokens valid and agents keep trusting the
job-signing public key. Files are created race-free (written aside, then hard-linked into place:
two processes starting together agree on one value).

Key format: the job-signing key is the base64 (standard alphabet) of the raw 32-byte Ed25519
private key; the public key handed to agents is the base64 of the raw 32-byte public key, and a
signature is the base64 of the raw 64-byte Ed25519 signature (as ``contract.jobs`` expects).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from pydantic import SecretStr

from cloud.settings import CloudSettings

log = logging.getLogger(__name__)

JWT_SECRET_FILE: Final = "jwt_secret"
SIGNING_KEY_FILE: Final = "job_signing_key"
INGEST_PASSWORD_FILE: Final = "mqtt_ingest_password"


class KeyFileError(ValueError):
    """A persisted secret file (or a key given in settings) is unreadable or malformed."""


@dataclass(frozen=True, slots=True)
class CloudSecrets:
    """The resolved secrets of one cloud process."""

    jwt_secret: SecretStr
    signing_key: Ed25519PrivateKey
    mqtt_ingest_password: SecretStr

    @property
    def public_key_b64(self) -> str:
        """Base64 of the raw 32-byte Ed25519 public key: what agents verify job offers with."""
        return public_key_b64(self.signing_key)

    @property
    def signing_key_b64(self) -> str:
        """Base64 of the raw 32-byte private seed (the form ``contract.signing.sign_manifest`` takes)."""
        raw = self.signing_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return base64.b64encode(raw).decode("ascii")

    def sign_b64(self, data: bytes) -> str:
        """Base64 Ed25519 signature of ``data`` with the job-signing key."""
        return base64.b64encode(self.signing_key.sign(data)).decode("ascii")


def generate_signing_key_b64() -> str:
    """A new Ed25519 private key as base64 of its 32 raw bytes."""
    raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode("ascii")


def parse_signing_key(value: str) -> Ed25519PrivateKey:
    """The Ed25519 private key from base64 of its 32 raw bytes; ``KeyFileError`` when malformed."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"job-signing key is not valid base64: {exc}") from None
    if len(raw) != 32:
        raise KeyFileError(f"job-signing key must be 32 raw bytes (base64), got {len(raw)} bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """Base64 of the raw 32-byte public key of ``key``."""
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_or_create(path: Path, generate: Callable[[], str]) -> str:
    """The secret stored in ``path``; when missing, ``generate()`` it and store it (mode 0600)."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(generate() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(aside, path)
            log.info("generated a new secret in %s", path)
        except FileExistsError:
            pass  # another process won the race: use its value
    finally:
        aside.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    value = path.read_text(encoding="ascii").strip()
    if not value:
        raise KeyFileError(f"secret file {path} is empty: delete it to generate a new secret")
    return value


def resolve_secrets(settings: CloudSettings) -> CloudSecrets:
    """The secrets from settings, else from (or newly generated into) ``settings.data_dir``."""
    data_dir = settings.data_dir
    jwt_secret = settings.jwt_secret or SecretStr(
        load_or_create(data_dir / JWT_SECRET_FILE, lambda: secrets.token_urlsafe(48))
    )
    if settings.job_signing_key is not None:
        signing_key = parse_signing_key(settings.job_signing_key.get_secret_value())
    else:
        signing_key = parse_signing_key(load_or_create(data_dir / SIGNING_KEY_FILE, generate_signing_key_b64))
    ingest_password = settings.mqtt_ingest_password or SecretStr(
        load_or_create(data_dir / INGEST_PASSWORD_FILE, lambda: secrets.token_urlsafe(24))
    )
    return CloudSecrets(jwt_secret=jwt_secret, signing_key=signing_key, mqtt_ingest_password=ingest_password)
