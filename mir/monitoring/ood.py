"""Unknown genres: an out-of-distribution (OOD) score per song, and its threshold.

Pure numpy, no I/O. A song is *unknown* when the model is unsure **and/or** it
lies far from every genre the model was trained on, inside the network:

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

  On gtzan4 with new_genres as the unknown genres the layer statistics separate
  unknown songs better (bench/monitoring.py: AUROC 0.84 alone vs 0.67 for the embedding).

Two kinds of novelty (``mir monitor``'s ``new_source`` and ``new_genre`` flags): the score above is far
from *all* training music — a new recording source as much as a new genre. For a *new genre*, discounting
covariate shift: :func:`relative_distance` / :func:`layer_relative_distance` (Ren et al. 2021: the class
distance minus a class-agnostic background distance, :func:`fit_background`) and :func:`knn_cosine_distance`
(deep nearest neighbours, Sun et al. 2022; musicnn models use it on musicnn's own tag probabilities, which
bench/novelty.py measured better than the relative distance).

Each component is put on a robust common scale learned from the **validation**
clips (median and inter-quartile range: ``(x - median) / IQR``), and the score is
their weighted mean. The ``unknown`` threshold is a quantile of that score on the
validation clips (e.g. 0.95: about 5 % of in-distribution songs are flagged).

Typical use (embedding; with layers, ``fit_layer_spaces`` and ``layer_distance`` give ``d_val``/``d_new``)::

    space = fit_space(train_emb, train_labels, n_classes=k)
    d_val, _ = nearest_centroid(space, valid_emb)
    cal = calibrate(msp(valid_probs), d_val, quantile=0.95)
    d_new, nearest = nearest_centroid(space, new_emb)
    score = ood_score(msp(new_probs), d_new, cal)
    unknown = score > cal.threshold
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Calibration", "EmbeddingSpace", "LayerSpaces", "auroc", "calibrate", "excess_unknown_p_value",
           "fit_background", "fit_layer_spaces", "fit_space", "knn_cosine_distance", "layer_distance",
           "layer_relative_distance", "msp", "nearest_centroid", "ood_score", "relative_distance"]


@dataclass(frozen=True)
class EmbeddingSpace:
    """Training-class centroids in a standardised embedding space.

    Attributes
    ----------
    mean, scale : ndarray (d,)
        Per-dimension standardisation learned from the training embeddings.
    centroids : ndarray (k, d)
        Standardised mean embedding of each class (NaN rows for classes without
        training clips; they are never nearest).
    precision : ndarray (d, d)
        Inverse of the shared within-class covariance (shrunk towards a multiple of
        the identity), used for the Mahalanobis distance.
    """

    mean: np.ndarray
    scale: np.ndarray
    centroids: np.ndarray
    precision: np.ndarray


@dataclass(frozen=True)
class Calibration:
    """Robust location/scale of each score component on the validation clips, and the threshold."""

    msp_median: float
    msp_iqr: float
    dist_median: float
    dist_iqr: float
    weight_dist: float
    quantile: float
    threshold: float
    n: int

    def to_dict(self) -> dict:
        """Plain floats, for JSON."""
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


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


def fit_space(emb: np.ndarray, labels: np.ndarray, *, n_classes: int, shrinkage: float = 0.1) -> EmbeddingSpace:
    """Standardise training embeddings; one centroid per class and a shared covariance.

    The per-dimension scale is the standard deviation plus 10 % of the median
    standard deviation, so a dimension that is (almost) constant on the training
    clips — a dead ReLU — can't blow distances up when it wakes on new music.

    Parameters
    ----------
    emb : ndarray (n, d)
        Training embeddings.
    labels : ndarray (n,)
        Integer classes ``0..n_classes-1``.
    n_classes : int
        Number of classes of the model.
    shrinkage : float, default 0.1
        The within-class covariance ``C`` becomes ``(1 - s) C + s tr(C)/d I``: invertible
        with few clips per dimension.

    Returns
    -------
    EmbeddingSpace
    """
    e = np.asarray(emb, dtype=np.float64)
    y = np.asarray(labels)
    if e.ndim != 2 or e.shape[0] == 0:
        raise ValueError(f"emb must be a non-empty (n, d) array, got shape {e.shape}")
    if y.shape != (e.shape[0],):
        raise ValueError(f"labels must have shape ({e.shape[0]},), got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels outside 0..{n_classes - 1}")
    if not np.all(np.isfinite(e)):
        raise ValueError("emb holds non-finite values")
    mean = e.mean(axis=0)
    std = e.std(axis=0)
    scale = std + 0.1 * (float(np.median(std)) or 1.0) + 1e-9
    z = (e - mean) / scale
    if not (0 < shrinkage <= 1):
        raise ValueError(f"shrinkage must be in (0, 1], got {shrinkage!r}")
    cent = np.full((n_classes, e.shape[1]), np.nan)
    resid = np.zeros_like(z)
    for c in range(n_classes):
        if np.any(y == c):
            cent[c] = z[y == c].mean(axis=0)
            resid[y == c] = z[y == c] - cent[c]
    d = e.shape[1]
    cov = resid.T @ resid / max(e.shape[0] - 1, 1)
    target = (float(np.trace(cov)) / d) or 1.0
    cov = (1 - shrinkage) * cov + shrinkage * target * np.eye(d)
    return EmbeddingSpace(mean=mean, scale=scale, centroids=cent, precision=np.linalg.inv(cov))


def nearest_centroid(space: EmbeddingSpace, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the nearest class centroid, and that class, per row.

    The squared Mahalanobis distance (shared covariance of :func:`fit_space`) is
    divided by ``d`` before the square root, so it does not grow with the embedding width.

    Parameters
    ----------
    space : EmbeddingSpace
        From :func:`fit_space`.
    emb : ndarray (n, d)
        Embeddings to score.

    Returns
    -------
    dist : ndarray (n,)
    nearest : ndarray (n,) of int
    """
    e = np.asarray(emb, dtype=np.float64)
    if e.ndim != 2 or e.shape[1] != space.mean.shape[0]:
        raise ValueError(f"emb must be (n, {space.mean.shape[0]}), got shape {e.shape}")
    z = (e - space.mean) / space.scale
    diff = z[:, None, :] - space.centroids[None, :, :]
    d2 = np.einsum("nkd,de,nke->nk", diff, space.precision, diff)
    d2 = np.where(np.isnan(d2), np.inf, d2)
    nearest = d2.argmin(axis=1) if e.shape[0] else np.zeros(0, dtype=int)
    dist = np.sqrt(d2[np.arange(e.shape[0]), nearest] / e.shape[1])
    return dist, nearest.astype(int)


