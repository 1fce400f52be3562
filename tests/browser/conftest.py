"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, and a real farm to look at.

- ``chromium`` (session): a headless ``/usr/bin/chromium`` (``$CHROMIUM_BIN`` overrides); no browser
  download. Missing Chromium or a built UI (``make web``) skips here and fails in CI.
- ``farm`` (module): ``3dpot cloud`` + three agents on virtual printers, enrolled with claim codes.
- ``browsing`` (function): a fresh browser context on the farm's cloud; every console error and page
  error is collected, and the test fails at teardown when there was any.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, ViewportSize, sync_playwright

from tests.browser.farm import Farm, build_farm
from tests.fixtures.broker import MosquittoBroker, missing_infrastructure

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
WEB_DIST = Path(__file__).resolve().parents[2] / "dashboards" / "web" / "dist"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        missing_infrastructure(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_BIN)")
    if not (WEB_DIST / "index.html").is_file():
        missing_infrastructure(f"the web UI is not built in {WEB_DIST}: run make web")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoBroker) -> Iterator[Farm]:
    built = build_farm(tmp_path_factory.mktemp("farm"), mosquitto.url)
    try:
        built.wait_fleet()
        yield built
    finally:
        built.stop()


@dataclass
class Browsing:
    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text} at {message.location}")

    def on_page_error(self, error: Error) -> None:
        self.problems.append(f"page error: {error.message}")


@pytest.fixture
def browsing(chromium: Browser, farm: Farm) -> Iterator[Browsing]:
    context = chromium.new_context(viewport=DESKTOP, base_url=farm.cloud.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    browsing = Browsing(page, farm.cloud.url)
    page.on("console", browsing.on_console)
    page.on("pageerror", browsing.on_page_error)
    try:
        yield browsing
    finally:
        page.close()  # closes the EventSource before the context goes
        context.close()
    assert browsing.problems == [], "the page logged errors:\n" + "\n".join(browsing.problems)
