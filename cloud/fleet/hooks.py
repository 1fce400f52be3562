"""What other resources hear from the ingest: batches of events and acks, after they are committed.

The farm queue registers here to follow its jobs (`job.started` … `job.completed`) and its offers'
acks, without the ingest knowing about jobs. Hooks run in the replica that ingested the batch; a
hook that fails is logged and counted by the ingest, never allowed to stop it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from contract.acks import Ack
from contract.events import Event


@dataclass(frozen=True, slots=True)
class IngestedEvent:
    printer_id: str
    event: Event


@dataclass(frozen=True, slots=True)
class IngestedAck:
    printer_id: str
    ack: Ack


@dataclass(frozen=True, slots=True)
class IngestedPresence:
    """A printer's ``online`` flag changed (only the replica whose write changed it hears this)."""

    printer_id: str
    online: bool


EventHook = Callable[[Sequence[IngestedEvent]], Awaitable[None]]
AckHook = Callable[[Sequence[IngestedAck]], Awaitable[None]]
PresenceHook = Callable[[Sequence[IngestedPresence]], Awaitable[None]]


@dataclass(slots=True)
class IngestHooks:
    on_events: list[EventHook] = field(default_factory=list)
    on_acks: list[AckHook] = field(default_factory=list)
    on_presence: list[PresenceHook] = field(default_factory=list)
