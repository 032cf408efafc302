"""Gaussian class spaces of the training clips, and distances to them (pure numpy, no I/O).

The representation side of the unknown-genre score (:mod:`mir.monitoring.ood` combines and calibrates):

- :func:`fit_space` / :func:`nearest_centroid`: class centroids with one tied, shrunk covariance and the
  Mahalanobis distance to the nearest centroid (Lee et al. 2018), on an embedding;
- :func:`fit_layer_spaces` / :func:`layer_distance`: the same per layer of channel statistics, each layer
  on its own training-clip scale, averaged over layers;
- :func:`fit_background` / :func:`relative_distance` / :func:`layer_relative_distance`: the relative
  Mahalanobis distance (Ren et al. 2021), which discounts shifts the classes do not differ in;
- :func:`knn_cosine_distance`: the deep nearest-neighbour distance (Sun et al. 2022).

Every fit takes the covariance ``shrinkage`` as a required keyword: the monitor passes
``monitor.ood_shrinkage``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EmbeddingSpace", "LayerSpaces", "fit_background", "fit_layer_spaces", "fit_space", "knn_cosine_distance",
           "layer_distance", "layer_relative_distance", "nearest_centroid", "relative_distance", "robust_scale"]


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



def fit_space(emb: np.ndarray, labels: np.ndarray, *, n_classes: int, shrinkage: float) -> EmbeddingSpace:
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
    shrinkage : float
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


def fit_layer_spaces(stats: dict, labels: np.ndarray, *, n_classes: int, shrinkage: float) -> LayerSpaces:
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
    shrinkage : float
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
        m, q = robust_scale(d)
        names.append(name)
        spaces.append(sp)
        med.append(m)
        iqr.append(q)
        bg = fit_background(x, shrinkage=shrinkage)
        rm, rq = robust_scale(relative_distance(sp, bg, x))
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


def fit_background(emb: np.ndarray, *, shrinkage: float) -> EmbeddingSpace:
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


def robust_scale(x: np.ndarray) -> tuple[float, float]:
    """``(median, IQR)`` of ``x``; a (near-)constant ``x`` gets a scale that can't be 0."""
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    iqr = float(q3 - q1)
    if not iqr > 1e-9:  # (near-)constant on validation: fall back to a scale that can't be 0
        iqr = float(np.std(x)) or max(abs(float(med)), 1.0) * 0.1
    return float(med), iqr
