"""Reading meshes: STL (binary and ASCII), OBJ and 3MF into one plain form, a `Mesh` of numpy arrays.

Every reader returns triangles as found (STL gives a triangle soup: vertices are merged later by
`repair.repair`). Unreadable input raises a `MeshError` with a one-line message.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from slicing.errors import MeshError, TruncatedFile, UnsupportedFormat

if TYPE_CHECKING:
    import zipfile

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_STL_HEADER = 84
_STL_RECORD = np.dtype(
    [("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attr", "<u2")]
)  # 50 bytes a triangle
_FLOAT = rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_ASCII_VERTEX = re.compile(rb"vertex\s+(" + _FLOAT + rb")\s+(" + _FLOAT + rb")\s+(" + _FLOAT + rb")", re.I)
_3MF_CORE = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"


@dataclass(frozen=True, slots=True)
class Mesh:
    """A triangle mesh: ``vertices`` (n, 3) float64 mm, ``faces`` (m, 3) int64, CCW seen from outside."""

    vertices: FloatArray
    faces: IntArray

    @property
    def triangles(self) -> FloatArray:
        """(m, 3, 3) float64: the corners of every face."""
        return self.vertices[self.faces]

    @property
    def bounds(self) -> FloatArray:
        """(2, 3) float64: min and max corner (NaN-propagating)."""
        return np.array([self.vertices.min(axis=0), self.vertices.max(axis=0)])

    def volume_mm3(self) -> float:
        """Signed volume by the divergence theorem; positive when the faces are wound outward."""
        tri = self.triangles
        return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0)


def load(path: Path) -> Mesh:
    """Read ``path`` by its suffix (.stl, .obj, .3mf). Raises `MeshError` subclasses."""
    suffix = path.suffix.lower()
    readers = {".stl": read_stl, ".obj": read_obj, ".3mf": read_3mf}
    reader = readers.get(suffix)
    if reader is None:
        raise UnsupportedFormat(
            f"{path.name}: unsupported model format {suffix or '(none)'}; use STL, OBJ or 3MF"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MeshError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return reader(data, path.name)


def _soup(triangles: FloatArray) -> Mesh:
    """(m, 3, 3) corners → a mesh with 3m unmerged vertices."""
    count = len(triangles)
    return Mesh(
        triangles.reshape(-1, 3).astype(np.float64), np.arange(3 * count, dtype=np.int64).reshape(-1, 3)
    )


def read_stl(data: bytes, name: str = "model.stl") -> Mesh:
    """Binary or ASCII STL. Binary is recognised by its size (84 + 50 x count bytes) first."""
    if len(data) >= _STL_HEADER:
        count = int(np.frombuffer(data, "<u4", 1, 80)[0])
        if len(data) == _STL_HEADER + 50 * count:
            records = np.frombuffer(data, _STL_RECORD, count, _STL_HEADER)
            return _soup(records["vertices"].astype(np.float64))
    if data.lstrip()[:5].lower() == b"solid":
        return _read_ascii_stl(data, name)
    if len(data) < _STL_HEADER:
        raise TruncatedFile(f"{name}: truncated STL ({len(data)} bytes, shorter than the 84-byte header)")
    count = int(np.frombuffer(data, "<u4", 1, 80)[0])
    expected = _STL_HEADER + 50 * count
    if len(data) < expected:
        raise TruncatedFile(
            f"{name}: truncated STL: header says {count} triangles ({expected} bytes), file has {len(data)}"
        )
    # Trailing bytes after the records: some exporters pad; read what the header announces.
    records = np.frombuffer(data, _STL_RECORD, count, _STL_HEADER)
    return _soup(records["vertices"].astype(np.float64))


def _read_ascii_stl(data: bytes, name: str) -> Mesh:
    if b"endsolid" not in data[-4096:].lower():
        raise TruncatedFile(f"{name}: truncated ASCII STL (no 'endsolid' at the end)")
    found = _ASCII_VERTEX.findall(data)
    if len(found) % 3:
        raise TruncatedFile(f"{name}: ASCII STL has {len(found)} vertices, not a multiple of 3")
    coords = np.array(found, dtype=np.float64).reshape(-1, 3, 3) if found else np.zeros((0, 3, 3))
    return _soup(coords)


def read_obj(data: bytes, name: str = "model.obj") -> Mesh:
    """Wavefront OBJ: ``v`` and ``f`` records (polygons fan-triangulated, ``a/b/c`` and negative indices)."""
    vertices: list[list[float]] = []
    faces: list[list[int]] = []
    for raw in data.decode("utf-8", "replace").splitlines():
        parts = raw.split()
        if not parts:
            continue
        try:
            if parts[0] == "v":
                vertices.append([float(p) for p in parts[1:4]])
            elif parts[0] == "f":
                idx = [int(p.split("/")[0]) for p in parts[1:]]
                idx = [i - 1 if i > 0 else len(vertices) + i for i in idx]
                faces.extend([idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1))
        except ValueError:
            raise MeshError(f"{name}: unreadable OBJ line {raw.strip()[:40]!r}") from None
    if any(len(v) != 3 for v in vertices):
        raise TruncatedFile(f"{name}: OBJ vertex with fewer than 3 coordinates")
    verts = np.array(vertices, dtype=np.float64).reshape(-1, 3)
    tris = np.array(faces, dtype=np.int64).reshape(-1, 3)
    if len(tris) and (tris.min() < 0 or tris.max() >= len(verts)):
        raise MeshError(f"{name}: OBJ face refers to a vertex that does not exist")
    return Mesh(verts, tris)


def _transform(text: str | None) -> FloatArray:
    """3MF ``transform`` (12 numbers, column-major 3x4) → (4, 4) float64."""
    matrix = np.eye(4)
    if text:
        values = np.array(text.split(), dtype=np.float64)
        if values.size != 12:
            raise MeshError(f"3MF transform with {values.size} values, expected 12")
        matrix[:3, :] = values.reshape(4, 3).T
    return matrix


MAX_3MF_ENTRIES = 1_000
"""A 3MF holds a handful of parts (model, rels, thumbnails, slicer settings); thousands is an attack."""
MAX_3MF_MODEL_BYTES = 256 * 1024 * 1024
"""The model XML is inflated at most this far (a zip bomb stops here, not at the end of memory);
about 2 million triangles, far beyond what a desktop printer's model holds."""
_INFLATE_CHUNK = 1024 * 1024


