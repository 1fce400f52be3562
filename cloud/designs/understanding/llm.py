"""An optional engine asking any OpenAI-compatible chat endpoint, and the fallback around it.

``LlmEngine`` posts ``{base_url}/chat/completions`` with a system prompt carrying the JSON schema of
``DesignSpec`` and the current spec, asks for a JSON object (``response_format``) and validates the
answer against the same schema. Anything short of a valid answer is an ``LlmFailure``: an HTTP error,
a timeout, malformed JSON, or a spec the schema refuses. ``FallbackEngine`` turns that failure into
the built-in engine's answer, logs a warning and tells ``on_fallback`` (a metric) why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from cloud.designs.understanding import replies as say
from cloud.designs.understanding.base import (
    SPEC_ADAPTER,
    Engine,
    HistoryTurn,
    Interpretation,
    Lang,
    validate_spec,
)

log = logging.getLogger(__name__)

MAX_HISTORY_TURNS: Final = 20
FailureReason = Literal["http", "timeout", "malformed", "invalid_spec"]


class LlmFailure(Exception):
    """The LLM gave no usable answer; ``reason`` is the metric label."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: Literal["spec", "question", "refusal", "undo"]
    reply: str
    spec: dict[str, Any] | None = None
    question: str | None = None
    reason: str | None = None


def system_prompt(current_spec: dict[str, Any] | None, lang: Lang) -> str:
    schema = json.dumps(SPEC_ADAPTER.json_schema(), separators=(",", ":"))
    current = json.dumps(current_spec) if current_spec is not None else "none yet"
    language = "Brazilian Portuguese" if lang == "pt" else "English"
    return (
        "You are the design studio of a 3D-printing farm. The user describes an object; you fill a "
        "parametric spec. All lengths are millimetres. The spec must validate against this JSON schema "
        f"(one family, discriminated by 'family'): {schema}\n"
        f"The current spec is: {current}\n"
        'Answer with one JSON object: {"kind": "spec"|"question"|"refusal"|"undo", '
        '"spec": the complete new spec or null, "reply": what you say to the user, '
        '"question": a clarifying question or null, "reason": why you refuse or null}. '
        "Ask when the request is ambiguous or contradictory; refuse objects that are not one of the "
        "families and sizes outside the schema's bounds, saying the bound. "
        f"Write reply, question and reason in {language}."
    )


class LlmEngine:
    """One chat completion per turn; raises ``LlmFailure`` whenever the answer is not usable."""

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, model: str, api_key: str | None, timeout_s: float
    ) -> None:
        self.client = client
        self.url = f"{base_url.rstrip('/')}/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"LlmEngine({self.url!r}, model={self.model!r})"

    def _messages(
        self, history: Sequence[HistoryTurn], current: dict[str, Any] | None, text: str, lang: Lang
    ) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": system_prompt(current, lang)}]
        for turn in history[-MAX_HISTORY_TURNS:]:
            messages.append({"role": "user" if turn.role == "user" else "assistant", "content": turn.text})
        messages.append({"role": "user", "content": text})
        return messages

    async def interpret(
        self,
        history: Sequence[HistoryTurn],
        current_spec: dict[str, Any] | None,
        text: str,
        lang: Lang | None,
    ) -> Interpretation:
        reply_lang = lang or say.detect_lang(text, "en")
        body = {
            "model": self.model,
            "messages": self._messages(history, current_spec, text, reply_lang),
            "response_format": {"type": "json_object"},
            "temperature": 0,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = await self.client.post(self.url, json=body, headers=headers, timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            raise LlmFailure("timeout", f"no answer within {self.timeout_s} s") from exc
        except httpx.HTTPError as exc:
            raise LlmFailure("http", f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise LlmFailure("http", f"HTTP {response.status_code}")
        return self._answer(response, current_spec, reply_lang)

    def _answer(self, response: httpx.Response, current: dict[str, Any] | None, lang: Lang) -> Interpretation:
        try:
            content = response.json()["choices"][0]["message"]["content"]
            answer = _Answer.model_validate(json.loads(content))
        except (ValueError, KeyError, IndexError, TypeError, ValidationError) as exc:
            raise LlmFailure("malformed", f"not a usable JSON answer: {exc}") from exc
        spec = None
        if answer.kind == "spec":
            if answer.spec is None:
                raise LlmFailure("invalid_spec", "kind 'spec' without a spec")
            try:
                spec = validate_spec(answer.spec)
            except ValidationError as exc:
                raise LlmFailure(
                    "invalid_spec", f"the spec does not validate: {exc.error_count()} errors"
                ) from exc
        question = answer.question if answer.kind in ("question", "spec") else None
        reason = answer.reason or answer.reply if answer.kind == "refusal" else None
        return Interpretation(
            kind=answer.kind, reply=answer.reply, lang=lang, spec=spec, question=question, reason=reason
        )


class FallbackEngine:
    """``primary`` (the LLM) first; ``fallback`` (built-in) when it fails, counted by ``on_fallback``."""

    def __init__(self, primary: Engine, fallback: Engine, on_fallback: Callable[[str], None]) -> None:
        self.primary = primary
        self.fallback = fallback
        self.on_fallback = on_fallback

    async def interpret(
        self,
        history: Sequence[HistoryTurn],
        current_spec: dict[str, Any] | None,
        text: str,
        lang: Lang | None,
    ) -> Interpretation:
        try:
            return await self.primary.interpret(history, current_spec, text, lang)
        except LlmFailure as exc:
            log.warning("the LLM engine failed (%s: %s); the built-in engine answers", exc.reason, exc)
            self.on_fallback(exc.reason)
            return await self.fallback.interpret(history, current_spec, text, lang)
