"""Every error the slicer raises for bad input, one tree (each message is one line, fit for a CLI):

SliceError
 ├── MeshError                 the model file or its geometry cannot be sliced
 │    ├── UnsupportedFormat    not STL, OBJ or 3MF
 │    ├── TruncatedFile        the file ends before its header says it should
 │    ├── EmptyMesh            no triangles (or none left after removing degenerate ones)
 │    ├── BadVertices          NaN or infinite coordinates
 │    └── ZeroVolume           flat or open beyond repair: nothing to print
 ├── DoesNotFit                the placed model is larger than the bed or the build height
 └── ProfileError             a printer/print profile file or option is unreadable or out of range

Bugs are not mapped: anything else that propagates is a defect in the slicer.
"""

from __future__ import annotations


class SliceError(Exception):
    """Base of every error the slicer raises for bad input; ``str()`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class MeshError(SliceError):
    pass


class UnsupportedFormat(MeshError):
    pass


class TruncatedFile(MeshError):
    pass


class EmptyMesh(MeshError):
    pass


class BadVertices(MeshError):
    pass


class ZeroVolume(MeshError):
    pass


class DoesNotFit(SliceError):
    pass


class ProfileError(SliceError):
    pass
