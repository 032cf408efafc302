"""Stage ``report``: ``reports/index.html``, one offline page linking every report of the run."""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mir.config import Config


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


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


def build_report(cfg: "Config", *, progress: bool = True) -> Path:
    """Stage ``report``: write ``reports/index.html``; return its path."""
    from mir.io import write_text
    from mir.reports.html import esc, img, page, table

    reports, metrics_dir = Path(cfg.paths.reports), Path(cfg.paths.metrics)
    m = {k: _load(metrics_dir / f"{k}.json") for k in ("validation", "feature_validation", "train", "eval", "drift")}
    cards = []
    if m["eval"]:
        cards += [("test accuracy", f"{m['eval']['accuracy']:.3f}"), ("macro-F1", f"{m['eval']['macro_f1']:.3f}")]
        if "accuracy" in m["eval"].get("baseline", {}):
            cards.append((f"baseline ({m['eval']['baseline']['kind']})", f"{m['eval']['baseline']['accuracy']:.3f}"))
    if m["drift"]:
        cards.append(("drift on new music", "detected" if m["drift"]["dataset_drift"] else "none"))
        if m["drift"].get("new_music_accuracy") is not None:
            cards.append(("accuracy on new music", f"{m['drift']['new_music_accuracy']:.3f}"))
    if m["train"]:
        cards.append(("epochs", str(m["train"]["epochs_run"])))
    body = "".join(f'<div class="card">{esc(k)}<b>{esc(v)}</b></div>' for k, v in cards)

    links = [
        ("Data validation: manifest (Great Expectations Data Docs)", "validation/manifest/index.html",
         m["validation"]),
        ("Data validation: features (Great Expectations Data Docs)", "validation/features/index.html",
         m["feature_validation"]),
        ("Evaluation: per-genre scores, confusion matrix, misclassified clips", "eval/index.html", m["eval"]),
        ("Drift: new music vs training data (Evidently)", "drift.html", m["drift"]),
    ]
    items = []
    for label, href, ok in links:
        exists = (reports / href).exists()
        state = "" if exists else ' <span class="muted">(not produced in this run)</span>'
        items.append(f'<li><a href="{esc(href)}">{esc(label)}</a>{state}</li>' if exists
                     else f"<li>{esc(label)}{state}</li>")
    body += "<h2>Reports</h2><ul>" + "".join(items) + "</ul>"

    if m["validation"]:
        v = m["validation"]["manifest"]
        status = '<span class="ok">passed</span>' if v["success"] else '<span class="bad">FAILED</span>'
        body += f"<h2>Data validation</h2><p>Manifest suite {status}: {v['n_expectations'] - v['n_failed']} of " \
                f"{v['n_expectations']} expectations met.</p>"
        if v["failures"]:
            body += "<ul>" + "".join(f"<li>{esc(f)}</li>" for f in v["failures"]) + "</ul>"
    if m["feature_validation"]:
        v = m["feature_validation"]["features"]
        status = '<span class="ok">passed</span>' if v["success"] else '<span class="bad">FAILED</span>'
        body += f"<p>Feature suite {status}: {v['n_expectations'] - v['n_failed']} of {v['n_expectations']} " \
                f"expectations met on {v['n_clips']} clips.</p>"
    png = _history_png(Path(cfg.paths.plots) / "train_history.csv")
    if png:
        body += "<h2>Training curves</h2>" + img(png, "training curves")
    if m["train"]:
        body += table(["training", "value"], [(k, v) for k, v in sorted(m["train"].items())])
    if m["eval"]:
        pc = m["eval"]["track"]["per_class"]
        body += "<h2>Per-genre test scores</h2>" + table(
            ["genre", "precision", "recall", "F1", "support"],
            [(g, v["precision"], v["recall"], v["f1"], v["support"]) for g, v in pc.items()])
    if m["drift"]:
        d = m["drift"]
        body += (f"<h2>New music</h2><p>{d['n_clips']} clips from <code>{esc(d['new_music'])}</code>; "
                 f"{d['n_drifted']} of {d['n_columns']} summary features drifted "
                 f"({esc(', '.join(d['drifted_columns']) or 'none')}).</p>")
        body += table(["genre", "share of predictions"], sorted(d["predicted_share"].items()))
    params = json.dumps(cfg.model_dump(by_alias=True), indent=2)
    body += f"<h2>Parameters</h2><pre>{esc(params)}</pre>"
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sub = f"genres: {', '.join(cfg.genres)} · dataset: {cfg.data.dataset} · commit {_git_commit()} · {now}"
    out = write_text(reports / "index.html", page("mir — pipeline report", body, subtitle=sub))
    print(f"report: {out.resolve()}")
    return out
