"""Tables of printers and their one-time claim codes.

A printer's id (``pid``) is also its MQTT username and client id, so it obeys
``contract.topics.validate_pid``. Only hashes of secrets are stored: the MQTT password as the
Mosquitto PBKDF2-SHA512 line (so the broker's password file is written straight from the
database), the claim code as SHA-256.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import ID_CHARS, Base, PortableJSON, new_id, utcnow
from cloud.users.models import NAME_MAX_CHARS

PID_MAX_CHARS = 64
MATERIAL_MAX_CHARS = 64


class Printer(Base):
    __tablename__ = "printers"

    pid: Mapped[str] = mapped_column(String(PID_MAX_CHARS), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_MAX_CHARS))
    tags: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    nozzle_mm: Mapped[float | None] = mapped_column(Float, default=None)
    material: Mapped[str | None] = mapped_column(String(MATERIAL_MAX_CHARS), default=None)
    build_x_mm: Mapped[float | None] = mapped_column(Float, default=None)
    build_y_mm: Mapped[float | None] = mapped_column(Float, default=None)
    build_z_mm: Mapped[float | None] = mapped_column(Float, default=None)
    mqtt_password_hash: Mapped[str] = mapped_column(String(255))
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ClaimCode(Base):
    """A one-time code an agent exchanges for its printer id and MQTT credentials."""

    __tablename__ = "claim_codes"

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(
        String(ID_CHARS), ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(NAME_MAX_CHARS), default=None)
    tags: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    created_by: Mapped[str | None] = mapped_column(
        String(ID_CHARS), ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    printer_pid: Mapped[str | None] = mapped_column(
        String(PID_MAX_CHARS), ForeignKey("printers.pid", ondelete="SET NULL"), default=None
    )
