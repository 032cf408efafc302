"""``train.final_fit``: the head refitted on train + valid for the epoch count early stopping found."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mir.config import TrainParams
from mir.model import keras_backend


def test_lr_sequence_replays_the_schedules():
    from mir.model.train import lr_sequence

    plateau = TrainParams(learning_rate=1e-3, lr_schedule="plateau", lr_factor=0.5, lr_patience=2)
    # improves, improves, then 2 epochs without: halved from the 5th epoch on; 2 more: halved again
    assert lr_sequence(plateau, [1.0, 0.9, 0.95, 0.92, 0.97, 0.99, 0.91]) == [1e-3] * 4 + [5e-4] * 2 + [2.5e-4]
    step = TrainParams(learning_rate=1e-3, lr_schedule="step", lr_factor=0.1, lr_step_epochs=2)
    assert np.allclose(lr_sequence(step, [1.0] * 5), [1e-3, 1e-3, 1e-4, 1e-4, 1e-5])
    assert lr_sequence(TrainParams(learning_rate=1e-3, lr_schedule="none"), [3.0, 2.0]) == [1e-3, 1e-3]
    assert TrainParams().final_fit is False


def test_final_fit_refits_only_the_head_on_train_and_valid():
    keras_backend()
    import keras

    from mir.model.architectures import HEAD_LAYERS, musicnn
    from mir.model.train import final_fit

    keras.utils.set_random_seed(0)
    model = musicnn(n_classes=3)
    body = [w.copy() for w in model.get_layer("musicnn_mid2").get_weights()]
    head0 = model.get_layer("genre").get_weights()[0].copy()
    d = int(model.get_layer("musicnn_bn_pool").output.shape[-1])
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    x = (rng.normal(0, 1, (60, d)) + 2 * np.eye(3)[y].repeat(d // 3 + 1, axis=1)[:, :d]).astype(np.float32)
    onehot = np.eye(3, dtype=np.float32)[y]
    tp = TrainParams(arch="musicnn", batch_size=16, final_fit=True)
    out = final_fit(model, tp, pd.DataFrame({"val_loss": [1.0, 0.8, 0.9]}), 3, (x[:40], onehot[:40]),
                    (x[40:], onehot[40:]), progress=False)
    assert out["epochs"] == 3 and out["n_examples"] == 60 and np.isfinite(out["final_loss"])
    for got, want in zip(model.get_layer("musicnn_mid2").get_weights(), body):
        np.testing.assert_array_equal(got, want)  # the body is untouched
    assert not np.allclose(model.get_layer("genre").get_weights()[0], head0)
    head = keras.Model(model.get_layer("drop_embed").input, model.get_layer(HEAD_LAYERS[-1]).output)
    assert (head.predict(x, verbose=0).argmax(1) == y).mean() > 0.8  # fitted on those examples
