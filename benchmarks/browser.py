"""Headless Chromium for the benchmarks that need a browser (Debian's, driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Playwright is imported when a browser is wanted, not by every benchmark
    from playwright.sync_api import Browser, Page

COUNT_NODES = "document.querySelectorAll('*').length"


@contextmanager
def chromium() -> Iterator[Browser]:
    """A Playwright browser (sync API); raises if Debian's chromium is not installed."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("these benchmarks need Debian's chromium: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable)
        try:
            yield browser
        finally:
            browser.close()


def wait_finished(page: Page, timeout_ms: float = 300_000) -> None:
    """Until the live page says the run is over (its status swapped in over the websocket)."""
    page.wait_for_selector("#status:not(.status-running):not(.status-queued)", timeout=timeout_ms)
