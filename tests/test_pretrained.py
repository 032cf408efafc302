"""The default architecture: musicnn's pretrained MSD body (frozen) + a genre head trained by mir."""

import math

import numpy as np
import pytest
import yaml

from mir.model import keras_backend
from mir.model.pretrained import MUSICNN_FEATURES


def test_db_to_log_compressed_is_musicnns_input():
    keras_backend()
    from mir.model.layers import DbToLogCompressed

    power = np.array([[1e-10, 1e-6, 1e-3, 0.5, 20.0]], dtype=np.float32)
    db = 10 * np.log10(power)
    got = np.asarray(DbToLogCompressed()(db))
    np.testing.assert_allclose(got, np.log10(10000 * power + 1), rtol=1e-5, atol=1e-6)


def test_every_checkpoint_variable_lands_in_the_keras_port(tmp_path, monkeypatch):
    """All 60 MSD_musicnn variables (bar the 200-unit layer and the tag output) are loaded, each where it belongs."""
    monkeypatch.setenv("MIR_CACHE", str(tmp_path))
    keras_backend()
    from mir.model.architectures import build_model
    from mir.model.pretrained import LAYER_MAP, cache_path, musicnn_weights

    w = musicnn_weights()
    assert cache_path().is_file()  # converted once; JAX/torch machines can use this file without TensorFlow
    m = build_model("musicnn", n_mels=96, n_frames=187, n_classes=3)
    used = set()
    for layer in m.layers:
        if layer.name not in LAYER_MAP:
            continue
        scope, kind = LAYER_MAP[layer.name]
        names = ([f"{scope}/{v}" for v in ("gamma", "beta", "moving_mean", "moving_variance")] if kind == "bn"
                 else [f"{scope}/kernel", f"{scope}/bias"])
        for name, got in zip(names, layer.get_weights()):
            np.testing.assert_array_equal(np.asarray(got).reshape(-1), w[name].reshape(-1))
            used.add(name)
        assert not layer.trainable
    unused = set(w) - used
    assert unused == {"dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"} | {
        f"batch_normalization_10/{v}" for v in ("gamma", "beta", "moving_mean", "moving_variance")}
    # the head is all that trains: dense 1506→200, dense 200→3
    n_trainable = sum(math.prod(v.shape) for v in m.trainable_weights)
    assert n_trainable == 1506 * 200 + 200 + 200 * 3 + 3


def test_musicnn_demands_its_features():
    from mir.model.architectures import build_model

    with pytest.raises(ValueError, match="96 mel bands"):
        build_model("musicnn", n_mels=128, n_frames=187, n_classes=3)


def test_config_rejects_musicnn_with_other_features(tmp_path):
    from mir.config import Config

    with pytest.raises(ValueError, match="musicnn.*sample_rate 16000.*got sample_rate 22050"):
        Config.model_validate({"train": {"arch": "musicnn"}, "features": {"sample_rate": 22050}})
    Config.model_validate({"train": {"arch": "cnn"}, "features": {"sample_rate": 22050}})  # the others don't care


def test_train_fits_only_the_head_and_the_saved_model_predicts(project, tiny_params):
    """`mir train` with musicnn: body features once (cached for a resume), head fitted, body weights untouched."""
    keras_backend()
    import keras

    from mir import stages
    from mir.config import load_config
    from mir.model.bundle import ModelBundle
    from mir.model.pretrained import LAYER_MAP, layer_weights, musicnn_weights

    tiny_params["synth"]["clips_per_genre"] = 4
    tiny_params["features"].update(MUSICNN_FEATURES, clip_seconds=4.0)
    tiny_params["train"].update({"arch": "musicnn", "bodies": ["msd_musicnn"], "chunk_frames": None,
                                 "crops_per_clip": 2, "epochs": 3, "filters": None})
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params))
    cfg = load_config()
    for s in ("data", "ingest", "featurize", "train"):
        stages.run(s, cfg, progress=False)
    bundle = ModelBundle.load(cfg.paths.models)
    model = bundle.model
    assert bundle.arch == "musicnn" and bundle.chunk_frames == 187
    w = musicnn_weights()
    for name in ("musicnn_timbral_74", "musicnn_mid2", "musicnn_bn_pool"):
        for got, want in zip(model.get_layer(name).get_weights(), layer_weights(name, w)):
            np.testing.assert_array_equal(got, want)
    fresh = keras.initializers.GlorotUniform(seed=0)
    assert model.get_layer("embedding").get_weights()[0].shape == (1506, 200)
    assert not np.allclose(model.get_layer("embedding").get_weights()[0], fresh((1506, 200)))
    x = np.random.default_rng(0).uniform(-80, 0, (2, 96, 187, 1)).astype(np.float32)
    p = model.predict(x, verbose=0)
    assert p.shape == (2, 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    import json

    train = json.loads((project / "metrics/train.json").read_text())
    assert train["arch"] == "musicnn" and train["epochs_run"] == 3 and train["body_embed_seconds"] > 0
    assert set(LAYER_MAP) >= {layer.name for layer in model.layers if layer.get_weights() and not layer.trainable}
