"""Done-when 1 of the dashboard issue: `3dpot demo` (what `make demo` runs) shows three live printers in
the browser within 60 s, one printing, its progress moving without a reload; Ctrl-C stops it all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import DESKTOP
from tests.fixtures.demo import DemoProcess

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoProcess]:
    process = DemoProcess(tmp_path)
    try:
        yield process
    finally:
        process.kill()


def test_the_demo_shows_three_live_printers_one_printing_within_a_minute(
    chromium: Browser, demo: DemoProcess, tmp_path: Path
) -> None:
    banner = demo.wait_banner(timeout_s=60)
    assert banner["broker"].startswith("Mosquitto"), banner
    context = chromium.new_context(viewport=DESKTOP, base_url=banner["dashboard"])
    problems: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(e.message))
    page.goto("/")
    page.get_by_label("Email").fill(banner["login"])
    page.get_by_label("Password").fill(banner["password"])
    page.get_by_role("button", name="Sign in").click()
    cards = page.locator("article[data-printer-id]")
    expect(cards).to_have_count(3)
    for n in range(3):
        expect(cards.nth(n)).to_contain_text("Online")
    printing = page.locator('article[data-state="printing"]')
    expect(printing).to_have_count(1, timeout=max(1_000, int((60 - demo.elapsed_s()) * 1000)))
    seen_s = demo.elapsed_s()
    assert seen_s < 60, f"three live printers, one printing, only after {seen_s:.1f} s"
    expect(printing).to_contain_text("sample-vase.gcode")
    expect(printing).to_contain_text(re.compile(r"Nozzle\s*\d"))

    # live: the printing card's progress moves while the page stays (no reload, no polling by hand)
    page.evaluate("window.__sameDocument = true")
    progress = printing.locator("progress")
    first = progress.get_attribute("value")
    assert first is not None
    expect(progress).not_to_have_attribute("value", first, timeout=30_000)
    expect(printing.locator(".card-job .muted")).to_have_text(re.compile(r"ETA \d"), timeout=30_000)
    page.screenshot(path=tmp_path / "demo-fleet.png", full_page=True)
    assert page.evaluate("window.__sameDocument") is True
    page.close()
    context.close()
    assert problems == [], problems

    children = demo.descendants()
    assert demo.interrupt() == 0, demo.stderr_text()
    assert "stopped cleanly" in demo.stderr_text()
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left running after Ctrl-C: {alive}"
