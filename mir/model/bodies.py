"""Keras 3 ports of musicnn's four pretrained bodies (:data:`mir.model.pretrained.BODIES`), Keras layers only.

Each port takes mir's log-mel dB chunks ``(96, frames, 1)`` (musicnn's features: 16 kHz, n_fft 512, hop 256)
and computes what musicnn's own TF1 graph (``musicnn/models.py``) computes in inference mode:

- :func:`musicnn_graph` — ``build_musicnn``: batch-normalised ``log10(1 + 10000·mel)`` input; a timbral
  front end (7-frame × 38- and 67-mel filters, max over frequency) and a temporal one (128-, 64-, 32-frame
  × 1-mel filters); three 7-frame Conv1D mid-end layers with residual connections, densely concatenated
  (753 channels); max and mean over time, interleaved as in the original, and their batch norm
  (``features``, 1 506 values); Dense 200 ReLU → batch norm (``penultimate``) → Dense 50 (``logits``).
- :func:`vgg_graph` — ``vgg``: batch-normalised input; five [3×3 conv 128 ReLU → batch norm → max pool]
  (pools 4×1/2, 2×2/2, 2×2/2, 2×2/2, 4×4/4, unpadded as TF's); flattened (``features``, 256 values:
  2 time steps × 128 channels, so only 187-frame chunks) → Dense 50 (``logits``). Dropout is identity at
  inference and is left out.

Layers are named ``<prefix>_…`` (:func:`mir.model.pretrained.layer_map` maps each to its checkpoint
variables), so several bodies live in one model. :func:`pretrained_body` builds one body as a model,
:func:`bodies_model` several on one input; :func:`mir.model.architectures.pretrained_model` puts a genre head
on them.
"""

from __future__ import annotations

from collections.abc import Sequence

from mir.model.pretrained import MUSICNN_FEATURES, MUSICNN_FRAMES, body_info

#: The outputs of every body's graph: pooled features (the head's input), tag logits, tag probabilities.
OUTPUTS = ("features", "logits", "tags")


def _keras():
    from mir.model import keras_backend

    keras_backend()
    import keras

    return keras


def _front(inp, p: str):
    """dB ``(mels, T, 1)`` → musicnn's input ``log10(1 + 10000·mel)``, time-major ``(T, mels, 1)``, batch-normed."""
    from keras import layers

    from mir.model.layers import DbToLogCompressed

    x = DbToLogCompressed(name=f"{p}_logc")(inp)
    x = layers.Permute((2, 1, 3), name=f"{p}_time_major")(x)  # (time, mels, 1), as musicnn
    return layers.BatchNormalization(name=f"{p}_bn_in")(x)


def _tags(x, p: str, out: dict) -> dict:
    from keras import layers

    out["logits"] = layers.Dense(50, name=f"{p}_tags")(x)
    out["tags"] = layers.Activation("sigmoid", dtype="float32", name=f"{p}_taggram")(out["logits"])
    return out


