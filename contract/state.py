"""The ``state`` topic: the full retained snapshot of one printer, with Klipper's names.

Field names follow Klipper's ``print_stats`` / Moonraker so existing subscribers understand them;
where those names carry no unit the unit is stated here: ``print_duration`` seconds,
``filament_used`` millimetres of filament, ``progress`` a fraction 0..1, temperatures °C,
heater ``power`` a duty fraction 0..1.

The cloud stores a snapshot only when its ``seq`` is newer than the one it has.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from contract.envelope import Part, Payload


class PrinterState(StrEnum):
    """Klipper's ``print_stats.state``."""

    STANDBY = "standby"
    PRINTING = "printing"
    PAUSED = "paused"
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    ERROR = "error"


class LinkState(StrEnum):
    """The agent's link to the printer (serial), not to the broker."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    ERROR = "error"


class QueueState(StrEnum):
    """Moonraker's ``job_queue`` states.

    After a print the queue is ``paused`` until the operator says the bed is clear
    (``queue.start``), unless the printer profile clears the bed by itself.
    """

    READY = "ready"
    LOADING = "loading"
    STARTING = "starting"
    PAUSED = "paused"


class QueueSnapshot(Part):
    """The local job queue."""

    state: QueueState
    length: int = Field(ge=0, description="jobs waiting, not counting the one printing")


class JobProgress(Part):
    """The job on the printer (printing, paused, or just finished)."""

    job_id: str | None = None
    filename: str
    progress: float = Field(ge=0.0, le=1.0, description="fraction 0..1")
    print_duration: float = Field(ge=0.0, description="seconds spent printing (Klipper name)")
    filament_used: float = Field(ge=0.0, description="mm of filament extruded (Klipper name)")
    current_layer: int | None = Field(default=None, ge=0)
    total_layer: int | None = Field(default=None, ge=0)
    eta_s: float | None = Field(default=None, ge=0.0, description="seconds left, estimated")


class HeaterReading(Part):
    """One heater: ``actual`` and ``target`` in °C, ``power`` a duty fraction 0..1 when known."""

    actual: float
    target: float = Field(ge=0.0)
    power: float | None = Field(default=None, ge=0.0, le=1.0)


Temps = dict[str, HeaterReading]
"""Heater name (``tool0``, ``bed``, ``chamber`` ...) → reading."""


class StateSnapshot(Payload):
    """Everything a dashboard needs to draw one printer."""

    seq: int = Field(ge=0, description="per-printer persisted counter; higher is newer")
    link: LinkState
    printer_state: PrinterState
    message: str = ""
    queue: QueueSnapshot
    job: JobProgress | None = None
    temps: Temps = Field(default_factory=dict)
