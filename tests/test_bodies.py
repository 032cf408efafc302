"""musicnn's four pretrained bodies as Keras 3 ports: every checkpoint variable mapped, the same taggram as
musicnn's own TF1 graph, and a multi-body model that mir's inference engine splits, exports and runs."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from mir.model import keras_backend
from mir.model.pretrained import BODIES

pytestmark = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                reason="the musicnn package (pretrained checkpoints) is not installed")


def _chunks(n: int, frames: int = 187, seed: int = 0) -> np.ndarray:
    """Music-like dB chunks: a per-band level and slope plus noise, in musicnn's range."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(-70, -20, (n, 96, 1)) - np.linspace(0, 30, 96)[None, :, None]
    return np.clip(level + rng.normal(0, 8, (n, 96, frames)), -100, 0).astype(np.float32)


@pytest.fixture(scope="module")
def all_bodies():
    keras_backend()
    from mir.model.bodies import bodies_model

    return bodies_model(list(BODIES))


def test_tag_names_are_the_wheels():
    from musicnn import configuration

    from mir.model.pretrained import tag_names

    assert list(tag_names("msd_musicnn")) == configuration.MSD_LABELS == list(tag_names("msd_vgg"))
    assert list(tag_names("mtt_musicnn")) == configuration.MTT_LABELS == list(tag_names("mtt_vgg"))
    with pytest.raises(ValueError, match="unknown pretrained body 'mtt_big'.*msd_musicnn"):
        tag_names("mtt_big")


@pytest.mark.parametrize("name", list(BODIES))
def test_every_checkpoint_variable_lands_in_its_layer(name, all_bodies):
    """No checkpoint variable unused, none missing; each array in the layer the map names, frozen."""
    from mir.model.pretrained import body_weights, layer_map, layer_weights

    w = body_weights(name)
    lmap = layer_map(name)
    layers = {layer.name: layer for layer in all_bodies.layers}
    assert set(lmap) <= set(layers), f"layers missing from the port: {sorted(set(lmap) - set(layers))}"
    used = set()
    for lname, (scope, kind) in lmap.items():
        got = layers[lname].get_weights()
        want = layer_weights(lname, w, lmap)
        assert [g.shape for g in got] == [v.shape for v in want], lname
        for g, v in zip(got, want):
            np.testing.assert_array_equal(g, v)
        used |= {f"{scope}/{v}" for v in (("gamma", "beta", "moving_mean", "moving_variance") if kind == "bn"
                                        else ("kernel", "bias"))}
        assert not layers[lname].trainable
    assert used == set(w), f"unused: {sorted(set(w) - used)}"
    n_ckpt = sum(a.size for a in w.values())
    n_port = sum(math.prod(v.shape) for lname in lmap for v in layers[lname].weights)
    assert n_port == n_ckpt


def test_ports_match_musicnns_own_tf1_graphs(all_bodies, tmp_path):
    """The taggram (and features) of the restored TF1 graph (musicnn/models.py) and of the Keras port agree."""
    from mir.model import tf1_reference

    why = tf1_reference.available()
    if why:
        pytest.skip(f"musicnn's TF1 graph can't be built here: {why}")
    x = _chunks(2)
    ref = tf1_reference.run(x, list(BODIES), tmp_path)
    got = all_bodies.predict(x[..., None], verbose=0)
    for name in BODIES:
        feats = got[f"{name}_penultimate" if "musicnn" in name else f"{name}_features"]
        np.testing.assert_allclose(got[f"{name}_tags"], ref[f"{name}/tags"], atol=1e-5, err_msg=name)
        np.testing.assert_allclose(feats, ref[f"{name}/features"], atol=1e-4, rtol=1e-4, err_msg=name)
        assert ref[f"{name}/tags"].std() > 1e-3  # the tags are not a constant the port could match by chance


def test_numpy_tag_logits_are_the_ports(all_bodies):
    from mir.model.pretrained import tag_logits

    got = all_bodies.predict(_chunks(2, seed=1)[..., None], verbose=0)
    for name in BODIES:
        np.testing.assert_allclose(tag_logits(name, got[f"{name}_features"]), got[f"{name}_logits"],
                                   atol=2e-4, rtol=1e-4, err_msg=name)
        np.testing.assert_allclose(1 / (1 + np.exp(-got[f"{name}_logits"])), got[f"{name}_tags"], atol=1e-6)


