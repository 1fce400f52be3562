"""The understanding engines' contract: history in, one ``Interpretation`` out.

An engine reads what the user just said (``text``), the conversation so far (``history``, oldest
first) and the session's current spec, and answers with exactly one of:

- ``spec``: the new spec (possibly with a ``question`` about defaults it filled in);
- ``question``: something is ambiguous or contradictory; ``draft`` keeps what was understood so the
  answer can complete it;
- ``refusal``: the studio cannot or will not make it (unknown object, absurd size), with ``reason``;
- ``undo``: go back to the previous spec (the conversation layer knows which one).

Engines never raise for anything a user can type: a failure is a question or a refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from cloud.designs.spec import DesignSpec

Lang = Literal["en", "pt"]
Kind = Literal["spec", "question", "refusal", "undo"]
LANGS: tuple[Lang, ...] = ("en", "pt")

SPEC_ADAPTER: TypeAdapter[Any] = TypeAdapter(DesignSpec)
"""Validates a dict into the right family model (``family`` is the discriminator)."""


class Draft(BaseModel):
    """What a question left pending: the family and values understood so far, and what was asked.

    ``ask`` is a spec field name (the user gave two values for it), ``"family"`` (which object?) or
    ``"dimension"`` (a length was given without saying of what; it waits in ``pending_mm``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: str | None = None
    values: dict[str, Any] = Field(default_factory=dict)
    ask: str | None = None
    pending_mm: float | None = None


class Interpretation(BaseModel):
    """One engine answer. ``spec`` is a validated family model (as a dict) when ``kind == 'spec'``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    reply: str
    lang: Lang
    spec: dict[str, Any] | None = None
    question: str | None = None
    reason: str | None = None
    draft: Draft | None = None


@dataclass(frozen=True, slots=True)
class HistoryTurn:
    """One past turn as an engine sees it: ``spec`` is the session's spec after the turn."""

    role: Literal["user", "studio"]
    text: str
    kind: Kind | None = None
    spec: dict[str, Any] | None = None
    draft: Draft | None = None
    lang: Lang | None = None


class Engine(Protocol):
    """Something that understands one user turn."""

    async def interpret(
        self,
        history: Sequence[HistoryTurn],
        current_spec: dict[str, Any] | None,
        text: str,
        lang: Lang | None,
    ) -> Interpretation:
        """``lang`` is the session's language when it was chosen; ``None`` means detect it."""
        ...


def validate_spec(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as a complete, validated spec dict (defaults filled); raises ``pydantic.ValidationError``."""
    model = SPEC_ADAPTER.validate_python(data)
    dumped: dict[str, Any] = model.model_dump(mode="json")
    return dumped
