"""A session's conversation as pure data: apply an engine's ``Interpretation`` to the history.

Every studio turn stores the session's spec after it. Undo walks back through the specs the
conversation went through: the stack is replayed from the turns (a ``spec`` turn that changed the
spec pushes it, an ``undo`` turn pops one), so repeated undos keep going back, to "no design yet"
at most. There is no redo: saying the change again is one turn.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cloud.designs.understanding import replies as say
from cloud.designs.understanding.base import Draft, HistoryTurn, Interpretation, Kind, Lang


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a turn does to the session: the studio's turn and the session's spec after it."""

    kind: Kind
    reply: str
    lang: Lang
    spec: dict[str, Any] | None
    changed: bool
    question: str | None = None
    draft: Draft | None = None


def spec_stack(history: Sequence[HistoryTurn]) -> list[dict[str, Any] | None]:
    """The specs the conversation went through, oldest first, starting with ``None`` (no design)."""
    stack: list[dict[str, Any] | None] = [None]
    for turn in history:
        if turn.role != "studio":
            continue
        if turn.kind == "spec" and turn.spec != stack[-1]:
            stack.append(turn.spec)
        elif turn.kind == "undo" and len(stack) > 1:
            stack.pop()
    return stack


def apply(
    history: Sequence[HistoryTurn], current: dict[str, Any] | None, interpretation: Interpretation
) -> Outcome:
    lang = interpretation.lang
    if interpretation.kind == "undo":
        stack = spec_stack(history)
        if len(stack) <= 1:
            return Outcome(
                kind="undo", reply=say.nothing_to_undo(lang), lang=lang, spec=current, changed=False
            )
        stack.pop()
        previous = stack[-1]
        return Outcome(kind="undo", reply=say.undone(previous, lang), lang=lang, spec=previous, changed=True)
    if interpretation.kind == "spec" and interpretation.spec is not None:
        return Outcome(
            kind="spec",
            reply=interpretation.reply,
            lang=lang,
            spec=interpretation.spec,
            changed=interpretation.spec != current,
            question=interpretation.question,
        )
    return Outcome(
        kind=interpretation.kind,
        reply=interpretation.reply,
        lang=lang,
        spec=current,
        changed=False,
        question=interpretation.question,
        draft=interpretation.draft,
    )


def spec_hash(spec: dict[str, Any]) -> str:
    """SHA-256 of the spec's canonical JSON: the key of its cached renders."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def title_of(spec: dict[str, Any] | None, lang: Lang) -> str | None:
    """A session title from its first design (``planter 120 mm``)."""
    if spec is None:
        return None
    name = say.family_name(str(spec["family"]), lang)
    size = spec.get("height")
    return f"{name} {say.mm(float(size), lang)}" if size is not None else name
