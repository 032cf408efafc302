"""The two kinds of novelty: a new recording source (covariate shift) vs a new genre (relative Mahalanobis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mir.monitoring import ood


def _two_classes(rng, n=200):
    """Classes apart along axis 0 only; axis 1 (a 'recording' direction) carries no class information."""
    y = np.repeat([0, 1], n // 2)
    x = np.column_stack([np.where(y == 0, -3.0, 3.0) + rng.normal(0, 0.5, n), rng.normal(0, 1.0, n)])
    return x, y


def test_relative_distance_discounts_a_shift_the_classes_do_not_care_about():
    rng = np.random.default_rng(0)
    x, y = _two_classes(rng)
    space = ood.fit_space(x, y, n_classes=2, shrinkage=0.01)
    bg = ood.fit_background(x, shrinkage=0.01)
    new_source = np.array([[-3.0, 8.0], [3.0, -8.0]])  # a known genre, recorded far from the training music
    new_genre = np.array([[0.0, 0.0], [0.2, 0.5]])  # between the genres, where no training music lies
    plain_src, _ = ood.nearest_centroid(space, new_source)
    plain_gen, _ = ood.nearest_centroid(space, new_genre)
    assert plain_src.min() > plain_gen.max()  # the plain distance calls the new source the more novel
    rel_src = ood.relative_distance(space, bg, new_source)
    rel_gen = ood.relative_distance(space, bg, new_genre)
    assert rel_gen.min() > rel_src.max() + 1  # the relative one calls the new genre the more novel
    train = ood.relative_distance(space, bg, x)
    assert rel_src.max() < np.quantile(train, 0.99) + 1  # a source shift looks like training music
    with pytest.raises(ValueError):
        ood.relative_distance(space, bg, x[:, :1])
    assert ood.relative_distance(space, bg, np.zeros((0, 2))).shape == (0,)


def test_layer_relative_distance_is_centred_on_training_clips_and_needs_every_layer():
    rng = np.random.default_rng(1)
    x, y = _two_classes(rng)
    wide = np.repeat(x, 5, axis=1) * 10 + rng.normal(0, 0.5, (len(x), 10))
    ls = ood.fit_layer_spaces({"a": x, "b": wide}, y, n_classes=2, shrinkage=0.5)
    assert len(ls.backgrounds) == 2 and ls.rel_iqr.shape == (2,) and (ls.rel_iqr > 0).all()
    r = ood.layer_relative_distance(ls, {"a": x, "b": wide})
    assert abs(float(np.median(r))) < 0.3
    mid = {"a": np.zeros((3, 2)), "b": np.zeros((3, 10))}
    assert (ood.layer_relative_distance(ls, mid) > np.quantile(r, 0.99)).all()
    with pytest.raises(ValueError, match="missing for layer"):
        ood.layer_relative_distance(ls, {"a": x})
    bare = ood.LayerSpaces(names=ls.names, spaces=ls.spaces, median=ls.median, iqr=ls.iqr)
    with pytest.raises(ValueError, match="background"):
        ood.layer_relative_distance(bare, {"a": x, "b": wide})


def test_new_genre_drift_is_the_binomial_test_on_the_new_genre_flags():
    from mir.monitoring.monitor import Reference, new_genre_drift

    cal = ood.calibrate(np.zeros(40), np.linspace(0, 1, 40), quantile=0.95)
    ref = Reference(table=pd.DataFrame(), genres=["a", "b"], pca_mean=np.zeros(1), pca_components=np.zeros((0, 1)),
                    space=None, calibration=cal, calibration_split="valid", novelty=cal)
    many = pd.DataFrame({"new_genre": [True] * 12 + [False] * 8})
    few = pd.DataFrame({"new_genre": [True] + [False] * 19})
    v = new_genre_drift(many, ref, alpha=0.001)
    assert v["new_genre_drift"] and v["retrain_suggested"] and v["new_genre_excess_p"] < 1e-6
    assert not new_genre_drift(few, ref, alpha=0.001)["new_genre_drift"]
    old = Reference(**{**ref.__dict__, "novelty": None})
    assert new_genre_drift(many, old, alpha=0.001)["new_genre_drift"] is None


def test_knn_cosine_distance_ignores_scale_and_finds_the_kth_neighbour():
    ref = np.array([[1.0, 0, 0], [0.9, 0.1, 0], [0, 1.0, 0], [0, 0.9, 0.1]])
    d = ood.knn_cosine_distance(ref, np.array([[10.0, 0, 0], [0, 0, 1.0]]), k=1)
    assert d[0] == pytest.approx(0.0, abs=1e-12) and d[1] > 0.85  # a scaled copy is not novel; an unseen profile is
    d2 = ood.knn_cosine_distance(ref, np.array([[1.0, 0, 0]]), k=2)
    assert d2[0] == pytest.approx(1 - 0.9 / np.hypot(0.9, 0.1))
    assert ood.knn_cosine_distance(ref, np.array([[1.0, 0, 0]]), k=99)[0] > 0.9  # k capped at the reference size
    with pytest.raises(ValueError):
        ood.knn_cosine_distance(ref, np.zeros((2, 2)))
    with pytest.raises(ValueError):
        ood.knn_cosine_distance(ref, ref, k=0)


def test_musicnn_tag_logits_is_musicnns_back_end():
    from mir.model.pretrained import MSD_TAGS, musicnn_tag_logits

    rng = np.random.default_rng(0)
    w = {"dense/kernel": rng.normal(size=(6, 4)), "dense/bias": rng.normal(size=4),
         "batch_normalization_10/moving_mean": rng.normal(size=4),
         "batch_normalization_10/moving_variance": rng.uniform(0.5, 2, 4),
         "batch_normalization_10/gamma": rng.normal(size=4), "batch_normalization_10/beta": rng.normal(size=4),
         "dense_1/kernel": rng.normal(size=(4, 3)), "dense_1/bias": rng.normal(size=3)}
    x = rng.normal(size=(5, 6))
    h = np.maximum(x @ w["dense/kernel"] + w["dense/bias"], 0)
    bn = {k.split("/")[1]: v for k, v in w.items() if k.startswith("batch_normalization_10")}
    h = (h - bn["moving_mean"]) / np.sqrt(bn["moving_variance"] + 1e-3) * bn["gamma"] + bn["beta"]
    np.testing.assert_allclose(musicnn_tag_logits(x, w), h @ w["dense_1/kernel"] + w["dense_1/bias"])
    assert len(MSD_TAGS) == 50 and MSD_TAGS[0] == "rock" and MSD_TAGS[9] == "jazz"
