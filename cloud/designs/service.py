"""Design sessions in the database, for the routes: always scoped to one organisation.

``take_turn`` is one turn of the conversation: the engine's interpretation applied to the history
(``conversation.apply``), a new spec checked by building its model (a spec the geometry cannot
build becomes a refusal with the reason), then the user's and the studio's turns appended and the
session's spec and version updated. The route commits.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.designs import conversation
from cloud.designs.conversation import Outcome
from cloud.designs.geometry import GeometryError
from cloud.designs.lifecycle import DesignsRuntime
from cloud.designs.models import DesignSession, DesignTurn
from cloud.designs.schemas import DesignDetail, DesignSummary, TurnOut, TurnResult
from cloud.designs.understanding import Draft, HistoryTurn, Interpretation
from cloud.designs.understanding.base import Kind, Lang
from cloud.designs.understanding.builtin import previous_lang
from cloud.errors import Conflict, NotFound


async def get_design(
    session: AsyncSession, org_id: str, design_id: str, *, lock: bool = False
) -> DesignSession:
    query = select(DesignSession).where(DesignSession.id == design_id, DesignSession.org_id == org_id)
    if lock:
        query = query.with_for_update()
    design = (await session.execute(query)).scalar_one_or_none()
    if design is None:
        raise NotFound(f"no design session {design_id}", code="design_not_found")
    return design


async def list_designs(
    session: AsyncSession, org_id: str, limit: int, offset: int
) -> Sequence[DesignSession]:
    query = (
        select(DesignSession)
        .where(DesignSession.org_id == org_id)
        .order_by(DesignSession.updated_at.desc(), DesignSession.id)
        .limit(limit)
        .offset(offset)
    )
    return (await session.execute(query)).scalars().all()


async def turns_of(session: AsyncSession, design_id: str) -> Sequence[DesignTurn]:
    query = select(DesignTurn).where(DesignTurn.session_id == design_id).order_by(DesignTurn.seq)
    return (await session.execute(query)).scalars().all()


def _lang(value: str | None) -> Lang | None:
    return cast("Lang", value) if value in ("en", "pt") else None


def history_of(turns: Sequence[DesignTurn]) -> list[HistoryTurn]:
    return [
        HistoryTurn(
            role="user" if t.role == "user" else "studio",
            text=t.text,
            kind=cast("Kind | None", t.kind),
            spec=t.spec,
            draft=Draft.model_validate(t.draft) if t.draft is not None else None,
            lang=_lang(t.lang),
        )
        for t in turns
    ]


def new_design(
    org_id: str, created_by: str | None, lang: str | None, title: str | None, now: datetime
) -> DesignSession:
    return DesignSession(
        org_id=org_id,
        created_by=created_by,
        title=title,
        lang=lang,
        spec=None,
        version=0,
        created_at=now,
        updated_at=now,
    )


def _geometry_refusal(exc: GeometryError, lang: Lang) -> str:
    if lang == "pt":
        return f"Não dá para fazer essa combinação: {exc}"
    return f"That combination can't be built: {exc}"


async def take_turn(
    session: AsyncSession,
    runtime: DesignsRuntime,
    design: DesignSession,
    text: str,
    now: datetime,
    *,
    undo: bool = False,
) -> Outcome:
    """One turn: interpret, apply, check the new spec's model, append both turns, update the session."""
    started = time.perf_counter()
    turns = await turns_of(session, design.id)
    if turns and turns[-1].version != design.version:
        # Another turn committed between reading the session and its turns (SQLite has no row lock):
        # answering from the older session row would lose that turn's edit.
        raise Conflict(
            "another turn of this session was answered meanwhile: send it again", code="turn_conflict"
        )
    history = history_of(turns)
    current: dict[str, Any] | None = design.spec
    if undo:
        lang = _lang(design.lang) or previous_lang(history)
        interpretation = Interpretation(kind="undo", reply="", lang=lang)
    else:
        interpretation = await runtime.engine.interpret(history, current, text, _lang(design.lang))
    outcome = conversation.apply(history, current, interpretation)
    if outcome.changed and outcome.spec is not None:
        try:
            await runtime.meshes.mesh(outcome.spec)
        except GeometryError as exc:
            reply = _geometry_refusal(exc, outcome.lang)
            outcome = Outcome(kind="refusal", reply=reply, lang=outcome.lang, spec=current, changed=False)
    seq = turns[-1].seq if turns else 0
    if outcome.changed:
        design.spec = outcome.spec
        design.version += 1
        if design.title is None:
            design.title = conversation.title_of(outcome.spec, outcome.lang)
    session.add(
        DesignTurn(
            session_id=design.id, seq=seq + 1, role="user", text=text, lang=outcome.lang,
            version=design.version, created_at=now,
        )
    )  # fmt: skip
    session.add(
        DesignTurn(
            session_id=design.id,
            seq=seq + 2,
            role="studio",
            text=outcome.reply,
            kind=outcome.kind,
            lang=outcome.lang,
            spec=design.spec,
            draft=outcome.draft.model_dump(mode="json") if outcome.draft is not None else None,
            version=design.version,
            created_at=now,
        )
    )
    design.updated_at = now
    runtime.metrics.turns.labels(kind=outcome.kind).inc()
    runtime.metrics.turn_latency.observe(time.perf_counter() - started)
    return outcome


def preview_url(design: DesignSession) -> str | None:
    if design.spec is None:
        return None
    return f"/api/designs/{design.id}/preview.png?v={design.version}"


async def turn_result(runtime: DesignsRuntime, design: DesignSession, outcome: Outcome) -> TurnResult:
    printability = await runtime.meshes.printability(design.spec) if design.spec is not None else None
    return TurnResult(
        reply=outcome.reply,
        kind=outcome.kind,
        lang=outcome.lang,
        question=outcome.question,
        spec=design.spec,
        version=design.version,
        printability=printability,
        preview_url=preview_url(design),
    )


def summary_of(design: DesignSession) -> DesignSummary:
    return DesignSummary(
        id=design.id,
        title=design.title,
        lang=_lang(design.lang),
        spec=design.spec,
        version=design.version,
        created_at=design.created_at,
        updated_at=design.updated_at,
    )


async def detail_of(
    session: AsyncSession, runtime: DesignsRuntime, design: DesignSession, last: TurnResult | None = None
) -> DesignDetail:
    turns = await turns_of(session, design.id)
    printability = await runtime.meshes.printability(design.spec) if design.spec is not None else None
    return DesignDetail(
        **summary_of(design).model_dump(),
        turns=[
            TurnOut(
                seq=t.seq,
                role=cast("Literal['user', 'studio']", t.role),
                text=t.text,
                kind=t.kind,
                version=t.version,
                created_at=t.created_at,
            )
            for t in turns
        ],
        printability=printability,
        preview_url=preview_url(design),
        last=last,
    )
