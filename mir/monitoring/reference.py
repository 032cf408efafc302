"""The monitor's reference: what new music is compared with, learned from the training and validation clips.

:func:`build_reference` takes the training clips of the feature store (a seeded sample of at most
``monitor.max_reference_clips``): their summary features, a tempo estimate, the first
``monitor.embedding_pcs`` principal components of the model's ``embedding`` and its prediction, plus the
class spaces of the unknown-genre distances (:mod:`mir.monitoring.ood`). The validation clips calibrate
both novelty scores (``unknown`` = new source, and ``new_genre``).

:func:`unknown_distance` and :func:`genre_distance` are the two distances, used the same way on the
calibration clips here and on new music (:func:`mir.monitoring.monitor.analyse_folder`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mir.config import Config
    from mir.model.bundle import ModelBundle
    from mir.monitoring.ood import Calibration, EmbeddingSpace, LayerSpaces

#: The categorical prediction column of the drift report.
PRED_COLUMN = "pred_genre"

__all__ = ["PRED_COLUMN", "Reference", "build_reference", "genre_distance", "pred_columns", "stats_layers",
           "tag_bodies", "unknown_distance"]


@dataclass
class Reference:
    """Everything learned from the training (and validation) clips that new music is compared with.

    Built from two :class:`mir.model.clip_table.ClipTable` (the training sample, the calibration clips):
    one engine call per clip set."""

    table: "pd.DataFrame"  # one row per reference training clip: features, tempo, PCs, prediction
    genres: list[str]
    pca_mean: np.ndarray
    pca_components: np.ndarray
    space: "EmbeddingSpace"
    calibration: "Calibration"
    calibration_split: str
    layers: "LayerSpaces | None" = None  # monitor.ood_features == "layers": per-layer statistics spaces
    # the new-genre score's calibration on the same validation clips (musicnn: the tag 5-NN distance; other
    # models: the relative Mahalanobis distance), and the embedding's background Gaussian (embedding features)
    novelty: "Calibration | None" = None
    background: "EmbeddingSpace | None" = None
    # pretrained-body models: the training clips' tag probabilities; new_genre = cosine 5-NN distance to them
    tag_reference: "np.ndarray | None" = None
    #: the two novelty scores in words (:func:`novelty_methods`), for the records and the pages
    methods: dict[str, str] = field(default_factory=dict)


def pred_columns(logp: np.ndarray, emb: np.ndarray, genres: list[str], pca_mean, pca_comps) -> dict[str, Any]:
    """The embedding's principal components (``emb_pc1``…), ``confidence`` and the predicted genre."""
    from mir.model.inference import softmax_rows
    from mir.monitoring.tables import pca_transform

    probs = softmax_rows(logp)
    cols: dict[str, Any] = {}
    pcs = pca_transform(emb, pca_mean, pca_comps) if pca_comps.shape[0] else np.zeros((len(emb), 0))
    for j in range(pcs.shape[1]):
        cols[f"emb_pc{j + 1}"] = pcs[:, j]
    cols["confidence"] = probs.max(axis=1)
    cols[PRED_COLUMN] = [genres[i] for i in probs.argmax(axis=1)]
    return cols


def tag_bodies(cfg: "Config") -> list[str]:
    """The taggers ``new_genre`` reads (``monitor.tag_bodies``), or ``[]`` when the features are not musicnn's
    (then ``new_genre`` is the relative Mahalanobis distance on the model's own layers)."""
    from mir.model.pretrained import MUSICNN_FEATURES

    f = cfg.features
    if any(getattr(f, k) != v for k, v in MUSICNN_FEATURES.items()):
        return []
    return list(cfg.monitor.tag_bodies)


