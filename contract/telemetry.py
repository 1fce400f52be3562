"""The ``tele`` topic: light, lossy (QoS 0, not retained) samples, 1 Hz printing and 0.1 Hz idle."""

from __future__ import annotations

from pydantic import Field

from contract.envelope import Payload
from contract.state import Temps


class Telemetry(Payload):
    """One sample; ``progress`` is a fraction 0..1, ``layer`` the current layer, both absent when idle."""

    seq: int = Field(ge=0)
    temps: Temps = Field(default_factory=dict)
    progress: float | None = Field(default=None, ge=0.0, le=1.0)
    layer: int | None = Field(default=None, ge=0)
