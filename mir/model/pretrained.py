"""Pretrained weights: the four trained bodies of musicnn (Pons & Serra 2019), as numpy arrays.

The ``musicnn`` package (ISC licence, installed by ``make install`` with ``pip install --no-deps
musicnn==0.1.0``: its own pins ask for numpy < 1.17) ships four TensorFlow-1 checkpoints, each trained on
50 tags, :data:`BODIES`:

- ``msd_musicnn`` (folder ``MSD_musicnn``): musicnn — timbral + temporal front end, dense mid end, max/mean
  pool (1 506) → Dense 200 → 50 MSD tags;
- ``mtt_musicnn`` (``MTT_musicnn``): the same network trained on MagnaTagATune (50 MTT tags);
- ``msd_vgg`` (``MSD_vgg``): VGG — 5 × [3×3 conv 128 → BN → max pool] (256) → 50 MSD tags;
- ``mtt_vgg`` (``MTT_vgg``): the same network trained on MagnaTagATune (50 MTT tags).

:func:`body_weights` reads a checkpoint once with TensorFlow's checkpoint reader and caches the arrays as
``.npz`` (``$MIR_CACHE`` or ``~/.cache/mir``), so the JAX and PyTorch backends can build the models on a
machine without TensorFlow when that file is copied there. :func:`layer_map` says which checkpoint
variables each Keras layer of the ports (:mod:`mir.model.bodies`) takes (same maths: a kernel
``(7, 561, 1, 64)`` of a full-height Conv2D is the Conv1D kernel ``(7, 561, 64)``).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


#: The package release whose checkpoints are read (``make install`` pins it).
MUSICNN_VERSION = "0.1.0"
#: The feature parameters musicnn was trained with (``features.*`` must match for ``train.arch: musicnn``).
MUSICNN_FEATURES = {"sample_rate": 16000, "n_fft": 512, "hop_length": 256, "n_mels": 96}
#: Its training input length: 187 frames ≈ 3 s (the vgg bodies take exactly this).
MUSICNN_FRAMES = 187
INSTALL_HINT = f"pip install --no-deps musicnn=={MUSICNN_VERSION} (`make install` does)"


class PretrainedMissing(RuntimeError):
    """The pretrained weights are neither cached nor installed."""


#: musicnn's 50 Million Song Dataset tags, in the order of its output layers (``musicnn.configuration``).
MSD_TAGS = ("rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
            "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
            "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock",
            "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
            "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb",
            "indie pop", "sad", "House", "happy")
#: musicnn's 50 MagnaTagATune tags, in the order of its output layers (``musicnn.configuration``).
MTT_TAGS = ("guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
            "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals",
            "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft",
            "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal",
            "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral")


@dataclass(frozen=True)
class Body:
    """One pretrained body: its checkpoint folder in the ``musicnn`` package, network kind and tags."""

    folder: str
    kind: str  # "musicnn" or "vgg"
    tags: tuple[str, ...]


#: The bodies the ``musicnn`` wheel ships, by mir's name.
BODIES = {
    "msd_musicnn": Body("MSD_musicnn", "musicnn", MSD_TAGS),
    "mtt_musicnn": Body("MTT_musicnn", "musicnn", MTT_TAGS),
    "msd_vgg": Body("MSD_vgg", "vgg", MSD_TAGS),
    "mtt_vgg": Body("MTT_vgg", "vgg", MTT_TAGS),
}


def body_info(name: str) -> Body:
    """The :class:`Body` called ``name`` (a :data:`BODIES` key), or a ``ValueError`` naming the choices."""
    if name not in BODIES:
        raise ValueError(f"unknown pretrained body {name!r}; choose from {', '.join(BODIES)}")
    return BODIES[name]


def tag_names(name: str) -> tuple[str, ...]:
    """The 50 tags of body ``name``, in the order of its tag outputs."""
    return body_info(name).tags


def cache_path(name: str = "msd_musicnn") -> Path:
    """The ``.npz`` cache of body ``name``'s checkpoint arrays (``$MIR_CACHE`` or ``~/.cache/mir``)."""
    root = Path(os.environ.get("MIR_CACHE") or Path.home() / ".cache" / "mir")
    stem = "musicnn_msd" if name == "msd_musicnn" else name  # the MSD file's name before there were four
    return root / f"{stem}-{MUSICNN_VERSION}.npz"


