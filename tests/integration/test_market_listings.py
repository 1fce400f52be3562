"""Marketplace listings on a real database: create and edit (seller only), bad inputs refused,
full-text search with filters and sorting (PostgreSQL ranking and the SQLite fallback), reviews
(buyers only, markup stripped), seller pages and ``publish_design``."""

from __future__ import annotations

from typing import Any

import pytest

from cloud.market.listings import publish_design
from cloud.users.auth import Principal
from cloud.users.models import Role
from tests.fixtures.cloud import CloudFactory, CloudHarness

pytestmark = pytest.mark.integration

LISTINGS = "/api/market/listings"


async def org_of(cloud: CloudHarness, headers: dict[str, str] | None = None) -> str:
    me = await cloud.client.get("/api/me", headers=headers or cloud.admin_headers)
    assert me.status_code == 200, me.text
    org_id: str = me.json()["organisation"]["id"]
    return org_id


async def create(cloud: CloudHarness, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    response = await cloud.client.post(LISTINGS, json=body, headers=headers or cloud.admin_headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def refused(cloud: CloudHarness, body: dict[str, Any]) -> dict[str, Any]:
    response = await cloud.client.post(LISTINGS, json=body, headers=cloud.admin_headers)
    assert response.status_code in (400, 422), (body, response.text)
    result: dict[str, Any] = response.json()
    return result


async def buy(cloud: CloudHarness, headers: dict[str, str], listing_id: str) -> None:
    response = await cloud.client.post(
        f"{LISTINGS}/{listing_id}/purchase",
        json={"card_token": "tok_visa"},
        headers={**headers, "Idempotency-Key": f"buy-{listing_id}"},
    )
    assert response.status_code == 201, response.text


async def test_bad_inputs_are_refused_with_clear_errors(cloud_factory: CloudFactory) -> None:
    cloud = await cloud_factory(jobs={"dispatcher": False})
    ok = {"title": "Pot", "price_cents": 100}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**ok, "price_cents": -1}, "price_cents"),
        ({**ok, "price_cents": 1.5}, "price_cents"),
        ({**ok, "description": "x" * 5001}, "description"),
        ({**ok, "title": "<script>alert(1)</script>"}, "plain text"),
        ({**ok, "description": 'Nice <img src=x onerror="alert(1)">'}, "plain text"),
        ({**ok, "title": ""}, "title"),
        ({**ok, "licence": "lifetime"}, "licence"),
        ({**ok, "licence": "per_print"}, "royalty_cents > 0"),
        ({**ok, "royalty_cents": 10}, "only for the per_print"),
        ({**ok, "source": {"design_spec": {"family": "planter", "height": 5000}}}, "height"),
        ({**ok, "source": {"design_spec": {"family": "rocket"}}}, "family"),
        ({**ok, "source": {"design_spec": {"family": "box", "colour": "red"}}}, "colour"),
        ({**ok, "images": ["../../etc/passwd"]}, "images"),
        ({**ok, "tags": ["<b>"]}, "tags"),
        ({**ok, "print_profile": {"layer_height_mm": {"nested": 1}}}, "print_profile"),
        ({**ok, "unknown": 1}, "unknown"),
    ]
    for body, words in cases:
        error = await refused(cloud, body)
        assert error["code"] == "validation_error", (body, error)
        assert words in error["message"], (body, error["message"])
    currency = await refused(cloud, {**ok, "currency": "USD"})
    assert currency["code"] == "unsupported_currency"

    fine = await create(
        cloud, title="Pot for 3 < 5 plants", description="Plain text: a < b & c > d.", price_cents=100
    )
    assert fine["title"] == "Pot for 3 < 5 plants" and fine["currency"] == "EUR" and fine["free"] is False
    exe = await cloud.client.put(
        f"{LISTINGS}/{fine['id']}/file",
        files={"file": ("tool.exe", b"MZ", "application/octet-stream")},
        headers=cloud.admin_headers,
    )
    assert exe.status_code == 422 and exe.json()["code"] == "unsupported_file"


async def test_design_spec_sources_and_publish_design(cloud_factory: CloudFactory) -> None:
    cloud = await cloud_factory(jobs={"dispatcher": False})
    org_id = await org_of(cloud)
    made = await create(
        cloud,
        title="Tall planter",
        price_cents=0,
        licence="commercial",
        source={"design_spec": {"family": "planter", "height": 180}},
        print_profile={"layer_height_mm": 0.2, "vase_mode": False},
    )
    assert made["free"] is True and made["file"] is None
    assert made["design_spec"]["family"] == "planter" and made["design_spec"]["height"] == 180
    assert made["design_spec"]["top_width"] == 100.0  # the spec's defaults filled in
    assert made["print_profile"] == {"layer_height_mm": 0.2, "vase_mode": False}

    principal = Principal(kind="user", id="studio", org_id=org_id, role=Role.ADMIN)
    async with cloud.services.database.session() as session:
        listing = await publish_design(
            session,
            cloud.services,
            principal,
            title="Studio box",
            description="Made in the studio",
            spec={"family": "box", "width": 90},
            price_cents=250,
            licence="personal",
            tags=["Box", "storage"],
        )
        await session.commit()
    got = (await cloud.client.get(f"{LISTINGS}/{listing.id}", headers=cloud.admin_headers)).json()
    assert got["design_spec"]["width"] == 90 and got["tags"] == ["box", "storage"]
    async with cloud.services.database.session() as session:
        with pytest.raises(ValueError, match="width"):
            await publish_design(
                session,
                cloud.services,
                principal,
                title="Huge box",
                description="",
                spec={"family": "box", "width": 4000},
                price_cents=0,
                licence="personal",
            )
    # printing a parametric listing without a file is refused with a reason, never a 500
    no_file = await cloud.client.post(f"{LISTINGS}/{made['id']}/print", json={}, headers=cloud.admin_headers)
    assert no_file.status_code == 422 and no_file.json()["code"] == "no_printable_file"


