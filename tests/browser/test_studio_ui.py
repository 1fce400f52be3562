"""The design studio and the notifications of the web UI in Debian's Chromium against a real farm (cloud,
Mosquitto, three agents on virtual printers): talk to the studio (a refusal, a design, a change, undo),
see the spec, the printability and the model drawn by three.js, download it, print it on the farm; a
printer's finished job lights the bell live; the notifications page marks read and keeps preferences;
both fit a phone."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Browsing
from tests.browser.farm import Farm
from tests.browser.test_fleet_ui import LIVE_TIMEOUT_MS, PHONE, log_in, no_horizontal_scroll

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SHORT_GCODE = b"; a short print from the browser test\nG28\nG1 X10 Y10 F6000\nG1 X20 Y20\nM400\n"
SLICE_TIMEOUT_MS = 120_000

# How many pixels of the viewer's WebGL canvas are not transparent (its background is clear).
DRAWN_PIXELS = """(canvas) => {
  const copy = document.createElement("canvas");
  copy.width = canvas.width;
  copy.height = canvas.height;
  const context = copy.getContext("2d");
  context.drawImage(canvas, 0, 0);
  const data = context.getImageData(0, 0, copy.width, copy.height).data;
  let drawn = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) drawn++;
  return drawn;
}"""


def open_studio(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Design studio").click()
    expect(page).to_have_url(re.compile(r"/studio$"))
    expect(page.get_by_role("heading", name="Design studio", level=1)).to_be_visible()


def say(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")
    expect(page.locator(".msg[data-role=user]", has_text=text)).to_be_visible()
    expect(page.locator(".msg-user .muted", has_text="sending")).to_have_count(0, timeout=30_000)


def param(page: Page, name: str) -> str:
    return page.locator(f'td[data-param="{name}"]').inner_text()


def test_converse_preview_undo_download_and_print(browsing: Browsing, farm: Farm, tmp_path: Path) -> None:
    page = log_in(browsing, farm)
    open_studio(page)

    # a refusal is shown as one, and starts the session (the URL gets its id)
    say(page, "a bicycle")
    expect(page).to_have_url(re.compile(r"/studio/[A-Za-z0-9_-]+$"))
    refusal = page.locator(".msg[data-role=studio]").last
    expect(refusal).to_have_attribute("data-kind", "refusal")
    expect(refusal).to_contain_text("Cannot do")
    expect(page.locator("td[data-param]")).to_have_count(0)

    # a design: the reply, the parameters, the printability and the model in 3D
    say(page, "a planter 120 mm tall with drainage holes")
    reply = page.locator(".msg[data-role=studio]").last
    expect(reply).to_have_attribute("data-kind", "spec")
    expect(page.locator('td[data-param="height"]')).to_have_text("120 mm")
    assert int(param(page, "drainage_holes")) > 0
    expect(page.locator('td[data-param="family"]')).to_have_text("Planter")
    printability = page.get_by_role("region", name="Printability")
    expect(printability).to_have_attribute("data-printable", "true")
    expect(printability).to_contain_text("cm³")
    expect(printability).to_contain_text(re.compile(r"\d+ g"))

    viewer = page.locator(".viewer")
    expect(viewer).to_have_attribute("data-status", "ready", timeout=30_000)
    canvas = page.get_by_role("img", name=re.compile(r"^Planter, version 1"))
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100, box
    assert int(canvas.get_attribute("data-triangles") or 0) > 100
    drawn = canvas.evaluate(DRAWN_PIXELS)
    assert drawn > 1000, f"the 3D preview drew {drawn} pixels"
    page.screenshot(path=tmp_path / "studio-desktop.png", full_page=True)

    # by keyboard too: the canvas takes focus (arrow keys orbit), the Send button works without Enter
    canvas.focus()
    page.keyboard.press("ArrowLeft")
    page.get_by_label("Message", exact=True).fill("make it 2 cm taller")
    page.get_by_role("button", name="Send").click()
    expect(page.locator('td[data-param="height"]')).to_have_text("140 mm")
    expect(page.get_by_role("img", name=re.compile(r"^Planter, version 2"))).to_be_visible()
    expect(viewer).to_have_attribute("data-status", "ready", timeout=30_000)

    page.get_by_role("button", name="Undo").click()
    expect(page.locator('td[data-param="height"]')).to_have_text("120 mm")
    expect(page.locator(".msg[data-role=studio]").last).to_have_attribute("data-kind", "undo")
    expect(viewer).to_have_attribute("data-status", "ready", timeout=30_000)

    # downloads go through an authenticated fetch (a bare link would be a 401)
    with page.expect_download() as stl_download:
        page.get_by_role("button", name="Download STL").click()
    stl = tmp_path / "model.stl"
    stl_download.value.save_as(stl)
    assert stl_download.value.suggested_filename.endswith(".stl")
    assert stl.stat().st_size > 84
    with page.expect_download() as threemf_download:
        page.get_by_role("button", name="Download 3MF").click()
    threemf = tmp_path / "model.3mf"
    threemf_download.value.save_as(threemf)
    assert threemf.read_bytes()[:2] == b"PK"

    # print on a chosen printer: confirm, the job id, a link to the queue
    target = farm.printers[0]
    page.get_by_label("Printer", exact=True).select_option(value=target.pid)
    page.get_by_role("button", name="Print…").click()
    dialog = page.get_by_role("dialog", name="Print version 3?")
    expect(dialog).to_contain_text(target.name)
    dialog.get_by_role("button", name="Queue the print").click()
    queued = page.locator("[data-job-id]")
    expect(queued).to_contain_text("Queued as job", timeout=SLICE_TIMEOUT_MS)
    job_id = queued.get_attribute("data-job-id")
    job = farm.api("GET", f"/api/jobs/{job_id}").json()
    assert job["requirements"]["material"] == "PLA", job
    farm.api("POST", f"/api/jobs/{job_id}/cancel")  # leave the printer to the next test
    page.get_by_role("link", name="See the farm queue").click()
    expect(page.get_by_role("heading", name="Farm queue", level=1)).to_be_visible()

    # the session is listed, and a reload of its URL brings it back
    open_studio(page)
    page.get_by_role("region", name="Earlier designs").get_by_role("link").first.click()
    expect(page.locator('td[data-param="height"]')).to_have_text("120 mm")
    page.reload()
    expect(page.locator('td[data-param="height"]')).to_have_text("120 mm")
    expect(page.locator(".msg")).to_have_count(8)


def test_a_finished_job_lights_the_bell_and_the_page_marks_it_read(browsing: Browsing, farm: Farm) -> None:
    page = log_in(browsing, farm)
    bell = page.get_by_role("link", name=re.compile(r"^Notifications"))
    expect(bell).to_be_visible()
    before = int(bell.get_attribute("data-unread") or 0)
    page.evaluate("window.__sameDocument = true")

    printer = farm.printers[2]
    response = httpx.post(
        f"{printer.agent.url}/api/files/local",
        headers=printer.agent.headers,
        files={"file": ("bell.gcode", SHORT_GCODE, "application/octet-stream")},
        data={"print": "true", "path": ""},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    expect(bell).not_to_have_attribute("data-unread", str(before), timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument") is True, "the bell changed by reloading the page"
    expect(bell).to_have_accessible_name(re.compile(r"Notifications, \d+ unread"))

    bell.click()
    expect(page).to_have_url(re.compile(r"/notifications$"))
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    unread = page.locator("li.notice[data-unread=true]", has_text="completed")
    expect(unread.first).to_contain_text(printer.name)
    count = page.locator("[data-unread-count]")
    total = int(count.get_attribute("data-unread-count") or 0)
    assert total >= 1

    unread.first.get_by_role("button", name=re.compile("^Mark read")).click()
    expect(count).to_have_attribute("data-unread-count", str(total - 1))
    expect(bell).to_have_attribute("data-unread", str(total - 1))
    if total > 1:
        page.get_by_role("button", name="Mark all read").click()
    expect(count).to_have_text("Nothing unread")
    expect(bell).to_have_accessible_name("Notifications, none unread")
    assert farm.api("GET", "/api/notifications", params={"unread": "true"}).json() == []

    email = page.get_by_label("Job completed: E-mail")
    expect(email).not_to_be_checked()
    email.check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Preferences saved.")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Job completed: E-mail")).to_be_checked()
    prefs = farm.api("GET", "/api/notifications/preferences").json()
    assert prefs["kinds"]["job.completed"]["email"] is True


def test_studio_and_notifications_fit_a_phone(browsing: Browsing, farm: Farm, tmp_path: Path) -> None:
    page = browsing.page
    page.set_viewport_size(PHONE)
    page = log_in(browsing, farm)
    open_studio(page)
    say(page, "a 10 cm pot 20 cm tall that is 5 cm tall")  # contradictory: the studio asks
    question = page.locator(".msg[data-role=studio]").last
    expect(question).to_have_attribute("data-kind", "question")
    expect(question).to_contain_text("Question")
    say(page, "a planter 120 mm tall with drainage holes")
    expect(page.locator('td[data-param="height"]')).to_have_text("120 mm")
    expect(page.locator(".viewer")).to_have_attribute("data-status", "ready", timeout=30_000)
    box = page.locator(".viewer canvas").bounding_box()
    assert box is not None and 0 < box["width"] <= PHONE["width"], box
    page.screenshot(path=tmp_path / "studio-375.png", full_page=True)
    assert no_horizontal_scroll(page), "the studio scrolls sideways at 375 px"

    page.get_by_role("link", name=re.compile(r"^Notifications")).click()
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Save preferences")).to_be_visible()
    page.screenshot(path=tmp_path / "notifications-375.png", full_page=True)
    assert no_horizontal_scroll(page), "the notifications page scrolls sideways at 375 px"


def test_without_webgl_the_studio_shows_the_rendered_picture(browsing: Browsing, farm: Farm) -> None:
    page = browsing.page
    page.add_init_script(
        """(() => {
          const getContext = HTMLCanvasElement.prototype.getContext;
          HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
            return String(kind).startsWith("webgl") ? null : getContext.call(this, kind, ...rest);
          };
        })()"""
    )
    page = log_in(browsing, farm)
    open_studio(page)
    say(page, "a vase 150 mm tall")
    viewer = page.locator(".viewer")
    expect(viewer).to_have_attribute("data-status", "no-webgl")
    picture = viewer.get_by_role("img", name=re.compile(r"^Vase, version 1$"))
    expect(picture).to_be_visible(timeout=60_000)
    assert picture.evaluate("(img) => img.complete && img.naturalWidth > 0") is True
    expect(viewer).to_contain_text("a rendered picture instead")