def checkpoint_dir(name: str = "msd_musicnn") -> Path:
    """Body ``name``'s checkpoint folder inside the installed ``musicnn`` package (not imported).

    Its files are named ``.index`` and ``.data-00000-of-00001``: the checkpoint prefix is ``<folder>/``.
    """
    body = body_info(name)
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedMissing(f"the pretrained body {name} needs the musicnn package: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / body.folder
    if not (folder / ".index").is_file():
        raise PretrainedMissing(f"{folder} has no checkpoint (.index): reinstall with {INSTALL_HINT}")
    return folder


def _read_checkpoint(folder: Path, name: str) -> dict[str, np.ndarray]:
    try:
        from tensorflow.python.training import py_checkpoint_reader
    except ImportError as e:  # JAX/torch machine without TensorFlow and without the cache file
        raise PretrainedMissing(
            f"reading the musicnn checkpoint needs TensorFlow; or copy {cache_path(name).name} from a machine "
            f"that has it into {cache_path(name).parent} (or $MIR_CACHE)") from e
    reader = py_checkpoint_reader.NewCheckpointReader(str(folder) + "/")
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if "Adam" not in k and not k.startswith("beta")}


def body_weights(name: str = "msd_musicnn") -> dict[str, np.ndarray]:
    """Body ``name``'s trained variables by checkpoint name (``conv2d_5/kernel``, ``1CNN/bias`` …).

    Everything but the optimiser's state (Adam slots, ``beta1_power``/``beta2_power``).
    """
    import numpy as np

    path = cache_path(name)
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    arrays = _read_checkpoint(checkpoint_dir(name), name)
    from mir.io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return arrays


def musicnn_weights() -> dict[str, np.ndarray]:
    """The ``MSD_musicnn`` variables (:func:`body_weights` of ``msd_musicnn``)."""
    return body_weights("msd_musicnn")


def _bn(i: int) -> str:
    return "batch_normalization" + (f"_{i}" if i else "")


def _conv(i: int) -> str:
    return "conv2d" + (f"_{i}" if i else "")


def _musicnn_map(p: str) -> dict[str, tuple[str, str]]:
    return {
        f"{p}_bn_in": (_bn(0), "bn"),
        f"{p}_timbral_74": (_conv(0), "conv2d"), f"{p}_bn_timbral_74": (_bn(1), "bn"),
        f"{p}_timbral_77": (_conv(1), "conv2d"), f"{p}_bn_timbral_77": (_bn(2), "bn"),
        **{f"{p}_temporal_{k}": (_conv(2 + i), "conv2d") for i, k in enumerate((128, 64, 32))},
        **{f"{p}_bn_temporal_{k}": (_bn(3 + i), "bn") for i, k in enumerate((128, 64, 32))},
        **{f"{p}_mid{i}": (_conv(5 + i), "conv1d") for i in range(3)},
        **{f"{p}_bn_mid{i}": (_bn(6 + i), "bn") for i in range(3)},
        f"{p}_bn_pool": (_bn(9), "bn"),
    }


def _musicnn_back(p: str) -> dict[str, tuple[str, str]]:
    return {f"{p}_dense": ("dense", "dense"), f"{p}_bn_dense": (_bn(10), "bn"), f"{p}_tags": ("dense_1", "dense")}


def _vgg_map(p: str) -> dict[str, tuple[str, str]]:
    return {f"{p}_bn_in": (_bn(0), "bn"),
            **{f"{p}_conv{i}": (f"{i}CNN", "conv2d") for i in range(1, 6)},
            **{f"{p}_bn{i}": (_bn(i), "bn") for i in range(1, 6)}}


def layer_map(name: str, *, prefix: str | None = None, tags: bool = True) -> dict[str, tuple[str, str]]:
    """Keras layer name → (checkpoint variable scope, kind) for body ``name``'s port.

    ``prefix`` starts every layer name (default: ``name``); ``tags=False`` leaves out the layers after the
    pooled features (musicnn's Dense 200 → batch norm → Dense 50, vgg's Dense 50). Kinds: ``bn``,
    ``conv2d``, ``conv1d`` (a full-height Conv2D kernel, squeezed), ``dense``.
    """
    body, p = body_info(name), prefix or name
    if body.kind == "musicnn":
        return {**_musicnn_map(p), **(_musicnn_back(p) if tags else {})}
    return {**_vgg_map(p), **({f"{p}_tags": ("dense", "dense")} if tags else {})}


#: The ``musicnn`` architecture's map (layers ``musicnn_*``, MSD weights, no tag layers: mir's head replaces them).
LAYER_MAP = layer_map("msd_musicnn", prefix="musicnn", tags=False)