async def test_only_the_seller_edits_and_withdrawn_listings_hide(cloud_factory: CloudFactory) -> None:
    cloud = await cloud_factory(jobs={"dispatcher": False})
    item = await create(cloud, title="Vase", price_cents=300, tags=["vase"])
    _, other = await cloud.add_organisation("Other")
    _, buyer = await cloud.add_organisation("Buyer")
    _, viewer = await cloud.add_user("viewer")

    seen = await cloud.client.get(f"{LISTINGS}/{item['id']}", headers=other)
    assert seen.status_code == 200 and seen.json()["entitled"] is False  # public across organisations
    change = {"price_cents": 100}
    assert (
        await cloud.client.patch(f"{LISTINGS}/{item['id']}", json=change, headers=other)
    ).status_code == 403
    assert (
        await cloud.client.patch(f"{LISTINGS}/{item['id']}", json=change, headers=viewer)
    ).status_code == 403
    assert (await cloud.client.patch(f"{LISTINGS}/nope", json=change, headers=other)).status_code == 404
    patched = await cloud.client.patch(
        f"{LISTINGS}/{item['id']}",
        json={"price_cents": 100, "title": "Spiral vase"},
        headers=cloud.admin_headers,
    )
    assert patched.status_code == 200 and patched.json()["price_cents"] == 100
    assert patched.json()["title"] == "Spiral vase"
    bad = await cloud.client.patch(
        f"{LISTINGS}/{item['id']}", json={"description": "<script>x</script>"}, headers=cloud.admin_headers
    )
    assert bad.status_code == 422

    await buy(cloud, buyer, item["id"])
    withdrawn = await cloud.client.patch(
        f"{LISTINGS}/{item['id']}", json={"withdrawn": True}, headers=cloud.admin_headers
    )
    assert withdrawn.json()["status"] == "withdrawn"
    assert (await cloud.client.get(f"{LISTINGS}/{item['id']}", headers=other)).status_code == 404
    assert (await cloud.client.get(f"{LISTINGS}/{item['id']}", headers=buyer)).status_code == 200
    assert (await cloud.client.get(LISTINGS, params={"q": "vase"}, headers=other)).json()["total"] == 0


async def test_reviews_only_by_buyers_markup_stripped_and_one_per_buyer(cloud_factory: CloudFactory) -> None:
    cloud = await cloud_factory(jobs={"dispatcher": False})
    seller_org = await org_of(cloud)
    item = await create(cloud, title="Gnome", price_cents=500)
    _, buyer = await cloud.add_organisation("Buyer")
    _, second = await cloud.add_organisation("Second buyer")
    _, stranger = await cloud.add_organisation("Stranger")
    review = f"{LISTINGS}/{item['id']}/review"

    denied = await cloud.client.put(review, json={"rating": 5, "text": "great"}, headers=stranger)
    assert denied.status_code == 403 and denied.json()["code"] == "not_a_buyer"
    own = await cloud.client.put(review, json={"rating": 5}, headers=cloud.admin_headers)
    assert own.status_code == 403

    await buy(cloud, buyer, item["id"])
    await buy(cloud, second, item["id"])
    assert (await cloud.client.put(review, json={"rating": 6}, headers=buyer)).status_code == 422
    assert (await cloud.client.put(review, json={"rating": 0}, headers=buyer)).status_code == 422
    text = '<script>alert("x")</script>Great <b>gnome</b>! <<script>script>alert(1)<</script>/script> 3 < 5'
    first = await cloud.client.put(review, json={"rating": 2, "text": text}, headers=buyer)
    assert first.status_code == 201, first.text
    stored = first.json()["text"]
    assert "<script" not in stored.lower() and "<b>" not in stored and "</" not in stored
    assert stored.startswith('alert("x")Great gnome!') and stored.endswith("3 < 5")
    updated = await cloud.client.put(review, json={"rating": 4, "text": "better now"}, headers=buyer)
    assert updated.status_code == 200 and updated.json()["id"] == first.json()["id"]
    assert (await cloud.client.put(review, json={"rating": 5}, headers=second)).status_code == 201

    listed = (await cloud.client.get(f"{LISTINGS}/{item['id']}/reviews", headers=stranger)).json()
    assert sorted(r["rating"] for r in listed) == [4, 5]
    detail = (await cloud.client.get(f"{LISTINGS}/{item['id']}", headers=stranger)).json()
    assert detail["rating"] == 4.5 and detail["rating_count"] == 2
    page = (await cloud.client.get(f"/api/market/sellers/{seller_org}", headers=stranger)).json()
    assert page["rating"] == 4.5 and page["rating_count"] == 2 and page["sales_count"] == 2
    assert (await cloud.client.get("/api/market/sellers/nope", headers=stranger)).status_code == 404