def musicnn_graph(inp, *, prefix: str, tags: bool = True) -> dict:
    """musicnn's graph on the dB input tensor ``inp`` ``(batch, 96, T, 1)``; layers named ``<prefix>_…``.

    Returns ``{"features": (batch, 1506)}`` and, with ``tags``, ``penultimate`` (200), ``logits`` and
    ``tags`` (50 each).
    """
    from keras import layers

    p, T = prefix, int(inp.shape[2])
    x = _front(inp, p)
    pad7 = layers.ZeroPadding2D(((3, 3), (0, 0)), name=f"{p}_pad7")(x)
    front = []
    for k, height in ((74, 38), (77, 67)):
        c = layers.Conv2D(204, (7, height), activation="relu", name=f"{p}_timbral_{k}")(pad7)
        c = layers.BatchNormalization(name=f"{p}_bn_timbral_{k}")(c)
        c = layers.MaxPooling2D((1, c.shape[2]), name=f"{p}_fmax_timbral_{k}")(c)
        front.append(layers.Reshape((T, 204), name=f"{p}_timbral_{k}_seq")(c))
    for k in (128, 64, 32):
        c = layers.Conv2D(51, (k, 1), padding="same", activation="relu", name=f"{p}_temporal_{k}")(x)
        c = layers.BatchNormalization(name=f"{p}_bn_temporal_{k}")(c)
        c = layers.MaxPooling2D((1, c.shape[2]), name=f"{p}_fmax_temporal_{k}")(c)
        front.append(layers.Reshape((T, 51), name=f"{p}_temporal_{k}_seq")(c))
    h = layers.Concatenate(name=f"{p}_frontend")(front)
    mids = [h]
    for i in range(3):
        c = layers.Conv1D(64, 7, activation="relu", name=f"{p}_mid{i}")(
            layers.ZeroPadding1D(3, name=f"{p}_pad_mid{i}")(h))
        c = layers.BatchNormalization(name=f"{p}_bn_mid{i}")(c)
        h = c if i == 0 else layers.Add(name=f"{p}_res{i}")([c, h])
        mids.append(h)
    m = layers.Concatenate(name=f"{p}_midend")(mids)
    mx = layers.Reshape((-1, 1), name=f"{p}_max_col")(layers.GlobalMaxPooling1D(name=f"{p}_tmax")(m))
    mu = layers.Reshape((-1, 1), name=f"{p}_mean_col")(layers.GlobalAveragePooling1D(name=f"{p}_tmean")(m))
    pool = layers.Flatten(name=f"{p}_pool")(layers.Concatenate(name=f"{p}_max_mean")([mx, mu]))
    out = {"features": layers.BatchNormalization(name=f"{p}_bn_pool")(pool)}
    if not tags:
        return out
    d = layers.Dense(200, activation="relu", name=f"{p}_dense")(out["features"])
    out["penultimate"] = layers.BatchNormalization(name=f"{p}_bn_dense")(d)
    return _tags(out["penultimate"], p, out)


#: The vgg bodies' max pools: (pool size, strides) after each of the five convolutions (time, mel).
VGG_POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))


def vgg_graph(inp, *, prefix: str, tags: bool = True) -> dict:
    """musicnn's VGG on the dB input tensor ``inp`` ``(batch, 96, 187, 1)``; layers named ``<prefix>_…``.

    Returns ``{"features": (batch, 256)}`` and, with ``tags``, ``logits`` and ``tags`` (50 each).
    """
    from keras import layers

    p = prefix
    if int(inp.shape[2]) != MUSICNN_FRAMES:
        raise ValueError(f"{p}: the vgg bodies take {MUSICNN_FRAMES}-frame chunks only (their dense layer reads "
                         f"a fixed 2 × 128 map), got {int(inp.shape[2])}")
    x = _front(inp, p)
    for i, (size, strides) in enumerate(VGG_POOLS, start=1):
        x = layers.Conv2D(128, 3, padding="same", activation="relu", name=f"{p}_conv{i}")(x)
        x = layers.BatchNormalization(name=f"{p}_bn{i}")(x)
        x = layers.MaxPooling2D(size, strides=strides, name=f"{p}_pool{i}")(x)
    out = {"features": layers.Flatten(name=f"{p}_flat")(x)}
    return _tags(out["features"], p, out) if tags else out


GRAPHS = {"musicnn": musicnn_graph, "vgg": vgg_graph}


def _check_input(n_mels: int) -> None:
    if n_mels != MUSICNN_FEATURES["n_mels"]:
        raise ValueError(f"musicnn bodies need {MUSICNN_FEATURES['n_mels']} mel bands (their pretrained features), "
                         f"got {n_mels}: set " + ", ".join(f"features.{k} {v}" for k, v in MUSICNN_FEATURES.items()))


def body_graph(name: str, inp, *, prefix: str | None = None, tags: bool = True) -> dict:
    """Body ``name``'s graph on the dB input tensor ``inp`` (layers ``<prefix or name>_…``, not yet loaded).

    Returns the :func:`musicnn_graph` / :func:`vgg_graph` dict. The caller builds its model and then calls
    :func:`load_bodies` (weights are set on a built model's layers).
    """
    _check_input(int(inp.shape[1]))
    return GRAPHS[body_info(name).kind](inp, prefix=prefix or name, tags=tags)