def novelty_methods(*, bodies: list[str], layers: "LayerSpaces | None", weight_dist: float) -> dict[str, str]:
    """What the two novelty scores are, in words, for these taggers (:func:`tag_bodies`) and parameters (the
    report pages print this, so a page describes the method that ran)."""
    n = len(layers.names) if layers else 0
    where = (f"the channel mean and standard deviation of each of the body's {n} convolutional blocks, "
             "averaged over blocks" if layers else "the model's embedding layer")
    source = f"Mahalanobis distance (tied, shrunk covariance) to the nearest training-genre centroid, on {where}"
    if weight_dist < 1:
        source += f", mixed {weight_dist:g} : {1 - weight_dist:g} with 1 − max softmax"
    if bodies:
        genre = ("cosine distance to the 5 nearest training clips in the pretrained taggers' tag space ("
                 + " + ".join(f"{b} {len(_tags(b))} tags" for b in bodies) + ", each clip's mean tag logits → "
                 "probabilities)")
    else:
        genre = (f"relative Mahalanobis distance (Ren et al. 2021: the nearest-genre distance minus the distance to "
                 f"one class-agnostic Gaussian), on {where}")
    return {"new_source": source, "new_genre": genre}


def _tags(body: str) -> tuple[str, ...]:
    from mir.model.pretrained import tag_names

    return tag_names(body)


def stats_layers(cfg: "Config", model) -> list[str]:
    """The layers whose statistics the OOD distance uses ([] = the embedding)."""
    if cfg.monitor.ood_features != "layers":
        return []
    from mir.model.inference import feature_map_layers

    names = feature_map_layers(model)
    if not names:
        print("monitor: the model has no convolutional feature maps; the OOD distance uses its embedding")
    return names


def unknown_distance(*, space: "EmbeddingSpace", layers: "LayerSpaces | None", emb: np.ndarray,
                     stats: dict) -> np.ndarray:
    """The ``unknown`` (new-source) distance: per-layer when ``layers`` is set, else on the embedding."""
    from mir.monitoring import ood

    return ood.layer_distance(layers, stats) if layers else ood.nearest_centroid(space, emb)[0]


def genre_distance(*, space: "EmbeddingSpace", layers: "LayerSpaces | None", background: "EmbeddingSpace | None",
                   tag_reference: "np.ndarray | None", emb: np.ndarray, stats: dict,
                   tags: "np.ndarray | None") -> np.ndarray:
    """The ``new_genre`` distance: the pretrained taggers' tag 5-NN (``tag_reference`` set; ``tags``: the clips'
    tag probabilities), else the relative Mahalanobis distance (per layer, or on the embedding)."""
    from mir.monitoring import ood

    if tag_reference is not None:
        return ood.knn_cosine_distance(tag_reference, tags)
    return ood.layer_relative_distance(layers, stats) if layers else ood.relative_distance(space, background, emb)


def _training_clips(cfg: "Config", store) -> "pd.DataFrame":
    """The training clips of the store, a seeded sample of at most ``monitor.max_reference_clips``."""
    train = store.split("train")
    if train.empty:
        raise ValueError(f"no training clips in {cfg.paths.features}: run the featurize stage first")
    if len(train) > cfg.monitor.max_reference_clips:
        train = train.sample(n=cfg.monitor.max_reference_clips, random_state=cfg.seed).sort_values("row")
    return train


def _feature_table(cfg: "Config", store, train: "pd.DataFrame") -> "pd.DataFrame":
    """The clips' summary features (the store's ``stats.csv``) and a tempo estimate from their log-mel."""
    from mir.monitoring.tables import tempo_bpm

    fp = cfg.features
    stats = store.stats().drop_duplicates("clip_id").set_index("clip_id")
    table = stats.loc[train["clip_id"]].reset_index()
    table["tempo_bpm"] = [tempo_bpm(np.asarray(store.logmel[r], dtype=np.float32), sr=fp.sample_rate,
                                    hop_length=fp.hop_length) for r in train["row"]]
    return table


