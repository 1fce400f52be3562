"""The ``info`` topic: what a printer is, published retained on connect and on change."""

from __future__ import annotations

from pydantic import Field

from contract.envelope import Part, Payload


class BuildVolume(Part):
    """The printable volume."""

    x_mm: float = Field(gt=0)
    y_mm: float = Field(gt=0)
    z_mm: float = Field(gt=0)


class PrinterInfo(Payload):
    """Static-ish facts about one printer and its agent.

    ``capabilities`` are free-form feature flags (for example ``"gcode"``, ``"auto_bed_clear"``,
    ``"homeassistant"``): a peer acts on the ones it knows and ignores the rest.
    ``heaters`` are the names used as keys of ``temps`` in ``state`` and ``tele``.
    """

    model: str = Field(min_length=1, description="printer model, e.g. 'Prusa MK4'")
    firmware: str = Field(description="firmware name and version, e.g. 'Marlin 2.1.2.1'")
    agent_version: str = Field(min_length=1)
    boot_id: str = Field(min_length=1, description="changes on every agent start")
    capabilities: tuple[str, ...] = ()
    heaters: tuple[str, ...] = ()
    build_volume: BuildVolume | None = None
    nozzle_diameter_mm: float | None = Field(default=None, gt=0)
    material: str | None = Field(default=None, description="loaded material, e.g. 'PLA'")
