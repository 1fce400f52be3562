"""A `job.offer` from the cloud, taken in: checked before a byte is fetched (signature, expiry, size),
downloaded and verified (sha256), scanned for heater targets beyond the printer's limits, stored with
its job row in one transaction, and acked at each step: received → accepted → queued, or
rejected{code}. An offer for a known (job_id, revision) only re-acks; a higher revision replaces a job
that has not started; a lower one is stale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from prometheus_client import Counter

from contract.acks import Ack, AckCode, AckStatus
from contract.commands import JobOffer
from contract.envelope import now_ms
from contract.jobs import StartPolicy
from edge_agent.commands import CommandHandler
from edge_agent.control import JobState
from edge_agent.offers.checks import check_offer
from edge_agent.offers.download import DownloadError, download
from edge_agent.queue import JobRecord, position_before
from edge_agent.safety.limits import check_file_targets
from edge_agent.settings import PrinterProfile
from edge_agent.store.jobs import JobStore
from firmware_bridge import gcode_file

REFUSALS: dict[str, str] = {
    AckCode.BAD_SIGNATURE: "the offer is unsigned or its signature does not verify with the cloud's key",
    AckCode.STORAGE_FULL: "the file is larger than this agent accepts",
}


class OfferIntake:
    def __init__(
        self,
        *,
        jobs: JobStore,
        jobs_dir: Path,
        public_key: str | None,
        max_bytes: int,
        profile: PrinterProfile,
        outcomes: Counter,
        on_queued: Callable[[], Awaitable[None]],
    ) -> None:
        self._jobs = jobs
        self._jobs_dir = jobs_dir
        self._public_key = public_key
        self._max_bytes = max_bytes
        self._profile = profile
        self._outcomes = outcomes
        self._on_queued = on_queued

    async def __call__(self, offer: JobOffer, ack: Callable[[Ack], Awaitable[None]]) -> None:
        """Handle one offer; `ack` sends each step's ack (received was sent by the caller)."""
        manifest = offer.args
        cmd_id = offer.cmd_id

        def answer(status: AckStatus, code: str | None = None, message: str | None = None) -> Ack:
            return CommandHandler.ack(cmd_id, status, code, message)

        existing = await self._jobs.find(manifest.job_id)
        if existing is not None:
            if manifest.revision == existing.revision:
                self._outcomes.labels(outcome="repeat").inc()
                await ack(answer(AckStatus.QUEUED, message=f"job is {existing.state.value}"))
                return
            if manifest.revision < existing.revision:
                await ack(
                    answer(AckStatus.REJECTED, AckCode.STALE_REVISION, f"have revision {existing.revision}")
                )
                return
            if existing.state is not JobState.QUEUED:
                await ack(answer(AckStatus.REJECTED, AckCode.JOB_STARTED, f"job is {existing.state.value}"))
                return
        code = check_offer(
            manifest,
            public_key_b64=self._public_key,
            now_ms=now_ms(),
            max_bytes=self._max_bytes,
        )
        if code is not None:
            self._outcomes.labels(outcome=code).inc()
            await ack(answer(AckStatus.REJECTED, code, REFUSALS.get(code, code)))
            return
        dest = self._jobs_dir / f"{manifest.job_id}-r{manifest.revision}.gcode"
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0)) as client:
                await download(
                    client,
                    manifest.url,
                    dest,
                    expected_size=manifest.size,
                    expected_sha256=manifest.sha256,
                    max_bytes=self._max_bytes,
                )
        except DownloadError as exc:
            self._outcomes.labels(outcome=exc.code).inc()
            await ack(answer(AckStatus.REJECTED, exc.code, str(exc)))
            return
        refusal = await asyncio.to_thread(
            check_file_targets, dest, max_tool_c=self._profile.max_tool_c, max_bed_c=self._profile.max_bed_c
        )
        if refusal is not None:
            await asyncio.to_thread(dest.unlink, missing_ok=True)
            self._outcomes.labels(outcome="unsafe_targets").inc()
            await ack(answer(AckStatus.REJECTED, AckCode.GCODE_NOT_ALLOWED, refusal))
            return
        await ack(answer(AckStatus.ACCEPTED))
        summary = await asyncio.to_thread(gcode_file.scan, dest)
        all_jobs = await self._jobs.all(include_finished=False)
        ts = now_ms()
        record = JobRecord(
            job_id=manifest.job_id,
            revision=manifest.revision,
            filename=manifest.filename,
            file_path=dest,
            sha256=manifest.sha256,
            size_bytes=manifest.size,
            state=JobState.QUEUED,
            priority=0,
            position=position_before([j for j in all_jobs if j.job_id != manifest.job_id], None, 0),
            source="cloud",
            created_ms=ts,
            updated_ms=ts,
            est_print_s=manifest.est_print_s,
            filament_mm=manifest.filament_mm,
            start_policy=StartPolicy(manifest.start_policy),
            not_after_ms=manifest.not_after,
            total_layers=summary.layers or None,
        )
        if existing is not None:
            await self._jobs.delete(existing.job_id)
        await self._jobs.insert(record, event_data={"revision": manifest.revision, "cmd_id": cmd_id})
        self._outcomes.labels(outcome="queued").inc()
        await ack(answer(AckStatus.QUEUED))
        await self._on_queued()