def _calibration_clips(store) -> tuple[str, "pd.DataFrame"]:
    """The valid split's clips; the test or train split's only when a dataset has no valid split."""
    for split in ("valid", "test", "train"):
        rows = store.split(split)
        if not rows.empty:
            break
    if split != "valid":
        print(f"monitor: no validation clips; the unknown-genre threshold is calibrated on the {split} split")
    return split, rows


def build_reference(cfg: "Config", bundle: "ModelBundle") -> Reference:
    """The reference table, embedding PCA, class centroids and OOD calibration.

    Parameters
    ----------
    cfg : Config
        Validated parameters (``paths.features``, ``monitor.*``, ``seed``).
    bundle : ModelBundle
        The trained classifier (with an ``embedding`` layer) and its card.

    Returns
    -------
    Reference
    """
    import pandas as pd

    from mir.features.extract import FeatureStore
    from mir.model.clip_table import clip_table
    from mir.monitoring import ood
    from mir.monitoring.tables import fit_pca

    genres, taggers = list(bundle.genres), tag_bodies(cfg)
    store = FeatureStore(cfg.paths.features)
    train = _training_clips(cfg, store)
    table = _feature_table(cfg, store, train)
    layer_names = stats_layers(cfg, bundle.model)
    t = clip_table(cfg, bundle, store.logmel, train["row"].to_numpy(), taggers=taggers, desc="monitor (reference)")
    emb, tr_stats, tags = t.embedding, t.layers(layer_names), t.tag_matrix()
    pca_mean, comps = fit_pca(emb, n_components=cfg.monitor.embedding_pcs)
    for k, v in pred_columns(t.logp, emb, genres, pca_mean, comps).items():
        table[k] = v
    y = train["genre"].map({g: i for i, g in enumerate(genres)})
    keep = y.notna().to_numpy()
    y_keep, shrinkage = y[keep].astype(int).to_numpy(), cfg.monitor.ood_shrinkage
    space = ood.fit_space(emb[keep], y_keep, n_classes=len(genres), shrinkage=shrinkage)
    layers = (ood.fit_layer_spaces({k: v[keep] for k, v in tr_stats.items()}, y_keep, n_classes=len(genres),
                                   shrinkage=shrinkage) if layer_names else None)
    spaces = {"space": space, "layers": layers,
              "background": None if layers else ood.fit_background(emb[keep], shrinkage=shrinkage),
              "tag_reference": None if tags is None else tags[keep]}
    split, calibration, novelty = _calibrate(cfg, bundle, store, layer_names, spaces, taggers)
    methods = novelty_methods(bodies=taggers, layers=layers, weight_dist=cfg.monitor.ood_weight_dist)
    return Reference(table=pd.DataFrame(table), genres=genres, pca_mean=pca_mean, pca_components=comps,
                     calibration=calibration, calibration_split=split, novelty=novelty, methods=methods, **spaces)


def _calibrate(cfg: "Config", bundle: "ModelBundle", store, layer_names: list[str], spaces: dict,
               taggers: list[str]) -> tuple[str, "Calibration", "Calibration"]:
    """``(split, unknown calibration, new-genre calibration)`` from the calibration clips' two distances.

    ``spaces``: the reference's ``space``, ``layers``, ``background`` and ``tag_reference``.
    """
    from mir.model.clip_table import clip_table
    from mir.monitoring import ood

    split, clips = _calibration_clips(store)
    t = clip_table(cfg, bundle, store.logmel, clips["row"].to_numpy(), taggers=taggers, desc="monitor (calibration)")
    emb, stats = t.embedding, t.layers(layer_names)
    cal_msp = ood.msp(t.probs)
    dist = unknown_distance(space=spaces["space"], layers=spaces["layers"], emb=emb, stats=stats)
    rel = genre_distance(**spaces, emb=emb, stats=stats, tags=t.tag_matrix())
    kw = {"quantile": cfg.monitor.ood_quantile, "weight_dist": cfg.monitor.ood_weight_dist}
    return split, ood.calibrate(cal_msp, dist, **kw), ood.calibrate(cal_msp, rel, **kw)
