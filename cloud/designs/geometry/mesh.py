"""The built model: a triangle mesh with named parts, its measures, and its export to STL and 3MF.

Pure data: :class:`DesignMesh` holds arrays, never a manifold3d object, so it pickles, compares and
crosses process boundaries; :func:`from_manifold` is the one seam from the geometry kernel.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from manifold3d import Manifold

Point3 = tuple[float, float, float]
PartBounds = tuple[Point3, Point3]

_STL_FACET = np.dtype(
    [("normal", "<f4", (3,)), ("v", "<f4", (3, 3)), ("attr", "<u2")],
)

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>'
    "</Types>\n"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
    'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>'
    "</Relationships>\n"
)
_MODEL_NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"


@dataclass(frozen=True, eq=False)
class DesignMesh:
    """A closed triangle mesh in mm, placed on the bed (min z = 0) and centred on x/y = 0.

    ``vertices`` (n, 3) float64, ``faces`` (m, 3) int64 counter-clockwise seen from outside,
    ``parts`` each named part's bounding box ``((min x, y, z), (max x, y, z))``.
    """

    vertices: np.ndarray
    faces: np.ndarray
    parts: dict[str, PartBounds] = field(default_factory=dict)

    @cached_property
    def triangles(self) -> np.ndarray:
        """(m, 3, 3) float64 corner coordinates of every face."""
        tri: np.ndarray = self.vertices[self.faces]
        return tri

    @cached_property
    def face_normals(self) -> np.ndarray:
        """(m, 3) float64 unit outward normals (zero for degenerate faces)."""
        tri = self.triangles
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        length = np.linalg.norm(n, axis=1, keepdims=True)
        unit: np.ndarray = np.divide(n, length, out=np.zeros_like(n), where=length > 0)
        return unit

    @cached_property
    def face_areas(self) -> np.ndarray:
        """(m,) float64 area of every face, mm²."""
        tri = self.triangles
        areas: np.ndarray = 0.5 * np.linalg.norm(
            np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1
        )
        return areas

    @property
    def volume_mm3(self) -> float:
        """Enclosed volume (divergence theorem over the faces), mm³."""
        tri = self.triangles
        return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0)

    @property
    def bounds(self) -> np.ndarray:
        """(2, 3) float64: min and max corner of the whole mesh."""
        return np.array([self.vertices.min(axis=0), self.vertices.max(axis=0)])

    @property
    def is_watertight(self) -> bool:
        """Every edge is shared by exactly two faces, once in each direction."""
        if len(self.faces) == 0:
            return False
        n = np.int64(len(self.vertices))
        a = self.faces.astype(np.int64)
        heads = np.concatenate([a[:, 0], a[:, 1], a[:, 2]])
        tails = np.concatenate([a[:, 1], a[:, 2], a[:, 0]])
        forward = np.sort(heads * n + tails)
        if np.any(forward[1:] == forward[:-1]):
            return False  # a directed edge used twice: three faces on it, or a flipped face
        backward = np.sort(tails * n + heads)
        return bool(np.array_equal(forward, backward))

    def stl_bytes(self) -> bytes:
        """Binary STL (little-endian float32, one normal per facet)."""
        facets = np.zeros(len(self.faces), dtype=_STL_FACET)
        facets["normal"] = self.face_normals
        facets["v"] = self.triangles
        head = b"3D Pot design studio".ljust(80, b" ")
        return head + np.uint32(len(self.faces)).tobytes() + facets.tobytes()

    def threemf_bytes(self) -> bytes:
        """A 3MF package (one object, unit millimetre) as zip bytes."""
        verts = "".join(
            f'<vertex x="{x:.5f}" y="{y:.5f}" z="{z:.5f}"/>' for x, y, z in self.vertices.tolist()
        )
        tris = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in self.faces.tolist())
        model = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<model unit="millimeter" xml:lang="en-US" xmlns="{_MODEL_NS}">'
            '<metadata name="Application">3D Pot design studio</metadata>'
            '<resources><object id="1" type="model"><mesh>'
            f"<vertices>{verts}</vertices><triangles>{tris}</triangles>"
            '</mesh></object></resources><build><item objectid="1"/></build></model>\n'
        )
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("[Content_Types].xml", _CONTENT_TYPES)
            z.writestr("_rels/.rels", _RELS)
            z.writestr("3D/3dmodel.model", model)
        return out.getvalue()


def from_manifold(solid: Manifold, parts: dict[str, PartBounds]) -> DesignMesh:
    """The arrays of a manifold3d solid (vertex positions merged, so edges are shared)."""
    mesh = solid.to_mesh64()
    vertices = np.ascontiguousarray(np.asarray(mesh.vert_properties)[:, :3], dtype=np.float64)
    faces = np.ascontiguousarray(np.asarray(mesh.tri_verts), dtype=np.int64)
    return DesignMesh(vertices, faces, parts)


def part_bounds(solid: Manifold) -> PartBounds:
    """The bounding box of a manifold as ``((min x, y, z), (max x, y, z))``."""
    x0, y0, z0, x1, y1, z1 = (float(v) for v in solid.bounding_box())
    return (x0, y0, z0), (x1, y1, z1)
