"""Tables of the fleet: each printer's latest state and presence, its events, its telemetry history,
and the acks of commands sent to it. Written by the MQTT ingest (idempotently), read by the fleet API,
the live feed and the farm queue's dispatcher.

- `fleet_printer_state`: one row per printer that ever spoke; `seq` guards it (a snapshot is stored
  only when its `seq` is newer), `online` comes from the retained `status` topic (and its last will).
- `fleet_events`: every `evt`, unique by `event_id` (`INSERT ... ON CONFLICT DO NOTHING`).
- `fleet_command_acks`: every `ack`, one row per (cmd_id, status).
- `fleet_telemetry` (raw samples, kept for hours) and `fleet_telemetry_minute` (per-minute rollups,
  kept for weeks).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, PortableJSON, utcnow

PID_CHARS = 64
ID_CHARS = 128


class PrinterStateRow(Base):
    __tablename__ = "fleet_printer_state"

    printer_id: Mapped[str] = mapped_column(String(PID_CHARS), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=-1)
    printer_state: Mapped[str] = mapped_column(String(16), default="standby")  # contract PrinterState
    link: Mapped[str] = mapped_column(String(16), default="disconnected")  # contract LinkState
    queue_state: Mapped[str | None] = mapped_column(String(16), default=None)
    queue_length: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str | None] = mapped_column(String(ID_CHARS), default=None)
    progress: Mapped[float | None] = mapped_column(Float, default=None)
    snapshot: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)  # the whole `state` payload
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    online_since: Mapped[datetime | None] = mapped_column(default=None)
    state_at: Mapped[datetime | None] = mapped_column(default=None)  # the snapshot's ts
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class FleetEvent(Base):
    __tablename__ = "fleet_events"

    event_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    printer_id: Mapped[str] = mapped_column(String(PID_CHARS))
    seq: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[datetime] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str | None] = mapped_column(String(ID_CHARS), default=None, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_fleet_events_printer_seq", "printer_id", "seq"),)


class CommandAck(Base):
    __tablename__ = "fleet_command_acks"

    cmd_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)  # contract AckStatus
    printer_id: Mapped[str] = mapped_column(String(PID_CHARS), index=True)
    code: Mapped[str | None] = mapped_column(String(64), default=None)
    message: Mapped[str | None] = mapped_column(String(1000), default=None)
    ts: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class TelemetrySample(Base):
    __tablename__ = "fleet_telemetry"

    printer_id: Mapped[str] = mapped_column(String(PID_CHARS), primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    temps: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)
    progress: Mapped[float | None] = mapped_column(Float, default=None)
    layer: Mapped[int | None] = mapped_column(Integer, default=None)


class TelemetryMinute(Base):
    """Per-minute rollup of `fleet_telemetry`: mean/max of each heater's actual, the last target."""

    __tablename__ = "fleet_telemetry_minute"

    printer_id: Mapped[str] = mapped_column(String(PID_CHARS), primary_key=True)
    minute: Mapped[datetime] = mapped_column(primary_key=True)
    temps: Mapped[dict[str, Any]] = mapped_column(PortableJSON, default=dict)  # heater → {mean, max, target}
    progress: Mapped[float | None] = mapped_column(Float, default=None)
    samples: Mapped[int] = mapped_column(Integer, default=0)
