"""The marketplace's money on a real database: purchases with idempotency keys, refunds, payouts,
signed webhooks, entitlements (download, "print this") and the per-print royalty written once when
the dispatcher offers the job. Runs on PostgreSQL and SQLite (the ``cloud`` fixtures are parametrised).

The dispatcher loop is off: tests run rounds themselves and play the agent's acks, as
``test_cloud_jobs.py`` does.
"""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from cloud.db import utcnow
from cloud.fleet.hooks import IngestedAck
from cloud.fleet.models import PrinterStateRow
from cloud.jobs.lifecycle import JobsRuntime
from cloud.jobs.models import Job, JobCommand
from cloud.market import ledger
from cloud.market.models import LedgerEntry, LedgerTransaction, Purchase, WebhookEvent
from cloud.market.payments import TestProvider, sign
from cloud.market.runtime import MarketRuntime
from contract.acks import Ack, AckStatus
from tests.fixtures.cloud import CloudFactory, CloudHarness

pytestmark = pytest.mark.integration

GCODE = b"; a market print\nG28\nG1 X10 Y10 F3000\n" * 40
WEBHOOK = "/api/market/webhooks/test-provider"


def market(cloud: CloudHarness) -> MarketRuntime:
    value = cloud.app.state.market
    assert isinstance(value, MarketRuntime)
    return value


def provider(cloud: CloudHarness) -> TestProvider:
    value = market(cloud).provider
    assert isinstance(value, TestProvider)
    return value


def jobs_runtime(cloud: CloudHarness) -> JobsRuntime:
    value = cloud.app.state.jobs
    assert isinstance(value, JobsRuntime)
    return value


async def org_of(cloud: CloudHarness, headers: dict[str, str] | None = None) -> str:
    me = await cloud.client.get("/api/me", headers=headers or cloud.admin_headers)
    assert me.status_code == 200, me.text
    org_id: str = me.json()["organisation"]["id"]
    return org_id


async def make_cloud(cloud_factory: CloudFactory) -> CloudHarness:
    return await cloud_factory(jobs={"dispatcher": False})


async def listing(
    cloud: CloudHarness, headers: dict[str, str], *, upload: bool = True, **body: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {"title": "Hex planter", "price_cents": 1999, "licence": "personal", **body}
    created = await cloud.client.post("/api/market/listings", json=values, headers=headers)
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    if upload:
        put = await cloud.client.put(
            f"/api/market/listings/{result['id']}/file",
            files={"file": ("hex planter.gcode", GCODE, "application/octet-stream")},
            headers=headers,
        )
        assert put.status_code == 200, put.text
        result = put.json()
        assert result["file"]["name"] == "hex_planter.gcode"
    return result


async def buy(
    cloud: CloudHarness, headers: dict[str, str], listing_id: str, key: str, card: str = "tok_visa"
) -> Any:
    return await cloud.client.post(
        f"/api/market/listings/{listing_id}/purchase",
        json={"card_token": card},
        headers={**headers, "Idempotency-Key": key},
    )


async def refund(cloud: CloudHarness, headers: dict[str, str], purchase_id: str, key: str) -> Any:
    return await cloud.client.post(
        f"/api/market/purchases/{purchase_id}/refund", headers={**headers, "Idempotency-Key": key}
    )


async def payout(cloud: CloudHarness, headers: dict[str, str], amount: int, key: str) -> Any:
    return await cloud.client.post(
        "/api/market/payouts", json={"amount_cents": amount}, headers={**headers, "Idempotency-Key": key}
    )


async def ledger_rows(cloud: CloudHarness) -> list[tuple[str, str, dict[str, int]]]:
    """``(kind, ref, {account: amount})`` of every ledger transaction, oldest first."""
    async with cloud.services.database.session() as session:
        txs = list(
            (
                await session.execute(
                    select(LedgerTransaction).order_by(LedgerTransaction.created_at, LedgerTransaction.id)
                )
            ).scalars()
        )
        out = []
        for tx in txs:
            entries = (
                await session.execute(select(LedgerEntry).where(LedgerEntry.transaction_id == tx.id))
            ).scalars()
            out.append((tx.kind, tx.ref, {e.account: e.amount_cents for e in entries}))
        return out


async def check_books(cloud: CloudHarness) -> dict[str, int]:
    async with cloud.services.database.session() as session:
        total = (
            await session.execute(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)))
        ).scalar_one()
        per_tx = (
            await session.execute(
                select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount_cents)).group_by(
                    LedgerEntry.transaction_id
                )
            )
        ).all()
        rows = await session.execute(
            select(LedgerEntry.account, func.sum(LedgerEntry.amount_cents)).group_by(LedgerEntry.account)
        )
        accounts = {account: amount for account, amount in rows}
    assert total == 0
    assert all(amount == 0 for _, amount in per_tx)
    assert all(v >= 0 for a, v in accounts.items() if ledger.is_seller_account(a))
    return {a: int(v) for a, v in accounts.items()}


