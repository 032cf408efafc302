"""The default CNN over log-mel chunks (Keras 3 layers only)."""

from __future__ import annotations

from collections.abc import Sequence


def build_cnn(
    *,
    n_mels: int,
    n_frames: int,
    n_classes: int,
    filters: Sequence[int] = (16, 32, 64, 128),
    dropout: float = 0.3,
    embedding_dim: int = 64,
):
    """A small VGG-style CNN: [Conv3×3 → BatchNorm → ReLU → MaxPool2] per entry of ``filters``.

    Parameters
    ----------
    n_mels, n_frames : int
        Input chunk size (mel bins × frames); the input is log-mel dB, shape ``(n_mels, n_frames, 1)``.
    n_classes : int
        Softmax outputs.
    filters : sequence of int
        Channels per conv block; each block halves both axes.
    dropout : float
        Dropout before the embedding and the classifier.
    embedding_dim : int
        Width of the penultimate layer, named ``embedding`` (used for monitoring).

    Returns
    -------
    keras.Model
        Uncompiled.
    """
    from mir.model import keras_backend

    keras_backend()
    import keras
    from keras import layers

    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    if min(n_mels, n_frames) < 2 ** len(filters):
        raise ValueError(f"input {n_mels}×{n_frames} is too small for {len(filters)} pooling blocks")
    inp = keras.Input(shape=(n_mels, n_frames, 1), name="logmel_db")
    x = layers.Rescaling(1.0 / 40.0, offset=1.0, name="db_scale")(inp)  # ≈ −40…+40 dB → 0…2
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="drop0")(x)
    x = layers.Dense(embedding_dim, activation="relu", name="embedding")(x)
    x = layers.Dropout(dropout, name="drop1")(x)
    out = layers.Dense(n_classes, activation="softmax", name="genre")(x)
    return keras.Model(inp, out, name="mir_cnn")
