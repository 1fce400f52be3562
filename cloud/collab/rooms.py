"""Rooms: the open documents of this process, their connected peers, and the one sequencer per document.

A ``Room`` holds a document's current ``Document`` (state and version) and the peers that said
``hello``. Everything that orders — applying an op, persisting it, fanning it out, and a peer's
catch-up with its registration — happens under the room's lock, so each peer's outbound queue
sees ops in version order with no gap and no duplicate.

Persistence: each op is one transaction (insert into ``collab_ops``, update ``collab_documents``);
the document row is read ``FOR UPDATE`` on PostgreSQL and, when another process moved it on, the
room reloads before applying, so versions stay contiguous even with several replicas. Fan-out
reaches only this process's peers (see ``cloud.collab``).

Each peer has a bounded queue; a peer that falls ``PEER_QUEUE`` frames behind is dropped (its
socket closed with 1013, it reconnects with ``since_version``), never allowed to slow the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.collab import protocol
from cloud.collab.document import AppliedOp, Document, InvalidOp, Scalar, check_state
from cloud.collab.metrics import CollabMetrics
from cloud.collab.models import CollabDocument, CollabOp
from cloud.db import Database
from cloud.errors import NotFound

log = logging.getLogger(__name__)

PEER_QUEUE: Final = 1_000
MAX_CATCH_UP_OPS: Final = 500
"""A peer further behind than this gets a snapshot instead of the ops it missed."""


@dataclass(eq=False, slots=True)
class Peer:
    """One connection: who it is and its bounded queue of frames (``None`` closes it)."""

    user_id: str
    email: str
    can_edit: bool = True
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(PEER_QUEUE))
    dropped: bool = False

    @property
    def user(self) -> dict[str, str]:
        return {"id": self.user_id, "email": self.email}

    def send(self, frame: str) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


@dataclass(eq=False, slots=True)
class Room:
    doc_id: str
    org_id: str
    document: Document
    peers: set[Peer] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    """Connections holding the room open (synced or not)."""

    def presence(self) -> list[dict[str, str]]:
        seen: dict[str, dict[str, str]] = {}
        for peer in self.peers:
            seen.setdefault(peer.user_id, peer.user)
        return sorted(seen.values(), key=lambda user: user["email"])

    def broadcast(self, frame: str, *, skip: Peer | None = None) -> None:
        for peer in list(self.peers):
            if peer is not skip:
                peer.send(frame)


def _document(row: CollabDocument) -> Document:
    return Document(state=dict(check_state(row.state)), version=row.version)


def _applied(row: CollabOp) -> AppliedOp:
    values: dict[str, Scalar] = dict(row.set)
    return AppliedOp(
        version=row.version,
        user_id=row.user_id,
        set=values,
        client_op_id=row.client_op_id,
        base_version=row.base_version,
    )


class CollabHub:
    """The rooms of this process."""

    def __init__(self, database: Database, clock: Callable[[], datetime], metrics: CollabMetrics) -> None:
        self.database = database
        self.clock = clock
        self.metrics = metrics
        self._rooms: dict[str, Room] = {}
        self._opening = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def open(self, doc_id: str, org_id: str) -> AsyncIterator[Room]:
        """The room of ``doc_id`` (loaded on first use); ``NotFound`` when not in ``org_id``."""
        async with self._opening:
            room = self._rooms.get(doc_id)
            if room is None:
                async with self.database.session() as session:
                    row = await session.get(CollabDocument, doc_id)
                if row is None or row.org_id != org_id:
                    raise NotFound(f"no such document: {doc_id}")
                room = Room(doc_id=doc_id, org_id=org_id, document=_document(row))
                self._rooms[doc_id] = room
            elif room.org_id != org_id:
                raise NotFound(f"no such document: {doc_id}")
            room.users += 1
        try:
            yield room
        finally:
            room.users -= 1
            if room.users == 0 and self._rooms.get(doc_id) is room:
                del self._rooms[doc_id]

    async def hello(self, room: Room, peer: Peer, since_version: int | None) -> None:
        """Bring ``peer`` up to date (the ops after ``since_version`` or a snapshot) and add it."""
        async with room.lock:
            current = room.document.version
            ops: list[AppliedOp] | None = None
            if since_version is not None and 0 <= current - since_version <= MAX_CATCH_UP_OPS:
                ops = await self._ops_after(room.doc_id, since_version, current)
            room.peers.add(peer)
            if ops is None:
                state = dict(room.document.state)
                peer.send(protocol.snapshot_message(current, state, room.presence()))
            else:
                for op in ops:
                    peer.send(protocol.op_message(op, {"id": op.user_id}))
            self.metrics.peers.inc()
            room.broadcast(protocol.presence_message(room.presence()))

    def leave(self, room: Room, peer: Peer) -> None:
        if peer in room.peers:
            room.peers.discard(peer)
            self.metrics.peers.dec()
            room.broadcast(protocol.presence_message(room.presence()))

    async def submit(self, room: Room, peer: Peer, message: protocol.OpMessage) -> None:
        """Order, persist and fan out one op; an invalid one gets an ``error`` reply, nothing else."""
        if not peer.can_edit:
            peer.send(protocol.error_message("forbidden", "viewers cannot edit", message.client_op_id))
            return
        try:
            await self._submit(room, peer, message)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("collab: could not store an op of %s: %s", room.doc_id, str(exc).splitlines()[0])
            peer.send(
                protocol.error_message("unavailable", "not stored: send it again later", message.client_op_id)
            )

    async def _submit(self, room: Room, peer: Peer, message: protocol.OpMessage) -> None:
        async with room.lock:
            async with self.database.session() as session:
                done = await self._already_applied(session, room.doc_id, message.client_op_id)
                if done is not None:
                    peer.send(protocol.ack_message(message.client_op_id, done))
                    return
                row = await session.get(CollabDocument, room.doc_id, with_for_update=True)
                if row is None:
                    peer.send(protocol.error_message("gone", "the document was deleted"))
                    return
                if row.version != room.document.version:
                    room.document = _document(row)  # another process moved it on
                candidate = Document(dict(room.document.state), room.document.version)
                try:
                    op = candidate.apply(
                        peer.user_id,
                        message.set,
                        base_version=message.base_version,
                        client_op_id=message.client_op_id,
                    )
                except InvalidOp as exc:
                    self.metrics.bad_messages.labels(code="invalid_op").inc()
                    peer.send(protocol.error_message("invalid_op", str(exc), message.client_op_id))
                    return
                now = self.clock()
                session.add(
                    CollabOp(
                        doc_id=room.doc_id,
                        version=op.version,
                        user_id=op.user_id,
                        set=op.set,
                        client_op_id=op.client_op_id,
                        base_version=op.base_version,
                        created_at=now,
                    )
                )
                row.state = dict(candidate.state)
                row.version = candidate.version
                row.updated_at = now
                await session.commit()
            room.document = candidate
            self.metrics.ops.inc()
            peer.send(protocol.ack_message(message.client_op_id, op.version))
            room.broadcast(protocol.op_message(op, peer.user), skip=peer)

    def chat(self, room: Room, peer: Peer, text: str) -> None:
        room.broadcast(protocol.chat_message(peer.user, text, self.clock().isoformat()))

    async def _ops_after(self, doc_id: str, since: int, until: int) -> list[AppliedOp]:
        async with self.database.session() as session:
            rows = await session.execute(
                select(CollabOp)
                .where(CollabOp.doc_id == doc_id, CollabOp.version > since, CollabOp.version <= until)
                .order_by(CollabOp.version)
            )
            return [_applied(row) for row in rows.scalars()]

    @staticmethod
    async def _already_applied(session: AsyncSession, doc_id: str, client_op_id: str) -> int | None:
        """The version of an op this client already sent (a resend after a reconnect)."""
        found = await session.execute(
            select(CollabOp.version).where(CollabOp.doc_id == doc_id, CollabOp.client_op_id == client_op_id)
        )
        return found.scalars().first()
