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
    from mir.reports.html import page, table

    n = len(songs)
    has_genre = n > 0 and "new_genre" in songs
    parts = [_summary(songs, rejected, summary), *_novelty(songs, summary, has_genre=has_genre),
             *_known_genres(genres, new_metrics=new_metrics, test_metrics=test_metrics, cm=cm),
             *_unknown_genres(songs, genres, has_genre=has_genre), "<h2>Every song</h2>"]
    if n:
        parts.append(table(["song", "label", "predicted", "confidence", "OOD score", "unknown", "nearest known genre"]
                           + (["new-genre score", "new genre"] if has_genre else []),
                           [(r.song_id, r.label or "—", r.predicted, float(r.confidence), float(r.ood_score),
                             "UNKNOWN" if r.unknown else "", r.nearest_genre)
                            + ((float(r.new_genre_score), "NEW GENRE" if r.new_genre else "") if has_genre else ())
                            for r in songs.itertuples()]))
    if rejected:
        parts.append("<h2>Skipped files</h2>")
        parts.append(table(["file", "reason"], [(r["path"], r["reason"]) for r in rejected]))
    return page("mir — generalisation to new music", "\n".join(parts),
                subtitle=f"model genres: {', '.join(genres)}")


def _summary(songs: "pd.DataFrame", rejected: Sequence[dict], summary: dict) -> str:
    """The opening paragraph: songs analysed, the drift verdict, songs flagged unknown and the binomial test."""
    from mir.reports.html import esc

    n = len(songs)
    n_flag = int(songs["unknown"].sum()) if n else 0
    drift = "detected" if summary.get("drift", summary.get("dataset_drift")) else "not detected"
    features = "drift" if summary.get("dataset_drift") else "no drift"
    thr = f"{float(summary.get('ood_threshold', float('nan'))):.3f}"
    pct = f"{100 * float(summary.get('ood_quantile', 0.95)):.0f}"
    excess = ""
    if summary.get("unknown_excess_p") is not None:
        expected = 100 * float(summary.get("unknown_expected_share", 0.05))
        excess = (f" In-distribution music would have about {expected:.0f} % flagged: this many or more has "
                  f"probability {float(summary['unknown_excess_p']):.2g} (binomial test)"
                  + (", so the new music drifts from what the model learned." if summary.get("unknown_drift")
                     else "."))
    return (
        f"<p>{n} song(s) analysed from <code>{esc(summary.get('new_music', ''))}</code>, "
        f"{len(rejected)} file(s) skipped. Drift against the training clips: <b>{esc(drift)}</b> "
        f"(features: {esc(features)}, {esc(summary.get('n_drifted', '?'))} of {esc(summary.get('n_columns', '?'))} "
        f'columns, <a href="drift.html">Evidently report</a>). {n_flag} song(s) flagged <b>unknown</b> '
        f"(OOD score above {esc(thr)}, the {esc(pct)}th percentile on the validation clips).{esc(excess)}</p>"
    )


def _novelty(songs: "pd.DataFrame", summary: dict, *, has_genre: bool) -> list[str]:
    """The two kinds of novelty (new source, new genre), when the songs carry the new-genre flag."""
    if not has_genre:
        return []
    n_genre = int(songs["new_genre"].sum())
    p_genre = summary.get("new_genre_excess_p")
    return [
        f"<p>Two kinds of novelty: <b>new source</b> (the <i>unknown</i> flag above: far from all the "
        f"training music — another recording source, or another genre) and <b>new genre</b> (far from every "
        f"genre <i>relative to</i> the training music as a whole, the relative Mahalanobis distance, which "
        f"discounts a change of recording source): {n_genre} song(s) flagged new genre"
        + (f" (binomial test p = {float(p_genre):.2g}"
           + ("; more than in-distribution music gives: consider adding the genre and retraining)"
              if summary.get("new_genre_drift") else ")") if p_genre is not None else "")
        + ".</p>"]


def _known_genres(genres: Sequence[str], *, new_metrics: dict | None, test_metrics: dict | None,
                  cm: np.ndarray | None) -> list[str]:
    """In-dataset test (``metrics/eval.json``'s ``track``) beside new music, and the new music's confusion matrix."""
    from mir.reports.html import confusion_figure, figure_png, img, table

    head = "<h2>In-dataset test vs new music</h2>"
    if new_metrics is None:
        return [head, '<p class="muted">No song is labelled with a genre the model knows (labels come from '
                "<code>&lt;dir&gt;/&lt;genre&gt;/</code> folders), so accuracy on new music can't be measured.</p>"]
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
    parts = [head, table(["", "in-dataset test", "new music"], rows)]
    if test_metrics is None:
        parts.append('<p class="muted">metrics/eval.json not found: run <code>mir evaluate</code> for the '
                     "in-dataset column.</p>")
    if cm is not None:
        fig = confusion_figure(cm, list(genres), title="Confusion matrix (new music, known genres)")
        parts.append(img(figure_png(fig), "confusion matrix of the new music"))
    return parts


def _unknown_genres(songs: "pd.DataFrame", genres: Sequence[str], *, has_genre: bool) -> list[str]:
    """The songs labelled with a genre the model was not trained on, and whether they were flagged."""
    from mir.reports.html import table

    unknown_genre = (songs[songs["label"].astype(str).ne("") & ~songs["label"].isin(list(genres))]
                     if len(songs) else songs)
    head = "<h2>Unknown-genre songs</h2>"
    if not len(unknown_genre):
        return [head, '<p class="muted">None: no song carries a label outside the model\'s genres.</p>']
    flagged = int(unknown_genre["unknown"].sum())
    return [
        head, f"<p>{len(unknown_genre)} song(s) are labelled with a genre the model was not trained on "
              f"(excluded from accuracy); the OOD score flagged {flagged} of them.</p>",
        table(["song", "label", "predicted", "nearest known genre", "confidence", "OOD score", "flagged unknown"]
              + (["flagged new genre"] if has_genre else []),
              [(r.song_id, r.label, r.predicted, r.nearest_genre, float(r.confidence), float(r.ood_score),
                "yes" if r.unknown else "no") + (("yes" if r.new_genre else "no",) if has_genre else ())
               for r in unknown_genre.itertuples()])]


def write_generalization(path: str | os.PathLike[str], **kwargs) -> None:
    """Write :func:`generalization_page` to ``path`` atomically (same keyword arguments)."""
    from mir.io import atomic_path

    html = generalization_page(**kwargs)
    with atomic_path(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
