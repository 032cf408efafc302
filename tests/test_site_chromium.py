"""reports/index.html in headless Chromium: the DVC plots render, nothing leaves the machine, a screenshot.

Chromium is Debian's, driven by Playwright (:mod:`browser`): every request the page makes is recorded, any
that is not for the page's own file or inline data is failed, and host names resolve to nothing.
"""

from __future__ import annotations

import shutil
import struct

import pytest

from browser import keep_screenshot, open_page, require_browser
from conftest import ROOT

require_browser()


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


def test_index_renders_offline_in_headless_chromium(tiny_run_report):
    page_path = tiny_run_report.resolve()
    n_plots = tiny_run_report.read_text().count('class="dvc-plot"')
    assert n_plots == 3
    with open_page() as (page, guard):
        page.goto(page_path.as_uri())
        page.wait_for_function(
            "n => document.querySelectorAll('.dvc-plot[data-rendered]').length === n || [...document.querySelectorAll("
            "'.dvc-plot')].some(e => e.textContent.startsWith('plot failed'))", arg=n_plots, timeout=60_000)
        state = page.evaluate(
            "({svgs: document.querySelectorAll('.dvc-plot svg.marks').length,"
            " marks: document.querySelectorAll('.dvc-plot svg path, .dvc-plot svg rect').length,"
            " failed: [...document.querySelectorAll('.dvc-plot')].map(e => e.textContent)"
            ".filter(t => t.startsWith('plot failed'))})")
        assert not state["failed"], state
        assert state["svgs"] == n_plots and state["marks"] > 20, state
        assert "chromium-test-run" in page.inner_text("body")
        shot = page.screenshot(full_page=True)

    keep_screenshot(shot, "index.png")
    w, h = _png_size(shot)
    assert w >= 800 and h >= 1000 and len(shot) > 20_000, (w, h, len(shot))
    assert page_path.as_uri() in guard.requests
    assert guard.remote() == [] and guard.blocked == [], f"the page asked the network for {guard.remote()}"
    assert guard.errors == [], guard.errors
