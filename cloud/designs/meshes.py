"""Built models by spec hash, kept for the next request (a turn, a download, a print, a render).

Building takes milliseconds to tens of milliseconds and runs off the event loop; the cache holds
the last ``max_items`` models (LRU) so a download right after a turn does not build again.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any, Final

from pydantic import TypeAdapter

from cloud.designs.conversation import spec_hash
from cloud.designs.geometry import DesignMesh, Printability, build, check_printability
from cloud.designs.geometry.printability import AnySpec

DEFAULT_MAX_ITEMS: Final = 64
_ADAPTER: TypeAdapter[AnySpec] = TypeAdapter(AnySpec)


def spec_model(spec: dict[str, Any]) -> AnySpec:
    return _ADAPTER.validate_python(spec)


class MeshCache:
    def __init__(self, max_items: int = DEFAULT_MAX_ITEMS) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, DesignMesh] = OrderedDict()

    async def mesh(self, spec: dict[str, Any]) -> DesignMesh:
        """The model of ``spec``; raises ``GeometryError`` when it cannot be built."""
        key = spec_hash(spec)
        cached = self._items.get(key)
        if cached is not None:
            self._items.move_to_end(key)
            return cached
        mesh = await asyncio.to_thread(build, spec_model(spec))
        self._items[key] = mesh
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)
        return mesh

    async def printability(
        self, spec: dict[str, Any], volume_mm: tuple[float, float, float] | None = None
    ) -> Printability:
        mesh = await self.mesh(spec)
        return check_printability(spec_model(spec), mesh, volume_mm=volume_mm)
