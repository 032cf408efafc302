"""Model architectures chosen by ``train.arch`` (Keras 3 layers only, so every backend runs them).

Every model takes log-mel dB chunks of shape ``(n_mels, n_frames, 1)``, ends in
a softmax named ``genre`` and has a Dense layer named ``embedding`` just before
it (monitoring reads the penultimate representation from there).

==================  ============================================================  ============
``train.arch``      what                                                          chunk frames
==================  ============================================================  ============
``shortchunk_res``  short-chunk residual CNN (≈ 3 s), GAP+GMP head                128
``cnn``             the small VGG-style CNN of the walking pipeline               128
``fma_cnn``         the FMA reference project's CNN (≈ 202 k params, 3 classes)   640
``melgram_cnn``     the melgram reference project's 1-s segment CNN               21
``crnn``            Conv1D front end → bidirectional GRU, for comparison          256
``musicnn``         default: pretrained musicnn (MSD tags), frozen, + a new head  187
==================  ============================================================  ============

``musicnn`` needs musicnn's features (16 kHz, n_fft 512, hop 256, 96 mels: the params.yaml
defaults) and its pretrained weights (:mod:`mir.model.pretrained`); only its head is trained.
:func:`pretrained_model` generalises it to any of musicnn's four pretrained bodies (:mod:`mir.model.bodies`),
several at once, feeding one head: ``train.bodies`` chooses them for ``train.arch: musicnn``.
"""

from __future__ import annotations

from collections.abc import Sequence

from mir.model.pretrained import MUSICNN_FEATURES, MUSICNN_FRAMES

#: Default chunk length (frames) per architecture, used when ``train.chunk_frames`` is null.
DEFAULT_CHUNK = {"musicnn": MUSICNN_FRAMES, "shortchunk_res": 128, "cnn": 128, "fma_cnn": 640, "melgram_cnn": 21,
                 "crnn": 256}
#: Default conv widths per architecture, used when ``train.filters`` is null.
DEFAULT_FILTERS = {"musicnn": (), "shortchunk_res": (32, 32, 64, 64, 128), "cnn": (16, 32, 64, 128),
                   "fma_cnn": (32, 64, 128), "melgram_cnn": (16, 32, 64, 128), "crnn": (64, 128)}
ARCHS = tuple(DEFAULT_CHUNK)
#: Architectures with a frozen pretrained body: only the layers after this one are trained
#: (:func:`head_model`; the ``train`` stage embeds the chunks once and fits the head on them).
FROZEN_BODY = {"musicnn": "musicnn_bn_pool", "bodies": "bodies_features"}
#: The trainable head every architecture ends with (:func:`_head`).
HEAD_LAYERS = ("drop_embed", "embedding", "drop_out", "genre")


def _keras():
    from mir.model import keras_backend

    keras_backend()
    import keras

    return keras


def _input_scaling(inp, *, band_mean, band_var):
    """Per-band standardisation with the training statistics (or a fixed dB scaling).

    The statistics live in a frozen ``BatchNormalization`` (no centre or scale of its own), i.e. in
    *variables*: ``layers.Normalization(mean=..., variance=...)`` keeps them as constant tensors, which
    Keras's ONNX export turns into graph inputs nobody feeds, so every from-scratch model fell back
    from ONNX Runtime/OpenVINO to Keras. Frozen, the layer runs in inference mode during training too.
    """
    import numpy as np
    from keras import layers

    if band_mean is not None and band_var is not None:
        norm = layers.BatchNormalization(axis=1, center=False, scale=False, epsilon=1e-6, name="band_norm")
        norm.trainable = False
        x = norm(inp)
        norm.moving_mean.assign(np.asarray(band_mean, dtype="float32"))
        norm.moving_variance.assign(np.asarray(band_var, dtype="float32"))
        return x
    return layers.Rescaling(1.0 / 30.0, offset=0.6, name="db_scale")(inp)  # typical music dB → ≈ N(0, 1)