async def test_one_idempotency_key_charges_once(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory)
    seller_org = await org_of(cloud)
    item = await listing(cloud, cloud.admin_headers)
    _, buyer = await cloud.add_organisation("Buyer")

    first = await buy(cloud, buyer, item["id"], "k-1")
    assert first.status_code == 201, first.text
    again = await buy(cloud, buyer, item["id"], "k-1")
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert provider(cloud).charges == 1
    assert [c for c, _ in provider(cloud).calls] == ["authorise", "capture"]  # the replay never reached it

    rows = await ledger_rows(cloud)
    assert rows == [
        (
            "purchase",
            first.json()["id"],
            {"buyer_payments": -1999, "platform_fees": 200, ledger.seller_account(seller_org): 1799},
        )
    ]
    assert first.json()["fee_cents"] == 200  # 10 % of 19.99 = 1.999 → 2.00, half up

    different = await cloud.client.post(
        f"/api/market/listings/{item['id']}/purchase",
        json={"card_token": "tok_other"},
        headers={**buyer, "Idempotency-Key": "k-1"},
    )
    assert different.status_code == 409 and different.json()["code"] == "idempotency_key_reused"
    second_key = await buy(cloud, buyer, item["id"], "k-2")
    assert second_key.status_code == 409 and second_key.json()["code"] == "already_bought"
    missing = await cloud.client.post(
        f"/api/market/listings/{item['id']}/purchase", json={"card_token": "tok_visa"}, headers=buyer
    )
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_required"
    assert provider(cloud).charges == 1 and len(await ledger_rows(cloud)) == 1
    own = await buy(cloud, cloud.admin_headers, item["id"], "k-own")
    assert own.status_code == 409 and own.json()["code"] == "own_listing"
    await check_books(cloud)
    notes = (await cloud.client.get("/api/notifications", headers=cloud.admin_headers)).json()
    sales = [n for n in notes if n["kind"] == "sale"]
    assert (
        len(sales) == 1 and sales[0]["payload"]["purchase_id"] == first.json()["id"]
    )  # the seller hears once


@pytest.mark.parametrize("cloud_database_url", ["postgresql"], indirect=True)  # SQLite serialises writers
async def test_concurrent_retries_with_one_key_charge_once(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory)
    item = await listing(cloud, cloud.admin_headers, upload=False)
    _, buyer = await cloud.add_organisation("Buyer")
    responses = await asyncio.gather(*(buy(cloud, buyer, item["id"], "same-key") for _ in range(4)))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert provider(cloud).charges == 1
    assert len(await ledger_rows(cloud)) == 1
    others = await asyncio.gather(*(buy(cloud, buyer, item["id"], f"key-{n}") for n in range(3)))
    assert {r.status_code for r in others} == {409}  # already bought, whatever the key
    assert provider(cloud).charges == 1
    await check_books(cloud)


async def test_a_declined_card_charges_nothing_and_can_be_retried(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory)
    item = await listing(cloud, cloud.admin_headers, upload=False)
    _, buyer = await cloud.add_organisation("Buyer")
    declined = await buy(cloud, buyer, item["id"], "d-1", card="tok_decline")
    assert declined.status_code == 402 and declined.json()["code"] == "payment_declined"
    assert await ledger_rows(cloud) == []
    async with cloud.services.database.session() as session:
        assert (await session.execute(select(func.count()).select_from(Purchase))).scalar_one() == 0
    paid = await buy(cloud, buyer, item["id"], "d-2")
    assert paid.status_code == 201 and provider(cloud).charges == 1


