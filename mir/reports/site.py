"""Stage ``report``: ``reports/index.html``, one offline page per run linking every report of the run.

The page names the run (run id, git commit), links every report that exists
(Data Docs, evaluation and misclassified review, drift, generalisation, song
timelines, run summaries), shows the DVC plots (``dvc.yaml``'s ``plots:``
definitions drawn by Vega-Lite, the libraries inlined — see
:mod:`mir.reports.vega`) and diffs this run's parameters against the current
champion's (:func:`mir.registry.champion`). Nothing is loaded from the network.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from mir.config import Config
    from mir.records.drift import DriftRecord, NoNewMusic

#: (label, path under reports/) of the fixed pages; the song timelines and run summaries are found by listing.
PAGES = (
    ("Data validation: manifest (Great Expectations Data Docs)", "validation/manifest/index.html"),
    ("Data validation: features (Great Expectations Data Docs)", "validation/features/index.html"),
    ("Evaluation: per-genre scores, confusion matrix, misclassified clips (playable)", "eval/index.html"),
    ("Drift: new music vs training data (Evidently)", "drift.html"),
    ("Generalisation: the model on other datasets", "generalization.html"),
)
#: Folders under reports/ whose HTML pages are listed: (section title, folder).
LISTED = (("Song timelines", "songs"), ("Song timelines", "predictions"), ("Run summaries", "runs"))


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """A nested dict as ``{"a.b.c": value}`` (lists are values)."""
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        out.update(flatten(v, key) if isinstance(v, dict) and v else {key: v})
    return out


def params_diff(current: dict, champion: dict) -> list[tuple[str, Any, Any]]:
    """``(key, champion's value, this run's value)`` for every parameter that differs ("—" = absent)."""
    a, b = flatten(champion), flatten(current)
    missing = "—"
    return [(k, a.get(k, missing), b.get(k, missing)) for k in sorted(a.keys() | b.keys())
            if a.get(k, missing) != b.get(k, missing)]


def current_champion(cfg: "Config") -> tuple[dict | None, str]:
    """The registry's champion entry and a note (why there is none)."""
    try:
        from mir.registry import NotARepo, champion
    except ImportError:
        return None, "no champion yet (no model registry)"
    try:
        entry = champion(cfg)
    except NotARepo:
        return None, "no champion yet (not a git repository: no model registry)"
    except Exception as err:  # a damaged registry must not stop the report; it is said, not hidden  # noqa: BLE001
        print(f"report: the registry can't be read: {err}", file=sys.stderr)
        return None, f"no champion: the registry can't be read ({err})"
    return entry, "" if entry else "no champion yet"


def _short(v: Any) -> str:
    return json.dumps(v) if not isinstance(v, str) else v


def _champion_section(cfg: "Config", m_eval: dict | None) -> dict[str, Any]:
    """The champion's entry, its metrics beside this run's, and the parameters that differ (``None``: none recorded)."""
    entry, note = current_champion(cfg)
    if entry is None:
        return {"entry": None, "note": note}
    cm = entry.get("metrics") or {}
    rows = []
    for key in ("accuracy", "macro_f1"):
        champ = cm.get(key, (cm.get("track") or {}).get(key))
        mine = (m_eval or {}).get(key)
        if champ is not None or mine is not None:
            rows.append((key, champ if champ is not None else "—", mine if mine is not None else "—"))
    params = entry.get("params")
    diff = None
    if isinstance(params, dict):
        diff = [(k, _short(a), _short(b)) for k, a, b in params_diff(cfg.model_dump(by_alias=True), params)]
    return {"entry": entry, "note": note, "metrics": rows, "diff": diff}


