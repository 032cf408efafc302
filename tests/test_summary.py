"""``mir summary`` (issue 24 item 5): what ``make demo`` ends with, read from the metrics records."""

from __future__ import annotations

import json

from conftest import ROOT

from mir import cli
from mir.summary import summary_lines


def test_summary_names_the_report_accuracy_vs_baseline_and_the_verdict(tmp_path):
    metrics, reports = tmp_path / "metrics", tmp_path / "reports"
    metrics.mkdir()
    reports.mkdir()
    (reports / "index.html").write_text("<html></html>")
    ev = json.loads((ROOT / "metrics" / "eval.json").read_text())
    ev.update(accuracy=0.875, baseline={**ev["baseline"], "accuracy": 0.75})
    (metrics / "eval.json").write_text(json.dumps(ev))
    dr = json.loads((ROOT / "metrics" / "drift.json").read_text())
    dr.update(drift=False, dataset_drift=False, unknown_drift=False, n_drifted=2, n_columns=23)
    (metrics / "drift.json").write_text(json.dumps(dr))

    report, acc, drift = summary_lines(metrics_dir=metrics, reports_dir=reports)
    assert report == f"Report: {(reports / 'index.html').resolve()}"
    assert acc.startswith("Test accuracy 0.875") and "vs baseline 0.750" in acc and "+0.125" in acc
    assert "no drift" in drift and "2/23 columns drifted" in drift


def test_summary_without_records_says_which_stage_writes_them(tmp_path, capsys, monkeypatch):
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "drift.json").write_text(json.dumps(
        {"configured": False, "message": "no new music is configured", "drift": None, "n_clips": 0}))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["summary"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Report: no reports/index.html yet (run the report stage)"
    assert "run the evaluate stage" in out[1]
    assert out[2] == "New music: none analysed — no new music is configured"
