"""Headless Debian ``chromium`` driven by Playwright, with every request that is not local blocked and recorded.

Why Playwright (its Python package only, never its browser download): it drives the system browser through
``executable_path`` with no second package to keep in step (Selenium needs Debian's ``chromium-driver`` at
the browser's exact version), and its request routing (``context.route``) lets a test allow or fail every
request the page makes, which is what these tests assert (Selenium would need the DevTools protocol for
that too). The page runs with host names resolving to nothing (``--host-resolver-rules``), every http(s)
request routed (:class:`Guard`: allowed only for the test's own loopback server), WebSockets routed the
same way and service workers blocked.

Debian's ``chromium`` is installed by ``make test`` (the Makefile's ``browser`` target); a test module that
uses this skips only when it or Playwright is missing outside CI, and fails in CI.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = next((p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium")
                 if p and Path(p).exists()), None)
#: Schemes a page may load from: the page's own file, inline data, blobs it makes.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def require_browser() -> None:
    """Skip the calling module without chromium or Playwright (fail in CI, where ``make test`` installs both)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[test]')"
    else:
        missing = None if CHROMIUM else "chromium is not installed (make test installs Debian's chromium as root)"
    if missing and os.environ.get("CI"):
        pytest.fail(missing, pytrace=False)
    if missing:
        pytest.skip(f"{missing}; CI runs this test", allow_module_level=True)


@dataclass
class Guard:
    """Routes every request of a browser context: local schemes and ``allow`` prefixes pass, others fail."""

    allow: tuple[str, ...] = ()
    requests: list[str] = field(default_factory=list)  # every request the page made (allowed or not)
    blocked: list[str] = field(default_factory=list)  # the ones that were failed here
    errors: list[str] = field(default_factory=list)  # uncaught page errors and console errors

    def allowed(self, url: str) -> bool:
        return url.startswith(LOCAL_SCHEMES + self.allow)

    def route(self, route) -> None:
        url = route.request.url
        if self.allowed(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def websocket(self, ws) -> None:
        if self.allowed(ws.url):
            ws.connect_to_server()
        else:
            self.blocked.append(ws.url)
            ws.close()

    def remote(self) -> list[str]:
        """The requests that were for anything but the page's own files and the allowed servers."""
        return [u for u in self.requests if not self.allowed(u)]


@contextlib.contextmanager
def open_page(*, allow: tuple[str, ...] = (), width: int = 1280, height: int = 900,
              args: tuple[str, ...] = ()) -> Iterator[tuple[object, Guard]]:
    """A Playwright page in headless chromium and its :class:`Guard`; everything is closed on exit.

    ``allow`` are URL prefixes (a loopback server's ``http://127.0.0.1:<port>/``) that may be requested;
    ``args`` are extra chromium switches (e.g. the autoplay policy).
    """
    from playwright.sync_api import sync_playwright

    guard = Guard(allow=allow)
    loopback = ", EXCLUDE 127.0.0.1" if allow else ""
    switches = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-breakpad",
                "--disable-features=MediaRouter,OptimizationHints,Translate", "--metrics-recording-only",
                f"--host-resolver-rules=MAP * ~NOTFOUND{loopback}", *args]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=switches)
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, service_workers="block")
            context.route("**/*", guard.route)
            context.route_web_socket(re.compile(".*"), guard.websocket)
            page = context.new_page()
            page.on("request", lambda r: guard.requests.append(r.url))
            page.on("pageerror", lambda e: guard.errors.append(str(e)))
            page.on("console", lambda m: guard.errors.append(m.text) if m.type == "error" else None)
            yield page, guard
        finally:
            browser.close()


def stop(proc: subprocess.Popen, *, timeout: float = 10) -> None:
    """Terminate a child process, killing it when it does not exit within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def keep_screenshot(png: bytes, name: str) -> None:
    """Copy a screenshot to ``$MIR_SCREENSHOT_DIR`` (when set) to look at."""
    if os.environ.get("MIR_SCREENSHOT_DIR"):
        (Path(os.environ["MIR_SCREENSHOT_DIR"]) / name).write_bytes(png)
