"""Evidently drift report (mir.monitoring.drift)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mir.monitoring.drift import drift_report, numeric_columns, verdict_from_snapshot

COLS = [f"mfcc_{i}" for i in range(6)]
VERDICT_KEYS = {
    "dataset_drift", "drift_share", "n_columns", "n_drifted", "share_drifted", "columns", "n_reference", "n_current",
}  # fmt: skip


def sample(seed: int, n: int = 200, shift: dict[str, float] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    means = np.linspace(-2.0, 3.0, len(COLS))
    stds = np.linspace(0.5, 2.0, len(COLS))
    df = pd.DataFrame(rng.normal(means, stds, size=(n, len(COLS))), columns=COLS)
    for col, n_std in (shift or {}).items():
        df[col] += n_std * stds[COLS.index(col)]
    df["genre"] = rng.choice(["jazz", "rock"], n)  # non-numeric: ignored
    return df


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield
    assert sorted(p.name for p in work.iterdir()) == [], "drift report wrote into the working directory"


def test_same_distribution_no_drift(tmp_path):
    html, js = tmp_path / "out" / "drift.html", tmp_path / "out" / "drift.json"
    verdict = drift_report(reference=sample(1), current=sample(2), html_path=html, json_path=js, title="same")
    assert set(verdict) == VERDICT_KEYS
    assert verdict["dataset_drift"] is False
    assert verdict["n_columns"] == len(COLS) and set(verdict["columns"]) == set(COLS)
    assert verdict["n_drifted"] <= 1
    assert verdict["n_reference"] == verdict["n_current"] == 200
    for col in verdict["columns"].values():
        assert set(col) == {"drifted", "score", "method", "threshold"}
        assert col["method"] == "K-S p_value" and col["threshold"] == 0.05
    assert json.loads(js.read_text(encoding="utf-8")) == verdict
    text = html.read_text(encoding="utf-8")
    assert "<title>same</title>" in text
    assert '<script src="http' not in text


def test_shifted_distribution_drifts(tmp_path):
    shifted = COLS[:4]
    html, js = tmp_path / "drift.html", tmp_path / "drift.json"
    verdict = drift_report(
        reference=sample(1), current=sample(2, n=150, shift={c: 4.0 for c in shifted}), html_path=html, json_path=js
    )
    assert verdict["dataset_drift"] is True
    assert {c for c, v in verdict["columns"].items() if v["drifted"]} == set(shifted)
    assert verdict["n_drifted"] == 4 and verdict["share_drifted"] == pytest.approx(4 / 6)
    assert verdict["n_current"] == 150
    for c in shifted:
        assert verdict["columns"][c]["score"] < 1e-6  # K-S p-value
    assert json.loads(js.read_text(encoding="utf-8")) == verdict
    assert html.stat().st_size > 10_000 and '<script src="http' not in html.read_text(encoding="utf-8")
    assert not list(tmp_path.glob(".drift*")), "temporary files left behind"


def test_drift_share_threshold():
    ref, cur = sample(1), sample(2, shift={COLS[0]: 4.0, COLS[1]: 4.0})  # 2 of 6 drift
    assert drift_report(reference=ref, current=cur)["dataset_drift"] is False
    low = drift_report(reference=ref, current=cur, drift_share=0.3)
    assert low["dataset_drift"] is True and low["drift_share"] == 0.3 and low["n_drifted"] == 2


def test_columns_argument_and_shared_numeric():
    ref, cur = sample(1), sample(2, shift={COLS[0]: 4.0}).drop(columns=[COLS[5]])
    assert numeric_columns(ref, cur) == COLS[:5]
    verdict = drift_report(reference=ref, current=cur, columns=[COLS[0]])
    assert list(verdict["columns"]) == [COLS[0]] and verdict["dataset_drift"] is True
    with pytest.raises(ValueError, match="not numeric in both"):
        drift_report(reference=ref, current=cur, columns=[COLS[5]])


def test_categorical_column_drifts_on_its_own():
    ref, same, moved = sample(1), sample(2), sample(3)
    moved["genre"] = "rock"  # every prediction is rock now
    v_same = drift_report(reference=ref, current=same, columns=COLS[:1], categorical=["genre"])
    v_moved = drift_report(reference=ref, current=moved, columns=COLS[:1], categorical=["genre"])
    assert v_same["n_columns"] == v_moved["n_columns"] == 2
    assert v_same["columns"]["genre"]["drifted"] is False and v_moved["columns"]["genre"]["drifted"] is True
    assert "p_value" in v_moved["columns"]["genre"]["method"]  # Z-test for two categories, chi-square beyond
    with pytest.raises(ValueError, match="both numeric and categorical"):
        drift_report(reference=ref, current=same, columns=COLS[:1], categorical=[COLS[0]])
    with pytest.raises(ValueError, match="missing"):
        drift_report(reference=ref, current=same, categorical=["nope"])


def test_invalid_inputs():
    ref = sample(1)
    with pytest.raises(ValueError, match="current frame is empty"):
        drift_report(reference=ref, current=ref.iloc[:0])
    with pytest.raises(ValueError, match="reference frame is empty"):
        drift_report(reference=pd.DataFrame(), current=ref)
    with pytest.raises(ValueError, match="no shared numeric columns"):
        drift_report(reference=ref[["genre"]], current=ref[["genre"]])
    with pytest.raises(ValueError, match="drift_share"):
        drift_report(reference=ref, current=ref, drift_share=0)
    nan = ref.copy()
    nan[COLS[0]] = np.nan
    with pytest.raises(ValueError, match="entirely NaN"):
        drift_report(reference=ref, current=nan)


def test_verdict_from_snapshot_dict():
    """The parser on a hand-written Evidently 0.7 snapshot dict (json() form: status as str)."""
    snap = {
        "metrics": [
            {
                "id": "x",
                "metric_name": "DriftedColumnsCount(drift_share=0.5)",
                "config": {"type": "evidently:metric_v2:DriftedColumnsCount", "drift_share": 0.5},
                "value": {"count": 2.0, "share": 2 / 3},
            },
            {
                "id": "a",
                "metric_name": "ValueDrift(column=a,method=K-S p_value,threshold=0.05)",
                "config": {"type": "evidently:metric_v2:ValueDrift", "column": "a", "method": "K-S p_value",
                           "threshold": 0.05},
                "value": 1e-9,
            },
            # no config: falls back to parsing metric_name; a distance method (drift when >= threshold)
            {"id": "b", "metric_name": "ValueDrift(column=b,method=Wasserstein distance (normed),threshold=0.1)",
             "value": 0.4},
            {"id": "c", "metric_name": "ValueDrift(column=c,method=PSI,threshold=0.1)",
             "config": {"type": "evidently:metric_v2:ValueDrift", "column": "c", "method": "PSI", "threshold": 0.1},
             "value": 0.01},
        ],
        "tests": [],
    }  # fmt: skip
    v = verdict_from_snapshot(snap, drift_share=0.5)
    assert v["dataset_drift"] is True and v["n_columns"] == 3 and v["n_drifted"] == 2
    assert {k: c["drifted"] for k, c in v["columns"].items()} == {"a": True, "b": True, "c": False}
    assert v["columns"]["b"] == {"drifted": True, "score": 0.4, "method": "Wasserstein distance (normed)",
                                 "threshold": 0.1}  # fmt: skip
    # a test result (FAIL = drift) overrides the score rule
    snap["tests"] = [
        {"id": "drift", "status": "SUCCESS",
         "metric_config": {"params": {"type": "evidently:metric_v2:ValueDrift", "column": "b"}}},
    ]  # fmt: skip
    snap["metrics"][0]["value"] = {"count": 1.0, "share": 1 / 3}
    v = verdict_from_snapshot(snap, drift_share=0.5)
    assert v["columns"]["b"]["drifted"] is False and v["n_drifted"] == 1 and v["dataset_drift"] is False
    with pytest.raises(ValueError, match="ValueDrift"):
        verdict_from_snapshot({"metrics": [], "tests": []})