def _links(reports: Path) -> tuple[list[dict[str, Any]], list[tuple[str, list[tuple[str, str]]]]]:
    """The fixed pages (whether each exists) and the listed ones: ``(section title, [(name, href)])``."""
    pages = [{"label": label, "href": quote(rel, safe="/"), "exists": (reports / rel).exists()} for label, rel in PAGES]
    sections: dict[str, list[tuple[str, str]]] = {}
    for title, folder in LISTED:
        d = reports / folder
        for p in sorted(d.glob("*.html"), reverse=folder == "runs") if d.is_dir() else []:
            sections.setdefault(title, []).append((p.stem, quote(f"{folder}/{p.name}", safe="/")))
    return pages, list(sections.items())


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _history_png(csv: Path) -> bytes | None:
    from mir.io import read_table
    from mir.reports.html import figure_png, mpl

    if not csv.exists():
        return None
    h = read_table(csv)
    plt = mpl()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    for col, ax in (("loss", a), ("accuracy", b)):
        ax.plot(h["epoch"], h[col], label=f"train {col}")
        ax.plot(h["epoch"], h[f"val_{col}"], label=f"valid {col}")
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    return figure_png(fig)


def _history(cfg: "Config") -> list[dict[str, Any]]:
    """The monitor runs of the Evidently workspace (``[]`` without one, or when it can't be read)."""
    if not Path(cfg.monitor.workspace).is_dir():
        return []
    try:
        from mir.monitoring.history import load_history

        return load_history(cfg)
    except Exception as err:  # noqa: BLE001 - a broken workspace must not stop the report
        print(f"report: the Evidently workspace {cfg.monitor.workspace} can't be read ({err})")
        return []


#: (column of the history, label) drawn on the index page's drift-over-time chart and table.
HISTORY_SERIES = (("mir_share_drifted", "share of drifted columns"), ("mir_unknown_share", "share flagged unknown"),
                  ("mir_unknown_expected_share", "expected share unknown"), ("mir_accuracy", "accuracy (labelled)"),
                  ("mir_macro_f1", "macro-F1 (labelled)"))


def history_spec(history: list[dict[str, Any]]) -> dict[str, Any]:
    """A Vega-Lite line chart of the monitor runs: x = run (time), one line per number of HISTORY_SERIES."""
    from mir.reports.vega import SCHEMA

    values = [{"run": f"{i + 1}: {r['timestamp']}", "series": label, "value": r[col]}
              for i, r in enumerate(history) for col, label in HISTORY_SERIES if r.get(col) is not None]
    return {"$schema": SCHEMA, "width": 520, "height": 220, "data": {"values": values},
            "mark": {"type": "line", "point": True},
            "encoding": {"x": {"field": "run", "type": "ordinal", "title": "monitor run", "sort": None},
                         "y": {"field": "value", "type": "quantitative", "scale": {"domain": [0, 1]}},
                         "color": {"field": "series", "type": "nominal", "title": None}}}


def _history_section(cfg: "Config", history: list[dict[str, Any]]) -> dict[str, Any]:
    """The monitor runs as a table (the chart is with the plots)."""
    rows = [[i + 1, r["timestamp"], r.get("origin", ""), r.get("model_version", ""),
             *[("—" if r.get(c) is None else round(r[c], 3)) for c, _ in HISTORY_SERIES],
             "yes" if r.get("mir_drift") else "no"] for i, r in enumerate(history)]
    return {"workspace": str(cfg.monitor.workspace), "rows": rows,
            "header": ["run", "time (UTC)", "by", "model", *[label for _, label in HISTORY_SERIES], "drift"]}


def build_report(cfg: "Config", *, progress: bool = True) -> Path:
    """Stage ``report``: write ``reports/index.html``.

    Parameters
    ----------
    cfg : Config
        The validated parameters (paths, genres, dataset; diffed against the champion's).
    progress : bool
        Print where the page is.

    Returns
    -------
    Path
        The page.
    """
    from mir import provenance
    from mir.io import write_text
    from mir.reports.html import render

    reports, metrics_dir = Path(cfg.paths.reports), Path(cfg.paths.metrics)
    m = {k: _load(metrics_dir / f"{k}.json") for k in ("validation", "feature_validation", "train", "eval")}
    drift = _load_drift(metrics_dir / "drift.json")
    now = provenance.utc_now()
    commit = provenance.git_commit(short=True) or "unknown"
    rid = provenance.run_id(now=now, suffix=commit.removesuffix("+dirty"))
    history = _history(cfg)
    pages, listed = _links(reports)
    html = render(
        "index.html", title="mir — pipeline report", subtitle=f"run {rid} · commit {commit} · {now:%Y-%m-%d %H:%M} UTC",
        run=[("run id", rid), ("git commit", commit), ("created", f"{now:%Y-%m-%d %H:%M:%S} UTC"),
             ("dataset", cfg.data.dataset), ("genres", ", ".join(cfg.genres))],
        cards=_cards(m, drift), pages=pages, listed=listed, champion=_champion_section(cfg, m["eval"]),
        validation={"manifest": (m["validation"] or {}).get("manifest"),
                    "features": (m["feature_validation"] or {}).get("features")},
        **_plots_section(cfg, history), **_scores_section(m), new_music=_new_music_section(drift),
        history=_history_section(cfg, history), params=json.dumps(cfg.model_dump(by_alias=True), indent=2))
    out = write_text(reports / "index.html", html)
    if progress:
        print(f"report: {out.resolve()}")
    return out


