"""Tables of shared documents (revision 0006_notify): ``collab_documents`` and their op log ``collab_ops``.

``collab_documents.state`` is the document after ``version`` ops; ``collab_ops`` holds every op
(``(doc_id, version)`` is the key, versions contiguous from 1), so a client that reconnects with
``since_version`` gets exactly what it missed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import ID_CHARS, Base, PortableJSON, new_id, utcnow

TITLE_MAX_CHARS = 200


class CollabDocument(Base):
    __tablename__ = "collab_documents"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(TITLE_MAX_CHARS), default="")
    state: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(
        String(ID_CHARS), ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CollabOp(Base):
    __tablename__ = "collab_ops"
    __table_args__ = (Index("ix_collab_ops_doc_client_op", "doc_id", "client_op_id"),)

    doc_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("collab_documents.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_CHARS))
    set: Mapped[dict[str, Any]] = mapped_column(PortableJSON)
    client_op_id: Mapped[str | None] = mapped_column(String(64), default=None)
    base_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
