"""The monitor's verdict: drift of the features, an excess of novel songs, and the ``metrics/drift.json`` record.

- :func:`drift_verdict` — Evidently's feature report (:func:`mir.monitoring.drift.drift_report`) plus
  :func:`overall_drift` (an excess of songs flagged unknown) and :func:`new_genre_drift` (the retrain signal);
- :func:`labelled_scores` — accuracy on the labelled songs whose genre the model knows;
- :func:`drift_record` — all of it as a :class:`mir.records.drift.DriftRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mir.monitoring.reference import PRED_COLUMN

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mir.config import Config
    from mir.monitoring.ood import Calibration
    from mir.monitoring.reference import Reference
    from mir.records.drift import DriftRecord

#: Columns of the feature tables that are not compared.
DRIFT_EXCLUDE = ("clip_id", "song_id", "genre", "label", "split", "row", "path")

__all__ = ["DRIFT_EXCLUDE", "Labelled", "drift_columns", "drift_record", "drift_verdict", "labelled_scores",
           "new_genre_drift", "overall_drift"]


def drift_columns(ref: "Reference", current: "pd.DataFrame") -> list[str]:
    """The numeric columns compared by the drift report (the prediction is compared as a category)."""
    skip = set(DRIFT_EXCLUDE) | {PRED_COLUMN}
    return [c for c in ref.table.columns if c not in skip and c in current.columns]


def overall_drift(feature_verdict: dict, unknown_flags, *, calibration: "Calibration", alpha: float) -> dict:
    """Combine Evidently's feature-drift verdict with the excess of songs flagged unknown.

    Drift is declared when the share of drifted columns reaches ``monitor.drift_share``
    (Evidently) **or** when more songs are flagged unknown than in-distribution music
    would give (:func:`mir.monitoring.ood.excess_unknown_p_value` below ``alpha``).

    Returns
    -------
    dict
        ``drift``, ``dataset_drift`` (the feature verdict), ``unknown_drift``,
        ``unknown_excess_p``, ``unknown_expected_share``.
    """
    from mir.monitoring import ood

    flags = np.asarray(unknown_flags, dtype=bool)
    rate = 1.0 - calibration.quantile
    p = ood.excess_unknown_p_value(int(flags.sum()), int(flags.size), rate=rate)
    unknown_drift = bool(p < alpha)
    return {"drift": bool(feature_verdict["dataset_drift"]) or unknown_drift,
            "dataset_drift": bool(feature_verdict["dataset_drift"]), "unknown_drift": unknown_drift,
            "unknown_excess_p": float(f"{p:.4g}"), "unknown_expected_share": round(rate, 4)}


def new_genre_drift(songs: "pd.DataFrame", ref: "Reference", *, alpha: float) -> dict:
    """The retrain signal: more songs flagged ``new_genre`` than in-distribution music gives (binomial test).

    ``unknown`` (= ``new_source``) fires on a new recording source as much as on a new genre, so its excess
    (``unknown_drift``) says "the music changed"; ``new_genre`` discounts the source, so its excess
    (``new_genre_drift``, also ``retrain_suggested``) says "there is a genre the model does not have".
    """
    if ref.novelty is None or "new_genre" not in songs:
        return {"new_genre_drift": None, "new_genre_excess_p": None, "retrain_suggested": None}
    from mir.monitoring import ood

    flags = songs["new_genre"].to_numpy(dtype=bool)
    p = ood.excess_unknown_p_value(int(flags.sum()), int(flags.size), rate=1.0 - ref.novelty.quantile)
    return {"new_genre_drift": bool(p < alpha), "new_genre_excess_p": float(f"{p:.4g}"),
            "retrain_suggested": bool(p < alpha)}


def drift_verdict(cfg: "Config", ref: "Reference", songs: "pd.DataFrame", *, html_path: str | Path | None = None,
                  title: str | None = None) -> dict:
    """``mir monitor``'s verdict on the analysed ``songs``: Evidently's feature report plus :func:`overall_drift`.

    Returns Evidently's verdict (per-column results, ``n_drifted`` …) updated with
    ``drift``, ``unknown_drift``, ``unknown_excess_p`` and ``unknown_expected_share``.
    """
    from mir.monitoring.drift import drift_report

    v = drift_report(reference=ref.table, current=songs, columns=drift_columns(ref, songs),
                     categorical=[PRED_COLUMN], html_path=html_path, drift_share=cfg.monitor.drift_share, title=title)
    return {**v, **overall_drift(v, songs["unknown"], calibration=ref.calibration, alpha=cfg.monitor.unknown_alpha),
            **new_genre_drift(songs, ref, alpha=cfg.monitor.unknown_alpha)}


@dataclass
class Labelled:
    """The songs' labels against the model's genres, and the scores on those it knows."""

    labels: "pd.Series"  # "" = unlabelled
    known: np.ndarray  # labelled with a genre the model knows
    unknown_genre: np.ndarray  # labelled with a genre it does not know
    metrics: dict | None  # classification_metrics on the known ones (None: there are none)
    cm: np.ndarray | None  # their confusion matrix


def labelled_scores(songs: "pd.DataFrame", genres: list[str]) -> Labelled:
    """Accuracy, macro-F1 … and the confusion matrix of the songs labelled with a genre the model knows."""
    from mir.evaluation.metrics import classification_metrics, confusion

    labels = songs["label"].astype(str)
    known = labels.isin(genres).to_numpy()
    unknown_genre = (labels.ne("") & ~labels.isin(genres)).to_numpy()
    metrics = cm = None
    if known.any():
        lab = {g: i for i, g in enumerate(genres)}
        y = labels[known].map(lab).to_numpy()
        yp = songs["predicted"][known].map(lab).to_numpy()
        metrics = classification_metrics(y, yp, genres)
        cm = confusion(y, yp, genres)
    return Labelled(labels=labels, known=known, unknown_genre=unknown_genre, metrics=metrics, cm=cm)


def _share(flags: "pd.Series", mask: np.ndarray | None = None) -> float | None:
    """The share of ``flags`` set (among ``mask``), rounded; ``None`` when ``mask`` selects no song."""
    if mask is None:
        return round(float(flags.mean()), 4)
    return round(float(flags[mask].mean()), 4) if mask.any() else None


def _feature_fields(verdict: dict) -> dict[str, Any]:
    keys = ("drift", "dataset_drift", "unknown_drift", "unknown_excess_p", "unknown_expected_share", "n_drifted",
            "n_columns")
    return {**{k: verdict[k] for k in keys}, "share_drifted": round(verdict["share_drifted"], 4),
            "drifted_columns": sorted(c for c, v in verdict["columns"].items() if v["drifted"])}


def _labelled_fields(songs: "pd.DataFrame", lab: Labelled, genres: list[str]) -> dict[str, Any]:
    m, pred = lab.metrics, songs["predicted"].tolist()
    return {"new_music_accuracy": None if m is None else round(m["accuracy"], 4),
            "new_music_macro_f1": None if m is None else round(m["macro_f1"], 4),
            "n_labelled_known": int(lab.known.sum()), "n_unlabelled": int(lab.labels.eq("").sum()),
            "n_unknown_genre": int(lab.unknown_genre.sum()),
            "unknown_genres": sorted(set(lab.labels[lab.unknown_genre])),
            "predicted_share": {g: round(pred.count(g) / len(pred), 4) for g in genres}}


def _unknown_fields(songs: "pd.DataFrame", lab: Labelled) -> dict[str, Any]:
    flagged = songs.loc[songs["unknown"]]
    return {"n_unknown_flagged": int(songs["unknown"].sum()), "unknown_flagged_share": _share(songs["unknown"]),
            "unknown_songs": flagged["song_id"].tolist(),
            "unknown_detail": [{"song_id": r.song_id, "label": r.label, "predicted": r.predicted,
                                "nearest_genre": r.nearest_genre, "ood_score": round(float(r.ood_score), 4)}
                               for r in flagged.itertuples()],
            "unknown_genre_flagged_share": _share(songs["unknown"], lab.unknown_genre),
            "n_new_source_flagged": int(songs["new_source"].sum()),
            "new_source_flagged_share": _share(songs["new_source"])}


def _new_genre_fields(songs: "pd.DataFrame", ref: "Reference", verdict: dict, lab: Labelled) -> dict[str, Any]:
    """The new-genre block (the retrain signal); empty when the songs carry no ``new_genre`` flag."""
    if "new_genre" not in songs:
        return {}
    flags = songs["new_genre"]
    return {"n_new_genre_flagged": int(flags.sum()), "new_genre_flagged_share": _share(flags),
            "new_genre_songs": songs.loc[flags, "song_id"].tolist(),
            "unknown_genre_new_genre_share": _share(flags, lab.unknown_genre),
            "known_genre_new_genre_share": _share(flags, lab.known),
            **{k: verdict[k] for k in ("new_genre_drift", "new_genre_excess_p", "retrain_suggested")},
            "new_genre_threshold": round(ref.novelty.threshold, 6),
            "new_genre_calibration": {**ref.novelty.to_dict(), "split": ref.calibration_split}}


def _reference_fields(ref: "Reference") -> dict[str, Any]:
    cal = ref.calibration
    return {"ood_threshold": round(cal.threshold, 6), "ood_quantile": cal.quantile,
            "ood_calibration": {**cal.to_dict(), "split": ref.calibration_split},
            "n_reference": len(ref.table), "embedding_pcs": int(ref.pca_components.shape[0]),
            "new_source_method": ref.methods.get("new_source"), "new_genre_method": ref.methods.get("new_genre")}


def drift_record(*, ref: "Reference", songs: "pd.DataFrame", rejected: list[dict], verdict: dict,
                 labelled: Labelled, new_dir: str | Path) -> "DriftRecord":
    """The run's ``metrics/drift.json`` (without ``history``, added once the run is in the workspace).

    Parameters
    ----------
    ref : Reference
        The reference (calibrations, model genres).
    songs : pandas.DataFrame
        :func:`mir.monitoring.monitor.analyse_folder`'s table.
    rejected : list of dict
        ``{"path", "reason"}`` per file skipped.
    verdict : dict
        :func:`drift_verdict`.
    labelled : Labelled
        :func:`labelled_scores`.
    new_dir : str or Path
        The folder analysed.
    """
    from mir.records.drift import DriftRecord

    return DriftRecord(new_music=str(new_dir), n_clips=len(songs), n_rejected=len(rejected), rejected=rejected,
                       **_feature_fields(verdict), **_labelled_fields(songs, labelled, ref.genres),
                       **_unknown_fields(songs, labelled), **_new_genre_fields(songs, ref, verdict, labelled),
                       **_reference_fields(ref))
