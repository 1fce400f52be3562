"""Ed25519 signing of job manifests: round trip, tampering, wrong keys, malformed input."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from contract import (
    ContractError,
    JobManifest,
    SigningKeyError,
    StartPolicy,
    generate_signing_key,
    public_key_of,
    sign_manifest,
    validate_public_key,
    verify_manifest,
)

NOT_AFTER_MS = 1_764_146_400_123
MANIFEST = JobManifest(
    job_id="01JD8Z",
    revision=2,
    filename="bracket.gcode",
    url="https://cloud.example/files/bracket.gcode?sig=abc",
    sha256="a" * 64,
    size=123_456,
    est_print_s=3600.0,
    filament_mm=5234.2,
    start_policy=StartPolicy.WHEN_READY,
    not_after=NOT_AFTER_MS,
)
PRIVATE, PUBLIC = generate_signing_key()
SIGNED = sign_manifest(MANIFEST, PRIVATE)

# RFC 8032 section 7.1, test 1: the raw seed and the public key it gives.
RFC8032_SEED_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC8032_PUBLIC_HEX = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# ---------------------------------------------------------------- keys


def test_generated_keys_are_base64_of_32_raw_bytes() -> None:
    private, public = generate_signing_key()
    assert len(base64.b64decode(private, validate=True)) == 32
    assert len(base64.b64decode(public, validate=True)) == 32
    assert public_key_of(private) == public
    assert validate_public_key(public) == public
    assert generate_signing_key() != (private, public)


def test_public_key_of_matches_rfc8032() -> None:
    seed = b64(bytes.fromhex(RFC8032_SEED_HEX))
    assert public_key_of(seed) == b64(bytes.fromhex(RFC8032_PUBLIC_HEX))


BAD_KEYS: list[tuple[str, object]] = [
    ("empty", ""),
    ("not base64", "not a key!"),
    ("url-safe alphabet", b64(b"\xfb" * 32).replace("+", "-").replace("/", "_")),
    ("unpadded", b64(b"k" * 32).rstrip("=")),
    ("non-canonical trailing bits", b64(b"k" * 32)[:-2] + "x="),
    ("non-ascii", "ä" * 44),
    ("31 bytes", b64(b"k" * 31)),
    ("33 bytes", b64(b"k" * 33)),
    ("64 bytes (seed+public, libsodium style)", b64(b"k" * 64)),
    ("bytes, not str", b"k" * 32),
]


@pytest.mark.parametrize("key", [key for _, key in BAD_KEYS], ids=[name for name, _ in BAD_KEYS])
def test_bad_keys_raise_signing_key_error(key: Any) -> None:
    for use in (
        lambda: public_key_of(key),
        lambda: sign_manifest(MANIFEST, key),
        lambda: verify_manifest(SIGNED, key),
        lambda: validate_public_key(key),
    ):
        with pytest.raises(SigningKeyError, match="key") as info:
            use()
        assert isinstance(info.value, ContractError)


def test_bad_key_raises_even_for_an_unsigned_manifest() -> None:
    with pytest.raises(SigningKeyError):
        verify_manifest(MANIFEST, "nope")


# ---------------------------------------------------------------- round trip


def test_round_trip() -> None:
    assert MANIFEST.signature == ""
    assert SIGNED.signature
    assert len(base64.b64decode(SIGNED.signature, validate=True)) == 64
    assert SIGNED.model_copy(update={"signature": ""}) == MANIFEST
    assert verify_manifest(SIGNED, PUBLIC)


def test_signing_is_deterministic_and_replaces_an_old_signature() -> None:
    assert sign_manifest(MANIFEST, PRIVATE) == SIGNED
    assert sign_manifest(MANIFEST.with_signature("b2xk"), PRIVATE) == SIGNED


def test_signed_manifest_survives_the_wire() -> None:
    wire = SIGNED.model_dump_json()
    assert verify_manifest(JobManifest.model_validate_json(wire), PUBLIC)


@pytest.mark.parametrize("order", ["reversed", "shuffled", "indented"])
def test_verification_independent_of_wire_key_order(order: str) -> None:
    items = list(json.loads(SIGNED.model_dump_json()).items())
    indent = None
    if order == "reversed":
        items.reverse()
    elif order == "shuffled":
        items = items[1::2] + items[0::2]
    else:
        indent = 4
    wire = json.dumps(dict(items), indent=indent, separators=None if indent else (" , ", " : "))
    received = JobManifest.model_validate_json(wire)
    assert received.canonical_bytes() == SIGNED.canonical_bytes()
    assert verify_manifest(received, PUBLIC)


# ---------------------------------------------------------------- refusals

# One changed (still valid) value per signed field. The guard test below fails when a field is
# added to the manifest without a row here, so every signed field stays covered.
TAMPERED: dict[str, Any] = {
    "job_id": "01JD90",
    "revision": 3,
    "filename": "bracket2.gcode",
    "url": "https://evil.example/files/bracket.gcode?sig=abc",
    "sha256": "b" * 64,
    "size": 123_457,
    "est_print_s": 3600.5,
    "filament_mm": 5234.3,
    "start_policy": StartPolicy.MANUAL,
    "not_after": NOT_AFTER_MS + 1,
}


def test_tampering_table_covers_every_signed_field() -> None:
    assert set(TAMPERED) == set(JobManifest.model_fields) - {"signature"}


@pytest.mark.parametrize(("field", "value"), list(TAMPERED.items()), ids=list(TAMPERED))
def test_tampering_any_single_field_fails_verification(field: str, value: Any) -> None:
    tampered = JobManifest.model_validate(SIGNED.model_dump() | {field: value})
    assert getattr(tampered, field) != getattr(SIGNED, field)
    assert tampered.signature == SIGNED.signature
    assert verify_manifest(tampered, PUBLIC) is False


def test_wrong_key_fails_verification() -> None:
    _, other_public = generate_signing_key()
    assert verify_manifest(SIGNED, other_public) is False


def test_signature_by_another_key_fails_verification() -> None:
    other_private, _ = generate_signing_key()
    assert verify_manifest(sign_manifest(MANIFEST, other_private), PUBLIC) is False


def test_unsigned_manifest_fails_verification() -> None:
    assert verify_manifest(MANIFEST, PUBLIC) is False


def flip_bit(signature: str, byte: int) -> str:
    raw = bytearray(base64.b64decode(signature))
    raw[byte] ^= 0x01
    return b64(bytes(raw))


BAD_SIGNATURES: list[tuple[str, str]] = [
    ("not base64", "not a signature!"),
    ("unpadded", SIGNED.signature.rstrip("=")),
    ("63 bytes", b64(base64.b64decode(SIGNED.signature)[:63])),
    ("65 bytes", b64(base64.b64decode(SIGNED.signature) + b"\x00")),
    ("all zeros", b64(bytes(64))),
    ("first bit flipped", flip_bit(SIGNED.signature, 0)),
    ("last bit flipped", flip_bit(SIGNED.signature, 63)),
    ("non-ascii", "é" * 88),
]


@pytest.mark.parametrize(
    "signature", [sig for _, sig in BAD_SIGNATURES], ids=[name for name, _ in BAD_SIGNATURES]
)
def test_malformed_or_wrong_signatures_fail_without_raising(signature: str) -> None:
    assert signature != SIGNED.signature
    assert verify_manifest(SIGNED.with_signature(signature), PUBLIC) is False


def test_non_canonical_base64_of_a_valid_signature_is_refused() -> None:
    # 64 bytes end in "X==" where X carries 2 data bits and 4 zero bits; setting a zero bit gives
    # text that lenient decoders map to the same bytes. One signature, one spelling.
    last = SIGNED.signature[-3]
    variant = SIGNED.signature[:-3] + chr(ord(last) + 1) + "=="
    assert base64.b64decode(variant) == base64.b64decode(SIGNED.signature)
    assert verify_manifest(SIGNED.with_signature(variant), PUBLIC) is False
