"""Upload file names: what a slicer or a browser sends → a name safe to keep in the agent's files folder.

`sanitise_filename` keeps the readable basename a slicer sends (`Shape-Box_0.2mm_PLA_MK4_1h2m.gcode`) and
makes it safe, in this order:

1. only the last path component counts (`/` and `\\` both separate), so `../../x.gcode` is `x.gcode`;
2. NFC normalisation; a control character (NUL, newline, tab, DEL, C1) refuses the name, since no slicer
   sends one; invisible format characters (bidi overrides such as U+202E, zero-width spaces) are dropped
   so a name cannot pretend to end in something else;
3. characters Windows and SMB shares forbid (`<>:"|?*`) become `_`; leading dots and spaces go (a name
   never starts with a dot: the agent's own temporary files do), trailing dots and spaces go;
4. the extension must be a text G-code one (`GCODE_EXTENSIONS`), compared without case, kept lower-case;
5. a `folder` (OctoPrint's `path` field) is flattened into the name: `prints/box` + `a.gcode` →
   `prints_box_a.gcode` (the agent keeps one flat folder; refusing would break slicers whose users typed
   a folder, dropping it would let two folders' files replace each other);
6. a Windows reserved device name (`CON`, `NUL`, `COM1` ... ) gets a `_` prefix;
7. the name is cut to `MAX_NAME_BYTES` of UTF-8 (ext4 allows 255; the rest is headroom for the core),
   keeping the extension.

A refused name raises `Invalid` (400) with a message a person can act on.
"""

from __future__ import annotations

import re
import unicodedata

from edge_agent.errors import Invalid

GCODE_EXTENSIONS = (".gcode", ".gco", ".g")
"""Text G-code only. Binary G-code (`.bgcode`, PrusaSlicer's default for MK4/XL/MINI) is refused: the
streamer sends text lines to Marlin and the agent has no bgcode decoder; PrusaSlicer can turn it off
(Printer Settings → General → Supports binary G-code)."""

MAX_NAME_BYTES = 200
TEMP_PREFIX = ".upload-"
"""Prefix of the temporary files an upload streams into (inside the files folder). No sanitised name
starts with a dot, so the core may sweep `.upload-*` left by a crash at startup."""

_FORBIDDEN = re.compile(r'[<>:"|?*]')
_SEPARATORS = re.compile(r"[/\\]")
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
)


def sanitise_filename(raw: str, folder: str = "") -> str:
    """The stored name for an uploaded file called `raw`, placed in OctoPrint folder `folder`."""
    base = _clean_component(_SEPARATORS.split(raw)[-1]).strip(" ").rstrip(". ")
    if not base:
        raise Invalid("the file has no name")
    dot = base.rfind(".")
    ext = base[dot:].lower() if dot >= 0 else ""
    if ext == ".bgcode":
        raise Invalid(
            f"{base!r} is binary G-code, which this printer host does not stream: "
            "turn off binary G-code in the slicer's printer settings"
        )
    if ext not in GCODE_EXTENSIONS:
        raise Invalid(f"{base!r} is not a G-code file: accepted extensions are {', '.join(GCODE_EXTENSIONS)}")
    stem = base[:dot].strip(". ")
    if not stem:
        raise Invalid(f"{base!r} has no name before the extension")
    folders = (_clean_component(part).strip(". ") for part in _SEPARATORS.split(folder))
    prefix = "_".join(part for part in folders if part)
    if prefix:
        stem = f"{prefix}_{stem}"
    if stem.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        stem = "_" + stem
    stem = _cut_utf8(stem, MAX_NAME_BYTES - len(ext.encode()))
    return stem + ext


def is_plain_name(name: str) -> bool:
    """Whether `name` (from a URL) can be a stored file's name: one component, visible, not hidden.

    Looser than `sanitise_filename` on purpose: files the core stored by another road stay reachable."""
    return (
        bool(name)
        and not name.startswith(".")
        and _SEPARATORS.search(name) is None
        and not any(unicodedata.category(c) in ("Cc", "Cs") for c in name)
    )


def _clean_component(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs"):
            raise Invalid(f"the file name contains a control character ({char!a})")
        if category != "Cf":
            kept.append(char)
    return _FORBIDDEN.sub("_", "".join(kept))


def _cut_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode(errors="ignore").rstrip(". ")
