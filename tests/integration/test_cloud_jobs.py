"""The farm queue's API and dispatcher on a real database (SQLite and PostgreSQL), without a broker.

The dispatcher loop is off (``jobs.dispatcher = false``): tests run rounds themselves and play
the agent's acks and events through the tracker, as the ingest would call it.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cloud.db import utcnow
from cloud.fleet.hooks import IngestedAck, IngestedEvent
from cloud.fleet.models import CommandAck, FleetEvent, PrinterStateRow
from cloud.jobs.lifecycle import JobsRuntime
from cloud.jobs.models import Job, JobCommand
from contract.acks import Ack, AckStatus
from contract.events import Event, EventType
from tests.fixtures.cloud import CloudFactory, CloudHarness

pytestmark = pytest.mark.integration

GCODE = b"; a tiny print\nG28\nG1 X10 Y10 F3000\n" * 50
HOURS = timedelta(hours=1)


def runtime(cloud: CloudHarness) -> JobsRuntime:
    value = cloud.app.state.jobs
    assert isinstance(value, JobsRuntime)
    return value


async def make_cloud(cloud_factory: CloudFactory, **overrides: Any) -> CloudHarness:
    return await cloud_factory(jobs={"dispatcher": False, **overrides.pop("jobs", {})}, **overrides)


async def upload(
    cloud: CloudHarness,
    headers: dict[str, str] | None = None,
    *,
    name: str = "part.gcode",
    data: bytes = GCODE,
    **fields: Any,
) -> Any:
    response = await cloud.client.post(
        "/api/jobs",
        files={"file": (name, data, "application/octet-stream")},
        data={k: str(v) for k, v in fields.items()},
        headers=headers or cloud.admin_headers,
    )
    return response


async def printer(
    cloud: CloudHarness, material: str, nozzle: float, *, state: str = "standby", **kw: Any
) -> str:
    enrolled = await cloud.enrol(
        material=material,
        nozzle_mm=nozzle,
        build_volume={"x_mm": 220, "y_mm": 220, "z_mm": 250},
        **kw,
    )
    pid: str = enrolled["printer_id"]
    async with cloud.services.database.session() as session:
        session.add(
            PrinterStateRow(
                printer_id=pid,
                seq=1,
                printer_state=state,
                link="connected",
                queue_state="ready",
                queue_length=0,
                snapshot={},
                online=True,
                updated_at=utcnow(),
            )
        )
        await session.commit()
    return pid


async def job_row(cloud: CloudHarness, job_id: str) -> Job:
    async with cloud.services.database.session() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def offers_of(cloud: CloudHarness, job_id: str) -> list[JobCommand]:
    async with cloud.services.database.session() as session:
        rows = await session.execute(
            select(JobCommand).where(JobCommand.job_id == job_id, JobCommand.verb == "job.offer")
        )
        return list(rows.scalars())


def ack(cmd_id: str, status: AckStatus, code: str | None = None) -> Ack:
    return Ack(ts=1, cmd_id=cmd_id, status=status, code=code)


async def test_upload_list_read_and_download_by_signed_url(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory)
    created = await upload(
        cloud, name="../evil dir/Part v2.gcode", material="PETG", nozzle_mm=0.6, tags="a, b", priority=3
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["filename"] == "Part_v2.gcode"
    assert job["state"] == "queued"
    assert job["sha256"] == hashlib.sha256(GCODE).hexdigest() and job["size_bytes"] == len(GCODE)
    assert job["requirements"] == {
        "material": "PETG",
        "nozzle_mm": 0.6,
        "min_build_volume": None,
        "tags": ["a", "b"],
    }
    listed = (
        await cloud.client.get("/api/jobs", params={"state": "queued"}, headers=cloud.admin_headers)
    ).json()
    assert [j["id"] for j in listed] == [job["id"]]
    assert (
        await cloud.client.get("/api/jobs", params={"state": "printing"}, headers=cloud.admin_headers)
    ).json() == []
    detail = (await cloud.client.get(f"/api/jobs/{job['id']}", headers=cloud.admin_headers)).json()
    assert detail["history"] == [] and detail["commands"] == []

    row = await job_row(cloud, job["id"])
    files = runtime(cloud).files
    url = files.signer.url(row.file_key, cloud.now())
    path = url.removeprefix(cloud.settings.public_base_url)
    whole = await cloud.client.get(path)  # no user credentials: the signature is the credential
    assert whole.status_code == 200 and whole.content == GCODE
    part = await cloud.client.get(path, headers={"Range": "bytes=100-"})
    assert part.status_code == 206 and part.content == GCODE[100:]
    assert part.headers["content-range"] == f"bytes 100-{len(GCODE) - 1}/{len(GCODE)}"
    assert (await cloud.client.get(path, headers={"Range": f"bytes={len(GCODE)}-"})).status_code == 416

    tampered = path.replace("sig=", "sig=0")
    assert (await cloud.client.get(tampered)).status_code == 403
    other_key = path.replace(row.file_key, row.file_key + "x")
    assert (await cloud.client.get(other_key)).status_code == 403
    assert (await cloud.client.get(path.split("?")[0])).status_code == 401
    cloud.advance(cloud.settings.storage.download_url_ttl_s + 1)
    expired = await cloud.client.get(path)
    assert expired.status_code == 403 and expired.json()["message"] == "the download link has expired"


async def test_uploads_are_capped_checked_and_meshes_need_a_slicer(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory, storage={"max_upload_mb": 0.001})
    too_big = await upload(cloud, data=b"G1 X1\n" * 1000)
    assert too_big.status_code == 413 and too_big.json()["code"] == "file_too_large"
    files_dir = cloud.settings.data_dir / "files"
    assert [p for p in files_dir.rglob("*") if p.is_file()] == []  # nothing half-stored is left
    empty_mesh = await upload(cloud, name="cube.stl", data=b"solid cube\nendsolid cube\n")
    assert empty_mesh.status_code == 422 and empty_mesh.json()["code"] == "slicing_failed"
    runtime(cloud).slicer = None  # a cloud without the slicer refuses meshes before reading them
    mesh = await upload(cloud, name="cube.stl", data=b"solid cube\nendsolid cube\n")
    assert mesh.status_code == 422
    assert mesh.json()["message"] == "mesh slicing is not available yet; upload G-code"
    assert (await upload(cloud, name="notes.txt", data=b"hi")).status_code == 422
    bad_field = await upload(cloud, data=b"G28\n", nozzle_mm=-1)
    assert bad_field.status_code == 422 and bad_field.json()["errors"][0]["loc"][:2] == ["body", "nozzle_mm"]
    no_file = await cloud.client.post("/api/jobs", data={"priority": "1"}, headers=cloud.admin_headers)
    assert no_file.status_code == 400
    assert (await cloud.client.get("/api/jobs", headers=cloud.admin_headers)).json() == []


def cube_stl(size_mm: float = 10.0) -> bytes:
    """A closed cube as binary STL (12 triangles)."""
    v = [(x, y, z) for x in (0.0, size_mm) for y in (0.0, size_mm) for z in (0.0, size_mm)]
    faces = [(0, 2, 1), (1, 2, 3), (4, 5, 6), (5, 7, 6), (0, 1, 4), (1, 5, 4),
             (2, 6, 3), (3, 6, 7), (0, 4, 2), (2, 4, 6), (1, 3, 5), (3, 7, 5)]  # fmt: skip
    out = bytearray(b"\0" * 80) + struct.pack("<I", len(faces))
    for a, b, c in faces:
        out += struct.pack("<3f", 0.0, 0.0, 0.0)
        for index in (a, b, c):
            out += struct.pack("<3f", *v[index])
        out += b"\0\0"
    return bytes(out)


async def test_a_mesh_upload_is_sliced_into_a_job_with_its_estimates(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory)
    response = await upload(cloud, name="cube.stl", data=cube_stl(), material="PETG", nozzle_mm=0.6)
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["filename"] == "cube.gcode"
    assert job["est_print_s"] > 0 and job["filament_mm"] > 0
    row = await job_row(cloud, job["id"])
    stored = [p for p in (cloud.settings.data_dir / "files").rglob("*.gcode")]
    assert len(stored) == 1 and row.sha256 == hashlib.sha256(stored[0].read_bytes()).hexdigest()
    text = stored[0].read_text()
    assert ";LAYER:0" in text and "M109 S240" in text, "PETG temperatures, sliced for this job"


async def test_organisations_are_isolated_and_viewers_cannot_command(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory)
    pid = await printer(cloud, "PLA", 0.4)
    job = (await upload(cloud)).json()
    _, other = await cloud.add_organisation("Org B")
    for method, url in [
        ("GET", f"/api/jobs/{job['id']}"),
        ("PATCH", f"/api/jobs/{job['id']}"),
        ("POST", f"/api/jobs/{job['id']}/cancel"),
        ("POST", f"/api/printers/{pid}/commands/pause"),
    ]:
        response = await cloud.client.request(
            method, url, json={} if method == "PATCH" else None, headers=other
        )
        assert response.status_code == 404, (method, url, response.text)
    assert (await cloud.client.get("/api/jobs", headers=other)).json() == []
    sent = await cloud.client.post(f"/api/printers/{pid}/commands/pause", headers=cloud.admin_headers)
    assert (
        await cloud.client.get(f"/api/commands/{sent.json()['cmd_id']}", headers=other)
    ).status_code == 404

    _, viewer = await cloud.add_user("viewer")
    assert (await cloud.client.get(f"/api/jobs/{job['id']}", headers=viewer)).status_code == 200
    assert (await cloud.client.post(f"/api/printers/{pid}/commands/pause", headers=viewer)).status_code == 403
    assert (await cloud.client.post(f"/api/jobs/{job['id']}/cancel", headers=viewer)).status_code == 403
    assert (await upload(cloud, viewer)).status_code == 403
    assert (
        await cloud.client.get(f"/api/commands/{sent.json()['cmd_id']}", headers=viewer)
    ).status_code == 200


async def test_dispatch_matches_requirements_and_follows_the_job_to_completion(
    cloud_factory: CloudFactory,
) -> None:
    cloud = await make_cloud(cloud_factory)
    await printer(cloud, "PLA", 0.4)
    petg = await printer(cloud, "PETG", 0.6)
    await printer(cloud, "PETG", 0.4)
    wanted = (await upload(cloud, material="PETG", nozzle_mm=0.6)).json()
    nobody = (await upload(cloud, material="ABS")).json()

    await runtime(cloud).dispatcher.dispatch_once()
    job = await job_row(cloud, wanted["id"])
    assert (job.state, job.printer_id) == ("offered", petg)
    unmatched = (await cloud.client.get(f"/api/jobs/{nobody['id']}", headers=cloud.admin_headers)).json()
    assert unmatched["state"] == "queued" and unmatched["reason"] == "no printer with material ABS"
    (offer,) = await offers_of(cloud, wanted["id"])
    assert offer.printer_id == petg and offer.status == "pending"

    tracker = runtime(cloud).tracker
    await tracker.on_acks([IngestedAck("someone-else", ack(offer.cmd_id, AckStatus.QUEUED))])
    assert (await job_row(cloud, wanted["id"])).state == "offered"  # only the printer offered to may answer
    await tracker.on_acks([IngestedAck(petg, ack(offer.cmd_id, AckStatus.RECEIVED))])
    await tracker.on_acks([IngestedAck(petg, ack(offer.cmd_id, AckStatus.QUEUED))])
    assert (await job_row(cloud, wanted["id"])).state == "accepted"

    now = utcnow()
    events = [
        Event(ts=1, event_id=f"e{n}", seq=n, event_type=kind, job_id=wanted["id"])
        for n, kind in enumerate([EventType.JOB_STARTED, EventType.JOB_PAUSED, EventType.JOB_RESUMED], 1)
    ]
    async with cloud.services.database.session() as session:
        for event in events:
            session.add(
                FleetEvent(
                    event_id=event.event_id,
                    printer_id=petg,
                    seq=event.seq,
                    ts=now + timedelta(seconds=event.seq),
                    event_type=event.event_type.value,
                    job_id=wanted["id"],
                    data={},
                )
            )
        await session.commit()
    await tracker.on_events([IngestedEvent(petg, e) for e in events])
    assert (await job_row(cloud, wanted["id"])).state == "printing"
    done = Event(ts=1, event_id="e9", seq=9, event_type=EventType.JOB_COMPLETED, job_id=wanted["id"])
    await tracker.on_events([IngestedEvent(petg, done)])
    late = Event(ts=1, event_id="e10", seq=10, event_type=EventType.JOB_STARTED, job_id=wanted["id"])
    await tracker.on_events([IngestedEvent(petg, late)])
    detail = (await cloud.client.get(f"/api/jobs/{wanted['id']}", headers=cloud.admin_headers)).json()
    assert detail["state"] == "completed" and detail["finished_at"]
    assert [e["event_type"] for e in detail["history"]] == ["job.started", "job.paused", "job.resumed"]
    assert [c["status"] for c in detail["commands"]] == ["queued"]


async def test_a_rejected_offer_goes_back_to_the_queue_then_to_another_printer(
    cloud_factory: CloudFactory,
) -> None:
    cloud = await make_cloud(cloud_factory, jobs={"max_offer_attempts": 2})
    first = await printer(cloud, "PLA", 0.4)
    second = await printer(cloud, "PLA", 0.4)
    job_id = (await upload(cloud, material="PLA")).json()["id"]
    dispatcher, tracker = runtime(cloud).dispatcher, runtime(cloud).tracker

    await dispatcher.dispatch_once()
    (offer,) = await offers_of(cloud, job_id)
    await tracker.on_acks(
        [IngestedAck(offer.printer_id, ack(offer.cmd_id, AckStatus.REJECTED, "hash_mismatch"))]
    )
    job = await job_row(cloud, job_id)
    assert job.state == "queued" and job.printer_id is None
    assert job.reason == f"printer {offer.printer_id} rejected the offer (hash_mismatch)"
    await dispatcher.dispatch_once()
    job = await job_row(cloud, job_id)
    assert job.state == "offered" and job.printer_id == ({first, second} - {offer.printer_id}).pop()
    retry = next(o for o in await offers_of(cloud, job_id) if o.cmd_id != offer.cmd_id)
    await tracker.on_acks(
        [IngestedAck(retry.printer_id, ack(retry.cmd_id, AckStatus.REJECTED, "storage_full"))]
    )
    job = await job_row(cloud, job_id)
    assert job.state == "failed" and job.reason and "gave up after 2 offers" in job.reason


async def test_offers_are_staggered_and_busy_printers_are_explained(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory, jobs={"stagger_offers": 1, "stagger_window_s": 3600})
    await printer(cloud, "PLA", 0.4)
    await printer(cloud, "PLA", 0.4)
    await printer(cloud, "PLA", 0.4, state="printing")
    ids = [(await upload(cloud, material="PLA", priority=p)).json()["id"] for p in (1, 5, 3, 0)]
    await runtime(cloud).dispatcher.dispatch_once()
    jobs = {i: await job_row(cloud, i) for i in ids}
    assert jobs[ids[1]].state == "offered"  # priority 5 first
    assert all(jobs[i].state == "queued" for i in (ids[0], ids[2], ids[3]))
    assert (jobs[ids[2]].reason or "").startswith("staggered starts: at most 1 offers per 3600 s")
    await runtime(cloud).dispatcher.dispatch_once()  # the window is still full
    assert (await job_row(cloud, ids[2])).state == "queued"


async def test_patch_and_cancel_follow_the_job_state(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory)
    pid = await printer(cloud, "PETG", 0.6)
    job_id = (await upload(cloud, material="ABS")).json()["id"]
    patched = await cloud.client.patch(
        f"/api/jobs/{job_id}",
        json={"priority": 7, "requirements": {"material": "PETG", "nozzle_mm": 0.6}},
        headers=cloud.admin_headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["priority"] == 7 and patched.json()["revision"] == 2
    await runtime(cloud).dispatcher.dispatch_once()
    assert (await job_row(cloud, job_id)).printer_id == pid
    conflict = await cloud.client.patch(
        f"/api/jobs/{job_id}", json={"priority": 1}, headers=cloud.admin_headers
    )
    assert conflict.status_code == 409

    cancelled = await cloud.client.post(f"/api/jobs/{job_id}/cancel", headers=cloud.admin_headers)
    assert cancelled.status_code == 202
    assert cancelled.json()["job"]["state"] == "cancelled"
    revoke = (
        await cloud.client.get(f"/api/commands/{cancelled.json()['cmd_id']}", headers=cloud.admin_headers)
    ).json()
    assert revoke["verb"] == "job.revoke" and revoke["printer_id"] == pid
    (offer,) = await offers_of(cloud, job_id)
    assert offer.next_retry_at is None  # the offer is no longer re-sent
    assert (
        await cloud.client.post(f"/api/jobs/{job_id}/cancel", headers=cloud.admin_headers)
    ).status_code == 409

    queued = (await upload(cloud, material="nylon")).json()["id"]
    gone = await cloud.client.post(f"/api/jobs/{queued}/cancel", headers=cloud.admin_headers)
    assert (
        gone.json() == {"job": gone.json()["job"], "cmd_id": None}
        and gone.json()["job"]["state"] == "cancelled"
    )


async def test_printer_commands_are_tracked_until_acked(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory)
    pid = await printer(cloud, "PLA", 0.4)
    for verb in ("pause", "resume", "cancel", "queue-start", "queue-pause"):
        sent = await cloud.client.post(f"/api/printers/{pid}/commands/{verb}", headers=cloud.admin_headers)
        assert sent.status_code == 202, sent.text
    assert (
        await cloud.client.post(f"/api/printers/{pid}/commands/explode", headers=cloud.admin_headers)
    ).status_code == 422
    cmd_id = sent.json()["cmd_id"]
    assert sent.json()["verb"] == "queue.pause" and sent.json()["status"] == "pending"
    async with cloud.services.database.session() as session:
        session.add(CommandAck(cmd_id=cmd_id, status="ok", printer_id=pid, ts=utcnow()))
        await session.commit()
    await runtime(cloud).tracker.on_acks([IngestedAck(pid, ack(cmd_id, AckStatus.OK))])
    shown = (await cloud.client.get(f"/api/commands/{cmd_id}", headers=cloud.admin_headers)).json()
    assert shown["status"] == "ok" and shown["next_retry_at"] is None
    assert [a["status"] for a in shown["acks"]] == ["ok"]
