"""Evidently's own UI over mir's monitoring workspace, in headless Chromium with every external request blocked.

Two monitor runs are recorded into a workspace (:mod:`mir.monitoring.history`, from small generated tables:
no model needed), ``mir monitor ui`` (``evidently ui``) serves it on a free loopback port (started and
stopped here), and Chromium loads the project's dashboard over the DevTools protocol: every request is
intercepted (``Fetch``) and any that is not for that loopback server fails (``BlockedByClient``), host names
resolve to nothing. The panels must render, and the line plots must show a point for each run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from test_new_music import record_runs
from test_site_chromium import CHROMIUM, CDP, launch_chromium, stop  # noqa: F401 - skips without chromium, like that test


class FetchCDP(CDP):
    """The DevTools client of test_site_chromium, answering every paused request: loopback server or blocked."""

    def __init__(self, ws_url: str, allow: str):
        super().__init__(ws_url)
        self.allow = allow
        self.blocked: list[str] = []

    def _event(self, msg: dict) -> None:
        super()._event(msg)
        if msg.get("method") == "Fetch.requestPaused":
            p = msg["params"]
            if p["request"]["url"].startswith(self.allow):
                self._send("Fetch.continueRequest", requestId=p["requestId"])
            else:
                self.blocked.append(p["request"]["url"])
                self._send("Fetch.failRequest", requestId=p["requestId"], errorReason="BlockedByClient")

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                return
            if "method" in msg:
                self._event(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def evidently_ui(project, tmp_path):
    """Two recorded runs, and ``evidently ui`` serving their workspace on 127.0.0.1:<free port>."""
    from mir.config import load_config
    from mir.monitoring.history import ui_command

    cfg = load_config()
    runs = record_runs(cfg, n=2)
    port = _free_port()
    log = open(tmp_path / "ui.log", "w")
    assert ui_command(cfg, port=port)[1:] == ["ui", "--workspace", "evidently", "--host", "127.0.0.1",
                                              "--port", str(port)]
    mir = str(Path(sys.executable).parent / "mir")  # the real command: `mir monitor ui` becomes `evidently ui`
    proc = subprocess.Popen([mir, "monitor", "ui", "--port", str(port)], cwd=project, stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "DO_NOT_TRACK": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/projects", timeout=5) as r:
                    projects = json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("evidently ui did not start:\n" + (tmp_path / "ui.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base, projects, runs
    finally:
        stop(proc, timeout=15)
        log.close()


TITLES = ("Share of drifted columns", "Songs flagged unknown", "Accuracy and macro-F1 on labelled new music",
          "Predicted-genre shares", "Model version (registry) per run")
LINE_SERIES = (1, 2, 2, 2, 1)  # series per line-plot panel, in dashboard order


def test_dashboard_shows_both_runs_in_headless_chromium(evidently_ui, tmp_path):
    base, projects, runs = evidently_ui
    (project,) = projects
    assert project["id"] == runs[0]["project_id"]
    with launch_chromium(tmp_path, resolver_rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                         window="1400,1000") as devtools:
        with urllib.request.urlopen(f"{devtools}/json/list", timeout=10) as r:
            target = next(t for t in json.load(r) if t.get("type") == "page")
        cdp = FetchCDP(target["webSocketDebuggerUrl"], allow=base + "/")
        try:
            for domain in ("Network", "Page", "Runtime", "Log"):
                cdp.call(f"{domain}.enable")
            cdp.call("Fetch.enable", patterns=[{"urlPattern": "*"}])
            cdp.call("Page.navigate", url=f"{base}/projects/{project['id']}")
            deadline = time.monotonic() + 120
            while True:
                cdp.pump(1.0)
                state = cdp.evaluate(
                    "(() => ({text: document.body ? document.body.innerText : '',"
                    " charts: [...document.querySelectorAll('svg')].filter(s => s.querySelector('circle') &&"
                    " s.querySelector('path')).map(s => s.querySelectorAll('circle').length)}))()")
                if (all(t in state["text"] for t in TITLES) and len(state["charts"]) >= len(LINE_SERIES)
                        and sum(state["charts"]) >= 2 * sum(LINE_SERIES)):
                    break
                assert time.monotonic() < deadline, state
            cdp.pump(1.0)
            shot = cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        finally:
            cdp.close()
    if os.environ.get("MIR_SCREENSHOT_DIR"):  # keep it to look at
        import base64

        (Path(os.environ["MIR_SCREENSHOT_DIR"]) / "evidently-dashboard.png").write_bytes(base64.b64decode(shot))
    # one mark per run and series: share drifted (1), unknown flagged/expected (2), accuracy/macro-F1 (2),
    # predicted-genre shares (jazz, rock: 2), model version (1); two runs each
    assert state["charts"] == [2 * n for n in LINE_SERIES], state["charts"]
    requests = [e["params"]["request"]["url"] for e in cdp.events if e["method"] == "Network.requestWillBeSent"]
    assert any("/api/v2/snapshots/" in u for u in requests), requests  # the panels' points came from the server
    assert cdp.blocked == [], f"the UI asked the network for {cdp.blocked}"
    assert all(u.startswith((base + "/", "data:", "blob:")) for u in requests), requests