def load_bodies(model, names: Sequence[str], *, pretrained: bool = True) -> dict[str, set[str]]:
    """Load each body of ``names`` (layers ``<name>_…``) into ``model`` and freeze its layers.

    Returns each body's checkpoint variables used (empty when not ``pretrained``).
    """
    from mir.model.pretrained import load_body

    used = {name: (load_body(model, name) if pretrained else set()) for name in names}
    for layer in model.layers:
        if any(layer.name.startswith(f"{name}_") for name in names):
            layer.trainable = False
    return used


def pretrained_body(name: str, *, n_frames: int = MUSICNN_FRAMES, pretrained: bool = True):
    """Body ``name`` as a frozen Keras model: dB chunks ``(96, n_frames, 1)`` → ``{features, logits, tags}``
    (musicnn bodies also ``penultimate``)."""
    return bodies_model([name], n_frames=n_frames, pretrained=pretrained, flat=False)


def bodies_model(names: Sequence[str], *, n_frames: int = MUSICNN_FRAMES, pretrained: bool = True,
                 flat: bool = True, stats: bool = False):
    """Several bodies on one dB chunk input ``logmel_db`` ``(96, n_frames, 1)``, as one frozen Keras model.

    Outputs: a dict; ``flat`` keys it ``<body>_<output>`` (``msd_musicnn_features``, ``mtt_vgg_tags`` …),
    otherwise (one body) by the output's name. The outputs are each body's :data:`OUTPUTS` (musicnn bodies
    also ``penultimate``, musicnn's 200-unit layer) and, with ``stats``, what mir's inference engine adds
    for monitoring: for each feature map of :func:`feature_maps` (``<layer>``; the layers
    :func:`mir.model.inference.feature_map_layers` finds), its channel means ``<layer>_mean`` and variances
    ``<layer>_var`` (mean squared deviation), pooled in the network as the engine's body network pools them.
    """
    keras = _keras()
    from keras import layers

    if not names or len(set(names)) != len(names):
        raise ValueError(f"bodies: give one or more distinct bodies, got {list(names)}")
    inp = layers.Input(shape=(MUSICNN_FEATURES["n_mels"], n_frames, 1), name="logmel_db")
    outs = {}
    for name in names:
        for k, t in body_graph(name, inp).items():
            outs[f"{name}_{k}" if flat else k] = t
    model = keras.Model(inp, outs, name="mir_bodies" if flat else f"{names[0]}_body")
    if stats:
        outs.update(_channel_stats(model, feature_maps(names)))
        model = keras.Model(inp, outs, name=model.name)
    load_bodies(model, names, pretrained=pretrained)
    return model


def feature_maps(names: Sequence[str]) -> list[str]:
    """The non-linear feature maps (ReLU convolutions) of the bodies ``names``, body by body."""
    maps = {"musicnn": ["timbral_74", "timbral_77", "temporal_128", "temporal_64", "temporal_32",
                        "mid0", "mid1", "mid2"],
            "vgg": [f"conv{i}" for i in range(1, 6)]}
    return [f"{name}_{m}" for name in names for m in maps[body_info(name).kind]]


def _channel_stats(model, maps: Sequence[str]) -> dict:
    """Each feature map's channel mean and variance over its positions (as the engine's body network)."""
    from keras import layers

    outs = {}
    for name in maps:
        t = model.get_layer(name).output
        pool = layers.GlobalAveragePooling2D if len(t.shape) == 4 else layers.GlobalAveragePooling1D
        mean = pool(keepdims=True, dtype="float32", name=f"mir_mean_{name}")(t)
        dev = layers.Subtract(dtype="float32", name=f"mir_dev_{name}")([t, mean])
        sq = layers.Multiply(dtype="float32", name=f"mir_sq_{name}")([dev, dev])
        outs[f"{name}_mean"] = layers.Flatten(dtype="float32", name=f"mir_meanflat_{name}")(mean)
        outs[f"{name}_var"] = pool(dtype="float32", name=f"mir_var_{name}")(sq)
    return outs
