"""Topic strings: build them, parse them, and validate printer ids.

Layout (``prefix`` defaults to ``fleet/v1`` and is configurable)::

    <prefix>/<pid>/status | info | state | tele | evt | ack     edge → cloud
    <prefix>/<pid>/cmd/<verb>                                  cloud → edge
    <prefix>/<pid>/cmd/ha                                      Home Assistant → edge (plain text)
    homeassistant/device/<pid>/config                          edge → Home Assistant (discovery)
    homeassistant/status                                       Home Assistant's birth / will

A printer id (``pid``) is also the MQTT username and client id, so it must be usable as one topic
level: non-empty, at most 64 characters, none of ``+ # /``, no control characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from contract.commands import CommandVerb
from contract.errors import InvalidTopicError

DEFAULT_PREFIX: Final = "fleet/v1"
HA_DISCOVERY_PREFIX: Final = "homeassistant"
PID_MAX_CHARS: Final = 64
HA_VERB: Final = "ha"


class TopicKind(StrEnum):
    """What a topic carries; also the key ``contract.codec.decode`` dispatches on."""

    STATUS = "status"
    INFO = "info"
    STATE = "state"
    TELE = "tele"
    EVT = "evt"
    ACK = "ack"
    CMD = "cmd"
    HA_CMD = "cmd/ha"
    HA_DISCOVERY = "ha_discovery"


_LEAF_KINDS: Final = frozenset(
    {TopicKind.STATUS, TopicKind.INFO, TopicKind.STATE, TopicKind.TELE, TopicKind.EVT, TopicKind.ACK}
)


def validate_pid(pid: str) -> str:
    """Return ``pid`` unchanged when it is a valid printer id, else raise ``InvalidTopicError``."""
    if not pid:
        raise InvalidTopicError("printer id is empty")
    if len(pid) > PID_MAX_CHARS:
        raise InvalidTopicError(f"printer id is {len(pid)} chars long; at most {PID_MAX_CHARS} allowed")
    bad = sorted({c for c in pid if c in "+#/" or ord(c) < 32 or ord(c) == 127})
    if bad:
        raise InvalidTopicError(
            f"printer id {pid!r} contains characters not allowed in a topic level: {bad!r}"
        )
    return pid


def _validate_level(level: str, what: str) -> str:
    if not level or any(c in "+#/" for c in level) or any(ord(c) < 32 for c in level):
        raise InvalidTopicError(f"{what} {level!r} is not a valid topic level")
    return level


def _validate_prefix(prefix: str) -> str:
    if not prefix or prefix.startswith("/") or prefix.endswith("/") or "$" in prefix:
        raise InvalidTopicError(
            f"topic prefix {prefix!r} must be non-empty, without leading/trailing '/' or '$'"
        )
    for level in prefix.split("/"):
        _validate_level(level, "topic prefix level")
    return prefix


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic. ``verb`` is set for ``cmd/<verb>`` (raw: it may be a verb we do not know)."""

    pid: str
    kind: TopicKind
    verb: str | None = None

    @property
    def payload_kind(self) -> TopicKind | CommandVerb:
        """The key to pass to ``contract.codec.decode``; raises ``InvalidTopicError`` for an unknown verb."""
        if self.kind is TopicKind.CMD:
            try:
                return CommandVerb(self.verb or "")
            except ValueError:
                raise InvalidTopicError(f"unknown command verb {self.verb!r}") from None
        return self.kind


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic builder and parser for one prefix."""

    prefix: str = DEFAULT_PREFIX
    ha_prefix: str = HA_DISCOVERY_PREFIX

    def __post_init__(self) -> None:
        _validate_prefix(self.prefix)
        _validate_prefix(self.ha_prefix)

    def root(self, pid: str) -> str:
        """``<prefix>/<pid>``."""
        return f"{self.prefix}/{validate_pid(pid)}"

    def build(self, pid: str, kind: TopicKind, verb: CommandVerb | str | None = None) -> str:
        """The topic of ``kind`` for ``pid``; ``verb`` is required for (and only for) ``CMD``."""
        if kind is TopicKind.CMD:
            if verb is None:
                raise InvalidTopicError("a cmd topic needs a verb")
            verb_level = _validate_level(str(verb), "command verb")
            if verb_level == HA_VERB:
                raise InvalidTopicError("'ha' is reserved for Home Assistant commands; use TopicKind.HA_CMD")
            return f"{self.root(pid)}/cmd/{verb_level}"
        if verb is not None:
            raise InvalidTopicError(f"a verb is allowed only for cmd topics, not {kind}")
        if kind in _LEAF_KINDS:
            return f"{self.root(pid)}/{kind.value}"
        if kind is TopicKind.HA_CMD:
            return f"{self.root(pid)}/cmd/{HA_VERB}"
        return f"{self.ha_prefix}/device/{validate_pid(pid)}/config"

    def status(self, pid: str) -> str:
        return self.build(pid, TopicKind.STATUS)

    def info(self, pid: str) -> str:
        return self.build(pid, TopicKind.INFO)

    def state(self, pid: str) -> str:
        return self.build(pid, TopicKind.STATE)

    def tele(self, pid: str) -> str:
        return self.build(pid, TopicKind.TELE)

    def evt(self, pid: str) -> str:
        return self.build(pid, TopicKind.EVT)

    def ack(self, pid: str) -> str:
        return self.build(pid, TopicKind.ACK)

    def cmd(self, pid: str, verb: CommandVerb | str) -> str:
        return self.build(pid, TopicKind.CMD, verb)

    def ha_cmd(self, pid: str) -> str:
        return self.build(pid, TopicKind.HA_CMD)

    def ha_discovery(self, pid: str) -> str:
        return self.build(pid, TopicKind.HA_DISCOVERY)

    def ha_status(self) -> str:
        """Home Assistant's own ``online`` / ``offline`` topic (re-send discovery on ``online``)."""
        return f"{self.ha_prefix}/status"

    def cmd_filter(self, pid: str) -> str:
        """The agent's subscription: every command for ``pid``."""
        return f"{self.root(pid)}/cmd/#"

    def fleet_filter(self, kind: TopicKind, *, share_group: str | None = None) -> str:
        """A cloud subscription to ``kind`` from every printer, optionally ``$share/<group>/...``."""
        if kind not in _LEAF_KINDS:
            raise InvalidTopicError(
                f"fleet filters exist for {sorted(k.value for k in _LEAF_KINDS)}, not {kind}"
            )
        topic_filter = f"{self.prefix}/+/{kind.value}"
        if share_group is None:
            return topic_filter
        return f"$share/{_validate_level(share_group, 'share group')}/{topic_filter}"

    def parse(self, topic: str) -> Topic:
        """Parse a concrete topic (no wildcards) of this layout, or raise ``InvalidTopicError``."""
        if any(c in "+#" for c in topic):
            raise InvalidTopicError(f"topic {topic!r} contains wildcards")
        ha_head = f"{self.ha_prefix}/device/"
        if topic.startswith(ha_head) and topic.endswith("/config"):
            pid = topic[len(ha_head) : -len("/config")]
            return Topic(validate_pid(pid), TopicKind.HA_DISCOVERY)
        head = f"{self.prefix}/"
        if not topic.startswith(head):
            raise InvalidTopicError(f"topic {topic!r} is not under prefix {self.prefix!r}")
        levels = topic[len(head) :].split("/")
        pid = validate_pid(levels[0])
        rest = levels[1:]
        if len(rest) == 1 and rest[0] in _LEAF_KINDS:
            return Topic(pid, TopicKind(rest[0]))
        if len(rest) == 2 and rest[0] == "cmd":
            verb = _validate_level(rest[1], "command verb")
            if verb == HA_VERB:
                return Topic(pid, TopicKind.HA_CMD)
            return Topic(pid, TopicKind.CMD, verb)
        raise InvalidTopicError(f"topic {topic!r} is not a known {self.prefix}/<pid>/... topic")


DEFAULT_TOPICS: Final = Topics()
"""Topics under the default prefix."""


def build_topic(pid: str, kind: TopicKind, verb: CommandVerb | str | None = None) -> str:
    """``DEFAULT_TOPICS.build``."""
    return DEFAULT_TOPICS.build(pid, kind, verb)


def parse_topic(topic: str) -> Topic:
    """``DEFAULT_TOPICS.parse``."""
    return DEFAULT_TOPICS.parse(topic)