CATALOGUE: list[dict[str, Any]] = [
    {
        "title": "Hexagonal planter with drainage",
        "description": "A six-sided pot for succulents.",
        "tags": ["planter", "garden"],
        "price_cents": 500,
    },
    {
        "title": "Round planter",
        "description": "Simple round pot with a saucer.",
        "tags": ["planter"],
        "price_cents": 0,
        "licence": "commercial",
    },
    {
        "title": "Cable organiser",
        "description": "Keeps cables tidy; fits next to a planter on the desk.",
        "tags": ["desk"],
        "price_cents": 300,
    },
    {
        "title": "Phone stand",
        "description": "An angled stand for phones.",
        "tags": ["desk", "phone"],
        "price_cents": 900,
        "licence": "per_print",
        "royalty_cents": 50,
    },
    {
        "title": "Garden gnome",
        "description": "A cheerful gnome for the planter bed.",
        "tags": ["garden"],
        "price_cents": 1500,
    },
]


async def test_search_finds_relevant_listings_with_filters_and_sorting(cloud_factory: CloudFactory) -> None:
    cloud = await cloud_factory(jobs={"dispatcher": False})
    ids: dict[str, str] = {}
    for body in CATALOGUE:
        ids[body["title"].split()[-1] if body["title"] != "Round planter" else "round"] = (
            await create(cloud, **body)
        )["id"]
        cloud.advance(1)  # distinct creation times: "newest" is well defined
    other_org, other = await cloud.add_organisation("Vase maker")
    ids["vase"] = (
        await create(
            cloud,
            other,
            title="Spiral vase",
            description="Prints in vase mode.",
            tags=["vase"],
            price_cents=200,
        )
    )["id"]
    hexagonal, round_, cable, phone, gnome, vase = (
        ids["drainage"],
        ids["round"],
        ids["organiser"],
        ids["stand"],
        ids["gnome"],
        ids["vase"],
    )

    async def found(**params: Any) -> list[str]:
        response = await cloud.client.get(LISTINGS, params=params, headers=other)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] >= len(page["items"])
        return [item["id"] for item in page["items"]]

    # relevance: a title (and tag) match ranks above a description-only match
    planter = await found(q="planter")
    assert set(planter) == {hexagonal, round_, cable, gnome}
    assert set(planter[:2]) == {hexagonal, round_}
    assert await found(q="planters") == planter  # plural: stemmed on PostgreSQL, folded on SQLite
    assert await found(q="hexagonal planter") == [hexagonal]  # every word must match
    exclusive = await found(q="planter -round")
    assert set(exclusive) == {hexagonal, cable, gnome} and exclusive[0] == hexagonal
    assert await found(q="gnome") == [gnome]
    assert await found(q="phones") == [phone]
    garden = await found(q="garden")
    assert set(garden) == {hexagonal, gnome} and garden[0] == gnome  # title beats tag
    assert await found(q="submarine") == []

    # filters
    assert await found(q="planter", free="true") == [round_]
    assert set(await found(q="planter", free="false")) == {hexagonal, cable, gnome}
    assert await found(licence="per_print") == [phone]
    assert await found(tag="desk", sort="price_asc") == [cable, phone]
    assert await found(min_price_cents=300, max_price_cents=900, sort="price_desc") == [
        phone,
        hexagonal,
        cable,
    ]
    assert await found(seller=other_org) == [vase]
    assert await found(q="planter", tag="garden", sort="price_asc") == [hexagonal, gnome]

    # sorting
    assert await found() == [vase, gnome, phone, cable, round_, hexagonal]  # newest first
    assert await found(q="planter", sort="newest") == [gnome, cable, round_, hexagonal]
    assert (await found(sort="price_asc"))[:3] == [round_, vase, cable]
    assert await found(limit=2, offset=1) == [gnome, phone]

    _, buyer = await cloud.add_organisation("Buyer")
    for listing_id, stars in ((hexagonal, 3), (gnome, 5), (cable, 4)):
        await buy(cloud, buyer, listing_id)
        response = await cloud.client.put(
            f"{LISTINGS}/{listing_id}/review", json={"rating": stars}, headers=buyer
        )
        assert response.status_code == 201
    assert (await found(sort="rating"))[:3] == [gnome, cable, hexagonal]
    assert await found(q="planter", sort="rating") == [gnome, cable, hexagonal, round_]
