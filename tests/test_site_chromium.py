"""reports/index.html in headless Chromium: the DVC plots render, nothing leaves the machine, a screenshot.

Chromium is driven over the DevTools protocol (a websocket on 127.0.0.1): every request the page makes is
observed (``Network.requestWillBeSent``) and http(s) is blocked twice over (``Network.setBlockedURLs`` and a
host resolver that resolves nothing). Debian's ``chromium`` is installed by ``make test`` (the Makefile's
``browser`` target); the test skips only when it is missing outside CI.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = next((p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium")
                 if p and Path(p).exists()), None)
if CHROMIUM is None:
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (make test installs Debian's chromium as root)", pytrace=False)
    pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test", allow_module_level=True)

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


class CDP:
    """A minimal DevTools-protocol client for one page target."""

    def __init__(self, ws_url: str):
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=20)
        self.next_id = 0
        self.events: list[dict] = []

    def _send(self, method: str, **params) -> None:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))

    def _event(self, msg: dict) -> None:
        """An event that arrived while waiting for a reply (subclasses may answer it)."""
        self.events.append(msg)

    def call(self, method: str, timeout: float = 30, **params) -> dict:
        self._send(method, **params)
        my_id = self.next_id
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self._event(msg)

    def evaluate(self, expr: str):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        return r.get("result", {}).get("value")

    def close(self):
        self.ws.close()


def stop(proc: subprocess.Popen, *, timeout: float = 10) -> None:
    """Terminate a child process, killing it when it does not exit within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def launch_chromium(tmp_path: Path, *, resolver_rules: str = "MAP * ~NOTFOUND", window: str = "1280,900"):
    """Headless chromium with remote debugging on an OS-chosen loopback port; yields its DevTools HTTP base."""
    profile = tmp_path / "profile"
    args = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-breakpad",
            "--disable-features=MediaRouter,OptimizationHints,Translate", "--metrics-recording-only",
            f"--host-resolver-rules={resolver_rules}", "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0", f"--user-data-dir={profile}", f"--window-size={window}", "about:blank"]
    log = open(tmp_path / "chromium.log", "w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("chromium did not start:\n" + (tmp_path / "chromium.log").read_text()[-3000:])
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
        log.close()


@pytest.fixture
def chromium(tmp_path):
    """Headless chromium (:func:`launch_chromium`); yields its DevTools HTTP base."""
    with launch_chromium(tmp_path) as devtools:
        yield devtools


@pytest.fixture
def tiny_run_report(project, monkeypatch):
    """reports/index.html built from a real run's metrics and plot data (the committed demo outputs)."""
    from mir.config import load_config
    from mir.reports.site import build_report

    shutil.copytree(ROOT / "metrics", project / "metrics")
    shutil.copytree(ROOT / "plots", project / "plots")
    (project / "reports/eval").mkdir(parents=True)
    (project / "reports/eval/index.html").write_text("<!DOCTYPE html><title>eval</title>")
    monkeypatch.setenv("MIR_RUN_ID", "chromium-test-run")
    return build_report(load_config("params.yaml"), progress=False)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_index_renders_offline_in_headless_chromium(tiny_run_report, chromium, tmp_path):
    page = tiny_run_report.resolve()
    with urllib.request.urlopen(f"{chromium}/json/list", timeout=10) as r:  # loopback only
        targets = [t for t in json.load(r) if t.get("type") == "page"]
    cdp = CDP(targets[0]["webSocketDebuggerUrl"])
    try:
        for domain in ("Network", "Page", "Runtime", "Log"):
            cdp.call(f"{domain}.enable")
        cdp.call("Network.setBlockedURLs", urls=["http://*", "https://*", "ws://*", "wss://*", "ftp://*"])
        cdp.call("Page.navigate", url=page.as_uri())
        n_plots = tiny_run_report.read_text().count('class="dvc-plot"')
        assert n_plots == 3
        deadline = time.monotonic() + 60
        while True:
            state = cdp.evaluate(
                "({ready: document.readyState, rendered: document.querySelectorAll('.dvc-plot[data-rendered]').length,"
                " svgs: document.querySelectorAll('.dvc-plot svg.marks').length,"
                " marks: document.querySelectorAll('.dvc-plot svg path, .dvc-plot svg rect').length,"
                " failed: [...document.querySelectorAll('.dvc-plot')].map(e => e.textContent)"
                ".filter(t => t.startsWith('plot failed'))})")
            if state["ready"] == "complete" and (state["rendered"] == n_plots or state["failed"]):
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        assert not state["failed"], state
        assert state["svgs"] == n_plots and state["marks"] > 20, state
        assert "chromium-test-run" in cdp.evaluate("document.body.innerText")
        shot = base64.b64decode(cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
    finally:
        cdp.close()

    out = tmp_path / "index.png"
    out.write_bytes(shot)
    if os.environ.get("MIR_SCREENSHOT_DIR"):  # keep it to look at
        shutil.copy(out, Path(os.environ["MIR_SCREENSHOT_DIR"]) / "index.png")
    w, h = _png_size(shot)
    assert w >= 800 and h >= 1000 and len(shot) > 20_000, (w, h, len(shot))

    requests = [e["params"]["request"]["url"] for e in cdp.events if e["method"] == "Network.requestWillBeSent"]
    assert page.as_uri() in requests
    remote = [u for u in requests if not u.startswith(LOCAL_SCHEMES)]
    assert remote == [], f"the page asked the network for {remote}"
    errors = [e["params"] for e in cdp.events if e["method"] == "Runtime.exceptionThrown"]
    errors += [e["params"]["entry"] for e in cdp.events
               if e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"]
    assert errors == [], errors
