"""The ``job.offer`` manifest: what to fetch, how to check it, and its signature.

G-code never travels over MQTT; the manifest says where to download it (``url``), what it must
hash to (``sha256``, lowercase hex) and how big it is (``size``, bytes). The cloud signs the
manifest (Ed25519) and the agent refuses anything unsigned, expired (``not_after``) or mismatched.

Canonical bytes (what is signed, what is verified)
--------------------------------------------------
``JobManifest.canonical_bytes()`` is the UTF-8 encoding of a JSON object holding every field of
the manifest *except* ``signature``, after validation, with keys sorted, no whitespace
(``separators=(",", ":")``), non-ASCII characters kept as UTF-8 (``ensure_ascii=False``) and
numbers as Python's ``json`` writes them (floats keep a ``.0``). Both sides compute it from the
validated model — never from the bytes that arrived — so key order and spacing on the wire
do not matter. ``signature`` is the base64 (standard alphabet, padded) Ed25519 signature of
those bytes.

Because the signature covers exactly the fields this version knows, a field added to the
manifest is a schema change: an older agent ignores the new field, computes different bytes and
refuses the offer, which is the safe way to fail.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from contract.envelope import Part, UnixMs


class StartPolicy(StrEnum):
    """When a queued job may start.

    ``when_ready``: as soon as the printer is idle and the bed is known to be clear (the operator
    sent ``queue.start`` or the profile clears the bed itself). ``manual``: only when an operator
    starts this job explicitly.
    """

    WHEN_READY = "when_ready"
    MANUAL = "manual"


class JobManifest(Part):
    """A signed offer of one job revision."""

    job_id: str = Field(min_length=1, max_length=128)
    revision: int = Field(ge=1, description="a higher revision replaces a job that has not started")
    filename: str = Field(min_length=1, max_length=255)
    url: str = Field(min_length=1, max_length=2048, description="http(s) URL of the G-code")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="lowercase hex digest of the file")
    size: int = Field(ge=0, description="file size in bytes")
    est_print_s: float = Field(ge=0.0, description="estimated print time, seconds")
    filament_mm: float = Field(ge=0.0, description="estimated filament length, millimetres")
    start_policy: StartPolicy = StartPolicy.WHEN_READY
    not_after: UnixMs = Field(description="do not start after this instant (Unix ms)")
    signature: str = Field(default="", description="base64 Ed25519 over canonical_bytes(); '' = unsigned")

    @field_validator("filename")
    @classmethod
    def _plain_filename(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in (".", "..") or any(ord(c) < 32 for c in value):
            raise ValueError(
                "filename must be a plain file name without path separators or control characters"
            )
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # Validated but not normalised: normalising would change the signed bytes.
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("url must be an absolute http:// or https:// URL")
        return value

    def canonical_bytes(self) -> bytes:
        """The bytes the signature covers (see the module docstring)."""
        fields = self.model_dump(mode="json", exclude={"signature"})
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8")

    def with_signature(self, signature: str) -> Self:
        """A copy carrying ``signature``."""
        return self.model_copy(update={"signature": signature})

    def is_expired(self, now_ms: int) -> bool:
        """True once ``now_ms`` is past ``not_after``."""
        return now_ms > self.not_after
