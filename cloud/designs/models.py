"""Tables of the design studio (revision 0004_designs).

- ``design_sessions``: one conversation of an organisation, its current ``spec`` (NULL before the
  first design) and ``version`` (up by one whenever the spec changes, undo included); ``lang`` is
  the language chosen for it (NULL: detected per turn).
- ``design_turns``: the conversation, ``seq`` from 1: the user's words and the studio's answers.
  A studio turn carries its ``kind`` (spec | question | refusal | undo), the session's spec after it
  and, for a question, the ``draft`` waiting for the answer.
- ``design_renders``: preview PNGs by spec hash (the same spec never renders twice, whoever asks):
  ``status`` pending → rendering → done | failed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import ID_CHARS, Base, PortableJSON, new_id, utcnow

TITLE_MAX_CHARS = 200
ERROR_MAX_CHARS = 1000


class RenderStatus(StrEnum):
    PENDING = "pending"
    RENDERING = "rendering"
    DONE = "done"
    FAILED = "failed"


class DesignSession(Base):
    __tablename__ = "design_sessions"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str | None] = mapped_column(String(ID_CHARS), default=None)
    title: Mapped[str | None] = mapped_column(String(TITLE_MAX_CHARS), default=None)
    lang: Mapped[str | None] = mapped_column(String(8), default=None)
    spec: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON, default=None)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_design_sessions_org_updated", "org_id", "updated_at"),)


class DesignTurn(Base):
    __tablename__ = "design_turns"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("design_sessions.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(16), default=None)
    lang: Mapped[str | None] = mapped_column(String(8), default=None)
    spec: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON, default=None)
    draft: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON, default=None)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_design_turns_session_seq", "session_id", "seq", unique=True),)


class DesignRender(Base):
    __tablename__ = "design_renders"

    spec_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    status: Mapped[str] = mapped_column(String(16), default=RenderStatus.PENDING.value)
    png: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    error: Mapped[str | None] = mapped_column(String(ERROR_MAX_CHARS), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
