"""Every architecture builds with its published layer shapes, runs, and saves/loads without custom objects."""

from __future__ import annotations

import numpy as np
import pytest

from mir.model import keras_backend
from mir.model.architectures import ARCHS, DEFAULT_CHUNK, build_model


def test_fma_cnn_has_the_reference_layers_and_parameter_count():
    m = build_model("fma_cnn", n_mels=128, n_frames=640, n_classes=3)
    assert m.count_params() == 202_115  # ≈ 202 k for 3 classes, as published
    kernels = {l.name: tuple(l.kernel.shape) for l in m.layers if hasattr(l, "kernel")}
    assert kernels["conv0"] == (9, 9, 1, 32) and kernels["conv1"] == (5, 5, 32, 64)
    assert kernels["conv2"] == (3, 3, 64, 128)
    assert [kernels[n][1] for n in ("dense256", "dense128", "embedding", "genre")] == [256, 128, 64, 3]
    assert m.get_layer("conv1").padding == "valid" and m.get_layer("conv0").padding == "same"
    drops = [l.rate for l in m.layers if l.__class__.__name__ == "Dropout"]
    assert drops == [0.2, 0.3, 0.3, 0.3, 0.3]
    x = np.full((1, 128, 640, 1), -80.0, np.float32)  # silence in dB → 0 after (dB + 80) / 80
    assert float(m.get_layer("db_unit")(x).numpy().max()) == pytest.approx(0.0)


def test_melgram_cnn_has_four_5x5_batchnorm_silu_blocks_on_1s_segments():
    m = build_model("melgram_cnn", n_mels=128, n_frames=21, n_classes=4)
    convs = [l for l in m.layers if l.__class__.__name__ == "Conv2D"]
    assert [tuple(c.kernel.shape)[:2] for c in convs] == [(5, 5)] * 4
    assert [c.filters for c in convs] == [16, 32, 64, 128]
    assert sum(l.__class__.__name__ == "BatchNormalization" for l in m.layers) == 4
    assert [l.get_config()["activation"] for l in m.layers if l.name.startswith("silu")] == ["silu"] * 4
    assert m.input_shape == (None, 128, 21, 1) and m.output_shape == (None, 4)