def _load_drift(path: Path) -> "DriftRecord | NoNewMusic | None":
    """``metrics/drift.json`` as its record (:func:`mir.records.drift.parse_drift`), or ``None`` without one."""
    from mir.records.drift import parse_drift

    raw = _load(path)
    return None if raw is None else parse_drift(raw)


def _cards(m: dict[str, Any], drift: "DriftRecord | NoNewMusic | None") -> list[tuple[str, str]]:
    """The headline numbers: test accuracy and macro-F1, the baseline, drift on new music, epochs."""
    from mir.records.drift import NoNewMusic

    cards = []
    if m["eval"]:
        cards += [("test accuracy", f"{m['eval']['accuracy']:.3f}"), ("macro-F1", f"{m['eval']['macro_f1']:.3f}")]
        if "accuracy" in m["eval"].get("baseline", {}):
            cards.append((f"baseline ({m['eval']['baseline']['kind']})", f"{m['eval']['baseline']['accuracy']:.3f}"))
    if isinstance(drift, NoNewMusic):
        cards.append(("drift on new music", "no new music configured"))
    elif drift is not None:
        cards.append(("drift on new music", "detected" if drift.drift else "none"))
        if drift.new_music_accuracy is not None:
            cards.append(("accuracy on new music", f"{drift.new_music_accuracy:.3f}"))
    if m["train"]:
        cards.append(("epochs", str(m["train"]["epochs_run"])))
    return cards


def _plots_section(cfg: "Config", history: list[dict[str, Any]]) -> dict[str, Any]:
    """dvc.yaml's plots and the monitoring history as Vega-Lite charts; without inlined Vega, a static picture
    of the training curves instead."""
    from mir.reports.vega import charts_context, dvc_plot_specs, versions

    specs = dvc_plot_specs("dvc.yaml")
    if len(history) >= 1:
        specs = [*specs, ("Monitoring over time (one point per monitor run)", history_spec(history), None)]
    charts = charts_context(specs)
    lib = versions() if charts["embeds"] else {}
    libs = f"vega {lib['vega']}, vega-lite {lib['vega-lite']}, vega-embed {lib['vega-embed']} inlined" if lib else ""
    png = None if charts["embeds"] else _history_png(Path(cfg.paths.plots) / "train_history.csv")
    return {"charts": charts, "libs": libs, "history_png": png}


def _scores_section(m: dict[str, Any]) -> dict[str, Any]:
    """The training metrics and the per-genre test scores."""
    pc = m["eval"]["track"]["per_class"] if m["eval"] else {}
    return {"train": sorted(m["train"].items()) if m["train"] else [],
            "per_genre": [(g, v["precision"], v["recall"], v["f1"], v["support"]) for g, v in pc.items()]}


def _new_music_section(drift: "DriftRecord | NoNewMusic | None") -> dict[str, Any] | None:
    from mir.records.drift import NoNewMusic

    if drift is None:
        return None
    if isinstance(drift, NoNewMusic):
        return {"message": drift.message}
    return {"message": None, "n_clips": drift.n_clips, "folder": drift.new_music, "n_drifted": drift.n_drifted,
            "n_columns": drift.n_columns, "drifted": ", ".join(drift.drifted_columns) or "none",
            "shares": sorted(drift.predicted_share.items())}
