"""A real headless Chromium (Debian's package) driven by Playwright, for the web page tests.

Chromium runs with no network access beyond the local server: no first-run, sync, component updates or
background networking, and a fresh profile for every launch. Tests skip, saying why, when the browser or
the driving library is not installed here; CI (`.ci/run`) installs both, so there they run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artefacts" / "web-screenshots"
CHROMIUM = os.environ.get("STUDYBOT_CHROMIUM", "/usr/bin/chromium")
AXE_JS = Path(os.environ.get("STUDYBOT_AXE_JS", ROOT / "tests/web/.axe/node_modules/axe-core/axe.min.js"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium (as .ci/run does) to run browser tests")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright for Python is not installed: pip install -e '.[test]'")


def require_axe() -> Path:
    if not AXE_JS.exists():
        pytest.skip(f"axe-core is not installed at {AXE_JS}: run `npm install --prefix tests/web/.axe axe-core@4`")
    return AXE_JS


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A fresh headless Chromium. Playwright's `launch` gives every launch a new, empty `--user-data-dir` of its
    own (in a temporary directory it deletes afterwards), so no profile carries over between tests."""
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()
