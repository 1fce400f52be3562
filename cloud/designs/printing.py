"""A design → a farm job: build the model, check it prints, slice it and queue it through the jobs intake.

The STL goes through ``cloud.jobs.intake.Intake`` exactly as an uploaded mesh does (a multipart body
made here), so slicing, storage, naming and the job row are the farm queue's own. A design whose
printability has an error (too thin, too big for the chosen printer) is refused with the reasons.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.designs.geometry import GeometryError
from cloud.designs.lifecycle import DesignsRuntime
from cloud.designs.models import DesignSession
from cloud.designs.schemas import PrintIn
from cloud.errors import Conflict, NotFound
from cloud.jobs.intake import Intake, Unprocessable
from cloud.jobs.lifecycle import JobsRuntime
from cloud.jobs.models import Job
from cloud.jobs.slicer import NO_SLICER_MESSAGE
from cloud.printers.models import Printer


def multipart(filename: str, data: bytes, fields: dict[str, str]) -> tuple[str, bytes]:
    """``(content type, body)`` of a ``multipart/form-data`` form with one ``file`` part."""
    boundary = f"design-{secrets.token_hex(12)}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: model/stl\r\n\r\n".encode()
    )
    body = b"".join(parts) + data + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


async def _chunks(body: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def print_design(
    session: AsyncSession,
    designs: DesignsRuntime,
    jobs: JobsRuntime,
    design: DesignSession,
    body: PrintIn,
    created_by: str | None,
    max_bytes: int,
) -> Job:
    """A queued job (not yet added to the session) printing ``design``'s current spec."""
    if design.spec is None:
        raise Conflict("this session has no design yet: describe one first", code="no_design")
    if jobs.slicer is None:
        raise Unprocessable(NO_SLICER_MESSAGE, code="slicing_unavailable")
    material, nozzle_mm, volume = body.material, body.nozzle_mm, None
    if body.printer_id is not None:
        printer = await session.get(Printer, body.printer_id)
        if printer is None or printer.org_id != design.org_id:
            raise NotFound(f"no printer {body.printer_id}", code="printer_not_found")
        material = material or printer.material
        nozzle_mm = nozzle_mm or printer.nozzle_mm
        if printer.build_x_mm and printer.build_y_mm and printer.build_z_mm:
            volume = (printer.build_x_mm, printer.build_y_mm, printer.build_z_mm)
    try:
        mesh = await designs.meshes.mesh(design.spec)
    except GeometryError as exc:
        raise Unprocessable(f"the design cannot be built: {exc}", code="not_buildable") from None
    verdict = await designs.meshes.printability(design.spec, volume)
    errors = [issue.message for issue in verdict.issues if issue.severity == "error"]
    if errors:
        raise Unprocessable("the design cannot be printed: " + "; ".join(errors), code="not_printable")
    fields = {"priority": str(body.priority)}
    if material is not None:
        fields["material"] = material
    if nozzle_mm is not None:
        fields["nozzle_mm"] = f"{nozzle_mm:g}"
    family = str(design.spec["family"]).replace("_", "-")
    filename = f"{family}-{design.id[:8]}-v{design.version}.stl"
    content_type, data = multipart(filename, mesh.stl_bytes(), fields)
    intake = Intake(files=jobs.files, slicer=jobs.slicer, max_bytes=max_bytes)
    return await intake.receive(design.org_id, content_type, _chunks(data), created_by)
