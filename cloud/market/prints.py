""" "Print this": a buyer's farm job made from a listing's file, marked with the listing.

The listing's G-code is copied into the buyer's job key (``cloud.jobs.intake.file_key``), so the
job keeps its file whatever the seller later does to the listing. A mesh is sliced through the
farm queue's slicer seam (``JobsRuntime.slicer``), as a mesh upload would be; without a slicer it
is a 422. ``printer_id`` (a printer of the buyer's) makes the job need that printer's material and
nozzle and puts every other printer of the organisation last. The job's ``listing_id`` is what the
royalty hook (``cloud.market.royalties``) looks for when the dispatcher offers it.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db import new_id
from cloud.errors import NotFound
from cloud.files import Files
from cloud.files.storage import READ_CHUNK_BYTES, FileMissing, StoredFile, sanitise_filename
from cloud.jobs.intake import Unprocessable, file_key
from cloud.jobs.lifecycle import JobsRuntime
from cloud.jobs.models import Job, JobState
from cloud.jobs.slicer import NO_SLICER_MESSAGE, SliceOptions, is_mesh
from cloud.market.entitlements import require_entitled
from cloud.market.models import Listing
from cloud.printers.models import Printer
from cloud.services import CloudServices
from cloud.users.auth import Principal


async def _copy(files: Files, source: str, target: str, max_bytes: int) -> StoredFile:
    read = await files.storage.read(source)
    writer = await files.storage.writer(target, max_bytes=max_bytes)
    try:
        async for chunk in read.chunks:
            await writer.write(chunk)
        return await writer.commit()
    except BaseException:
        await writer.abort()
        raise


async def _slice(
    runtime: JobsRuntime,
    listing: Listing,
    target_stem: str,
    key_of: str,
    options: SliceOptions,
    max_bytes: int,
) -> tuple[StoredFile, str, float, float]:
    if runtime.slicer is None:
        raise Unprocessable(NO_SLICER_MESSAGE, code="slicing_unavailable")
    assert listing.file_key is not None and listing.file_name is not None
    workdir = Path(tempfile.mkdtemp(prefix="3dpot-market-"))
    try:
        mesh = workdir / sanitise_filename(listing.file_name)
        read = await runtime.files.storage.read(listing.file_key)
        with mesh.open("wb") as handle:
            async for chunk in read.chunks:
                await asyncio.to_thread(handle.write, chunk)
        try:
            sliced = await runtime.slicer.slice(mesh, workdir, options)
        except ValueError as exc:
            raise Unprocessable(f"the mesh could not be sliced: {exc}", code="slicing_failed") from None
        name = sanitise_filename(target_stem + ".gcode")
        writer = await runtime.files.storage.writer(key_of + name, max_bytes=max_bytes)
        try:
            with sliced.gcode_path.open("rb") as handle:
                while chunk := await asyncio.to_thread(handle.read, READ_CHUNK_BYTES):
                    await writer.write(chunk)
            stored = await writer.commit()
        except BaseException:
            await writer.abort()
            raise
        return stored, name, sliced.est_print_s, sliced.filament_mm
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def print_listing(
    session: AsyncSession,
    services: CloudServices,
    runtime: JobsRuntime,
    principal: Principal,
    listing: Listing,
    printer_id: str | None,
) -> Job:
    """A queued job (added and flushed, not committed) printing ``listing`` in the caller's organisation."""
    await require_entitled(session, listing, principal.org_id, "print")
    if listing.file_key is None or listing.file_name is None:
        raise Unprocessable(
            "this listing has no printable file yet (a parametric design is not generated here)",
            code="no_printable_file",
        )
    material: str | None = None
    nozzle_mm: float | None = None
    avoid: list[str] = []
    if printer_id is not None:
        printers = list(
            (await session.execute(select(Printer).where(Printer.org_id == principal.org_id))).scalars()
        )
        chosen = next((p for p in printers if p.pid == printer_id), None)
        if chosen is None:
            raise NotFound(f"no printer {printer_id!r}", code="printer_not_found")
        material, nozzle_mm = chosen.material, chosen.nozzle_mm
        avoid = sorted(p.pid for p in printers if p.pid != printer_id)
    job_id = new_id()
    max_bytes = int(services.settings.storage.max_upload_mb * 1024 * 1024)
    est_print_s = filament_mm = 0.0
    try:
        if is_mesh(listing.file_name):
            stem = Path(listing.file_name).stem
            stored, name, est_print_s, filament_mm = await _slice(
                runtime,
                listing,
                stem,
                file_key(principal.org_id, job_id, ""),
                SliceOptions(nozzle_mm=nozzle_mm, material=material),
                max_bytes,
            )
        else:
            name = listing.file_name
            stored = await _copy(
                runtime.files, listing.file_key, file_key(principal.org_id, job_id, name), max_bytes
            )
    except FileMissing:
        raise Unprocessable("the listing's file is missing from storage", code="file_missing") from None
    now = services.now()
    job = Job(
        id=job_id,
        org_id=principal.org_id,
        filename=name,
        file_key=stored.key,
        sha256=stored.sha256,
        size_bytes=stored.size,
        est_print_s=est_print_s,
        filament_mm=filament_mm,
        material=material,
        nozzle_mm=nozzle_mm,
        tags=[],
        priority=0,
        state=JobState.QUEUED.value,
        revision=1,
        offer_attempts=0,
        avoid_printers=avoid,
        created_by=principal.id if principal.kind == "user" else None,
        listing_id=listing.id,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.flush()
    return job
