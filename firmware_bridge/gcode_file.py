"""Reading a G-code file for streaming: clean commands with their place in the file and layer.

Layers are found from the slicers' own markers: `;LAYER:n` (Cura, 3D Pot), `;LAYER_CHANGE`
(PrusaSlicer, OrcaSlicer, Bambu Studio) and `; layer n` (Simplify3D).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from firmware_bridge.protocol.framing import clean_line


@dataclass(frozen=True, slots=True)
class SourceLine:
    command: str
    file_line: int  # 0-based index of the line in the file
    end_offset: int  # byte offset just past this line
    layer: int  # 0-based layer index; -1 before the first layer marker


@dataclass(frozen=True, slots=True)
class GcodeSummary:
    commands: int
    size_bytes: int
    layers: int


def is_layer_marker(raw: bytes) -> bool:
    if not raw.startswith(b";"):
        return False
    text = raw[1:].lstrip()
    return text.startswith((b"LAYER:", b"LAYER_CHANGE")) or text[:6].lower() == b"layer "


def command_of(raw: bytes) -> str:
    if raw.startswith(b";") or not raw.strip():
        return ""
    return clean_line(raw.decode("ascii", "replace").replace("\ufffd", "?"))


def scan(path: Path) -> GcodeSummary:
    """Count commands and layers in one pass (fast enough for 100 MB files)."""
    commands = layers = 0
    with path.open("rb") as fh:
        for raw in fh:
            if raw.startswith(b";"):
                layers += is_layer_marker(raw)
            elif command_of(raw):
                commands += 1
    return GcodeSummary(commands=commands, size_bytes=path.stat().st_size, layers=layers)


def read(path: Path, start_line: int = 0) -> Iterator[SourceLine]:
    """Yield the commands of `path`, skipping file lines before `start_line` (layers still counted)."""
    layer = -1
    offset = 0
    with path.open("rb") as fh:
        for index, raw in enumerate(fh):
            offset += len(raw)
            if raw.startswith(b";"):
                if is_layer_marker(raw):
                    layer += 1
                continue
            if index < start_line:
                continue
            command = command_of(raw)
            if command:
                yield SourceLine(command, index, offset, layer)
