"""The collaboration wire protocol: JSON text frames, one message each (see ``cloud.collab``).

``parse_client(text)`` turns a frame into a typed message or raises ``BadMessage`` (with a code
the server puts in its ``error`` reply); the ``*_message`` functions build the server's frames.
Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, ValidationError

from cloud.collab.document import AppliedOp, Scalar

MAX_MESSAGE_BYTES: Final = 64 * 1024
MAX_CHAT_CHARS: Final = 2_000


class BadMessage(ValueError):
    """A frame the server cannot take; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hello(_Message):
    type: Literal["hello"]
    token: Annotated[str, Field(max_length=4096)] | None = None
    since_version: Annotated[int, Field(ge=0)] | None = None


class OpMessage(_Message):
    type: Literal["op"]
    base_version: Annotated[int, Field(ge=0)]
    client_op_id: Annotated[str, Field(min_length=1, max_length=64)]
    set: dict[str, JsonValue]


class Chat(_Message):
    type: Literal["chat"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_CHAT_CHARS)]


ClientMessage = Annotated[Hello | OpMessage | Chat, Field(discriminator="type")]
_CLIENT: Final[TypeAdapter[Hello | OpMessage | Chat]] = TypeAdapter(ClientMessage)


def parse_client(text: str | bytes) -> Hello | OpMessage | Chat:
    """One client frame as a message; ``BadMessage`` when too big, not JSON or not a known message."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_MESSAGE_BYTES:
        raise BadMessage("too_large", f"a message is at most {MAX_MESSAGE_BYTES} bytes")
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise BadMessage("not_json", "a message is one JSON object") from None
    if not isinstance(raw, dict):
        raise BadMessage("not_json", "a message is one JSON object")
    try:
        return _CLIENT.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "message"
        raise BadMessage("invalid", f"{where}: {first.get('msg', 'invalid')}"[:300]) from None


def dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def snapshot_message(version: int, state: dict[str, Scalar], presence: Sequence[dict[str, str]]) -> str:
    return dump({"type": "snapshot", "version": version, "state": state, "presence": list(presence)})


def op_message(op: AppliedOp, user: dict[str, str]) -> str:
    return dump(
        {
            "type": "op",
            "version": op.version,
            "user": user,
            "set": op.set,
            "client_op_id": op.client_op_id,
        }
    )


def ack_message(client_op_id: str, version: int) -> str:
    return dump({"type": "ack", "client_op_id": client_op_id, "version": version})


def presence_message(users: Sequence[dict[str, str]]) -> str:
    return dump({"type": "presence", "users": list(users)})


def chat_message(user: dict[str, str], text: str, at: str) -> str:
    return dump({"type": "chat", "user": user, "text": text, "at": at})


def error_message(code: str, message: str, client_op_id: str | None = None) -> str:
    body: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_op_id is not None:
        body["client_op_id"] = client_op_id
    return dump(body)
