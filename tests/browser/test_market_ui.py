"""The marketplace of the web UI in Debian's Chromium against a real farm: another organisation sells
(and buys), the farm's admin searches with filters and sorting, buys a listing (charged once),
downloads it, prints it on a farm printer and reviews it (the review shows as text, never as markup);
a sale of the farm's own listing lights the bell live; the pages fit a phone."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from cloud.settings import PasswordHashing
from cloud.users.passwords import Passwords
from cloud.users.service import create_organisation_with_admin
from tests.browser.conftest import Browsing
from tests.browser.farm import Farm
from tests.browser.test_fleet_ui import LIVE_TIMEOUT_MS, PHONE, log_in, no_horizontal_scroll

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

GCODE = b"; sold on the marketplace\nG28\nG1 X10 Y10 F6000\nG1 X20 Y20\nM400\n"
SLICE_TIMEOUT_MS = 60_000


class Seller:
    """A second organisation of the farm's cloud (there is no public route to make one): its admin's API."""

    def __init__(self, farm: Farm, name: str) -> None:
        self.url = farm.cloud.url
        email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
        password = f"pw-{uuid.uuid4().hex}"
        db = farm.workdir / "cloud-process" / "cloud" / "cloud.db"
        assert db.is_file(), db
        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API runs an event loop in this thread
            pool.submit(asyncio.run, self._create(db, name, email, password)).result()
        login = httpx.post(
            f"{self.url}/api/auth/login", json={"email": email, "password": password}, timeout=10
        )
        login.raise_for_status()
        self.headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    @staticmethod
    async def _create(db: Path, name: str, email: str, password: str) -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{db}")
        try:
            async with async_sessionmaker(engine)() as session:
                await create_organisation_with_admin(
                    session,
                    Passwords(PasswordHashing(time_cost=1, memory_kib=1024, parallelism=1)),
                    name,
                    email,
                    password,
                )
                await session.commit()
        finally:
            await engine.dispose()

    def api(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self.headers, **(headers or {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)


def listing(api: Any, upload: bool = True, **body: Any) -> dict[str, Any]:
    created = api("POST", "/api/market/listings", json=body)
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    if upload:
        name = re.sub(r"\W+", "-", body["title"].lower()) + ".gcode"
        put = api(
            "PUT",
            f"/api/market/listings/{result['id']}/file",
            files={"file": (name, GCODE, "application/octet-stream")},
        )
        assert put.status_code == 200, put.text
        result = put.json()
    return result


@pytest.fixture(scope="module")
def market(farm: Farm) -> dict[str, Any]:
    seller = Seller(farm, "Maker Co")
    planter = listing(
        seller.api,
        title="Hexagonal planter",
        description="A hexagonal pot for herbs.\nPrints without supports.",
        price_cents=499,
        licence="personal",
        tags=["planter", "garden"],
        source={"design_spec": {"family": "planter", "outline": "hexagonal", "height": 110}},
    )
    clip = listing(
        seller.api, title="Cable clip", description="Keeps cables tidy.", price_cents=0, tags=["desk"]
    )
    lamp = listing(
        seller.api,
        title="Lamp shade",
        description="A shade for a desk lamp.",
        price_cents=1500,
        tags=["desk"],
    )
    ours = listing(
        farm.api, title="Farm sign", description="The farm's own sign.", price_cents=250, tags=["sign"]
    )
    return {"seller": seller, "planter": planter, "clip": clip, "lamp": lamp, "ours": ours}


def open_market(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Marketplace").click()
    expect(page.get_by_role("heading", name="Marketplace", level=1)).to_be_visible()


def titles(page: Page) -> Any:
    return page.locator("article[data-listing-id] .card-title")


def test_search_filter_and_sort(browsing: Browsing, farm: Farm, market: dict[str, Any]) -> None:
    page = log_in(browsing, farm)
    open_market(page)
    expect(titles(page)).to_have_count(4)

    page.get_by_label("Search", exact=True).fill("planter")
    page.get_by_label("Search", exact=True).press("Enter")
    expect(page).to_have_url(re.compile(r"/market\?q=planter$"))
    expect(titles(page)).to_have_text(["Hexagonal planter"])
    expect(page.get_by_role("status").filter(has_text="listing")).to_have_text("1 listing")

    page.get_by_label("Search", exact=True).fill("")
    page.get_by_label("Tag", exact=True).fill("desk")
    page.get_by_role("button", name="Search").click()
    expect(titles(page)).to_have_count(2)
    page.get_by_label("Price", exact=True).select_option("true")
    expect(titles(page)).to_have_text(["Cable clip"])
    expect(page.locator("article[data-listing-id]")).to_contain_text("Free")
    page.get_by_label("Price", exact=True).select_option("")
    page.get_by_label("Tag", exact=True).fill("")
    page.get_by_role("button", name="Search").click()
    page.get_by_label("Sort by").select_option("price_desc")
    expect(titles(page)).to_have_text(["Lamp shade", "Hexagonal planter", "Farm sign", "Cable clip"])
    page.get_by_label("Sort by").select_option("price_asc")
    expect(titles(page)).to_have_text(["Cable clip", "Farm sign", "Hexagonal planter", "Lamp shade"])

    page.go_back()  # the search lives in the URL
    expect(titles(page)).to_have_text(["Lamp shade", "Hexagonal planter", "Farm sign", "Cable clip"])
    expect(page.get_by_label("Sort by")).to_have_value("price_desc")


def test_buy_download_print_and_review(
    browsing: Browsing, farm: Farm, market: dict[str, Any], tmp_path: Path
) -> None:
    page = log_in(browsing, farm)
    open_market(page)
    page.get_by_role("link", name="Hexagonal planter").click()
    planter = market["planter"]
    expect(page).to_have_url(re.compile(f"/market/{planter['id']}$"))
    expect(page.get_by_role("heading", name="Hexagonal planter", level=1)).to_be_visible()
    expect(page.locator(".listing-description")).to_have_text(
        "A hexagonal pot for herbs.\nPrints without supports."
    )
    expect(page.locator('td[data-param="outline"]')).to_have_text("hexagonal")
    expect(page.get_by_text("Maker Co")).to_be_visible()

    requests: list[dict[str, str]] = []
    page.on(
        "request",
        lambda request: requests.append(request.headers) if request.url.endswith("/purchase") else None,
    )
    buy = page.get_by_role("form", name=re.compile(r"^Buy for"))
    buy.get_by_label("Card token").fill("tok_visa")
    buy.get_by_role("button", name=re.compile(r"^Buy for")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("charged once")
    dialog.get_by_role("button", name=re.compile(r"^Pay")).click()
    owned = page.get_by_role("region", name="Yours to print")
    expect(owned).to_be_visible()
    assert len(requests) == 1 and re.fullmatch(r"[0-9a-f-]{36}", requests[0]["idempotency-key"]), requests
    bought = [p for p in farm.api("GET", "/api/market/purchases").json() if p["listing_id"] == planter["id"]]
    assert len(bought) == 1 and bought[0]["price_cents"] == 499, bought

    with page.expect_download() as download:
        owned.get_by_role("button", name=re.compile(r"^Download")).click()
    saved = tmp_path / "planter.gcode"
    download.value.save_as(saved)
    assert saved.read_bytes() == GCODE

    target = farm.printers[0]
    owned.get_by_label("Printer", exact=True).select_option(value=target.pid)
    owned.get_by_role("button", name="Print this…").click()
    page.get_by_role("dialog").get_by_role("button", name="Queue the print").click()
    queued = owned.locator("[data-job-id]")
    expect(queued).to_contain_text("Queued as job", timeout=SLICE_TIMEOUT_MS)
    job_id = queued.get_attribute("data-job-id")
    farm.api("POST", f"/api/jobs/{job_id}/cancel")

    # a review with markup in it: stripped by the cloud, and what is left shows as text
    page.get_by_label("Rating").select_option("4")
    page.get_by_label("Review", exact=True).fill("Great <b>pot</b>! <img src=x onerror=alert(1)> 3 < 5")
    page.get_by_role("button", name="Save review").click()
    review = page.locator("li.review").first
    expect(review).to_contain_text("Great")
    expect(review).to_contain_text("3 < 5")
    expect(page.locator(".review-text b, .review-text img")).to_have_count(0)
    expect(page.get_by_role("heading", name="Reviews (1)")).to_be_visible()
    page.screenshot(path=tmp_path / "listing-desktop.png", full_page=True)


def test_a_sale_lights_the_bell_and_the_pages_fit_a_phone(
    browsing: Browsing, farm: Farm, market: dict[str, Any], tmp_path: Path
) -> None:
    page = browsing.page
    page.set_viewport_size(PHONE)
    page = log_in(browsing, farm)
    bell = page.get_by_role("link", name=re.compile(r"^Notifications"))
    before = int(bell.get_attribute("data-unread") or 0)

    seller = market["seller"]
    sold = seller.api(
        "POST",
        f"/api/market/listings/{market['ours']['id']}/purchase",
        json={"card_token": "tok_visa"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert sold.status_code == 201, sold.text
    expect(bell).to_have_attribute("data-unread", str(before + 1), timeout=LIVE_TIMEOUT_MS)

    open_market(page)
    expect(titles(page)).to_have_count(4)
    page.screenshot(path=tmp_path / "market-375.png", full_page=True)
    assert no_horizontal_scroll(page), "the marketplace scrolls sideways at 375 px"
    page.get_by_role("link", name="Farm sign").click()
    expect(page.get_by_role("heading", name="Farm sign", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="Yours to print")).to_be_visible()  # the seller's own
    page.screenshot(path=tmp_path / "listing-375.png", full_page=True)
    assert no_horizontal_scroll(page), "a listing scrolls sideways at 375 px"

    bell.click()
    expect(page.locator("li.notice[data-unread=true]", has_text="Sold Farm sign")).to_be_visible()
