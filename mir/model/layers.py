"""Custom Keras 3 layers (``keras.ops`` only, so every backend runs them), registered for ``load_model``."""

from __future__ import annotations

import math

import keras


@keras.saving.register_keras_serializable(package="mir")
class DbToLogCompressed(keras.layers.Layer):
    """Log-mel dB (``10·log10(power)``) → musicnn's input compression ``log10(1 + 10000·power)``.

    Computed in float32 whatever the dtype policy (``10000·power`` overflows float16).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, x):
        ops = keras.ops
        power = ops.exp(ops.cast(x, "float32") * (math.log(10.0) / 10.0))
        return ops.log(1.0 + 10000.0 * power) / math.log(10.0)

    def compute_output_shape(self, input_shape):
        return input_shape
