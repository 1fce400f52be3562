"""Several dispatcher workers on one PostgreSQL database share the queue without double-dispatching:
jobs and printers are claimed with ``FOR UPDATE SKIP LOCKED``."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import select

from cloud.db import Database
from cloud.jobs.dispatcher import Dispatcher
from cloud.jobs.models import Job, JobCommand
from tests.fixtures.cloud import CloudFactory, CloudHarness
from tests.integration.test_cloud_jobs import make_cloud, printer, runtime, upload

pytestmark = [
    pytest.mark.integration,
    # SKIP LOCKED claiming is PostgreSQL's (SQLite runs a single worker): only that database, no skip
    pytest.mark.parametrize("cloud_database_url", ["postgresql"], indirect=True),
]


def second_worker(cloud: CloudHarness) -> tuple[Dispatcher, Database]:
    first = runtime(cloud).dispatcher
    database = Database(cloud.settings.database_url)  # its own connection pool, as another process
    worker = Dispatcher(
        database, first.settings, first.files, first.publisher, first.signing_key_b64, first.clock
    )
    return worker, database


async def test_a_claimed_job_is_skipped_by_another_worker(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory, jobs={"stagger_offers": 100})
    assert cloud.services.database.dialect == "postgresql"
    for _ in range(4):
        await printer(cloud, "PLA", 0.4)
    ids = [(await upload(cloud, material="PLA", priority=10 - n)).json()["id"] for n in range(4)]
    worker, database = second_worker(cloud)
    try:
        async with cloud.services.database.session() as holder:
            held = (
                (await holder.execute(select(Job).where(Job.id.in_(ids[:2])).with_for_update()))
                .scalars()
                .all()
            )
            assert len(held) == 2
            made = await worker.dispatch_once()  # runs while the first two jobs are locked
            await holder.rollback()
        assert len(made) == 2
        async with cloud.services.database.session() as session:
            states = dict((await session.execute(select(Job.id, Job.state).where(Job.id.in_(ids)))).all())
        assert [states[i] for i in ids] == ["queued", "queued", "offered", "offered"]
        await runtime(cloud).dispatcher.dispatch_once()
        async with cloud.services.database.session() as session:
            states = dict((await session.execute(select(Job.id, Job.state).where(Job.id.in_(ids)))).all())
        assert set(states.values()) == {"offered"}
    finally:
        await database.dispose()


async def test_two_workers_racing_never_double_dispatch(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory, jobs={"stagger_offers": 1000, "claim_batch": 3})
    assert cloud.services.database.dialect == "postgresql"
    pids = [await printer(cloud, "PLA", 0.4) for _ in range(6)]
    for n in range(10):
        assert (await upload(cloud, material="PLA", priority=n % 3)).status_code == 201
    first = runtime(cloud).dispatcher
    worker, database = second_worker(cloud)
    try:
        for _ in range(4):
            await asyncio.gather(first.dispatch_once(), worker.dispatch_once(), first.dispatch_once())
        async with cloud.services.database.session() as session:
            jobs = (await session.execute(select(Job))).scalars().all()
            offers = (
                (await session.execute(select(JobCommand).where(JobCommand.verb == "job.offer")))
                .scalars()
                .all()
            )
    finally:
        await database.dispose()
    offered = [j for j in jobs if j.state == "offered"]
    assert len(offered) == len(pids)  # every printer got one job ...
    assert Counter(j.printer_id for j in offered).most_common(1)[0][1] == 1  # ... and only one
    assert len(offers) == len(offered)  # no job was offered twice
    assert sorted(o.job_id or "" for o in offers) == sorted(j.id for j in offered)
