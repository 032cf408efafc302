"""The evaluation page: scores, confusion matrix, and every misclassified clip, playable."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: At most this many misclassified clips get an inline audio excerpt (keeps the page small).
MAX_PLAYABLE = 40


def write_review(out_dir: Path, *, preds, probs: np.ndarray, genres: list[str], cm: np.ndarray, metrics: dict,
                 paths: dict[str, str], extra_png: dict[str, bytes] | None = None) -> Path:
    """Write ``confusion.png``, ``misclassified.csv`` and ``index.html`` into ``out_dir``; return the page.

    Every misclassified clip is listed with its title tag (when the file has one),
    true and predicted genre, confidence, top-3 and an inline excerpt; all text is
    escaped. ``extra_png`` adds titled figures (e.g. the PCA scatter) to the page.
    """
    from mir.datasets.folder import read_tag
    from mir.io import atomic_path, claim_dir, write_csv, write_text
    from mir.reports.html import audio_excerpt, confusion_figure, esc, figure_png, img, page, table

    claim_dir(out_dir, what="evaluation page folder", legacy={"confusion.png", "misclassified.csv", "index.html"})
    png = figure_png(confusion_figure(cm, genres))
    with atomic_path(out_dir / "confusion.png") as tmp:
        tmp.write_bytes(png)
    wrong = preds[preds["actual"] != preds["predicted"]].copy()
    order = np.argsort(-probs, axis=1)[:, :3]
    top3 = [", ".join(f"{genres[j]} {probs[i, j]:.2f}" for j in order[i]) for i in range(len(preds))]
    wrong["top3"] = [top3[i] for i in wrong.index]
    wrong["title"] = [read_tag(paths[c], "title") or "" if c in paths else "" for c in wrong["clip_id"]]
    write_csv(out_dir / "misclassified.csv", wrong)
    wrong = wrong.sort_values("confidence", ascending=False)
    rows = []
    for n, (_, r) in enumerate(wrong.iterrows()):
        player = audio_excerpt(paths[r["clip_id"]]) if n < MAX_PLAYABLE and r["clip_id"] in paths else ""
        rows.append((r["clip_id"], r["title"], r["actual"], r["predicted"], float(r["confidence"]), r["top3"],
                     player))
    t = metrics["track"]
    per_class = table(["genre", "precision", "recall", "F1", "support"],
                      [(g, v["precision"], v["recall"], v["f1"], v["support"]) for g, v in t["per_class"].items()])
    seg = metrics["segment"]
    seg_class = table(["genre", "precision", "recall", "F1", "support"],
                      [(g, v["precision"], v["recall"], v["f1"], v["support"])
                       for g, v in seg["per_class"].items()]) if "per_class" in seg else ""
    body = (
        f'<div class="card">track accuracy<b>{t["accuracy"]:.3f}</b></div>'
        f'<div class="card">macro-F1<b>{t["macro_f1"]:.3f}</b></div>'
        f'<div class="card">segment accuracy<b>{metrics["segment"]["accuracy"]:.3f}</b></div>'
        f'<div class="card">test clips<b>{t["n"]}</b></div>'
        + (f'<div class="card">baseline accuracy<b>{metrics["baseline"]["accuracy"]:.3f}</b>'
           f'<span class="muted">{esc(metrics["baseline"]["kind"])}</span></div>'
           if "accuracy" in metrics.get("baseline", {}) else "")
        + f"<h2>Per genre (track level)</h2>{per_class}"
        + (f"<h2>Per genre (segment level)</h2>{seg_class}" if seg_class else "")
        + f"<h2>Confusion matrix</h2>{img(png, 'confusion matrix')}"
        + "".join(f"<h2>{esc(name)}</h2>{img(b, name)}" for name, b in (extra_png or {}).items())
        + f"<h2>Misclassified clips ({len(wrong)})</h2>"
        + (table(["clip", "title", "true", "predicted", "confidence", "top-3", "listen"], rows, raw_cols=(6,))
           if rows else "<p>None: every test clip was classified correctly.</p>")
        + (f'<p class="muted">Only the first {MAX_PLAYABLE} are playable here.</p>' if len(wrong) > MAX_PLAYABLE else "")
    )
    return write_text(out_dir / "index.html", page("mir — evaluation", body,
                                                  subtitle="Held-out test clips; track = mean log-probability over chunks"))
