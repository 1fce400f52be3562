"""The fleet web UI in Debian's Chromium against a real farm (cloud, Mosquitto, three agents on virtual
printers): log in, watch printers live, pause one from its page, use the farm queue, fit a phone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.browser.conftest import Browsing
from tests.browser.farm import Farm, FarmPrinter

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

LIVE_TIMEOUT_MS = 30_000
PHONE: ViewportSize = {"width": 375, "height": 812}
GCODE = b"; queued from the browser test\nG28\nG1 X10 Y10 F6000\nG1 X20 Y20\nM400\n"


def log_in(browsing: Browsing, farm: Farm) -> Page:
    page = browsing.page
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(farm.cloud.admin["email"])
    page.get_by_label("Password").fill(farm.cloud.admin["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Fleet", level=1)).to_be_visible()
    expect(page.locator("[data-feed]")).to_have_attribute("data-feed", "live", timeout=LIVE_TIMEOUT_MS)
    return page


def card(page: Page, printer: FarmPrinter) -> Locator:
    return page.locator(f'article[data-printer-id="{printer.pid}"]')


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"))


def test_every_printer_appears_and_a_print_shows_up_live(
    browsing: Browsing, farm: Farm, tmp_path: Path
) -> None:
    page = log_in(browsing, farm)
    for printer in farm.printers:
        expect(card(page, printer)).to_contain_text(printer.name)
        expect(card(page, printer)).to_contain_text("Online")
        expect(card(page, printer)).to_have_attribute("data-state", "standby")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloaded

    printing = farm.printers[0]
    farm.start_print(printing, "live-card.gcode")
    expect(card(page, printing)).to_have_attribute("data-state", "printing", timeout=LIVE_TIMEOUT_MS)
    expect(card(page, printing)).to_contain_text("live-card.gcode")
    expect(card(page, printing).get_by_role("progressbar")).to_be_visible()
    expect(card(page, printing)).to_contain_text("ETA")
    assert page.evaluate("window.__sameDocument") is True, "the card changed by reloading the page"
    page.screenshot(path=tmp_path / "fleet-desktop.png", full_page=True)

    page.get_by_label("State", exact=True).select_option("printing")
    expect(page.locator("article[data-printer-id]")).to_have_count(1)
    page.get_by_label("State", exact=True).select_option("")
    page.get_by_label("Tag", exact=True).select_option("right")
    expect(page.locator("article[data-printer-id]")).to_have_count(2)
    page.get_by_label("Material", exact=True).select_option("PETG")
    expect(page.locator("article[data-printer-id]")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"tag=right&material=PETG"))


def test_pause_and_resume_a_printer_from_its_page(browsing: Browsing, farm: Farm, tmp_path: Path) -> None:
    page = log_in(browsing, farm)
    printer = farm.printers[1]
    farm.start_print(printer, "pause-me.gcode")
    expect(card(page, printer)).to_have_attribute("data-state", "printing", timeout=LIVE_TIMEOUT_MS)

    card(page, printer).get_by_role("link", name=printer.name).click()
    expect(page).to_have_url(re.compile(f"/printers/{printer.pid}$"))
    state = page.locator("main .page-head [data-state]")
    expect(state).to_have_attribute("data-state", "printing")

    # by keyboard: the dialog takes focus on its harmless button, and Escape leaves the print alone
    page.get_by_role("button", name="Pause").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=f"Pause {printer.name}?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Go back")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(state).to_have_attribute("data-state", "printing")

    page.get_by_role("button", name="Pause").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Pause").click()
    expect(dialog).to_be_hidden()
    expect(state).to_have_attribute("data-state", "paused", timeout=LIVE_TIMEOUT_MS)
    assert printer.agent.get("/api/agent/printer").json()["printer_state"] == "paused"

    page.get_by_role("button", name="Resume").click()
    page.get_by_role("dialog").get_by_role("button", name="Resume").click()
    expect(state).to_have_attribute("data-state", "printing", timeout=LIVE_TIMEOUT_MS)

    history = page.get_by_role("table", name=re.compile("^Jobs on this printer"))
    expect(history).to_contain_text("pause-me.gcode", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator(".chart-box canvas")).to_have_count(1)
    page.screenshot(path=tmp_path / "printer-desktop.png", full_page=True)


def test_upload_reorder_and_cancel_in_the_farm_queue(browsing: Browsing, farm: Farm) -> None:
    page = log_in(browsing, farm)
    page.get_by_role("link", name="Farm queue").click()
    expect(page.get_by_role("heading", name="Farm queue", level=1)).to_be_visible()

    page.get_by_label("G-code file").set_input_files(
        {"name": "first.gcode", "mimeType": "application/octet-stream", "buffer": GCODE}
    )
    page.get_by_label("Material").fill("ABS")  # nobody has ABS: the jobs stay queued
    page.get_by_label("Nozzle (mm)").fill("0.4")
    page.get_by_label("Tags").fill("left")
    page.get_by_role("button", name="Upload to the queue").click()
    expect(page.get_by_text("Queued first.gcode.")).to_be_visible()
    waiting = page.get_by_role("region", name=re.compile(r"^Waiting"))
    first = waiting.locator("li.job", has_text="first.gcode")
    expect(first).to_contain_text("ABS")
    expect(first).to_contain_text("0.4 mm nozzle")
    expect(first).to_contain_text("#left")

    page.get_by_label("G-code file").set_input_files(
        {"name": "second.gcode", "mimeType": "application/octet-stream", "buffer": GCODE}
    )
    page.get_by_label("Material").fill("ABS")
    page.get_by_role("button", name="Upload to the queue").click()
    expect(page.get_by_text("Queued second.gcode.")).to_be_visible()
    names = waiting.locator("li.job .job-name")
    expect(names).to_have_text(["first.gcode", "second.gcode"])

    page.get_by_role("button", name="Move second.gcode up").click()
    expect(names).to_have_text(["second.gcode", "first.gcode"])
    jobs = {j["filename"]: j for j in farm.api("GET", "/api/jobs").json()}
    assert jobs["second.gcode"]["priority"] > jobs["first.gcode"]["priority"]

    page.get_by_role("button", name="Cancel first.gcode").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel job").click()
    expect(names).to_have_text(["second.gcode"])
    finished = page.get_by_role("region", name="Finished")
    expect(finished.locator("li.job", has_text="first.gcode")).to_have_attribute("data-state", "cancelled")


def test_a_phone_sees_every_screen_without_horizontal_scroll(
    browsing: Browsing, farm: Farm, tmp_path: Path
) -> None:
    page = browsing.page
    page.set_viewport_size(PHONE)
    page = log_in(browsing, farm)
    expect(page.locator("article[data-printer-id]")).to_have_count(len(farm.printers))
    page.screenshot(path=tmp_path / "fleet-375.png", full_page=True)
    assert no_horizontal_scroll(page), "the fleet grid scrolls sideways at 375 px"

    card(page, farm.printers[0]).get_by_role("link").click()
    expect(page.locator(".chart-box canvas")).to_have_count(1)
    page.screenshot(path=tmp_path / "printer-375.png", full_page=True)
    assert no_horizontal_scroll(page), "the printer page scrolls sideways at 375 px"

    page.get_by_role("link", name="Farm queue").click()
    expect(page.get_by_role("heading", name="Farm queue", level=1)).to_be_visible()
    page.screenshot(path=tmp_path / "queue-375.png", full_page=True)
    assert no_horizontal_scroll(page), "the farm queue scrolls sideways at 375 px"
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    for name in ("fleet-375.png", "printer-375.png", "queue-375.png"):
        assert (tmp_path / name).stat().st_size > 0
