"""`3dpot slice MODEL -o OUT.gcode`: the slicer's own command (it lives with the library in `slicing.cli`)."""

from __future__ import annotations

from slicing.cli import command

__all__ = ["command"]