async def test_refund_reverses_the_ledger_and_revokes_download_and_print(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory)
    seller_org = await org_of(cloud)
    item = await listing(cloud, cloud.admin_headers, price_cents=1000)
    _, buyer = await cloud.add_organisation("Buyer")
    _, stranger = await cloud.add_organisation("Stranger")
    download = f"/api/market/listings/{item['id']}/download"

    denied = await cloud.client.get(download, headers=stranger)
    assert denied.status_code == 403 and denied.json()["code"] == "not_entitled"
    printed = await cloud.client.post(f"/api/market/listings/{item['id']}/print", json={}, headers=stranger)
    assert printed.status_code == 403
    assert (await cloud.client.get(download, headers=cloud.admin_headers)).content == GCODE  # the seller

    bought = (await buy(cloud, buyer, item["id"], "b-1")).json()
    got = await cloud.client.get(download, headers=buyer)
    assert got.status_code == 200 and got.content == GCODE
    detail = (await cloud.client.get(f"/api/market/listings/{item['id']}", headers=buyer)).json()
    assert detail["entitled"] is True and detail["sales_count"] == 1

    by_buyer = await refund(cloud, buyer, bought["id"], "r-0")
    assert by_buyer.status_code == 403  # only the seller refunds
    assert (await refund(cloud, stranger, bought["id"], "r-0")).status_code == 404
    refunded = await refund(cloud, cloud.admin_headers, bought["id"], "r-1")
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["status"] == "refunded" and refunded.json()["provider_status"] == "refunded"
    replay = await refund(cloud, cloud.admin_headers, bought["id"], "r-1")
    assert replay.status_code == 200 and replay.json() == refunded.json()
    again = await refund(cloud, cloud.admin_headers, bought["id"], "r-2")
    assert again.status_code == 409 and again.json()["code"] == "already_refunded"
    assert [c for c, _ in provider(cloud).calls].count("refund") == 1

    rows = await ledger_rows(cloud)
    seller = ledger.seller_account(seller_org)
    assert [(kind, ref) for kind, ref, _ in rows] == [("purchase", bought["id"]), ("refund", bought["id"])]
    assert rows[1][2] == {"refunds": 1000, "platform_fees": -100, seller: -900}
    totals = await check_books(cloud)
    assert totals[seller] == 0 and totals["platform_fees"] == 0

    assert (await cloud.client.get(download, headers=buyer)).status_code == 403
    assert (
        await cloud.client.post(f"/api/market/listings/{item['id']}/print", json={}, headers=buyer)
    ).status_code == 403
    review = await cloud.client.put(
        f"/api/market/listings/{item['id']}/review", json={"rating": 5}, headers=buyer
    )
    assert review.status_code == 403


async def test_payouts_never_exceed_the_balance_and_a_later_refund_is_absorbed(
    cloud_factory: CloudFactory,
) -> None:
    cloud = await make_cloud(cloud_factory)
    seller_org = await org_of(cloud)
    item = await listing(cloud, cloud.admin_headers, price_cents=1000, upload=False)
    _, buyer = await cloud.add_organisation("Buyer")
    bought = (await buy(cloud, buyer, item["id"], "b-1")).json()

    too_much = await payout(cloud, cloud.admin_headers, 901, "p-0")
    assert too_much.status_code == 409 and too_much.json()["code"] == "insufficient_balance"
    paid = await payout(cloud, cloud.admin_headers, 600, "p-1")
    assert paid.status_code == 201 and paid.json()["balance_cents"] == 300
    assert (await payout(cloud, cloud.admin_headers, 600, "p-1")).json() == paid.json()  # replayed
    assert (await payout(cloud, cloud.admin_headers, 700, "p-1")).status_code == 409  # other body
    assert (await payout(cloud, buyer, 1, "p-x")).status_code == 409  # the buyer has no balance

    page = (await cloud.client.get(f"/api/market/sellers/{seller_org}", headers=cloud.admin_headers)).json()
    assert page["revenue"] == {
        "gross_cents": 900,
        "refunded_cents": 0,
        "paid_out_cents": 600,
        "balance_cents": 300,
    }
    assert page["sales_count"] == 1
    public = (await cloud.client.get(f"/api/market/sellers/{seller_org}", headers=buyer)).json()
    assert public["revenue"] is None and [x["id"] for x in public["listings"]] == [item["id"]]

    assert (await refund(cloud, cloud.admin_headers, bought["id"], "r-1")).status_code == 200
    totals = await check_books(cloud)
    assert totals[ledger.seller_account(seller_org)] == 0  # never negative
    assert totals["platform_fees"] == -600 and totals["refunds"] == 1000 and totals["payouts"] == 600


