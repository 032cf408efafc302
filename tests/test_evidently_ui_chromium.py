"""Evidently's own UI over mir's monitoring workspace, in headless Chromium with every external request blocked.

Two monitor runs are recorded into a workspace (:mod:`mir.monitoring.history`, from small generated tables:
no model needed), ``mir monitor ui`` (``evidently ui``) serves it on a free loopback port (started and
stopped here), and Chromium (driven by Playwright, :mod:`browser`) loads the project's dashboard: every request
is routed and any that is not for that loopback server fails (``blockedbyclient``), host names resolve to
nothing. The panels must render, and the line plots must show a point for each run.
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

from browser import keep_screenshot, open_page, require_browser, stop
from test_new_music import record_runs

require_browser()


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


def test_dashboard_shows_both_runs_in_headless_chromium(evidently_ui):
    base, projects, runs = evidently_ui
    (project,) = projects
    assert project["id"] == runs[0]["project_id"]
    with open_page(allow=(base + "/",), width=1400, height=1000) as (page, guard):
        page.goto(f"{base}/projects/{project['id']}")
        deadline = time.monotonic() + 120
        while True:
            state = page.evaluate(
                "(() => ({text: document.body ? document.body.innerText : '',"
                " charts: [...document.querySelectorAll('svg')].filter(s => s.querySelector('circle') &&"
                " s.querySelector('path')).map(s => s.querySelectorAll('circle').length)}))()")
            if (all(t in state["text"] for t in TITLES) and len(state["charts"]) >= len(LINE_SERIES)
                    and sum(state["charts"]) >= 2 * sum(LINE_SERIES)):
                break
            assert time.monotonic() < deadline, state
            page.wait_for_timeout(1000)
        page.wait_for_timeout(1000)
        state["charts"] = page.evaluate(
            "[...document.querySelectorAll('svg')].filter(s => s.querySelector('circle') && s.querySelector('path'))"
            ".map(s => s.querySelectorAll('circle').length)")
        keep_screenshot(page.screenshot(full_page=True), "evidently-dashboard.png")
    # one mark per run and series: share drifted (1), unknown flagged/expected (2), accuracy/macro-F1 (2),
    # predicted-genre shares (jazz, rock: 2), model version (1); two runs each
    assert state["charts"] == [2 * n for n in LINE_SERIES], state["charts"]
    assert any("/api/v2/snapshots/" in u for u in guard.requests), guard.requests  # the points came from the server
    assert guard.blocked == [], f"the UI asked the network for {guard.blocked}"
    assert all(u.startswith((base + "/", "data:", "blob:")) for u in guard.requests), guard.requests
