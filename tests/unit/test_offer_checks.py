"""check_offer: which AckCode a manifest is refused with, and in which order the rules apply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from contract import AckCode, JobManifest, SigningKeyError, generate_signing_key, sign_manifest
from edge_agent.offers import check_offer

NOW_MS = 1_764_060_000_123
NOT_AFTER_MS = NOW_MS + 3_600_000
SIZE_BYTES = 1_000_000
PRIVATE, PUBLIC = generate_signing_key()
OTHER_PRIVATE, OTHER_PUBLIC = generate_signing_key()


def manifest(**changes: Any) -> JobManifest:
    return JobManifest(
        job_id="j1",
        revision=1,
        filename="part.gcode",
        url="https://cloud.example/files/part.gcode",
        sha256="c" * 64,
        size=SIZE_BYTES,
        est_print_s=60.0,
        filament_mm=100.0,
        not_after=NOT_AFTER_MS,
    ).model_copy(update=changes)


@dataclass(frozen=True)
class Case:
    name: str
    expected: AckCode | None
    changes: dict[str, Any] = field(default_factory=dict)  # to the manifest before signing
    signed_by: str | None = PRIVATE  # None: unsigned
    tamper: dict[str, Any] = field(default_factory=dict)  # to the manifest after signing
    public_key_b64: str | None = PUBLIC
    now_ms: int = NOW_MS
    max_bytes: int = 10 * SIZE_BYTES


CASES = [
    Case("valid", None),
    Case("valid at not_after exactly", None, now_ms=NOT_AFTER_MS),
    Case("valid at exactly max_bytes", None, max_bytes=SIZE_BYTES),
    Case("valid empty file", None, changes={"size": 0}, max_bytes=0),
    Case("no key configured", AckCode.BAD_SIGNATURE, public_key_b64=None),
    Case("unsigned", AckCode.BAD_SIGNATURE, signed_by=None),
    Case("signed by another key", AckCode.BAD_SIGNATURE, signed_by=OTHER_PRIVATE),
    Case("verified with another key", AckCode.BAD_SIGNATURE, public_key_b64=OTHER_PUBLIC),
    Case("signature not base64", AckCode.BAD_SIGNATURE, tamper={"signature": "%%%"}),
    Case("url changed after signing", AckCode.BAD_SIGNATURE, tamper={"url": "https://evil.example/x.gcode"}),
    Case("size changed after signing", AckCode.BAD_SIGNATURE, tamper={"size": 1}),
    Case("expired", AckCode.EXPIRED_OFFER, now_ms=NOT_AFTER_MS + 1),
    Case("too big for the cap", AckCode.STORAGE_FULL, max_bytes=SIZE_BYTES - 1),
    # order: signature first (nothing else is trustworthy), then expiry, then size
    Case("unsigned and expired", AckCode.BAD_SIGNATURE, signed_by=None, now_ms=NOT_AFTER_MS + 1),
    Case("unsigned and too big", AckCode.BAD_SIGNATURE, signed_by=None, max_bytes=1),
    Case("expired and too big", AckCode.EXPIRED_OFFER, now_ms=NOT_AFTER_MS + 1, max_bytes=1),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_check_offer(case: Case) -> None:
    offer = manifest(**case.changes)
    if case.signed_by is not None:
        offer = sign_manifest(offer, case.signed_by)
    offer = offer.model_copy(update=case.tamper)
    code = check_offer(
        offer, public_key_b64=case.public_key_b64, now_ms=case.now_ms, max_bytes=case.max_bytes
    )
    assert code is case.expected


@pytest.mark.parametrize("key", ["", "not base64!", "a2V5"])
def test_malformed_configured_key_is_a_configuration_error(key: str) -> None:
    offer = sign_manifest(manifest(), PRIVATE)
    with pytest.raises(SigningKeyError):
        check_offer(offer, public_key_b64=key, now_ms=NOW_MS, max_bytes=SIZE_BYTES)
