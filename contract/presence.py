"""The ``status`` topic: a retained plain-text ``online`` / ``offline`` (also the last will).

Plain text rather than JSON so that Home Assistant availability and any MQTT tool read it as is.
"""

from __future__ import annotations

from enum import StrEnum

from contract.errors import InvalidPayloadError


class Presence(StrEnum):
    """Whether an agent is connected to the broker."""

    ONLINE = "online"
    OFFLINE = "offline"


def parse_presence(payload: bytes | bytearray | str) -> Presence:
    """Read a ``status`` payload; surrounding whitespace and letter case are tolerated."""
    text = read_plain_text(payload, "status").strip().lower()
    try:
        return Presence(text)
    except ValueError:
        raise InvalidPayloadError(
            f"status payload must be 'online' or 'offline', got {text[:40]!r}"
        ) from None


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
