"""Unknown genres: an out-of-distribution (OOD) score per song, and its threshold.

Numpy, no I/O (the calibration is a :class:`mir.records.drift.ScoreCalibration`). A song is
*unknown* when the model is unsure **and/or** it lies far from every genre the model was
trained on, inside the network:

- ``msp`` — one minus the maximum softmax probability of the song's (chunk-averaged)
  prediction (Hendrycks & Gimpel 2017): high when the model is unsure;
- ``dist`` — how far the song lies from every training class, as a Mahalanobis
  distance to the nearest class centroid with one shared (tied), shrunk covariance
  (Lee et al. 2018), on one of two representations (``monitor.ood_features``):

  * ``layers`` (default): the channel mean and standard deviation of **every
    convolutional block's** activations (:func:`fit_layer_spaces`,
    :func:`layer_distance`; each layer's distance on its own training-clip scale,
    then averaged over layers);
  * ``embedding``: the song's mean penultimate ``embedding`` activation
    (:func:`fit_space`, :func:`nearest_centroid`).

  The spaces and distances live in :mod:`mir.monitoring.spaces` (re-exported here);
  README's Benchmarks section compares the representations.

Two kinds of novelty (``mir monitor``'s ``new_source`` and ``new_genre`` flags): the score above is far
from *all* training music — a new recording source as much as a new genre. For a *new genre*, discounting
covariate shift: :func:`relative_distance` / :func:`layer_relative_distance` (Ren et al. 2021: the class
distance minus a class-agnostic background distance, :func:`fit_background`) and :func:`knn_cosine_distance`
(deep nearest neighbours, Sun et al. 2022; musicnn models use it on musicnn's own tag probabilities:
bench/novelty.py compares the scores).

Each component is put on a robust common scale learned from the **validation**
clips (median and inter-quartile range: ``(x - median) / IQR``), and the score is
their weighted mean. The ``unknown`` threshold is a quantile of that score on the
validation clips (e.g. 0.95: about 5 % of in-distribution songs are flagged).

Typical use (embedding; with layers, ``fit_layer_spaces`` and ``layer_distance`` give ``d_val``/``d_new``)::

    space = fit_space(train_emb, train_labels, n_classes=k, shrinkage=cfg.monitor.ood_shrinkage)
    d_val, _ = nearest_centroid(space, valid_emb)
    cal = calibrate(msp(valid_probs), d_val, quantile=0.95)
    d_new, nearest = nearest_centroid(space, new_emb)
    score = ood_score(msp(new_probs), d_new, cal)
    unknown = score > cal.threshold
"""

from __future__ import annotations

import numpy as np
from pydantic import ConfigDict

from mir.monitoring.spaces import (EmbeddingSpace, LayerSpaces, fit_background, fit_layer_spaces, fit_space,
                                   knn_cosine_distance, layer_distance, layer_relative_distance, nearest_centroid,
                                   relative_distance, robust_scale)
from mir.records.drift import ScoreCalibration

__all__ = ["Calibration", "EmbeddingSpace", "LayerSpaces", "auroc", "calibrate", "excess_unknown_p_value",
           "fit_background", "fit_layer_spaces", "fit_space", "knn_cosine_distance", "layer_distance",
           "layer_relative_distance", "msp", "nearest_centroid", "ood_score", "relative_distance"]


class Calibration(ScoreCalibration):
    """Robust location/scale of each score component on the validation clips, and the threshold (immutable)."""

    model_config = ConfigDict(frozen=True)

    def to_dict(self) -> dict:
        """Plain numbers, floats rounded to 6 digits, for JSON."""
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.model_dump().items()}