@dataclass(frozen=True)
class LayerSpaces:
    """One :class:`EmbeddingSpace` per layer of feature statistics, and each layer's distance scale.

    Attributes
    ----------
    names : list of str
        The layers, in network order.
    spaces : list of EmbeddingSpace
        Class centroids and shared covariance of each layer's statistics.
    median, iqr : ndarray (n_layers,)
        Median and inter-quartile range of each layer's nearest-centroid distance on the
        training clips: distances are put on this scale before they are averaged, so no
        layer dominates because of its width.
    """

    names: list
    spaces: list
    median: np.ndarray
    iqr: np.ndarray
    #: class-agnostic background Gaussian of each layer (:func:`fit_background`), for the relative distance
    backgrounds: list | None = None
    rel_median: np.ndarray | None = None
    rel_iqr: np.ndarray | None = None


def fit_layer_spaces(stats: dict, labels: np.ndarray, *, n_classes: int, shrinkage: float = 0.5) -> LayerSpaces:
    """Fit a class-conditional Gaussian (tied covariance) to each layer's feature statistics.

    The multi-layer Mahalanobis detector of Lee et al. (2018), on channel mean/std
    statistics: low layers see timbre and texture, high layers genre evidence, and an
    unknown genre is usually far from the training classes in some of them.

    Parameters
    ----------
    stats : dict of str to ndarray (n, d_l)
        Per-clip statistics of each layer (``clip_outputs(..., stats_layers=...)``) of the
        training clips.
    labels : ndarray (n,)
        Integer classes.
    n_classes : int
        Number of classes of the model.
    shrinkage : float, default 0.5
        Covariance shrinkage (:func:`fit_space`); layers are wide for a few hundred clips.

    Returns
    -------
    LayerSpaces
    """
    if not stats:
        raise ValueError("fit_layer_spaces needs the statistics of at least one layer")
    names, spaces, med, iqr, bgs, rmed, riqr = [], [], [], [], [], [], []
    for name, x in stats.items():
        sp = fit_space(x, labels, n_classes=n_classes, shrinkage=shrinkage)
        d, _ = nearest_centroid(sp, x)
        m, q = _robust(d)
        names.append(name)
        spaces.append(sp)
        med.append(m)
        iqr.append(q)
        bg = fit_background(x, shrinkage=shrinkage)
        rm, rq = _robust(relative_distance(sp, bg, x))
        bgs.append(bg)
        rmed.append(rm)
        riqr.append(rq)
    return LayerSpaces(names=names, spaces=spaces, median=np.asarray(med), iqr=np.asarray(iqr), backgrounds=bgs,
                       rel_median=np.asarray(rmed), rel_iqr=np.asarray(riqr))


