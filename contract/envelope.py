"""Base classes every payload model derives from, and the rules they share.

Wire rules (schema 1):

- Every top-level JSON payload carries ``"schema": 1`` and ``"ts"`` (Unix time in milliseconds,
  an integer). On the wire a missing or different ``schema`` is rejected; Python code building a
  model may leave ``schema`` out (it defaults to 1).
- Fields a newer peer adds are ignored on input (``extra="ignore"``); since they are never stored,
  our own output carries only the fields this version knows.
- Models are frozen: a decoded message is a value, not a mutable record.
- NaN and infinities are refused: JSON cannot carry them.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

SCHEMA_VERSION: Final = 1
"""The payload schema this code speaks."""

WIRE_CONTEXT: Final[dict[str, bool]] = {"wire": True}
"""Validation context the codec passes when the input came off the wire."""

UnixMs = Annotated[int, Field(ge=0, description="Unix time in milliseconds")]
"""A point in time as integer Unix milliseconds (the unit of ``ts``, ``issued_at``, ``expires_at``)."""


def now_ms() -> int:
    """The current wall-clock time as Unix milliseconds."""
    return time.time_ns() // 1_000_000


class Part(BaseModel):
    """A nested object inside a payload (or a foreign payload such as Home Assistant's)."""

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        allow_inf_nan=False,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class Payload(Part):
    """A top-level JSON payload of this contract: it carries ``schema`` and ``ts``."""

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, alias="schema")
    ts: UnixMs

    @model_validator(mode="before")
    @classmethod
    def _schema_present_on_wire(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context and info.context.get("wire") and isinstance(data, dict) and "schema" not in data:
            raise PydanticCustomError(
                "missing_schema",
                f"no 'schema' field; this peer speaks schema {SCHEMA_VERSION}",
            )
        return data

    @field_validator("schema_version", mode="before")
    @classmethod
    def _known_schema(cls, value: Any) -> Any:
        if isinstance(value, bool) or value != SCHEMA_VERSION:
            raise PydanticCustomError(
                "unsupported_schema",
                f"unsupported schema {value!r:.40}: this peer speaks schema {SCHEMA_VERSION} only",
            )
        return value
