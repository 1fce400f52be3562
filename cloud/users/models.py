"""Tables of accounts: organisations, users and API keys.

Every row but an organisation belongs to exactly one organisation (``org_id``); queries are
always filtered by the caller's organisation.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import ID_CHARS, Base, new_id, utcnow

EMAIL_MAX_CHARS: Final = 254
NAME_MAX_CHARS: Final = 200


class Role(StrEnum):
    """What a user or API key may do. Each role includes the ones below it.

    ``viewer`` reads; ``operator`` also commands and edits printers and jobs; ``admin`` also
    manages users and API keys.
    """

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def includes(self, other: Role) -> bool:
        """True when this role may do everything ``other`` may."""
        return self.rank >= other.rank


_RANKS: Final = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


def role_column_type() -> Enum:
    """The portable column type of a ``Role``: VARCHAR plus a CHECK constraint named ``role``."""
    return Enum(
        Role,
        name="role",
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda roles: [role.value for role in roles],
        validate_strings=True,
    )


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX_CHARS))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_CHARS), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(role_column_type())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApiKey(Base):
    """An API key. Only its SHA-256 is stored; ``prefix`` is the public part shown in listings."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_MAX_CHARS))
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(role_column_type())
    created_by: Mapped[str | None] = mapped_column(
        String(ID_CHARS), ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