def _head(x, *, n_classes: int, dropout: float, embedding_dim: int, name: str, inp):
    keras = _keras()
    from keras import layers

    x = layers.Dropout(dropout, name="drop_embed")(x)
    x = layers.Dense(embedding_dim, activation="relu", name="embedding")(x)
    x = layers.Dropout(dropout, name="drop_out")(x)
    out = layers.Dense(n_classes, activation="softmax", name="genre", dtype="float32")(x)
    return keras.Model(inp, out, name=name)


def _check(n_classes: int, n_mels: int, n_frames: int, *, min_size: int, arch: str):
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    if min(n_mels, n_frames) < min_size:
        raise ValueError(f"{arch}: input {n_mels}×{n_frames} is too small (needs ≥ {min_size} mels and frames)")


def shortchunk_res(*, n_mels: int, n_frames: int, n_classes: int, filters: Sequence[int] = (32, 32, 64, 64, 128),
                   dropout: float = 0.3, embedding_dim: int = 128, band_mean=None, band_var=None):
    """Short-chunk residual CNN (after Won et al. 2020), sized for CPUs.

    A stride-2 3×3 stem with ``filters[0]`` channels, then one residual block per
    further entry of ``filters`` — [Conv3×3 → BN → ReLU → Conv3×3 → BN] + a (1×1
    projected) shortcut → ReLU → MaxPool 2 — and a head on the concatenated global
    average and global max pools (max pooling keeps short, salient events).

    Parameters
    ----------
    n_mels, n_frames : int
        Input chunk size.
    n_classes : int
        Softmax outputs.
    filters : sequence of int
        Stem width, then one residual block per entry.
    dropout : float
        Dropout before and after the embedding.
    embedding_dim : int
        Width of the ``embedding`` layer.
    band_mean, band_var : array-like, optional
        Training per-band statistics for the input standardisation (a frozen ``BatchNormalization``).

    Returns
    -------
    keras.Model
        Uncompiled.
    """
    from keras import layers

    _keras()
    _check(n_classes, n_mels, n_frames, min_size=2 ** len(filters), arch="shortchunk_res")
    inp = layers.Input(shape=(n_mels, n_frames, 1), name="logmel_db")
    x = _input_scaling(inp, band_mean=band_mean, band_var=band_var)
    x = layers.Conv2D(filters[0], 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for i, f in enumerate(filters[1:]):
        h = layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"res{i}_conv_a")(x)
        h = layers.BatchNormalization(momentum=0.9, name=f"res{i}_bn_a")(h)
        h = layers.Activation("relu", name=f"res{i}_relu_a")(h)
        h = layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"res{i}_conv_b")(h)
        h = layers.BatchNormalization(momentum=0.9, name=f"res{i}_bn_b")(h)
        sc = x
        if x.shape[-1] != f:
            sc = layers.Conv2D(f, 1, use_bias=False, name=f"res{i}_proj")(x)
            sc = layers.BatchNormalization(momentum=0.9, name=f"res{i}_proj_bn")(sc)
        x = layers.Activation("relu", name=f"res{i}_out")(layers.Add(name=f"res{i}_add")([h, sc]))
        x = layers.MaxPooling2D(2, name=f"res{i}_pool")(x)
    x = layers.Concatenate(name="pools")([layers.GlobalAveragePooling2D(name="gap")(x),
                                          layers.GlobalMaxPooling2D(name="gmp")(x)])
    return _head(x, n_classes=n_classes, dropout=dropout, embedding_dim=embedding_dim, name="mir_shortchunk_res",
                 inp=inp)


def cnn(*, n_mels: int, n_frames: int, n_classes: int, filters: Sequence[int] = (16, 32, 64, 128),
        dropout: float = 0.3, embedding_dim: int = 64, band_mean=None, band_var=None):
    """The small VGG-style CNN: [Conv3×3 → BN → ReLU → MaxPool2] per entry of ``filters`` (first conv stride 2).

    Parameters are as for :func:`shortchunk_res`.
    """
    from keras import layers

    _keras()
    _check(n_classes, n_mels, n_frames, min_size=2 ** (len(filters) + 1), arch="cnn")
    inp = layers.Input(shape=(n_mels, n_frames, 1), name="logmel_db")
    x = _input_scaling(inp, band_mean=band_mean, band_var=band_var)
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, strides=2 if i == 0 else 1, padding="same", use_bias=False, name=f"conv{i}")(x)
        # momentum 0.9: with few steps per epoch, 0.99 leaves the moving statistics far from the
        # batch statistics and inference collapses to one class
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return _head(x, n_classes=n_classes, dropout=dropout, embedding_dim=embedding_dim, name="mir_cnn", inp=inp)


