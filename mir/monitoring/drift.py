"""Evidently data-drift report between a reference and a current feature table.

:func:`drift_report` runs Evidently 0.7's ``DataDriftPreset`` on the numeric
columns two frames share, writes a self-contained HTML report and a small JSON
verdict, and returns the verdict. :func:`verdict_from_snapshot` turns the
snapshot's ``dict()`` into that verdict and is usable on its own (e.g. on a
saved ``snapshot.json``).

What Evidently 0.7.23's ``snapshot.dict()`` looks like (the parts parsed
here)::

    {"metrics": [
        {"id": "...", "metric_name": "DriftedColumnsCount(drift_share=0.5)",
         "config": {"type": "evidently:metric_v2:DriftedColumnsCount", "drift_share": 0.5},
         "value": {"count": 3.0, "share": 0.75}},
        {"id": "...", "metric_name": "ValueDrift(column=a,method=K-S p_value,threshold=0.05)",
         "config": {"type": "evidently:metric_v2:ValueDrift", "column": "a",
                    "method": "K-S p_value", "threshold": 0.05},
         "value": 7.7e-117},
        ...],
     "tests": [   # only with Report(..., include_tests=True)
        {"id": "lt", "name": "Share of Drifted Columns: Less 0.500", "status": "FAIL",
         "metric_config": {"metric_id": "...", "params": {"type": "...:DriftedColumnsCount", ...}}},
        {"id": "drift", "name": "Value Drift for column a", "status": "FAIL",
         "metric_config": {"metric_id": "...", "params": {"type": "...:ValueDrift", "column": "a", ...}}},
        ...]}

A ``ValueDrift`` value is the drift *score*: a p-value for statistical tests
(drift when ``score < threshold``) or a distance for distance methods (drift
when ``score >= threshold``; energy distance uses ``>``). The per-column test
status (FAIL = drift) is taken when present; otherwise the rule above is
applied. The dataset drifts when the share of drifted columns reaches
``drift_share`` (Evidently's own rule: ``share >= drift_share``).

Evidently is imported inside the function (seconds to import), after
:func:`mir.env.quiet` has switched its telemetry off.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mir.io import atomic_path, write_json

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["drift_report", "numeric_columns", "verdict_from_snapshot"]

_METRIC_NAME = re.compile(r"^(?P<kind>\w+)\((?P<args>.*)\)$")


def numeric_columns(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """Numeric (non-boolean) columns present in both frames, in ``reference`` order.

    Parameters
    ----------
    reference, current : pandas.DataFrame
        The two tables.

    Returns
    -------
    list of str
        Column names numeric in both frames.
    """
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    shared = []
    for col in reference.columns:
        if col not in current.columns:
            continue
        a, b = reference[col], current[col]
        if is_numeric_dtype(a) and is_numeric_dtype(b) and not is_bool_dtype(a) and not is_bool_dtype(b):
            shared.append(col)
    return shared


def drift_report(
    *,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str] | None = None,
    html_path: str | os.PathLike[str] | None = None,
    json_path: str | os.PathLike[str] | None = None,
    drift_share: float = 0.5,
    title: str | None = None,
    categorical: Sequence[str] = (),
) -> dict:
    """Compare ``current`` against ``reference`` with Evidently's DataDriftPreset.

    Parameters
    ----------
    reference : pandas.DataFrame
        Baseline data (e.g. training-set features).
    current : pandas.DataFrame
        New data to check (e.g. features of new music).
    columns : sequence of str, optional
        Numeric columns to compare; default: every numeric column both frames
        share (booleans excluded).
    html_path : path-like, optional
        Where to write the self-contained HTML report (written atomically).
    json_path : path-like, optional
        Where to write the verdict as JSON (temp file + ``os.replace``).
    drift_share : float, default 0.5
        The dataset is declared drifted when at least this share of columns
        drift (0 < drift_share <= 1).
    title : str, optional
        ``<title>`` of the HTML page and name of the Evidently snapshot.
    categorical : sequence of str, default ()
        Columns compared as categories (e.g. the predicted genre), in addition
        to the numeric ``columns``; values are compared as strings.

    Returns
    -------
    dict
        ``{"dataset_drift": bool, "drift_share": float, "n_columns": int,
        "n_drifted": int, "share_drifted": float, "columns": {name: {"drifted":
        bool, "score": float, "method": str, "threshold": float}},
        "n_reference": int, "n_current": int}``. Per-column method and
        threshold are Evidently's automatic choice (K-S p-value below 1000
        rows, normed Wasserstein distance above, chi-square/Z-test for
        columns with few distinct values).

    Raises
    ------
    ValueError
        If either frame is empty, no numeric column is shared, a requested
        column is missing or non-numeric, a column is entirely NaN in either
        frame, or ``drift_share`` is out of range.
    """
    _check_frames(reference, current, drift_share=drift_share)
    cols = _numeric_selection(reference, current, columns)
    cats = _categorical_selection(reference, current, categorical, cols)
    verdict, html = _run_preset(reference, current, cols, cats, drift_share=drift_share, title=title,
                                with_html=html_path is not None)
    missing = [str(c) for c in cols + cats if str(c) not in verdict["columns"]]
    if missing:
        raise RuntimeError(f"Evidently returned no drift result for columns {missing}")
    verdict["n_reference"] = int(len(reference))
    verdict["n_current"] = int(len(current))
    if html is not None:
        if title:
            from mir.reports.html import render

            html = html.replace("<head>", render("head_title.html", title=title), 1)
        with atomic_path(html_path) as tmp:
            tmp.write_text(html, encoding="utf-8")
    if json_path is not None:
        write_json(json_path, verdict)
    return verdict


def _check_frames(reference: pd.DataFrame, current: pd.DataFrame, *, drift_share: float) -> None:
    import pandas as pd

    for name, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
        if frame.empty:
            raise ValueError(f"{name} frame is empty ({frame.shape[0]} rows x {frame.shape[1]} columns)")
    if not (0 < drift_share <= 1):
        raise ValueError(f"drift_share must be in (0, 1], got {drift_share!r}")


def _numeric_selection(reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str] | None) -> list:
    """The numeric columns compared: ``columns`` (checked), or every numeric column both frames share."""
    available = numeric_columns(reference, current)
    if columns is None:
        cols = available
    else:
        cols = list(columns)
        bad = [c for c in cols if c not in available]
        if bad:
            raise ValueError(f"columns not numeric in both reference and current: {bad}")
        if len(set(cols)) != len(cols):
            raise ValueError(f"duplicate column names requested: {cols}")
    if not cols:
        raise ValueError(
            "no shared numeric columns between reference "
            f"({list(reference.columns)[:10]}) and current ({list(current.columns)[:10]})"
        )
    return cols


def _categorical_selection(reference: pd.DataFrame, current: pd.DataFrame, categorical: Sequence[str],
                           cols: list) -> list[str]:
    """The categorical columns (checked), after checking no compared column is entirely NaN."""
    cats = [str(c) for c in categorical]
    for c in cats:
        if c not in reference.columns or c not in current.columns:
            raise ValueError(f"categorical column {c!r} missing from the reference or current frame")
        if c in cols:
            raise ValueError(f"column {c!r} given as both numeric and categorical")
    for name, frame in (("reference", reference), ("current", current)):
        empty = [c for c in cols + cats if frame[c].isna().all()]
        if empty:
            raise ValueError(f"columns entirely NaN in the {name} frame: {empty}")
    return cats


def _evidently_frame(df: pd.DataFrame, cols: list, cats: list[str]) -> pd.DataFrame:
    """The compared columns, names as strings, categories as strings."""
    out = _as_str_columns(df[cols]).copy() if cats else _as_str_columns(df[cols])
    for c in cats:
        out[c] = df[c].astype(str).to_numpy()
    return out


def _run_preset(reference: pd.DataFrame, current: pd.DataFrame, cols: list, cats: list[str], *,
                drift_share: float, title: str | None, with_html: bool) -> tuple[dict, str | None]:
    """Run Evidently's DataDriftPreset (with its tests): the verdict, and the report's HTML when asked."""
    from mir.env import quiet

    quiet()
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=[str(c) for c in cols], categorical_columns=cats)
    ref_ds = Dataset.from_pandas(_evidently_frame(reference, cols, cats), data_definition=definition)
    cur_ds = Dataset.from_pandas(_evidently_frame(current, cols, cats), data_definition=definition)
    report = Report([DataDriftPreset(drift_share=drift_share)], include_tests=True)
    with warnings.catch_warnings():
        # numpy "invalid value encountered in divide" from Evidently's histograms of
        # constant columns: noise, the drift scores are still defined.
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = report.run(current_data=cur_ds, reference_data=ref_ds, name=title)
        verdict = verdict_from_snapshot(snapshot.dict(), drift_share=drift_share)
        html = snapshot.get_html_str(as_iframe=False) if with_html else None
    return verdict, html


def verdict_from_snapshot(snapshot: dict, *, drift_share: float = 0.5) -> dict:
    """Extract the drift verdict from an Evidently 0.7 ``Snapshot.dict()``.

    Parameters
    ----------
    snapshot : dict
        ``snapshot.dict()`` (or the parsed ``snapshot.json()``) of a report
        containing ``DataDriftPreset``; test results (``include_tests=True``)
        are used when present.
    drift_share : float, default 0.5
        Threshold on the share of drifted columns.

    Returns
    -------
    dict
        The verdict described in :func:`drift_report`, without ``n_reference``
        and ``n_current`` (the snapshot does not record row counts).

    Raises
    ------
    ValueError
        If the snapshot holds no ``ValueDrift`` metric.
    """
    per_column, count, share = _metric_results(snapshot)
    if not per_column:
        raise ValueError("snapshot holds no ValueDrift metric: was the report run with DataDriftPreset?")
    _apply_tests(snapshot, per_column)

    n_columns = len(per_column)
    n_drifted = sum(1 for c in per_column.values() if c["drifted"])
    if count is not None and int(round(count)) != n_drifted:
        # Evidently's own aggregate wins; per-column flags come from the same tests, so a
        # mismatch would mean the snapshot layout changed.
        warnings.warn(
            f"Evidently counted {int(round(count))} drifted columns but per-column results give {n_drifted}",
            RuntimeWarning,
            stacklevel=2,
        )
        n_drifted = int(round(count))
    share_drifted = share if share is not None else (n_drifted / n_columns if n_columns else 0.0)
    dataset_drift = bool(share_drifted >= drift_share)
    return {
        "dataset_drift": dataset_drift,
        "drift_share": float(drift_share),
        "n_columns": n_columns,
        "n_drifted": int(n_drifted),
        "share_drifted": float(share_drifted),
        "columns": per_column,
    }


# --------------------------------------------------------------------------- helpers


def _metric_results(snapshot: dict) -> tuple[dict[str, dict], float | None, float | None]:
    """Per-column results of the ``ValueDrift`` metrics (drift by the score rule), and the
    ``DriftedColumnsCount`` count and share (``None`` when absent)."""
    per_column: dict[str, dict] = {}
    count = share = None
    for metric in snapshot.get("metrics") or []:
        kind, cfg = _metric_kind(metric)
        value = metric.get("value")
        if kind == "DriftedColumnsCount":
            if isinstance(value, dict):
                count = _num(value.get("count"))
                share = _num(value.get("share"))
        elif kind == "ValueDrift":
            column = cfg.get("column")
            if column is None:
                continue
            score = _num(value.get("value") if isinstance(value, dict) else value)
            method = str(cfg.get("method") or "")
            threshold = _num(cfg.get("threshold"))
            per_column[str(column)] = {
                "drifted": _drift_rule(score, threshold, method),
                "score": score,
                "method": method,
                "threshold": threshold,
            }
    return per_column, count, share


def _apply_tests(snapshot: dict, per_column: dict[str, dict]) -> None:
    """A column's ``ValueDrift`` test status, where there is one, decides its ``drifted`` flag (FAIL = drift)."""
    for test in snapshot.get("tests") or []:
        status = _status(test.get("status"))
        params = (test.get("metric_config") or {}).get("params") or {}
        kind = _type_name(params.get("type"))
        if kind == "ValueDrift" and str(params.get("column")) in per_column and status in ("FAIL", "SUCCESS"):
            per_column[str(params["column"])]["drifted"] = status == "FAIL"


