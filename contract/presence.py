"""The ``status`` topic: a retained plain-text ``online`` / ``offline`` (also the last will).

Plain text rather than JSON so that Home Assistant availability and any MQTT tool read it as is.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from contract.errors import InvalidPayloadError

_Word = TypeVar("_Word", bound=StrEnum)


class Presence(StrEnum):
    """Whether an agent is connected to the broker."""

    ONLINE = "online"
    OFFLINE = "offline"


def parse_presence(payload: bytes | bytearray | str) -> Presence:
    """Read a ``status`` payload; surrounding whitespace and letter case are tolerated."""
    return parse_plain_word(payload, Presence, "status")


def format_presence(presence: Presence) -> bytes:
    """The bytes to publish on ``status``."""
    return presence.value.encode("ascii")


def read_plain_text(payload: bytes | bytearray | str, what: str) -> str:
    """Decode a plain-text payload (``status``, ``cmd/ha``) as UTF-8, or raise ``InvalidPayloadError``."""
    if isinstance(payload, str):
        return payload
    try:
        return bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPayloadError(f"{what} payload is not UTF-8 text") from None


def parse_plain_word(payload: bytes | bytearray | str, kind: type[_Word], what: str) -> _Word:
    """A one-word plain-text payload as a member of ``kind`` (whitespace and case tolerated)."""
    text = read_plain_text(payload, what).strip().lower()
    try:
        return kind(text)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidPayloadError(f"{what} payload must be one of {allowed}, got {text[:40]!r}") from None
