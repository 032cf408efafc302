"""``train.bodies``: the pretrained bodies a ``musicnn`` model is built on, what its card records; and
``monitor.tag_bodies``: the taggers whose tags give ``new_genre`` (with the method named as it ran)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from mir.config import Config

needs_musicnn = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                   reason="the musicnn package (pretrained checkpoints) is not installed")


@pytest.mark.parametrize("train, match", [
    ({"bodies": ["msd_musicnn", "msd_musicnn"]}, "each body once"),
    ({"bodies": ["msd_vgg"], "chunk_frames": 128}, "187-frame chunks only"),
    ({"bodies": []}, "at least 1 item"),
    ({"bodies": ["openl3"]}, "msd_musicnn"),
])
def test_bad_bodies_are_one_clear_error(train, match):
    with pytest.raises(ValueError, match=match):
        Config.model_validate({"train": {"arch": "musicnn", **train}})


def test_the_default_bodies_and_other_archs_ignore_bodies():
    assert Config().train.bodies == ["msd_musicnn"] and Config().monitor.tag_bodies == ["msd_musicnn", "msd_vgg"]
    Config.model_validate({"train": {"arch": "cnn", "bodies": ["msd_vgg"], "chunk_frames": 128},
                           "features": {"sample_rate": 22050}})


@needs_musicnn
def test_a_two_body_model_keeps_its_bodies_and_gives_both_taggers_tags(tmp_path):
    from mir.model import keras_backend

    keras_backend()
    from mir.model.architectures import build_model, frozen_layer, head_model
    from mir.model.bundle import ModelBundle
    from mir.model.inference import Engine
    from mir.model.pretrained import MUSICNN_FEATURES, body_weights, tag_logits
    from mir.config import FeatureParams
    from mir.model.clip_table import clip_table
    from mir.monitoring.reference import novelty_methods, tag_bodies

    bodies = ["msd_musicnn", "msd_vgg"]
    model = build_model("musicnn", n_mels=96, n_frames=187, n_classes=3, bodies=bodies)
    assert frozen_layer(model, "musicnn") == "bodies_features"
    assert head_model(model, "musicnn").input.shape[-1] == 1506 + 256
    assert build_model("musicnn", n_mels=96, n_frames=187, n_classes=3).get_layer("musicnn_bn_pool")  # today's
    with pytest.raises(ValueError, match="96 mel bands"):
        build_model("musicnn", n_mels=128, n_frames=187, n_classes=3, bodies=bodies)
    bundle = ModelBundle(model=model, genres=["a", "b", "c"], features=FeatureParams(**MUSICNN_FEATURES),
                         chunk_frames=187, arch="musicnn", bodies=bodies)
    bundle.save(tmp_path / "m")
    back = ModelBundle.load(tmp_path / "m")
    assert back.bodies == bodies and back.tag_bodies == bodies

    rng = np.random.default_rng(0)
    X = np.clip(rng.uniform(-70, -20, (2, 96, 1)) + rng.normal(0, 8, (2, 96, 400)), -100, 0).astype(np.float32)
    engine = Engine(back.model, runtime="keras", cache_dir=None)
    cfg = Config.model_validate({"inference": {"runtime": "keras", "cache_dir": str(tmp_path / "cache")},
                                 "monitor": {"tag_bodies": bodies}})
    table = clip_table(cfg, back, X, [0, 1], taggers=bodies)
    t = table.tag_matrix()
    assert t.shape == (2, 100) and np.all((t > 0) & (t < 1))
    assert list(table.tags) == bodies and table.logp.shape == (2, 3) and len(table) == 2
    feats = engine.clip_body(X, [1])[0]["features"]
    want = 1 / (1 + np.exp(-tag_logits("msd_vgg", feats[:, 1506:], body_weights("msd_vgg")).mean(0)))
    np.testing.assert_allclose(t[1, 50:], want, rtol=1e-5)

    # a tagger the model does not have runs through its own engine: the same tags
    other = clip_table(cfg, ModelBundle(model=back.model, genres=back.genres, features=back.features,
                                        chunk_frames=187, arch="cnn"), X, [0, 1], taggers=bodies).tag_matrix()
    np.testing.assert_allclose(other, t, rtol=1e-4, atol=1e-5)
    assert tag_bodies(Config.model_validate({"features": {"sample_rate": 22050}, "train": {"arch": "cnn"}})) == []
    words = novelty_methods(bodies=tag_bodies(cfg), layers=None, weight_dist=1.0)
    assert "msd_musicnn 50 tags + msd_vgg 50 tags" in words["new_genre"] and "5 nearest" in words["new_genre"]
    scratch = ModelBundle(model=None, genres=["a"], features=FeatureParams(), chunk_frames=128, arch="cnn")
    assert scratch.tag_bodies == []
    plain = novelty_methods(bodies=[], layers=None, weight_dist=0.8)
    assert "relative Mahalanobis" in plain["new_genre"] and "0.8 : 0.2" in plain["new_source"]
