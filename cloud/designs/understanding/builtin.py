"""The built-in engine: deterministic, offline, English and Brazilian Portuguese.

Decisions (the issue left them to us):

- A vague relative edit ("a bit shorter", "mais alto" with no amount) changes the size by 10 % and the
  reply says so and how to give a number: asking back would stall the conversation for a detail the
  user can correct in one more turn.
- Portuguese "vaso" alone is a planter when the sentence speaks of plants, drainage or a saucer, a
  vase when it speaks of flowers or decoration, the current design's family when it is one of the two,
  and otherwise a question.
- Two values for one dimension in one sentence ("20 cm tall that is 5 cm tall") are a question that
  keeps everything else understood (the ``Draft``); a bare length in the answer settles it.
- A length not tied to any dimension ("make it 15 cm") is a question ("15 cm for what?").
- A new design states the defaults it used for its essential sizes and asks whether to change them.
- Values outside the spec's bounds are refused with the bound, never clamped.
- A bare number next to a dimension ("120 tall") is read as millimetres, and the reply says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from cloud.designs.understanding import edit
from cloud.designs.understanding import replies as say
from cloud.designs.understanding.base import Draft, HistoryTurn, Interpretation, Lang, validate_spec
from cloud.designs.understanding.parse import Parsed, parse

log = logging.getLogger(__name__)


def pending_draft(history: Sequence[HistoryTurn]) -> Draft | None:
    """The draft of the studio's question when that question is the last turn."""
    if history and history[-1].role == "studio" and history[-1].kind == "question":
        return history[-1].draft
    return None


def previous_lang(history: Sequence[HistoryTurn]) -> Lang:
    for turn in reversed(history):
        if turn.lang is not None:
            return turn.lang
    return "en"


class BuiltinEngine:
    """Understands one turn with the lexicon in ``lexicon``; never raises for any text."""

    async def interpret(
        self,
        history: Sequence[HistoryTurn],
        current_spec: dict[str, Any] | None,
        text: str,
        lang: Lang | None,
    ) -> Interpretation:
        return self.understand(history, current_spec, text, lang)

    def understand(
        self,
        history: Sequence[HistoryTurn],
        current_spec: dict[str, Any] | None,
        text: str,
        lang: Lang | None,
    ) -> Interpretation:
        reply_lang = lang or say.detect_lang(text, previous_lang(history))
        try:
            return _Turn(pending_draft(history), current_spec, reply_lang).run(parse(text))
        except Exception:  # the engine's promise: whatever is typed, an answer, never a 500
            log.exception("the built-in engine failed on %r", text)
            message = say.not_understood(reply_lang)
            return Interpretation(kind="question", reply=message, question=message, lang=reply_lang)


