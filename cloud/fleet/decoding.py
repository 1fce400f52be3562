"""The ingest's pure core: one MQTT message (topic, payload bytes) in, one ``Item`` or ``Dropped`` out.

No I/O and no clock: the shell (``cloud.fleet.ingest``) passes the set of enrolled printer ids in.
Every way a message can be refused has a ``DropReason`` (a Prometheus label, so the set is fixed):

==================  ==================================================================
reason              when
==================  ==================================================================
``topic``           not ``<prefix>/<pid>/<kind>`` of a kind the ingest reads
``unknown_printer`` the topic's pid is not an enrolled printer
``invalid_json``    the payload is not JSON (or not UTF-8)
``schema``          ``schema`` missing or a version we do not speak
``invalid_payload`` JSON of our schema with the wrong shape or values (or a NUL character,
                    which PostgreSQL cannot store)
``pid_mismatch``    the payload names a printer (``pid`` / ``printer_id``) other than the
                    topic's: a device publishing as another one
``inbox_overflow``  counted by the shell: the MQTT inbox was full (writer far behind)
``tele_shed``       counted by the shell: a ``tele`` that waited too long in the inbox, skipped so
                    states, events and acks stay fresh (the next ``tele`` supersedes it)
``write_error``     counted by the shell: the database refused the row itself
==================  ==================================================================
"""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from contract.acks import Ack
from contract.codec import decode
from contract.errors import ContractError, InvalidJsonError, UnsupportedSchemaError
from contract.events import Event
from contract.presence import Presence
from contract.state import StateSnapshot
from contract.telemetry import Telemetry
from contract.topics import TopicKind, Topics, validate_pid

_NUL_ESCAPE: Final = b"\\u0000"
_PID_KEYS: Final = (b'"pid"', b'"printer_id"')


class DropReason(StrEnum):
    TOPIC = "topic"
    UNKNOWN_PRINTER = "unknown_printer"
    INVALID_JSON = "invalid_json"
    SCHEMA = "schema"
    INVALID_PAYLOAD = "invalid_payload"
    PID_MISMATCH = "pid_mismatch"
    INBOX_OVERFLOW = "inbox_overflow"
    TELE_SHED = "tele_shed"
    WRITE_ERROR = "write_error"


@dataclass(frozen=True, slots=True)
class Dropped:
    """A refused message: why, whose (when the topic said), and a line for the log."""

    reason: DropReason
    pid: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class StateItem:
    pid: str
    state: StateSnapshot


@dataclass(frozen=True, slots=True)
class TeleItem:
    pid: str
    tele: Telemetry


@dataclass(frozen=True, slots=True)
class EventItem:
    pid: str
    event: Event


@dataclass(frozen=True, slots=True)
class AckItem:
    pid: str
    ack: Ack


@dataclass(frozen=True, slots=True)
class PresenceItem:
    pid: str
    presence: Presence


Item = StateItem | TeleItem | EventItem | AckItem | PresenceItem
"""A message the writer stores."""

INGEST_KINDS: Final = (TopicKind.STATE, TopicKind.EVT, TopicKind.ACK, TopicKind.TELE)
"""What the shared subscription carries; ``status`` has its own, non-shared subscriber."""
_KINDS: Final = {kind.value: kind for kind in (*INGEST_KINDS, TopicKind.STATUS)}


class Decoder:
    """Decodes messages under one topic prefix (``fleet/v1`` by default)."""

    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self._head = topics.prefix + "/"
        self._levels = topics.prefix.count("/") + 1

    def topic_parts(self, topic: str, enrolled: Container[str] = ()) -> tuple[str, TopicKind] | Dropped:
        """``(pid, kind)`` of a leaf topic the ingest reads, else ``Dropped(TOPIC)``.

        A pid in ``enrolled`` is valid by construction; any other is checked (for a useful message).
        """
        if topic.startswith(self._head):
            levels = topic.split("/")
            if len(levels) == self._levels + 2:
                kind = _KINDS.get(levels[-1])
                pid = levels[-2]
                if kind is not None:
                    if pid in enrolled:
                        return pid, kind
                    try:
                        return validate_pid(pid), kind
                    except ContractError as exc:
                        return Dropped(DropReason.TOPIC, None, str(exc))
        return Dropped(DropReason.TOPIC, None, f"topic {topic[:200]!r} is not one the ingest reads")

    def decode(self, topic: str, payload: bytes, enrolled: Container[str]) -> Item | Dropped:
        """The item ``payload`` on ``topic`` carries, or why it is dropped."""
        parts = self.topic_parts(topic, enrolled)
        if isinstance(parts, Dropped):
            return parts
        pid, kind = parts
        if pid not in enrolled:
            return Dropped(DropReason.UNKNOWN_PRINTER, pid, f"{pid!r} is not an enrolled printer")
        if _NUL_ESCAPE in payload:
            return Dropped(DropReason.INVALID_PAYLOAD, pid, f"{kind.value} payload contains a NUL character")
        try:
            if kind is TopicKind.TELE:
                item: Item = TeleItem(pid, decode(TopicKind.TELE, payload))
            elif kind is TopicKind.STATE:
                item = StateItem(pid, decode(TopicKind.STATE, payload))
            elif kind is TopicKind.EVT:
                item = EventItem(pid, decode(TopicKind.EVT, payload))
            elif kind is TopicKind.ACK:
                item = AckItem(pid, decode(TopicKind.ACK, payload))
            else:
                return PresenceItem(pid, decode(TopicKind.STATUS, payload))
        except InvalidJsonError as exc:
            return Dropped(DropReason.INVALID_JSON, pid, str(exc))
        except UnsupportedSchemaError as exc:
            return Dropped(DropReason.SCHEMA, pid, str(exc))
        except ContractError as exc:
            return Dropped(DropReason.INVALID_PAYLOAD, pid, str(exc))
        claimed = claimed_pid(payload)
        if claimed is not None and claimed != pid:
            return Dropped(
                DropReason.PID_MISMATCH, pid, f"{kind.value} on {pid!r}'s topic claims printer {claimed!r}"
            )
        return item


def claimed_pid(payload: bytes) -> str | None:
    """The printer a JSON payload names in a top-level ``pid`` / ``printer_id`` field, if any.

    The contract does not require the field (the topic says who), but a payload that carries one
    must agree with its topic. The substring test keeps the common case (no such key) free.
    """
    if not any(key in payload for key in _PID_KEYS):
        return None
    document = json.loads(payload)  # already validated as JSON by the codec
    if not isinstance(document, dict):
        return None
    for key in ("pid", "printer_id"):
        value = document.get(key)
        if value is not None:
            return str(value)
    return None