def test_one_body_model_and_the_shapes_the_bodies_take():
    keras_backend()
    from mir.model.bodies import pretrained_body

    m = pretrained_body("mtt_musicnn", n_frames=64, pretrained=False)  # musicnn takes any length
    out = m.predict(_chunks(1, 64)[..., None], verbose=0)
    assert {k: v.shape for k, v in out.items()} == {"features": (1, 1506), "penultimate": (1, 200),
                                                   "logits": (1, 50), "tags": (1, 50)}
    with pytest.raises(ValueError, match="187-frame chunks only"):
        pretrained_body("msd_vgg", n_frames=128, pretrained=False)


@pytest.mark.slow  # ≈ 40 s: two bodies exported to ONNX (tf2onnx) and verified against Keras
def test_a_multi_body_model_trains_only_its_head_and_runs_on_onnx_runtime(tmp_path):
    """Two bodies (+ their tags) → one head: the engine splits it at the head, exports it and matches Keras."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    keras_backend()
    from mir.model.architectures import FROZEN_BODY, head_model, pretrained_model
    from mir.model.inference import Engine, head_start

    m = pretrained_model(bodies=["mtt_musicnn", "msd_vgg"], n_classes=3, with_tags=True)
    assert m.get_layer(FROZEN_BODY["bodies"]).output.shape[-1] == 1506 + 50 + 256 + 50
    head = head_model(m, "bodies")
    assert sum(math.prod(v.shape) for v in m.trainable_weights) == head.count_params() == 1862 * 200 + 200 + 603
    assert head_start(m) == "drop_embed"
    from mir.model.pretrained import feature_slices, tag_logits

    sl = feature_slices(["mtt_musicnn", "msd_vgg"], with_tags=True)
    X = _chunks(2, 2 * 187, seed=2)
    keras_engine = Engine(m, runtime="keras")
    ref = keras_engine.clip_outputs(X, [0, 1])
    fast = Engine(m, runtime="onnxruntime", cache_dir=tmp_path)
    assert fast.runtime == "onnxruntime"  # exported and verified against Keras, not a fallback
    got = fast.clip_outputs(X, [0, 1])
    np.testing.assert_allclose(got["embedding"], ref["embedding"], rtol=1e-3, atol=1e-4)
    assert any(n.startswith("msd_vgg_conv") for n in got["layer_stats"])
    # each body's tags from the engine's cached features, as the lead's monitoring would read them
    feats = keras_engine.body_features(X[:, :, :187, None])
    for name in ("mtt_musicnn", "msd_vgg"):
        p = 1 / (1 + np.exp(-tag_logits(name, feats[:, sl[name]])))
        np.testing.assert_allclose(p, feats[:, sl[f"{name}_tags"]], atol=1e-4)


def test_bodies_model_pools_the_feature_maps_the_engine_pools():
    keras_backend()
    import keras

    from mir.model.bodies import bodies_model, feature_maps
    from mir.model.inference import feature_map_layers

    names = ["mtt_vgg", "msd_musicnn"]
    m = bodies_model(names, stats=True, pretrained=False)
    assert sorted(feature_maps(names)) == sorted(feature_map_layers(m))
    x = _chunks(2, seed=3)[..., None]
    out = m.predict(x, verbose=0)
    for layer in ("mtt_vgg_conv2", "msd_musicnn_mid1"):
        fmap = keras.Model(m.inputs, m.get_layer(layer).output).predict(x, verbose=0)
        f = np.asarray(fmap, np.float64).reshape(2, -1, fmap.shape[-1])
        np.testing.assert_allclose(out[f"{layer}_mean"], f.mean(axis=1), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(out[f"{layer}_var"], f.var(axis=1), rtol=1e-3, atol=1e-5)


def test_feature_slices_lay_out_bodies_features():
    from mir.model.pretrained import feature_slices

    sl = feature_slices(["msd_vgg", "mtt_musicnn"], with_tags=True)
    assert [(k, v.start, v.stop) for k, v in sl.items()] == [
        ("msd_vgg", 0, 256), ("msd_vgg_tags", 256, 306), ("mtt_musicnn", 306, 1812), ("mtt_musicnn_tags", 1812, 1862)]
    assert feature_slices(["mtt_vgg"]) == {"mtt_vgg": slice(0, 256)}
