"""Hostile inputs built in memory: zip bombs shaped as 3MF, archives with thousands of entries or
``../`` entry names, and a closed cube as 3MF (the harmless payload they wrap)."""

from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib

CORE_NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
MIB = 1024 * 1024
UPLOAD_LIMIT_MB = 1
"""The upload limit the security suite gives the agent and the cloud it starts."""


def cube_model(size_mm: float = 10.0) -> bytes:
    """The 3MF model XML of a closed cube."""
    v = [(x, y, z) for x in (0.0, size_mm) for y in (0.0, size_mm) for z in (0.0, size_mm)]
    faces = [(0, 2, 1), (1, 2, 3), (4, 5, 6), (5, 7, 6), (0, 1, 4), (1, 5, 4),
             (2, 6, 3), (3, 6, 7), (0, 4, 2), (2, 4, 6), (1, 3, 5), (3, 7, 5)]  # fmt: skip
    verts = "".join(f'<vertex x="{x + 50}" y="{y + 50}" z="{z}"/>' for x, y, z in v)
    tris = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in faces)
    return (
        f'<model xmlns="{CORE_NS}" unit="millimeter"><resources><object id="1" type="model"><mesh>'
        f"<vertices>{verts}</vertices><triangles>{tris}</triangles></mesh></object></resources>"
        '<build><item objectid="1"/></build></model>'
    ).encode()


def cube_3mf(model_name: str = "3D/3dmodel.model", extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        archive.writestr(model_name, cube_model())
    return buf.getvalue()


def many_entries_3mf(entries: int) -> bytes:
    """A valid cube 3MF padded with ``entries`` empty parts."""
    return cube_3mf(extra={f"Metadata/pad{i:06d}.txt": b"" for i in range(entries)})


def zip_bomb_3mf(inflated_bytes: int, *, declared_bytes: int | None = None) -> bytes:
    """A 3MF whose ``3D/3dmodel.model`` is ``inflated_bytes`` of ``<`` deflated ~1000:1, built by
    streaming (never held whole). ``declared_bytes`` makes the zip headers lie about the size."""
    chunk = b"<" * MIB
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = bytearray()
    crc = 0
    for _ in range(inflated_bytes // MIB):
        body += compressor.compress(chunk)
        crc = zlib.crc32(chunk, crc)
    body += compressor.flush()
    size = inflated_bytes if declared_bytes is None else declared_bytes
    name = b"3D/3dmodel.model"
    dos_time, dos_date = _dos(time.localtime())
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, dos_time, dos_date, crc, len(body), size, len(name), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50, 20, 20, 0, 8, dos_time, dos_date, crc, len(body), size, len(name), 0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    directory_at = len(local) + len(name) + len(body)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(name), directory_at, 0)
    return local + name + bytes(body) + central + name + end


def _dos(t: time.struct_time) -> tuple[int, int]:
    return (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2), ((t.tm_year - 1980) << 9) | (
        t.tm_mon << 5
    ) | t.tm_mday


HOSTILE_NAMES: dict[str, bytes] = {
    "dotdot": b"../TOKEN.gcode",
    "deep-dotdot": b"../../../../../../tmp/TOKEN.gcode",
    "absolute": b"/etc/passwd",
    "absolute-gcode": b"/tmp/TOKEN.gcode",
    "nul": b"a\x00TOKEN.gcode",
    "nul-then-dotdot": b"x.gcode\x00/../../TOKEN.gcode",
    "backslashes": b"..\\..\\TOKEN.gcode",
    "drive": b"C:\\TOKEN.gcode",
    "drive-relative": b"C:TOKEN.gcode",
    "unc": b"\\\\server\\share\\TOKEN.gcode",
    "very-long": b"TOKEN" + b"x" * 4000 + b".gcode",
    "long-utf8": b"TOKEN" + "\u00e9".encode() * 1000 + b".gcode",
    "rtl-override": "TOKEN\u202eedocg.exe".encode(),
    "fullwidth-dotdot": "\uff0e\uff0e\uff0fTOKEN.gcode".encode(),
    "division-slash": "..\u2215..\u2215TOKEN.gcode".encode(),
    "zero-width": "..\u200b/TOKEN.gcode".encode(),
    "hidden": b".TOKEN.gcode",
    "dots-only": b"....gcode",
    "percent-encoded": b"%2e%2e%2fTOKEN.gcode",
    "double-dotdot": b"....//....//TOKEN.gcode",
    "newline": b"TOKEN\r\nX-Evil: 1.gcode",
    "reserved-device": b"CON.gcode",
    "invalid-utf8": b"\xff\xfeTOKEN.gcode",
}
"""File names a hostile client may put in a multipart ``filename``; ``TOKEN`` is replaced by a marker
unique to the test, so a file it lands anywhere can be found by name."""


def multipart(filename: bytes, data: bytes, boundary: str, **fields: str) -> bytes:
    """A ``multipart/form-data`` body written by hand, so the file name goes out byte for byte."""
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    out += f"--{boundary}\r\n".encode()
    out += b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
    out += b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)