def variable_names(scope: str, kind: str) -> list[str]:
    """The checkpoint variables of one mapped layer, in the order of the Keras layer's weights."""
    if kind == "bn":
        return [f"{scope}/{v}" for v in ("gamma", "beta", "moving_mean", "moving_variance")]
    return [f"{scope}/kernel", f"{scope}/bias"]


def layer_weights(name: str, w: dict[str, np.ndarray], lmap: dict[str, tuple[str, str]] | None = None
                  ) -> list[np.ndarray]:
    """The Keras weight list of layer ``name`` (a key of ``lmap``, default :data:`LAYER_MAP`) from arrays ``w``."""
    scope, kind = (LAYER_MAP if lmap is None else lmap)[name]
    arrays = [w[v] for v in variable_names(scope, kind)]
    if kind == "conv1d":
        arrays[0] = arrays[0][:, :, 0, :]
    return arrays


def load_body(model, name: str, *, prefix: str | None = None, weights: dict[str, np.ndarray] | None = None
              ) -> set[str]:
    """Set every layer of ``model`` that :func:`layer_map` names from body ``name``'s checkpoint.

    Returns the checkpoint variables used (a test checks that a whole body uses them all).
    """
    w = body_weights(name) if weights is None else weights
    lmap = layer_map(name, prefix=prefix)
    used: set[str] = set()
    for layer in model.layers:
        if layer.name in lmap:
            layer.set_weights(layer_weights(layer.name, w, lmap))
            used.update(variable_names(*lmap[layer.name]))
    return used


def load_musicnn(model, weights: dict[str, np.ndarray] | None = None) -> int:
    """Set every ``musicnn_*`` layer of ``model`` from the MSD checkpoint; returns how many layers were set."""
    w = musicnn_weights() if weights is None else weights
    n = 0
    for layer in model.layers:
        if layer.name in LAYER_MAP:
            layer.set_weights(layer_weights(layer.name, w))
            n += 1
    return n


def tag_logits(name: str, features: np.ndarray, weights: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Body ``name``'s own 50-tag logits (:func:`tag_names`) from its pooled features, pure numpy.

    ``features`` is the body's pooled output (what the engine caches per chunk: musicnn's ``*_bn_pool``,
    ``(n, 1506)``; vgg's flattened last pool, ``(n, 256)``). The rest is the body's back end as trained
    (inference mode, TensorFlow's ε = 1e-3): musicnn Dense 200 ReLU → batch norm → Dense 50; vgg Dense 50.
    The sigmoid of these is the body's taggram. These are *semantic* outputs (genre, style and
    instrument tags), which monitoring uses to tell a new genre from a known genre recorded differently.
    """
    import numpy as np

    w = body_weights(name) if weights is None else weights
    x = np.asarray(features, dtype=np.float64)
    if body_info(name).kind == "vgg":
        return x @ w["dense/kernel"] + w["dense/bias"]
    h = np.maximum(x @ w["dense/kernel"] + w["dense/bias"], 0.0)
    bn = "batch_normalization_10"
    h = (h - w[f"{bn}/moving_mean"]) / np.sqrt(w[f"{bn}/moving_variance"] + 1e-3) * w[f"{bn}/gamma"] + w[f"{bn}/beta"]
    return h @ w["dense_1/kernel"] + w["dense_1/bias"]


#: The width of each kind of body's pooled features (musicnn: max and mean of 753 channels; vgg: 2 × 128).
FEATURE_DIMS = {"musicnn": 1506, "vgg": 256}


def feature_slices(names, *, with_tags: bool = False) -> dict[str, slice]:
    """Where each body's pooled features lie in ``bodies_features`` (what the engine caches for a model of
    :func:`mir.model.architectures.pretrained_model` with these ``names`` and ``with_tags``).

    With ``with_tags`` each body's 50 tag probabilities follow its features (key ``<body>_tags``), so
    ``tag_logits(name, cached[:, sl[name]])`` gives any body's tags from the engine's cache.
    """
    out, i = {}, 0
    for name in names:
        d = FEATURE_DIMS[body_info(name).kind]
        out[name] = slice(i, i + d)
        i += d
        if with_tags:
            out[f"{name}_tags"] = slice(i, i + len(tag_names(name)))
            i += len(tag_names(name))
    return out


def musicnn_tag_logits(features: np.ndarray, weights: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """MSD_musicnn's 50-tag logits (:data:`MSD_TAGS`) from ``musicnn_bn_pool``'s output (:func:`tag_logits`)."""
    return tag_logits("msd_musicnn", features, musicnn_weights() if weights is None else weights)