def fma_cnn(*, n_mels: int = 128, n_frames: int = 640, n_classes: int, filters: Sequence[int] = (32, 64, 128),
            dropout: float = 0.3, band_mean=None, band_var=None):
    """The FMA reference project's CNN, layer for layer.

    Input dB scaled to ≈ [0, 1] by ``(dB + 80) / 80`` (the recipe's scaling, not the
    band statistics); Conv2D 32 9×9 same ReLU → MaxPool 2 → Dropout 0.2 → Conv2D 64
    5×5 valid ReLU → Conv2D 128 3×3 valid ReLU → GlobalAveragePooling → Dropout 0.3 →
    Dense 256 / 128 / 64 ReLU, each followed by Dropout 0.3 → softmax. 202 115
    parameters for 3 classes at 128 × 640.
    """
    from keras import layers

    keras = _keras()
    _check(n_classes, n_mels, n_frames, min_size=16, arch="fma_cnn")
    f1, f2, f3 = (list(filters) + [64, 128])[:3]
    inp = layers.Input(shape=(n_mels, n_frames, 1), name="logmel_db")
    x = layers.Rescaling(1.0 / 80.0, offset=1.0, name="db_unit")(inp)  # (dB + 80) / 80
    x = layers.Conv2D(f1, 9, padding="same", activation="relu", name="conv0")(x)
    x = layers.MaxPooling2D(2, name="pool0")(x)
    x = layers.Dropout(0.2, name="drop0")(x)
    x = layers.Conv2D(f2, 5, padding="valid", activation="relu", name="conv1")(x)
    x = layers.Conv2D(f3, 3, padding="valid", activation="relu", name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="drop1")(x)
    x = layers.Dense(256, activation="relu", name="dense256")(x)
    x = layers.Dropout(dropout, name="drop2")(x)
    x = layers.Dense(128, activation="relu", name="dense128")(x)
    x = layers.Dropout(dropout, name="drop3")(x)
    x = layers.Dense(64, activation="relu", name="embedding")(x)
    x = layers.Dropout(dropout, name="drop4")(x)
    out = layers.Dense(n_classes, activation="softmax", name="genre", dtype="float32")(x)
    return keras.Model(inp, out, name="fma_cnn")


