"""HTTP and WebSocket routes of shared documents: ``/api/collab/...`` (protocol in ``cloud.collab``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Path, Query, Request, WebSocket
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect, WebSocketState

from cloud.collab import protocol
from cloud.collab.document import InvalidOp, Scalar, check_state
from cloud.collab.models import TITLE_MAX_CHARS, CollabDocument
from cloud.collab.rooms import CollabHub, Peer, Room
from cloud.errors import BadRequest, CloudError, NotFound, Unauthenticated, error_responses
from cloud.services import CloudServices, DbSession
from cloud.users.auth import CurrentUser, RequireOperator
from cloud.users.models import Role, User

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/collab", tags=["collab"])

CLOSE_UNAUTHENTICATED: Final = 4403
CLOSE_NOT_FOUND: Final = 4404
CLOSE_TOO_SLOW: Final = 1013
CLOSE_POLICY: Final = 1008
HELLO_TIMEOUT_S: Final = 10.0
MAX_BAD_MESSAGES: Final = 50
"""A connection that sends more malformed messages than this is closed (1008)."""


class NewDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(max_length=TITLE_MAX_CHARS)] = ""
    state: dict[str, JsonValue] = Field(default_factory=dict, description="initial parameters (flat)")


class DocumentView(BaseModel):
    id: str
    title: str
    state: dict[str, Scalar]
    version: int
    created_at: datetime
    updated_at: datetime


def _view(row: CollabDocument) -> DocumentView:
    return DocumentView(
        id=row.id,
        title=row.title,
        state=dict(row.state),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get_hub(request: Request) -> CollabHub:
    hub = getattr(request.app.state, "collab", None)
    if not isinstance(hub, CollabHub):
        raise TypeError("app.state.collab is not set: the collab lifespan is not running")
    return hub


@router.post(
    "/documents",
    status_code=201,
    summary="Create a shared document",
    responses=error_responses(401, 403, 422),
)
async def create_document(
    body: NewDocument, principal: RequireOperator, session: DbSession, request: Request
) -> DocumentView:
    try:
        state = check_state(body.state)
    except InvalidOp as exc:
        raise BadRequest(str(exc), code="invalid_state") from None
    services: CloudServices = request.app.state.services
    now = services.now()
    row = CollabDocument(
        org_id=principal.org_id,
        title=body.title,
        state=state,
        version=0,
        created_by=principal.id if principal.kind == "user" else None,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.commit()
    return _view(row)


@router.get(
    "/documents/{doc_id}",
    summary="A shared document's current state and version",
    responses=error_responses(401, 404, 422),
)
async def get_document(
    doc_id: Annotated[str, Path(max_length=64)], principal: CurrentUser, session: DbSession
) -> DocumentView:
    row = (
        await session.execute(
            select(CollabDocument).where(
                CollabDocument.id == doc_id, CollabDocument.org_id == principal.org_id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no such document: {doc_id}")
    return _view(row)


async def _user_of(services: CloudServices, token: str) -> User:
    claims = services.tokens.decode(token)
    async with services.database.session() as session:
        user = await session.get(User, claims.user_id)
    if user is None or user.org_id != claims.org_id:
        raise Unauthenticated("the user of this token no longer exists", code="token_invalid")
    return user


async def _receive(websocket: WebSocket) -> str | bytes | None:
    """The next frame, ``None`` once the client has gone."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    text: str | None = message.get("text")
    if text is not None:
        return text
    data: bytes | None = message.get("bytes")
    return data if data is not None else b""


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(code=code, reason=reason[:120])


@router.websocket("/{doc_id}/ws", name="collab_socket")
async def collab_socket(
    websocket: WebSocket,
    doc_id: str,
    token: Annotated[str | None, Query(max_length=4096)] = None,
) -> None:
    services: CloudServices = websocket.app.state.services
    hub: CollabHub = websocket.app.state.collab
    metrics = hub.metrics
    await websocket.accept()
    hello: protocol.Hello | None = None
    try:
        if token is None:
            async with asyncio.timeout(HELLO_TIMEOUT_S):
                frame = await _receive(websocket)
            if frame is None:
                return
            first = protocol.parse_client(frame)
            if not isinstance(first, protocol.Hello) or not first.token:
                raise Unauthenticated("send a token: ?token= or a first hello with a token")
            hello, token = first, first.token
        user = await _user_of(services, token)
    except (CloudError, protocol.BadMessage, TimeoutError) as exc:
        metrics.refused.labels(close_code=str(CLOSE_UNAUTHENTICATED)).inc()
        await _close(websocket, CLOSE_UNAUTHENTICATED, str(exc) or "authentication failed")
        return
    peer = Peer(user_id=user.id, email=user.email, can_edit=user.role.includes(Role.OPERATOR))
    try:
        async with hub.open(doc_id, user.org_id) as room:
            await _serve(websocket, hub, room, peer, hello)
    except NotFound as exc:
        metrics.refused.labels(close_code=str(CLOSE_NOT_FOUND)).inc()
        await _close(websocket, CLOSE_NOT_FOUND, exc.message)


async def _serve(
    websocket: WebSocket, hub: CollabHub, room: Room, peer: Peer, hello: protocol.Hello | None
) -> None:
    try:
        async with asyncio.TaskGroup() as tasks:
            writer = tasks.create_task(_write(websocket, peer))
            if hello is not None:
                await hub.hello(room, peer, hello.since_version)
            try:
                await _read(websocket, hub, room, peer, synced=hello is not None)
            finally:
                writer.cancel()
    finally:
        hub.leave(room, peer)
    await _close(websocket, 1000, "bye")


async def _write(websocket: WebSocket, peer: Peer) -> None:
    while True:
        frame = await peer.queue.get()
        if frame is None:
            await _close(websocket, CLOSE_TOO_SLOW, "too far behind: reconnect with since_version")
            return
        try:
            await websocket.send_text(frame)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return


async def _read(websocket: WebSocket, hub: CollabHub, room: Room, peer: Peer, *, synced: bool) -> None:
    bad = 0
    while not peer.dropped:
        try:
            frame = await _receive(websocket)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return
        if frame is None:
            return
        try:
            message = protocol.parse_client(frame)
        except protocol.BadMessage as exc:
            bad += 1
            hub.metrics.bad_messages.labels(code=exc.code).inc()
            peer.send(protocol.error_message(exc.code, exc.message))
            if bad > MAX_BAD_MESSAGES:
                await _close(websocket, CLOSE_POLICY, "too many malformed messages")
                return
            continue
        if isinstance(message, protocol.Hello):
            if synced:
                hub.metrics.bad_messages.labels(code="unexpected").inc()
                peer.send(protocol.error_message("unexpected", "hello is the first message only"))
                continue
            await hub.hello(room, peer, message.since_version)
            synced = True
        elif not synced:
            bad += 1
            hub.metrics.bad_messages.labels(code="unexpected").inc()
            peer.send(protocol.error_message("unexpected", "send hello first"))
        elif isinstance(message, protocol.OpMessage):
            await hub.submit(room, peer, message)
        else:
            hub.chat(room, peer, message.text)