def _as_str_columns(frame: pd.DataFrame) -> pd.DataFrame:
    if all(isinstance(c, str) for c in frame.columns):
        return frame
    out = frame.copy()
    out.columns = [str(c) for c in frame.columns]
    return out


def _type_name(type_: Any) -> str:
    """``"evidently:metric_v2:ValueDrift"`` -> ``"ValueDrift"``."""
    return str(type_ or "").rsplit(":", 1)[-1]


def _metric_kind(metric: dict) -> tuple[str, dict]:
    """Kind and config of one snapshot metric, from ``config.type`` or ``metric_name``."""
    cfg = dict(metric.get("config") or {})
    kind = _type_name(cfg.get("type"))
    if not kind:
        m = _METRIC_NAME.match(str(metric.get("metric_name") or ""))
        if m:
            kind = m.group("kind")
            for part in m.group("args").split(","):
                key, sep, val = part.partition("=")
                if sep and key.strip() not in cfg:
                    cfg[key.strip()] = val.strip()
    return kind, cfg


def _status(status: Any) -> str:
    """TestStatus enum (in ``dict()``) or its string value (in ``json()``) -> ``"FAIL"``..."""
    return str(getattr(status, "value", status) or "").upper()


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _drift_rule(score: float | None, threshold: float | None, method: str) -> bool:
    """Evidently's per-column rule when no test result says otherwise."""
    if score is None or threshold is None:
        return False
    name = method.lower()
    if "p_value" in name or "p-value" in name:
        return score < threshold
    if "energy" in name:
        return score > threshold
    return score >= threshold

