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
    from mir.reports.html import audio_clip, confusion_figure, figure_png, render

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
    rows = [{"clip_id": r["clip_id"], "title": r["title"], "actual": r["actual"], "predicted": r["predicted"],
             "confidence": float(r["confidence"]), "top3": r["top3"],
             "clip": audio_clip(paths[r["clip_id"]]) if n < MAX_PLAYABLE and r["clip_id"] in paths else None}
            for n, (_, r) in enumerate(wrong.iterrows())]

    def scores(per_class: dict) -> list[tuple]:
        return [(g, v["precision"], v["recall"], v["f1"], v["support"]) for g, v in per_class.items()]

    t, seg = metrics["track"], metrics["segment"]
    html = render("review.html", title="mir — evaluation",
                  subtitle="Held-out test clips; track = mean log-probability over chunks",
                  track=t, segment_accuracy=seg["accuracy"],
                  baseline=metrics["baseline"] if "accuracy" in metrics.get("baseline", {}) else None,
                  score_header=["genre", "precision", "recall", "F1", "support"], per_class=scores(t["per_class"]),
                  seg_class=scores(seg["per_class"]) if "per_class" in seg else [],
                  confusion_png=png, extra_png=list((extra_png or {}).items()), wrong=rows, max_playable=MAX_PLAYABLE)
    return write_text(out_dir / "index.html", html)