@pytest.mark.parametrize("arch", ARCHS)
def test_every_architecture_predicts_embeds_and_round_trips(arch, tmp_path):
    keras_backend()
    import keras

    frames = min(DEFAULT_CHUNK[arch], 64)
    mels = 96 if arch == "musicnn" else 32  # musicnn's pretrained body takes its own 96 mels
    m = build_model(arch, n_mels=mels, n_frames=frames, n_classes=3, filters=None if arch == "fma_cnn" else (8, 8, 16))
    x = np.random.default_rng(0).normal(-30, 12, size=(2, mels, frames, 1)).astype(np.float32)
    p = m.predict(x, verbose=0)
    assert p.shape == (2, 3) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    assert m.get_layer("embedding").output.shape[-1] >= 16  # monitoring reads this layer
    m.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")  # safe_mode: Keras layers only
    np.testing.assert_allclose(again.predict(x, verbose=0), p, atol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_layer_statistics_are_each_feature_maps_channel_mean_and_std(arch):
    """The OOD detector's per-layer statistics, pooled inside the network, match numpy on the feature maps."""
    keras_backend()
    import keras

    from mir.model.inference import Engine, feature_map_layers

    frames = min(DEFAULT_CHUNK[arch], 64)
    mels = 96 if arch == "musicnn" else 32
    m = build_model(arch, n_mels=mels, n_frames=frames, n_classes=3, filters=None if arch == "fma_cnn" else (8, 8, 16))
    names = feature_map_layers(m)
    assert names, f"{arch}: no feature maps found"
    assert all(len(m.get_layer(n).output.shape) in (3, 4) for n in names)
    X = np.random.default_rng(1).normal(-30, 12, size=(3, mels, 2 * frames)).astype(np.float32)  # 2 chunks each
    o = Engine(m, runtime="keras").clip_outputs(X, [0, 2])
    maps = keras.Model(m.inputs, [m.get_layer(n).output for n in names])
    for i, row in enumerate([0, 2]):
        chunks = np.stack([X[row, :, :frames], X[row, :, frames:]])[..., None]
        outs = maps.predict(chunks, verbose=0)
        outs = outs if isinstance(outs, list) else [outs]
        for name, fmap in zip(names, outs):
            f = np.asarray(fmap, np.float64).reshape(2, -1, fmap.shape[-1])
            want = np.concatenate([f.mean(axis=1), f.std(axis=1)], axis=1).mean(axis=0)
            got, c = o["layer_stats"][name][i], fmap.shape[-1]
            np.testing.assert_allclose(got[:c], want[:c], rtol=2e-3, atol=2e-4)  # channel means
            # stds come from float32 E[x²] − E[x]²: compare variances (a near-zero variance's rounding error
            # becomes a much larger std error through the square root)
            np.testing.assert_allclose(got[c:] ** 2, want[c:] ** 2, rtol=4e-3,
                                       atol=2e-4 * max(1.0, float((want[c:] ** 2).max())))


@pytest.mark.slow  # one training step and a save/load per architecture, in float16 on a CPU: ≈ 5 s each
@pytest.mark.parametrize("arch", ARCHS)
def test_every_architecture_trains_and_round_trips_under_mixed_float16(arch, tmp_path):
    """Mixed precision (``train.mixed_precision`` on a GPU; bench/gpu.py) works for every layer.

    Weights stay float32 and every layer computes in float16 except those that must not (the float32 softmax,
    musicnn's dB → log compression, whose ``10000·power`` overflows float16 at +8 dB); loud (+20 dB) and
    floor (−100 dB) inputs give finite float32 probabilities; a training step under loss scaling is finite;
    the saved model reloads with the same policies and predictions.
    """
    keras_backend()
    import keras

    frames = 16 if arch == "musicnn" else 32  # small: float16 convolutions are slow on CPUs (no AVX-512 FP16)
    mels = 96 if arch == "musicnn" else 32
    keras.config.set_dtype_policy("mixed_float16")
    try:
        m = build_model(arch, n_mels=mels, n_frames=frames, n_classes=3,
                        filters=None if arch == "fma_cnn" else (8, 8, 16))
        x = np.random.default_rng(0).normal(-30, 12, size=(4, mels, frames, 1)).astype(np.float32)
        x[0, :, : frames // 2] = 20.0  # loud: 10000·power = 1e6, beyond float16's 65504
        x[1] = -100.0  # the padding floor
        float32_layers = {l.name for l in m.layers if l.compute_dtype == "float32"} - {"logmel_db"}
        assert float32_layers == ({"genre", "musicnn_logc"} if arch == "musicnn" else {"genre"})
        assert all(w.dtype == "float32" for w in m.weights)
        p = m.predict(x, verbose=0)
        assert p.dtype == np.float32 and np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1, atol=1e-3)
        m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
        assert isinstance(m.optimizer, keras.optimizers.LossScaleOptimizer)
        loss = m.train_on_batch(x, np.eye(3, dtype=np.float32)[[0, 1, 2, 0]])
        assert np.isfinite(loss)
        p = m.predict(x, verbose=0)
        m.save(tmp_path / "m.keras")
        keras.config.set_dtype_policy("float32")  # the policy travels in the file, not in the global setting
        again = keras.models.load_model(tmp_path / "m.keras")
        assert {l.name: l.dtype_policy.name for l in again.layers[1:]} == {
            l.name: l.dtype_policy.name for l in m.layers[1:]}  # [0]: the input layer, which computes nothing
        np.testing.assert_allclose(again.predict(x, verbose=0), p, atol=1e-3)
    finally:
        keras.config.set_dtype_policy("float32")


def test_unknown_architecture_and_impossible_shapes_are_clear_errors():
    with pytest.raises(ValueError, match="unknown architecture 'vgg'"):
        build_model("vgg", n_mels=32, n_frames=32, n_classes=3)
    with pytest.raises(ValueError, match="too small"):
        build_model("shortchunk_res", n_mels=8, n_frames=128, n_classes=3)
    with pytest.raises(ValueError, match="n_classes"):
        build_model("crnn", n_mels=32, n_frames=32, n_classes=1)


def test_augment_masks_mixes_and_leaves_its_input_alone():
    from mir.model.data import augment

    rng = np.random.default_rng(0)
    x = rng.normal(-30, 10, size=(16, 32, 40)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 16)]
    x0, y0 = x.copy(), y.copy()
    xa, ya = augment(x, y, np.random.default_rng(1), spec_masks=2, mixup_alpha=0.4, gain_db=6.0)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    assert xa.shape == x.shape and np.allclose(ya.sum(axis=1), 1)
    assert (ya.max(axis=1) >= 0.5 - 1e-6).all()  # the first clip of each mix dominates
    assert not np.allclose(xa, x)
    xg, yg = augment(x, y, np.random.default_rng(2), gain_db=3.0)
    offsets = (xg - x).mean(axis=(1, 2))
    np.testing.assert_allclose(xg - x, np.broadcast_to(offsets[:, None, None], x.shape), atol=1e-4)
    assert (np.abs(offsets) <= 3.0).all() and np.array_equal(yg, y)
    xm, _ = augment(x, y, np.random.default_rng(3), spec_masks=1)
    changed = (xm != x).any(axis=2).sum(axis=1) + (xm != x).any(axis=1).sum(axis=1)
    assert (changed > 0).any()


def test_balanced_crops_draw_every_genre_equally():
    from mir.model.data import make_crops

    X = np.zeros((10, 4, 30), dtype=np.float16)
    labels = np.array([0] * 8 + [1] * 2)  # 8 clips of one genre, 2 of the other
    ds = make_crops(X, np.arange(10), labels, chunk=10, crops_per_clip=3, batch_size=7, seed=0, n_classes=2,
                    balance=True)
    ys = np.concatenate([ds[i][1] for i in range(len(ds))])
    assert ys.shape == (30, 2) and ys.sum(axis=0).tolist() == [15, 15]