class _Turn:
    def __init__(self, draft: Draft | None, current: dict[str, Any] | None, lang: Lang) -> None:
        self.draft = draft
        self.current = current
        self.lang = lang
        self.notes: list[str] = []
        self.answered_draft = False

    def question(self, text: str, *, family: str | None, values: dict[str, Any], ask: str,
                 pending_mm: float | None = None) -> Interpretation:  # fmt: skip
        draft = Draft(family=family, values=values, ask=ask, pending_mm=pending_mm)
        return Interpretation(kind="question", reply=text, question=text, lang=self.lang, draft=draft)

    def refusal(self, text: str) -> Interpretation:
        return Interpretation(kind="refusal", reply=text, reason=text, lang=self.lang)

    def run(self, p: Parsed) -> Interpretation:
        if p.undo:
            return Interpretation(kind="undo", reply=say.undone(None, self.lang), lang=self.lang)
        values = self._values(p)
        if isinstance(values, Interpretation):
            return values
        family = self._family(p, values)
        if isinstance(family, Interpretation):
            return family
        if family is None:
            if p.unknown_object:
                return self.refusal(say.unknown_object(p.unknown_object, self.lang))
            if p.relatives and self.current is None:
                return self.question(
                    say.relative_without_design(self.lang), family=None, values={}, ask="family"
                )
            if p.says_something:
                return self.question(say.ask_what(self.lang), family=None, values=values, ask="family")
            return self.question(say.ask_what(self.lang), family=None, values={}, ask="family")
        if not p.says_something and self.current is not None and not self._answers_draft(p):
            if p.unknown_object:
                return self.refusal(say.unknown_object(p.unknown_object, self.lang))
            message = say.not_understood(self.lang)
            return Interpretation(kind="question", reply=message, question=message, lang=self.lang)
        if p.unassigned_mm:
            return self.question(
                say.ask_dimension(p.unassigned_mm[0], self.lang),
                family=family,
                values=values,
                ask="dimension",
                pending_mm=p.unassigned_mm[0],
            )
        return self._build(p, family, values)

    def _answers_draft(self, p: Parsed) -> bool:
        return self.answered_draft or (self.draft is not None and p.planter_hint != p.vase_hint)

    def _values(self, p: Parsed) -> dict[str, Any] | Interpretation:
        """Generic dimensions and features: the draft's, completed by this answer, then this turn's."""
        values: dict[str, Any] = dict(self.draft.values) if self.draft is not None else {}
        values["features"] = {**values.get("features", {}), **p.features}
        draft = self.draft
        if (
            draft is not None
            and draft.ask == "dimension"
            and draft.pending_mm is not None
            and p.mentioned_dims
        ):
            values[p.mentioned_dims[0]] = draft.pending_mm
            self.answered_draft = True
        elif draft is not None and draft.ask not in (None, "family", "dimension") and p.unassigned_mm:
            values[draft.ask] = p.unassigned_mm.pop(0)
            self.answered_draft = True
        seen: dict[str, list[float]] = {}
        for dim, value in p.absolutes:
            if value not in seen.setdefault(dim, []):
                seen[dim].append(value)
        for dim, given in seen.items():
            if len(given) > 1:
                others = {k: v for k, v in values.items() if k != dim}
                for other, other_values in seen.items():
                    if other != dim:
                        others[other] = other_values[0]
                family = p.families[0] if len(p.families) == 1 else (draft.family if draft else None)
                field = edit.FIELDS.get(family or "", {}).get(dim, dim)
                return self.question(
                    say.ask_conflict(field, given, self.lang), family=family, values=others, ask=dim
                )
            values[dim] = given[0]
        if p.box_sizes_mm:
            values["box_sizes"] = list(p.box_sizes_mm)
        if p.degrees:
            values["degrees"] = list(p.degrees)
        return values

    def _family(self, p: Parsed, values: dict[str, Any]) -> str | Interpretation | None:
        if len(p.families) > 1:
            return self.question(
                say.ask_which(p.families, self.lang), family=None, values=values, ask="family"
            )
        if p.families:
            return p.families[0]
        asked = self.draft is not None and self.draft.ask == "family" and self.draft.family is None
        if p.ambiguous_vaso or asked:
            if p.planter_hint and not p.vase_hint:
                return "planter"
            if p.vase_hint and not p.planter_hint:
                return "vase"
            if self.current is not None and self.current["family"] in ("planter", "vase"):
                return str(self.current["family"])
            if p.ambiguous_vaso or (asked and self.draft is not None and "vaso" in str(self.draft.values)):
                return self.question(say.ask_vaso(self.lang), family=None, values={**values, "vaso": True},
                                     ask="family")  # fmt: skip
        if self.draft is not None and self.draft.family is not None:
            return self.draft.family
        if self.current is not None:
            return str(self.current["family"])
        return None

    def _build(self, p: Parsed, family: str, values: dict[str, Any]) -> Interpretation:
        explicit: set[str] = set()
        current = self.current
        new_design = current is None or current["family"] != family
        if not new_design:
            assert current is not None
            spec = dict(current)
        else:
            spec = edit.defaults(family)
        if values.get("box_sizes") and not edit.apply_box_sizes(
            spec, family, tuple(values["box_sizes"]), explicit
        ):
            self.notes.append(say.dimension_not_applicable(["all"], family, self.lang))
        missing_dims: list[str] = []
        for dim, value in values.items():
            if dim in ("features", "box_sizes", "degrees", "vaso"):
                continue
            if not edit.apply_absolute(spec, family, dim, float(value), explicit):
                missing_dims.append(dim)
        ignored = edit.apply_features(spec, family, values.get("features", {}))
        if not edit.apply_degrees(spec, family, values.get("degrees", [])):
            ignored.append("angle")
        for change in p.relatives:
            changed = edit.apply_relative(spec, family, change, explicit)
            if not changed:
                missing_dims.append(change.dim)
            elif change.vague:
                self.notes.append(say.vague_note(change.dim, change.factor, self.lang))
        if missing_dims:
            self.notes.append(say.dimension_not_applicable(missing_dims, family, self.lang))
        if ignored:
            self.notes.append(say.not_applicable(ignored, family, self.lang))
        if p.bare_mm:
            self.notes.append(say.bare_numbers(p.bare_mm, self.lang))
        try:
            valid = validate_spec(spec)
        except ValidationError as exc:
            return self.refusal(say.refusal_from_validation(exc, self.lang))
        question = None
        if new_design:
            missing = [f for f in edit.ESSENTIAL[family] if f not in explicit]
            if missing:
                question = say.defaults_used(valid, missing, self.lang)
        reply = " ".join([say.summary(valid, self.lang), *self.notes, *([question] if question else [])])
        return Interpretation(kind="spec", reply=reply, lang=self.lang, spec=valid, question=question)