def _read_model_part(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str) -> bytes:
    """The bytes of ``member``, inflated chunk by chunk and refused past `MAX_3MF_MODEL_BYTES` (the
    declared size is checked first, but it can lie: the count of bytes actually inflated decides)."""
    too_large = MeshError(
        f"{name}: the 3MF model part {member.filename!r} inflates to more than "
        f"{MAX_3MF_MODEL_BYTES // (1024 * 1024)} MiB"
    )
    if member.file_size > MAX_3MF_MODEL_BYTES:
        raise too_large
    out = bytearray()
    with archive.open(member) as stream:
        while chunk := stream.read(_INFLATE_CHUNK):
            out += chunk
            if len(out) > MAX_3MF_MODEL_BYTES:
                raise too_large
    return bytes(out)


def read_3mf(data: bytes, name: str = "model.3mf") -> Mesh:
    """3MF: every build item's object (and its components), with transforms applied, merged into one mesh.

    Nothing is extracted to disk (entry names, ``../`` included, are only compared); the archive may
    hold at most `MAX_3MF_ENTRIES` entries and its model part inflates to at most `MAX_3MF_MODEL_BYTES`.
    """
    # Imported here: zipfile and the XML parser cost ~6 ms at every start, and only a 3MF needs them.
    import zipfile  # noqa: PLC0415 - see above
    from xml.etree import ElementTree  # noqa: PLC0415

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MAX_3MF_ENTRIES:
                raise MeshError(f"{name}: 3MF with {len(members)} entries (at most {MAX_3MF_ENTRIES})")
            model = next((m for m in members if m.filename.lower().endswith(".model")), None)
            if model is None:
                raise MeshError(f"{name}: 3MF without a .model part")
            root = ElementTree.fromstring(_read_model_part(archive, model, name))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error):
        raise TruncatedFile(f"{name}: not a readable 3MF (zip) archive") from None
    except ElementTree.ParseError as exc:
        raise MeshError(f"{name}: unreadable 3MF model XML: {exc}") from None
    ns = {"m": _3MF_CORE}
    objects = {obj.get("id"): obj for obj in root.iterfind("m:resources/m:object", ns)}
    parts: list[Mesh] = []

    def add(object_id: str | None, matrix: FloatArray, depth: int) -> None:
        obj = objects.get(object_id)
        if obj is None or depth > 8:
            raise MeshError(f"{name}: 3MF refers to a missing object {object_id}")
        mesh = obj.find("m:mesh", ns)
        if mesh is not None:
            verts = np.array(
                [[float(v.get(k, "nan")) for k in "xyz"] for v in mesh.iterfind("m:vertices/m:vertex", ns)],
                dtype=np.float64,
            ).reshape(-1, 3)
            tris = np.array(
                [
                    [int(t.get(k, "-1")) for k in ("v1", "v2", "v3")]
                    for t in mesh.iterfind("m:triangles/m:triangle", ns)
                ],
                dtype=np.int64,
            ).reshape(-1, 3)
            if len(tris) and (tris.min() < 0 or tris.max() >= len(verts)):
                raise MeshError(f"{name}: 3MF triangle refers to a vertex that does not exist")
            placed = verts @ matrix[:3, :3].T + matrix[:3, 3]
            parts.append(Mesh(placed, tris))
        for comp in obj.iterfind("m:components/m:component", ns):
            add(comp.get("objectid"), matrix @ _transform(comp.get("transform")), depth + 1)

    for item in root.iterfind("m:build/m:item", ns):
        add(item.get("objectid"), _transform(item.get("transform")), 0)
    return merge(parts)


def merge(parts: list[Mesh]) -> Mesh:
    """Concatenate meshes (vertex indices shifted)."""
    if not parts:
        return Mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    return Mesh(
        np.concatenate([p.vertices for p in parts]),
        np.concatenate([p.faces + off for p, off in zip(parts, offsets, strict=True)]),
    )


def write_stl(mesh: Mesh, path: Path) -> None:
    """Binary STL (used by the benchmark and tests to hand the same mesh to every slicer)."""
    tri = mesh.triangles.astype(np.float32)
    records = np.zeros(len(tri), dtype=_STL_RECORD)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    records["normal"] = normals / np.where(lengths > 0, lengths, 1)
    records["vertices"] = tri
    header = b"3D Pot binary STL".ljust(80, b" ")
    path.write_bytes(header + np.uint32(len(tri)).tobytes() + records.tobytes())