def layer_distance(ls: LayerSpaces, stats: dict) -> np.ndarray:
    """Mean over layers of the scaled nearest-centroid distance, ``(d_l - median_l) / IQR_l``, per clip.

    Parameters
    ----------
    ls : LayerSpaces
        From :func:`fit_layer_spaces`.
    stats : dict of str to ndarray (n, d_l)
        The same layers' statistics of the clips to score.

    Returns
    -------
    ndarray (n,)
    """
    missing = [n for n in ls.names if n not in stats]
    if missing:
        raise ValueError(f"statistics missing for layer(s): {', '.join(missing)}")
    total = None
    for name, sp, m, q in zip(ls.names, ls.spaces, ls.median, ls.iqr):
        d, _ = nearest_centroid(sp, stats[name])
        z = (d - m) / q
        total = z if total is None else total + z
    return total / len(ls.names)


def fit_background(emb: np.ndarray, *, shrinkage: float = 0.1) -> EmbeddingSpace:
    """One class-agnostic Gaussian of all training clips (mean and full covariance, shrunk): the *background*.

    Ren et al. (2021), "A Simple Fix to Mahalanobis Distance for Improving Near-OOD Detection": a clip
    recorded differently (another studio, codec, loudness) moves away from the class centroids **and**
    from the background by about as much; a clip of another genre moves away from the classes more than
    from the background. :func:`relative_distance` takes the difference.
    """
    e = np.asarray(emb, dtype=np.float64)
    return fit_space(e, np.zeros(e.shape[0], dtype=int), n_classes=1, shrinkage=shrinkage)