def msp(probs: np.ndarray) -> np.ndarray:
    """``1 - max softmax probability`` per row (0 = certain, up to ``1 - 1/k`` = uniform).

    Parameters
    ----------
    probs : ndarray (n, k)
        Class probabilities, rows summing to 1.

    Returns
    -------
    ndarray (n,)
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probs must be (n, k>=2), got shape {p.shape}")
    return 1.0 - p.max(axis=1)


def calibrate(valid_msp: np.ndarray, valid_dist: np.ndarray, *, quantile: float = 0.95,
              weight_dist: float = 1.0) -> Calibration:
    """Learn the component scales and the ``unknown`` threshold on validation clips.

    Parameters
    ----------
    valid_msp, valid_dist : ndarray (n,)
        :func:`msp` and :func:`nearest_centroid` distances of in-distribution
        validation clips (not used in training).
    quantile : float, default 0.95
        The threshold is this quantile of the validation scores: about
        ``1 - quantile`` of in-distribution songs get flagged.
    weight_dist : float, default 1.0
        Weight of the distance in the score (``1 - weight_dist`` for msp). 1.0 (distance only):
        a confident model's max softmax barely separates unknown genres, and mixing it in only
        dilutes the distance (README, Benchmarks).

    Returns
    -------
    Calibration
    """
    m = np.asarray(valid_msp, dtype=np.float64)
    d = np.asarray(valid_dist, dtype=np.float64)
    if m.ndim != 1 or m.shape != d.shape or m.size == 0:
        raise ValueError(f"valid_msp and valid_dist must be equal-length non-empty 1-D, got {m.shape}, {d.shape}")
    if not (0 < quantile < 1):
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    if not (0 <= weight_dist <= 1):
        raise ValueError(f"weight_dist must be in [0, 1], got {weight_dist!r}")
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(d))):
        raise ValueError("validation scores hold non-finite values")
    mm, mi = robust_scale(m)
    dm, di = robust_scale(d)
    partial = Calibration(msp_median=mm, msp_iqr=mi, dist_median=dm, dist_iqr=di, weight_dist=float(weight_dist),
                          quantile=float(quantile), threshold=float("nan"), n=int(m.size))
    thr = float(np.quantile(ood_score(m, d, partial), quantile))
    return Calibration(**{**partial.model_dump(), "threshold": thr})


def ood_score(msp_: np.ndarray, dist: np.ndarray, cal: Calibration) -> np.ndarray:
    """The combined OOD score: higher = less like the training genres.

    ``(1 - w) * (msp - median) / IQR + w * (dist - median) / IQR`` with the
    validation statistics of ``cal``; 0 is a typical validation clip.
    """
    m = np.asarray(msp_, dtype=np.float64)
    d = np.asarray(dist, dtype=np.float64)
    if m.shape != d.shape:
        raise ValueError(f"msp and dist must have the same shape, got {m.shape} and {d.shape}")
    w = cal.weight_dist
    return (1 - w) * (m - cal.msp_median) / cal.msp_iqr + w * (d - cal.dist_median) / cal.dist_iqr


def excess_unknown_p_value(n_flagged: int, n: int, *, rate: float) -> float:
    """How surprising ``n_flagged`` unknown songs out of ``n`` are when in-distribution music is flagged at ``rate``.

    The one-sided binomial test ``P(X >= n_flagged)``, ``X ~ Binomial(n, rate)``; ``rate`` is
    ``1 - quantile`` of the calibration (≈ 5 %). A small p-value means the new music, as a
    whole, sits outside what the model learned — a drift signal that looks at the model's own
    representation rather than at one summary feature at a time.

    Parameters
    ----------
    n_flagged, n : int
        Songs flagged unknown, songs analysed.
    rate : float
        Expected flag rate on in-distribution music, in (0, 1).

    Returns
    -------
    float
        The p-value (1.0 when nothing is flagged).
    """
    from scipy.stats import binom

    if not (0 < rate < 1):
        raise ValueError(f"rate must be in (0, 1), got {rate!r}")
    if n < 0 or not (0 <= n_flagged <= n):
        raise ValueError(f"need 0 <= n_flagged <= n, got {n_flagged} of {n}")
    return float(binom.sf(n_flagged - 1, n, rate)) if n_flagged else 1.0


def auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """Area under the ROC curve of a score meant to be higher for ``unknown`` (ties count ½).

    :func:`sklearn.metrics.roc_auc_score` with ``unknown`` as the positive class: the probability
    that a random unknown song scores above a random known one.
    """
    from sklearn.metrics import roc_auc_score

    k = np.asarray(known, dtype=np.float64).ravel()
    u = np.asarray(unknown, dtype=np.float64).ravel()
    if k.size == 0 or u.size == 0:
        raise ValueError("auroc needs at least one known and one unknown score")
    y = np.concatenate([np.zeros(k.size), np.ones(u.size)])
    return float(roc_auc_score(y, np.concatenate([k, u])))