def melgram_cnn(*, n_mels: int = 128, n_frames: int = 21, n_classes: int, filters: Sequence[int] = (16, 32, 64, 128),
                dropout: float = 0.5, embedding_dim: int = 128, band_mean=None, band_var=None):
    """The melgram reference project's 1-s segment CNN.

    Four blocks of [Conv 5×5 same (16/32/64/128) → BatchNorm → SiLU → MaxPool 2]
    (pooling pads, so a 21-frame segment survives four halvings) → Flatten → dense
    head with dropout. The recipe's features are 1-s segments of 21 frames × 128
    mels with a 50 ms window and hop at the native rate; set ``features.n_fft`` and
    ``features.hop_length`` to 50 ms of samples to reproduce it.
    """
    from keras import layers

    _keras()
    _check(n_classes, n_mels, n_frames, min_size=2, arch="melgram_cnn")
    inp = layers.Input(shape=(n_mels, n_frames, 1), name="logmel_db")
    x = _input_scaling(inp, band_mean=band_mean, band_var=band_var)
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 5, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.Activation("silu", name=f"silu{i}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    return _head(x, n_classes=n_classes, dropout=dropout, embedding_dim=embedding_dim, name="melgram_cnn", inp=inp)


def crnn(*, n_mels: int, n_frames: int, n_classes: int, filters: Sequence[int] = (64, 128), dropout: float = 0.3,
         embedding_dim: int = 64, rnn_units: int = 64, band_mean=None, band_var=None):
    """Conv1D → bidirectional GRU over time, for comparison with the 2-D CNNs.

    The mel bands are the channels of a 1-D convolution over time: per entry of
    ``filters`` [Conv1D 3 → BN → ReLU → MaxPool 2], then a bidirectional GRU whose
    final states summarise the chunk.
    """
    from keras import layers

    _keras()
    _check(n_classes, n_mels, n_frames, min_size=2 ** len(filters), arch="crnn")
    inp = layers.Input(shape=(n_mels, n_frames, 1), name="logmel_db")
    x = _input_scaling(inp, band_mean=band_mean, band_var=band_var)
    x = layers.Reshape((n_mels, n_frames), name="squeeze")(x)
    x = layers.Permute((2, 1), name="time_major")(x)  # (frames, mels)
    for i, f in enumerate(filters):
        x = layers.Conv1D(f, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
        x = layers.MaxPooling1D(2, name=f"pool{i}")(x)
    x = layers.Bidirectional(layers.GRU(rnn_units), name="bigru")(x)
    return _head(x, n_classes=n_classes, dropout=dropout, embedding_dim=embedding_dim, name="mir_crnn", inp=inp)


def musicnn(*, n_mels: int = 96, n_frames: int = 187, n_classes: int, filters: Sequence[int] = (),
            dropout: float = 0.5, embedding_dim: int = 200, band_mean=None, band_var=None, pretrained: bool = True):
    """musicnn (Pons & Serra 2019) pretrained on the Million Song Dataset tags, frozen, with a new genre head.

    The body is a Keras 3 port of ``MSD_musicnn``: batch-normalised input; a timbral front end (7-frame ×
    38- and 67-mel filters, max over frequency) and a temporal one (128-, 64-, 32-frame × 1-mel filters);
    three 7-frame Conv1D mid-end layers with residual connections, densely concatenated (753 channels);
    max and mean over time, interleaved as in the original (1 506 values), and its batch norm. musicnn's own
    200-unit layer and 50-tag output are replaced by a new genre head, :func:`_head` (dropout → ``embedding``
    → dropout → ``genre``).

    Parameters
    ----------
    n_mels, n_frames : int
        96 mels (musicnn's features) × any number of frames (187 ≈ 3 s, its training length).
    pretrained : bool
        Load the MSD weights (:func:`mir.model.pretrained.load_musicnn`); ``False`` only for tests.

    Other parameters are as for :func:`shortchunk_res` (``filters`` and the band statistics are unused:
    the pretrained input batch norm standardises).
    """
    _keras()
    from keras import layers

    from mir.model.bodies import musicnn_graph

    if n_mels != MUSICNN_FEATURES["n_mels"]:
        raise ValueError(f"musicnn: needs {MUSICNN_FEATURES['n_mels']} mel bands (its pretrained features), got "
                         f"{n_mels}: set " + ", ".join(f"features.{k} {v}" for k, v in MUSICNN_FEATURES.items()))
    _check(n_classes, n_mels, n_frames, min_size=8, arch="musicnn")
    inp = layers.Input(shape=(n_mels, n_frames, 1), name="logmel_db")
    body = musicnn_graph(inp, prefix="musicnn", tags=False)["features"]
    model = _head(body, n_classes=n_classes, dropout=dropout, embedding_dim=embedding_dim, name="mir_musicnn",
                  inp=inp)
    if pretrained:
        from mir.model.pretrained import load_musicnn

        load_musicnn(model)
    for layer in model.layers:
        if layer.name.startswith("musicnn_"):
            layer.trainable = False
    return model


def pretrained_model(*, bodies: Sequence[str], n_classes: int, n_frames: int = MUSICNN_FRAMES, dropout: float = 0.5,
                     embedding_dim: int = 200, with_tags: bool = False, pretrained: bool = True,
                     n_mels: int = MUSICNN_FEATURES["n_mels"]):
    """Frozen pretrained bodies (:data:`mir.model.pretrained.BODIES`) on one input, + one new genre head.

    Each body's pooled features (musicnn 1 506, vgg 256; ``with_tags``: also its 50 tag probabilities) are
    concatenated in the layer ``bodies_features`` (:data:`FROZEN_BODY` ``["bodies"]``), the head's input:
    :func:`head_model` ``(model, "bodies")`` is the head, and mir's inference engine splits, exports and
    caches the model like ``musicnn`` (the body is everything before ``drop_embed``).

    Parameters
    ----------
    bodies : sequence of str
        Distinct body names (``msd_musicnn``, ``mtt_musicnn``, ``msd_vgg``, ``mtt_vgg``); layers ``<body>_…``.
    n_frames : int
        Chunk frames (musicnn bodies take any ≥ 8; vgg bodies only 187).
    with_tags : bool
        Feed each body's tag probabilities to the head too.
    pretrained : bool
        Load the checkpoints; ``False`` only for tests.
    n_mels : int
        The features' mel bands: must be musicnn's 96 (a ``ValueError`` naming the features otherwise).
    """
    keras = _keras()
    from keras import layers

    from mir.model.bodies import _check_input, body_graph, load_bodies

    _check_input(n_mels)

    if not bodies or len(set(bodies)) != len(bodies):
        raise ValueError(f"bodies: give one or more distinct pretrained bodies, got {list(bodies)}")
    _check(n_classes, MUSICNN_FEATURES["n_mels"], n_frames, min_size=8, arch="bodies")
    inp = layers.Input(shape=(MUSICNN_FEATURES["n_mels"], n_frames, 1), name="logmel_db")
    parts = []
    for name in bodies:
        g = body_graph(name, inp, tags=with_tags)
        parts += [g["features"]] + ([g["tags"]] if with_tags else [])
    x = (layers.Concatenate(name="bodies_features")(parts) if len(parts) > 1
         else layers.Identity(name="bodies_features")(parts[0]))
    model = _head(x, n_classes=n_classes, dropout=dropout, embedding_dim=embedding_dim,
                  name="mir_" + "_".join(bodies), inp=inp)
    load_bodies(model, bodies, pretrained=pretrained)
    return model


#: musicnn's timbral filters are 7 frames long, its chunks zero-padded by 3 frames on each side for them.
MUSICNN_TIMBRAL_PAD = 3


def musicnn_timeline_networks(model) -> dict:
    """musicnn's body split where overlapping windows of one long segment share work (the model's own layers).

    A window's timbral features (7-frame × 38/67-mel filters, 81 % of the body's FLOPs) equal, away
    from its 3 zero-padded frames at each end, those of the whole segment: they are computed once per
    segment. Everything else is computed per window, exactly as :func:`musicnn` does (the temporal
    filters, up to 128 frames long, see the window's padding almost everywhere). Returns

    - ``front``: dB ``(n_mels, L, 1)`` → ``[bn (L, n_mels, 1), timbral_74 (L − 6, 204), timbral_77 (L − 6, 204)]``
      (the input batch norm, then the timbral features of every position whose 7 frames lie inside);
    - ``timbral``: bn ``(L, n_mels, 1)`` → the same two timbral maps (for a window's zero-padded ends);
    - ``rest``: ``[bn (T, n_mels, 1), timbral_74 (T, 204), timbral_77 (T, 204)]`` of one window →
      the body's output (the head's input), ``T`` = the model's chunk.
    """
    keras = _keras()
    from keras import layers

    g = model.get_layer
    n_mels, T = int(model.inputs[0].shape[1]), int(model.inputs[0].shape[2])

    def timbral(bn):
        outs = []
        for k in (74, 77):
            c = g(f"musicnn_bn_timbral_{k}")(g(f"musicnn_timbral_{k}")(bn))
            c = g(f"musicnn_fmax_timbral_{k}")(c)
            outs.append(layers.Reshape((-1, int(c.shape[-1])), name=f"mir_timbral_{k}_seq")(c))
        return outs

    db = layers.Input(shape=(n_mels, None, 1), name="logmel_db")
    bn = g("musicnn_bn_in")(g("musicnn_time_major")(g("musicnn_logc")(db)))
    front = keras.Model(db, [bn, *timbral(bn)], name="musicnn_front")
    bn_in = layers.Input(shape=(None, n_mels, 1), name="bn")
    timbral_net = keras.Model(bn_in, timbral(bn_in), name="musicnn_timbral")

    w_bn = layers.Input(shape=(T, n_mels, 1), name="window_bn")
    w_t = [layers.Input(shape=(T, 204), name=f"window_timbral_{k}") for k in (74, 77)]
    parts = list(w_t)
    for k in (128, 64, 32):
        c = g(f"musicnn_bn_temporal_{k}")(g(f"musicnn_temporal_{k}")(w_bn))
        parts.append(g(f"musicnn_temporal_{k}_seq")(g(f"musicnn_fmax_temporal_{k}")(c)))
    h = g("musicnn_frontend")(parts)
    mids = [h]
    for i in range(3):
        c = g(f"musicnn_bn_mid{i}")(g(f"musicnn_mid{i}")(g(f"musicnn_pad_mid{i}")(h)))
        h = c if i == 0 else g(f"musicnn_res{i}")([c, h])
        mids.append(h)
    m = g("musicnn_midend")(mids)
    mx = g("musicnn_max_col")(g("musicnn_tmax")(m))
    mu = g("musicnn_mean_col")(g("musicnn_tmean")(m))
    out = g(FROZEN_BODY["musicnn"])(g("musicnn_pool")(g("musicnn_max_mean")([mx, mu])))
    rest = keras.Model([w_bn, *w_t], out, name="musicnn_rest")
    return {"front": front, "timbral": timbral_net, "rest": rest}


def frozen_layer(model, arch: str) -> str:
    """The last layer of ``model``'s frozen body: :data:`FROZEN_BODY` ``[arch]``, or ``bodies_features`` for a
    ``musicnn`` model built on other or several bodies (``train.bodies``, :func:`pretrained_model`)."""
    names = {layer.name for layer in model.layers}
    return FROZEN_BODY["bodies"] if FROZEN_BODY["bodies"] in names else FROZEN_BODY[arch]


def body_model(model, arch: str):
    """The frozen body of ``model`` (input → :func:`frozen_layer`), or None for a trained-from-scratch arch."""
    if arch not in FROZEN_BODY:
        return None
    keras = _keras()
    return keras.Model(model.inputs[0], model.get_layer(frozen_layer(model, arch)).output, name=f"{arch}_body")


def head_model(model, arch: str):
    """The head of ``model`` as a model on the body's output; its layers are shared with ``model``."""
    keras = _keras()
    from keras import layers

    x = inp = layers.Input(shape=tuple(model.get_layer(frozen_layer(model, arch)).output.shape[1:]),
                           name="body_features")
    for name in HEAD_LAYERS:
        x = model.get_layer(name)(x)
    return keras.Model(inp, x, name=f"{arch}_head")


BUILDERS = {"musicnn": musicnn, "shortchunk_res": shortchunk_res, "cnn": cnn, "fma_cnn": fma_cnn,
            "melgram_cnn": melgram_cnn, "crnn": crnn}


def build_model(arch: str, *, n_mels: int, n_frames: int, n_classes: int, filters: Sequence[int] | None = None,
                dropout: float = 0.3, band_mean=None, band_var=None, bodies: Sequence[str] | None = None):
    """Build ``arch`` (one of :data:`ARCHS`) for ``(n_mels, n_frames)`` chunks and ``n_classes`` genres.

    ``filters=None`` takes the architecture's default widths. ``bodies`` (``train.bodies``, arch ``musicnn``
    only): the frozen pretrained bodies; ``["msd_musicnn"]`` (or ``None``) is :func:`musicnn`, any other list
    :func:`pretrained_model` (the bodies' features side by side into one head).
    """
    if arch not in BUILDERS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    if arch == "musicnn" and bodies and list(bodies) != ["msd_musicnn"]:
        return pretrained_model(bodies=list(bodies), n_classes=n_classes, n_frames=n_frames, dropout=dropout,
                                n_mels=n_mels)
    return BUILDERS[arch](n_mels=n_mels, n_frames=n_frames, n_classes=n_classes,
                          filters=tuple(filters or DEFAULT_FILTERS[arch]), dropout=dropout,
                          band_mean=band_mean, band_var=band_var)