async def test_signed_webhooks_verify_and_a_bad_signature_changes_nothing(
    cloud_factory: CloudFactory,
) -> None:
    cloud = await make_cloud(cloud_factory)
    item = await listing(cloud, cloud.admin_headers, upload=False)
    _, buyer = await cloud.add_organisation("Buyer")
    bought = (await buy(cloud, buyer, item["id"], "b-1")).json()
    (captured,) = provider(cloud).drain()
    event = json.loads(captured.body)
    assert event["type"] == "payment.captured" and event["data"]["payment_id"] == bought["payment_id"]

    forged_body = json.dumps(
        {"id": "evt_forged", "type": "payment.refunded", "data": {"payment_id": bought["payment_id"]}}
    ).encode()
    bad = [
        {**captured.headers, "X-Webhook-Signature": "v1=" + "0" * 64},  # wrong signature
        sign(b"not-the-shared-secret-at-all!!", forged_body, int(cloud.now().timestamp())).headers,
        {"Content-Type": "application/json"},  # unsigned
        sign(market(cloud).webhook_secret, forged_body, int(cloud.now().timestamp()) - 3600).headers,  # stale
    ]
    for headers in bad:
        response = await cloud.client.post(WEBHOOK, content=forged_body, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "webhook_signature_invalid"
    tampered = await cloud.client.post(WEBHOOK, content=forged_body, headers=captured.headers)
    assert tampered.status_code == 401  # a valid signature of another body
    async with cloud.services.database.session() as session:
        assert (await session.execute(select(func.count()).select_from(WebhookEvent))).scalar_one() == 0
        purchase = await session.get(Purchase, bought["id"])
        assert purchase is not None and purchase.provider_status == "captured"

    good = await cloud.client.post(WEBHOOK, content=captured.body, headers=captured.headers)
    assert good.status_code == 200 and good.json() == {"received": True, "duplicate": False}
    dup = await cloud.client.post(WEBHOOK, content=captured.body, headers=captured.headers)
    assert dup.status_code == 200 and dup.json()["duplicate"] is True

    await refund(cloud, cloud.admin_headers, bought["id"], "r-1")
    (refunded,) = provider(cloud).drain()
    async with cloud.services.database.session() as session:
        row = await session.get(Purchase, bought["id"])
        assert row is not None
        row.provider_status = "captured"  # as if the refund's answer had been lost
        await session.commit()
    assert (
        await cloud.client.post(WEBHOOK, content=refunded.body, headers=refunded.headers)
    ).status_code == 200
    async with cloud.services.database.session() as session:
        row = await session.get(Purchase, bought["id"])
        assert row is not None and row.provider_status == "refunded"
        assert (await session.execute(select(func.count()).select_from(WebhookEvent))).scalar_one() == 2


async def _printer(cloud: CloudHarness, headers: dict[str, str]) -> str:
    enrolled = await cloud.enrol(
        headers, material="PLA", nozzle_mm=0.4, build_volume={"x_mm": 220, "y_mm": 220, "z_mm": 250}
    )
    pid: str = enrolled["printer_id"]
    async with cloud.services.database.session() as session:
        session.add(
            PrinterStateRow(
                printer_id=pid,
                seq=1,
                printer_state="standby",
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


async def test_a_buyers_print_is_a_job_and_its_royalty_is_written_once(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory)
    seller_org = await org_of(cloud)
    item = await listing(cloud, cloud.admin_headers, price_cents=500, licence="per_print", royalty_cents=150)
    buyer_org, buyer = await cloud.add_organisation("Buyer")
    first = await _printer(cloud, buyer)
    second = await _printer(cloud, buyer)
    await _printer(cloud, cloud.admin_headers)  # the seller's own printer never gets the buyer's job
    assert (await buy(cloud, buyer, item["id"], f"b-{uuid.uuid4()}")).status_code == 201

    printed = await cloud.client.post(
        f"/api/market/listings/{item['id']}/print", json={"printer_id": first}, headers=buyer
    )
    assert printed.status_code == 201, printed.text
    job_id = printed.json()["job_id"]
    job = (await cloud.client.get(f"/api/jobs/{job_id}", headers=buyer)).json()
    assert job["state"] == "queued" and job["size_bytes"] == len(GCODE)
    assert (await cloud.client.get(f"/api/jobs/{job_id}", headers=cloud.admin_headers)).status_code == 404
    other = await cloud.client.post(
        f"/api/market/listings/{item['id']}/print", json={"printer_id": "no-such"}, headers=buyer
    )
    assert other.status_code == 404

    async def royalties() -> list[tuple[str, str, dict[str, int]]]:
        return [row for row in await ledger_rows(cloud) if row[0] == "royalty"]

    assert await royalties() == []  # queued, not yet dispatched
    dispatcher, tracker = jobs_runtime(cloud).dispatcher, jobs_runtime(cloud).tracker
    await dispatcher.dispatch_once()
    async with cloud.services.database.session() as session:
        row = await session.get(Job, job_id)
        assert row is not None and row.org_id == buyer_org and row.listing_id == item["id"]
        assert row.state == "offered" and row.printer_id == first
        (offer,) = (await session.execute(select(JobCommand).where(JobCommand.job_id == job_id))).scalars()
    fee = ledger.platform_fee(150, 1000)
    assert await royalties() == [
        (
            "royalty",
            job_id,
            {"buyer_payments": -150, "platform_fees": fee, ledger.seller_account(seller_org): 150 - fee},
        )
    ]

    await dispatcher.send_due()  # the offer is re-sent (no broker: not connected) — no new line
    await dispatcher.dispatch_once()
    # the printer refuses; the job goes back to the queue and is offered again (to the other printer)
    await tracker.on_acks(
        [IngestedAck(first, Ack(ts=1, cmd_id=offer.cmd_id, status=AckStatus.REJECTED, code="storage_full"))]
    )
    await dispatcher.dispatch_once()
    async with cloud.services.database.session() as session:
        row = await session.get(Job, job_id)
        assert row is not None and row.state == "offered" and row.printer_id in (first, second)
        offers = (await session.execute(select(JobCommand).where(JobCommand.job_id == job_id))).scalars()
        assert len([o for o in offers if o.verb == "job.offer"]) == 2  # offered twice ...
    assert len(await royalties()) == 1  # ... one royalty
    await check_books(cloud)

    # the seller printing its own listing owes itself nothing
    own = await cloud.client.post(
        f"/api/market/listings/{item['id']}/print", json={}, headers=cloud.admin_headers
    )
    assert own.status_code == 201
    await dispatcher.dispatch_once()
    assert len(await royalties()) == 1


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


@pytest.mark.parametrize("cloud_database_url", ["postgresql"], indirect=True)  # slicing: once is enough
async def test_printing_a_mesh_listing_slices_it_for_the_buyers_printer(cloud_factory: CloudFactory) -> None:
    cloud = await make_cloud(cloud_factory)
    assert jobs_runtime(cloud).slicer is not None, "the cloud has no slicer"
    created = await cloud.client.post(
        "/api/market/listings", json={"title": "Cube", "price_cents": 0}, headers=cloud.admin_headers
    )
    item = created.json()
    put = await cloud.client.put(
        f"/api/market/listings/{item['id']}/file",
        files={"file": ("cube.stl", cube_stl(), "application/octet-stream")},
        headers=cloud.admin_headers,
    )
    assert put.status_code == 200 and put.json()["file"]["kind"] == "mesh"
    _, buyer = await cloud.add_organisation("Buyer")
    pid = await _printer(cloud, buyer)
    assert (await buy(cloud, buyer, item["id"], "free-1")).status_code == 201  # free: no card, no ledger
    assert provider(cloud).calls == [] and await ledger_rows(cloud) == []
    printed = await cloud.client.post(
        f"/api/market/listings/{item['id']}/print", json={"printer_id": pid}, headers=buyer
    )
    assert printed.status_code == 201, printed.text
    job = (await cloud.client.get(f"/api/jobs/{printed.json()['job_id']}", headers=buyer)).json()
    assert job["filename"] == "cube.gcode" and job["est_print_s"] > 0
    assert job["requirements"]["material"] == "PLA" and job["requirements"]["nozzle_mm"] == 0.4
