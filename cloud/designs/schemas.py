"""HTTP bodies of the design studio."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.designs.geometry import Printability
from cloud.fields import Material, NozzleMm

MAX_TEXT_CHARS = 2000
Text = Field(
    min_length=1, max_length=MAX_TEXT_CHARS, description="what the user says, in English or Portuguese"
)


class DesignCreate(BaseModel):
    """``POST /api/designs``: a new session, optionally with its first turn."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT_CHARS)
    lang: Literal["en", "pt"] | None = Field(
        default=None, description="reply language; unset: detected per turn"
    )
    title: str | None = Field(default=None, min_length=1, max_length=200)


class TurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Text


class PublishIn(BaseModel):
    """``POST /api/designs/{id}/publish``: list the current design on the marketplace (its terms are
    checked exactly as ``POST /api/market/listings`` checks them)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5_000)
    price_cents: int = Field(default=0, ge=0, le=100_000_000)
    licence: str = Field(default="personal", max_length=32)
    royalty_cents: int = Field(default=0, ge=0, le=100_000_000)
    tags: list[str] = Field(default_factory=list, max_length=16)


class PrintIn(BaseModel):
    """``POST /api/designs/{id}/print``: queue the current design as a farm job."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    printer_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="match this printer's material and nozzle and check its build volume",
    )
    material: Material | None = None
    nozzle_mm: NozzleMm | None = None
    priority: int = Field(default=0, ge=-1000, le=1000)


class TurnOut(BaseModel):
    seq: int
    role: Literal["user", "studio"]
    text: str
    kind: str | None = Field(description="studio turns: spec | question | refusal | undo")
    version: int = Field(description="the session's version after this turn")
    created_at: datetime


class TurnResult(BaseModel):
    """The studio's answer to one turn, with the design as it now stands."""

    reply: str
    kind: Literal["spec", "question", "refusal", "undo"]
    lang: Literal["en", "pt"]
    question: str | None = None
    spec: dict[str, Any] | None = Field(description="the current spec (a DesignSpec), null before any design")
    version: int
    printability: Printability | None = None
    preview_url: str | None = None


class DesignSummary(BaseModel):
    id: str
    title: str | None
    lang: Literal["en", "pt"] | None
    spec: dict[str, Any] | None
    version: int
    created_at: datetime
    updated_at: datetime


class DesignDetail(DesignSummary):
    turns: list[TurnOut]
    printability: Printability | None = None
    preview_url: str | None = None
    last: TurnResult | None = Field(default=None, description="the answer to the first turn (create only)")


class RenderPending(BaseModel):
    status: Literal["pending", "rendering"]
    retry_after_s: int
