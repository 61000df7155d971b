"""A real Chromium (Debian's package) driven by Playwright for Python, for the web page's end-to-end tests.

Playwright's own browser download is not used: `apt-get install -y chromium` provides /usr/bin/chromium, and a
missing browser fails the tests with that instruction (a skipped test would count as passing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # playwright_or_fail fails the tests with the install instruction
    expect = None

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = ("the web page tests need Debian's Chromium and Playwright for Python: `apt-get update && apt-get install -y "
           "chromium` and `pip install -e '.[page]'` (Playwright's own browser download is not used)")


def launch(playwright: Any) -> Any:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL}")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])


def playwright_or_fail() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"playwright is not installed: {INSTALL}")
    return sync_playwright


@dataclass
class Watch:
    """What one page did: console errors, uncaught exceptions, and every URL it requested."""

    errors: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("request", lambda r: self.urls.append(r.url))

    def foreign(self, origin: str) -> list[str]:
        """Requests that did not go to the server itself (blob: and data: URLs are the page's own pictures)."""
        return [u for u in self.urls if not u.startswith((origin + "/", "blob:", "data:"))]


@contextmanager
def signed_in(url: str, key: str, shot: Path, viewport: dict[str, int], timeout_ms: int = 60_000) -> Iterator[Any]:
    """A Chromium page on `url` signed in with `key` (the login dialog, then the session cookie), its requests and
    errors watched (`page.watch`); a full-page screenshot is written to `shot` at the end."""
    with playwright_or_fail()() as playwright:
        chromium = launch(playwright)
        context = chromium.new_context(viewport=viewport)
        context.set_default_timeout(timeout_ms)
        page = context.new_page()
        page.watch = Watch()
        page.watch.attach(page)
        page.goto(url + "/")
        page.fill("#login-key", key)
        with page.expect_navigation():
            page.click("#login-form button[type=submit]")
        yield page
        page.screenshot(path=str(shot), full_page=True)
        chromium.close()
