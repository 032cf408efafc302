"""``reports/generalization.html``: how the model does on new music, song by song.

One self-contained page (inline CSS, the confusion matrix as a PNG data URI,
every string from file names or labels escaped):

- when the folder is labelled with genres the model knows: in-dataset test
  (``metrics/eval.json``) beside new music — accuracy, macro-F1, per-genre recall —
  and the new music's confusion matrix;
- unknown-genre songs (a label the model was not trained on) with their nearest
  known genre and whether the OOD score flagged them;
- every song: prediction, confidence, OOD score, ``unknown`` flag, nearest known genre;
- the files that could not be analysed, with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["generalization_page", "write_generalization"]


def _pct(x) -> str:
    return "—" if x is None else f"{100 * float(x):.1f} %"


def generalization_page(*, songs: "pd.DataFrame", genres: Sequence[str], new_metrics: dict | None,
                        test_metrics: dict | None, cm: np.ndarray | None, rejected: Sequence[dict],
                        summary: dict) -> str:
    """The HTML of the generalisation report (see the module docstring).

    Parameters
    ----------
    songs : pandas.DataFrame
        One row per analysed song: ``song_id, label, predicted, confidence, ood_score,
        unknown, nearest_genre`` (``label`` empty when unlabelled).
    genres : sequence of str
        The model's genres.
    new_metrics : dict or None
        :func:`mir.evaluation.metrics.classification_metrics` on the labelled songs
        whose genre the model knows; ``None`` when there are none.
    test_metrics : dict or None
        ``metrics/eval.json`` (its ``track`` entry is used), or ``None``.
    cm : ndarray or None
        Confusion matrix of the labelled known songs.
    rejected : sequence of dict
        ``{"path", "reason"}`` per file that could not be analysed.
    summary : dict
        Verdict values shown at the top (``new_music``, ``drift``, ``dataset_drift``, ``unknown_excess_p``,
        ``n_drifted``, ``n_columns``, ``ood_threshold``, ``ood_quantile``).
    """
    from mir.reports.html import render

    n = len(songs)
    has_genre = n > 0 and "new_genre" in songs
    every = {"header": ["song", "label", "predicted", "confidence", "OOD score", "unknown", "nearest known genre"]
             + (["new-genre score", "new genre"] if has_genre else []),
             "rows": [(r.song_id, r.label or "—", r.predicted, float(r.confidence), float(r.ood_score),
                       "UNKNOWN" if r.unknown else "", r.nearest_genre)
                      + ((float(r.new_genre_score), "NEW GENRE" if r.new_genre else "") if has_genre else ())
                      for r in songs.itertuples()] if n else []}
    return render("generalization.html", title="mir — generalisation to new music",
                  subtitle=f"model genres: {', '.join(genres)}", n=n, n_rejected=len(rejected),
                  s=_summary(songs, summary), novelty=_novelty(songs, summary, has_genre=has_genre),
                  known=_known_genres(genres, new_metrics=new_metrics, test_metrics=test_metrics, cm=cm),
                  unknown_genre=_unknown_genres(songs, genres, has_genre=has_genre), every=every,
                  rejected=[(r["path"], r["reason"]) for r in rejected])


def _summary(songs: "pd.DataFrame", summary: dict) -> dict:
    """The opening paragraph: the drift verdict, songs flagged unknown and the binomial test."""
    n = len(songs)
    excess = None
    if summary.get("unknown_excess_p") is not None:
        excess = {"expected": f"{100 * float(summary.get('unknown_expected_share', 0.05)):.0f}",
                  "p": f"{float(summary['unknown_excess_p']):.2g}", "drift": bool(summary.get("unknown_drift"))}
    return {"new_music": summary.get("new_music", ""),
            "drift": "detected" if summary.get("drift", summary.get("dataset_drift")) else "not detected",
            "features": "drift" if summary.get("dataset_drift") else "no drift",
            "n_drifted": summary.get("n_drifted", "?"), "n_columns": summary.get("n_columns", "?"),
            "n_flag": int(songs["unknown"].sum()) if n else 0,
            "thr": f"{float(summary.get('ood_threshold', float('nan'))):.3f}",
            "pct": f"{100 * float(summary.get('ood_quantile', 0.95)):.0f}", "excess": excess}


def _novelty(songs: "pd.DataFrame", summary: dict, *, has_genre: bool) -> dict | None:
    """The two kinds of novelty (new source, new genre), when the songs carry the new-genre flag."""
    if not has_genre:
        return None
    p_genre = summary.get("new_genre_excess_p")
    return {"n_genre": int(songs["new_genre"].sum()), "p": None if p_genre is None else f"{float(p_genre):.2g}",
            "drift": bool(summary.get("new_genre_drift")),
            "source_method": summary.get("new_source_method") or "the unknown score above",
            "genre_method": summary.get("new_genre_method") or "not recorded by the run that wrote this page"}


def _known_genres(genres: Sequence[str], *, new_metrics: dict | None, test_metrics: dict | None,
                  cm: np.ndarray | None) -> dict | None:
    """In-dataset test (``metrics/eval.json``'s ``track``) beside new music, and the new music's confusion matrix."""
    from mir.reports.html import confusion_figure, figure_png

    if new_metrics is None:
        return None
    test = (test_metrics or {}).get("track") or {}
    rows = [("accuracy", _pct(test.get("accuracy")), _pct(new_metrics["accuracy"])),
            ("macro-F1", _pct(test.get("macro_f1")), _pct(new_metrics["macro_f1"])),
            ("songs / clips scored", test.get("n", "—"), new_metrics["n"])]
    for g in genres:
        t = (test.get("per_class") or {}).get(g) or {}
        nm = new_metrics["per_class"].get(g) or {}
        rows.append((f"recall: {g}",
                     f"{_pct(t.get('recall'))} (n={t.get('support', 0)})" if t else "—",
                     f"{_pct(nm.get('recall'))} (n={nm.get('support', 0)})" if nm.get("support") else "—"))
    cm_png = None
    if cm is not None:
        cm_png = figure_png(confusion_figure(cm, list(genres), title="Confusion matrix (new music, known genres)"))
    return {"rows": rows, "has_test": test_metrics is not None, "cm_png": cm_png}


def _unknown_genres(songs: "pd.DataFrame", genres: Sequence[str], *, has_genre: bool) -> dict:
    """The songs labelled with a genre the model was not trained on, and whether they were flagged."""
    unknown_genre = (songs[songs["label"].astype(str).ne("") & ~songs["label"].isin(list(genres))]
                     if len(songs) else songs)
    return {"flagged": int(unknown_genre["unknown"].sum()) if len(unknown_genre) else 0,
            "header": ["song", "label", "predicted", "nearest known genre", "confidence", "OOD score",
                       "flagged unknown"] + (["flagged new genre"] if has_genre else []),
            "rows": [(r.song_id, r.label, r.predicted, r.nearest_genre, float(r.confidence), float(r.ood_score),
                      "yes" if r.unknown else "no") + (("yes" if r.new_genre else "no",) if has_genre else ())
                     for r in unknown_genre.itertuples()]}


def write_generalization(path: str | os.PathLike[str], **kwargs) -> None:
    """Write :func:`generalization_page` to ``path`` atomically (same keyword arguments)."""
    from mir.io import atomic_path

    html = generalization_page(**kwargs)
    with atomic_path(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