def _d2(space: EmbeddingSpace, e: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance / d to every centroid, ``(n, k)`` (``inf`` for empty classes)."""
    if e.ndim != 2 or e.shape[1] != space.mean.shape[0]:
        raise ValueError(f"emb must be (n, {space.mean.shape[0]}), got shape {e.shape}")
    z = (e - space.mean) / space.scale
    diff = z[:, None, :] - space.centroids[None, :, :]
    d2 = np.einsum("nkd,de,nke->nk", diff, space.precision, diff) / e.shape[1]
    return np.where(np.isnan(d2), np.inf, d2)


def relative_distance(space: EmbeddingSpace, background: EmbeddingSpace, emb: np.ndarray) -> np.ndarray:
    """The relative Mahalanobis distance: ``min_k MD²_k(x) − MD²_0(x)`` (both divided by ``d``), per row.

    ``MD_k`` is the tied-covariance distance to class ``k`` (:func:`fit_space`), ``MD_0`` the distance to
    the class-agnostic background (:func:`fit_background`) fitted on the same clips. High = far from every
    genre *relative to* how far the clip is from training music as a whole: a semantic (new-genre) score
    that discounts covariate shift (a known genre from a new recording source).
    """
    e = np.asarray(emb, dtype=np.float64)
    d2 = _d2(space, e)
    d0 = _d2(background, e)[:, 0]
    return d2.min(axis=1) - d0 if e.shape[0] else np.zeros(0)


def layer_relative_distance(ls: LayerSpaces, stats: dict) -> np.ndarray:
    """Mean over layers of the scaled relative distance, ``(r_l - median_l) / IQR_l`` (training-clip scale).

    Parameters
    ----------
    ls : LayerSpaces
        From :func:`fit_layer_spaces` (which fits each layer's background too).
    stats : dict of str to ndarray (n, d_l)
        The layers' statistics of the clips to score.
    """
    if ls.backgrounds is None:
        raise ValueError("these layer spaces have no background Gaussians (fit them with fit_layer_spaces)")
    missing = [n for n in ls.names if n not in stats]
    if missing:
        raise ValueError(f"statistics missing for layer(s): {', '.join(missing)}")
    total = None
    for name, sp, bg, m, q in zip(ls.names, ls.spaces, ls.backgrounds, ls.rel_median, ls.rel_iqr):
        z = (relative_distance(sp, bg, stats[name]) - m) / q
        total = z if total is None else total + z
    return total / len(ls.names)


def knn_cosine_distance(reference: np.ndarray, x: np.ndarray, *, k: int = 5) -> np.ndarray:
    """One minus the cosine similarity of each row of ``x`` to its ``k``-th nearest ``reference`` row.

    The deep nearest-neighbour OOD score (Sun et al. 2022) with cosine similarity, which ignores a row's
    length. Monitoring uses it on musicnn's 50 tag probabilities (``new_genre``): a known genre recorded
    elsewhere keeps a tag profile like some training songs', a new genre has none.

    Parameters
    ----------
    reference : ndarray (m, d)
        The training clips' vectors (non-negative rows, e.g. probabilities).
    x : ndarray (n, d)
        The vectors to score. ``k`` is capped at ``m``.
    """
    r = np.asarray(reference, dtype=np.float64)
    q = np.asarray(x, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] == 0 or q.ndim != 2 or q.shape[1] != r.shape[1]:
        raise ValueError(f"need reference (m>0, d) and x (n, d), got {r.shape} and {q.shape}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    unit = lambda v: v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)  # noqa: E731
    sim = unit(q) @ unit(r).T
    kk = min(k, r.shape[0])
    return 1.0 - np.sort(sim, axis=1)[:, -kk] if q.shape[0] else np.zeros(0)


def _robust(x: np.ndarray) -> tuple[float, float]:
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    iqr = float(q3 - q1)
    if not iqr > 1e-9:  # (near-)constant on validation: fall back to a scale that can't be 0
        iqr = float(np.std(x)) or max(abs(float(med)), 1.0) * 0.1
    return float(med), iqr


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
        a confident model's max softmax barely separates unknown genres (musicnn on real music:
        AUROC 0.53 alone), and mixing it in only dilutes the distance.

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
    mm, mi = _robust(m)
    dm, di = _robust(d)
    partial = Calibration(msp_median=mm, msp_iqr=mi, dist_median=dm, dist_iqr=di, weight_dist=float(weight_dist),
                          quantile=float(quantile), threshold=float("nan"), n=int(m.size))
    thr = float(np.quantile(ood_score(m, d, partial), quantile))
    return Calibration(**{**asdict(partial), "threshold": thr})


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

    Equals the probability that a random unknown song scores above a random known one
    (the Mann–Whitney U statistic, normalised).
    """
    k = np.asarray(known, dtype=np.float64).ravel()
    u = np.asarray(unknown, dtype=np.float64).ravel()
    if k.size == 0 or u.size == 0:
        raise ValueError("auroc needs at least one known and one unknown score")
    allv = np.concatenate([k, u])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(allv.size)
    sorted_v = allv[order]
    # average ranks for ties
    i = 0
    while i < allv.size:
        j = i
        while j + 1 < allv.size and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    r_u = ranks[k.size :].sum()
    return float((r_u - u.size * (u.size + 1) / 2) / (k.size * u.size))
