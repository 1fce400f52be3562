"""The one way in and out: ``decode(kind, payload)`` and ``encode(model)``.

``decode`` maps every failure to a ``ContractError`` subclass with a message a person can act
on (``InvalidJsonError``, ``UnsupportedSchemaError``, ``InvalidPayloadError``); the pydantic
``ValidationError`` is kept as ``__cause__``. ``encode`` writes compact JSON (or the plain
text of ``status`` / ``cmd/ha``), leaving out optional fields that are ``None``.
"""

from __future__ import annotations

from typing import Final, Literal, TypeVar, overload

from pydantic import BaseModel, ValidationError

from contract.acks import Ack
from contract.commands import COMMAND_MODELS, Command, CommandEnvelope, CommandVerb
from contract.envelope import WIRE_CONTEXT, Part
from contract.errors import ContractError, InvalidJsonError, InvalidPayloadError, UnsupportedSchemaError
from contract.events import Event
from contract.homeassistant import HaCommand, HaDiscovery, parse_ha_command
from contract.info import PrinterInfo
from contract.presence import Presence, parse_presence
from contract.state import StateSnapshot
from contract.telemetry import Telemetry
from contract.topics import TopicKind

M = TypeVar("M", bound=BaseModel)

Decoded = (
    Presence
    | HaCommand
    | PrinterInfo
    | StateSnapshot
    | Telemetry
    | Event
    | Ack
    | CommandEnvelope
    | HaDiscovery
)
"""Anything ``decode`` returns."""

_JsonDecoded = PrinterInfo | StateSnapshot | Telemetry | Event | Ack | CommandEnvelope | HaDiscovery
_JSON_MODELS: Final[dict[TopicKind, type[_JsonDecoded]]] = {
    TopicKind.INFO: PrinterInfo,
    TopicKind.STATE: StateSnapshot,
    TopicKind.TELE: Telemetry,
    TopicKind.EVT: Event,
    TopicKind.ACK: Ack,
    TopicKind.CMD: CommandEnvelope,
    TopicKind.HA_DISCOVERY: HaDiscovery,
}
_MAX_PROBLEMS_SHOWN: Final = 5


@overload
def decode(kind: Literal[TopicKind.STATUS], payload: bytes | bytearray | str) -> Presence: ...
@overload
def decode(kind: Literal[TopicKind.HA_CMD], payload: bytes | bytearray | str) -> HaCommand: ...
@overload
def decode(kind: Literal[TopicKind.INFO], payload: bytes | bytearray | str) -> PrinterInfo: ...
@overload
def decode(kind: Literal[TopicKind.STATE], payload: bytes | bytearray | str) -> StateSnapshot: ...
@overload
def decode(kind: Literal[TopicKind.TELE], payload: bytes | bytearray | str) -> Telemetry: ...
@overload
def decode(kind: Literal[TopicKind.EVT], payload: bytes | bytearray | str) -> Event: ...
@overload
def decode(kind: Literal[TopicKind.ACK], payload: bytes | bytearray | str) -> Ack: ...
@overload
def decode(kind: Literal[TopicKind.CMD], payload: bytes | bytearray | str) -> CommandEnvelope: ...
@overload
def decode(kind: Literal[TopicKind.HA_DISCOVERY], payload: bytes | bytearray | str) -> HaDiscovery: ...
@overload
def decode(kind: CommandVerb, payload: bytes | bytearray | str) -> Command: ...
@overload
def decode(kind: TopicKind | CommandVerb, payload: bytes | bytearray | str) -> Decoded: ...
def decode(kind: TopicKind | CommandVerb, payload: bytes | bytearray | str) -> Decoded:
    """Decode the payload of a topic of ``kind`` (a ``CommandVerb`` for typed commands).

    ``TopicKind.CMD`` gives the bare ``CommandEnvelope`` (``args`` ignored), for verbs we do not
    know or args that did not validate. ``Topic.payload_kind`` gives the right ``kind`` for a
    parsed topic. Raises ``ContractError``.
    """
    if isinstance(kind, CommandVerb):
        return decode_as(COMMAND_MODELS[kind], payload, what=f"cmd/{kind.value}")
    if kind is TopicKind.STATUS:
        return parse_presence(payload)
    if kind is TopicKind.HA_CMD:
        return parse_ha_command(payload)
    return decode_as(_JSON_MODELS[kind], payload, what=kind.value)


def decode_as(model: type[M], payload: bytes | bytearray | str, *, what: str | None = None) -> M:
    """Validate ``payload`` (JSON) as ``model``; ``what`` names it in error messages."""
    try:
        return model.model_validate_json(payload, context=WIRE_CONTEXT)
    except ValidationError as exc:
        raise _contract_error(exc, what or model.__name__) from exc


def encode(value: Part | Presence | HaCommand) -> bytes:
    """Compact JSON of a model (``None`` options left out), or the plain text of an enum payload."""
    if isinstance(value, Presence | HaCommand):
        return value.value.encode("ascii")
    return value.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8")


def _contract_error(exc: ValidationError, what: str) -> ContractError:
    errors = exc.errors(include_url=False)
    for error in errors:
        if error["type"] == "json_invalid":
            return InvalidJsonError(
                f"{what} payload is not valid JSON: {error['msg'].removeprefix('Invalid JSON: ')}"
            )
    for error in errors:
        if error["type"] in ("unsupported_schema", "missing_schema"):
            return UnsupportedSchemaError(f"{what} payload: {error['msg']}")
        if error["type"] == "model_type" and not error["loc"]:
            return InvalidPayloadError(f"{what} payload must be a JSON object")
    problems = [f"{_location(error['loc'])}: {error['msg']}" for error in errors[:_MAX_PROBLEMS_SHOWN]]
    more = len(errors) - len(problems)
    suffix = f"; and {more} more" if more > 0 else ""
    noun = "problem" if len(errors) == 1 else "problems"
    return InvalidPayloadError(f"{what} payload has {len(errors)} {noun}: {'; '.join(problems)}{suffix}")


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(payload)"
