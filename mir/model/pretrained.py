"""Pretrained weights: musicnn (Pons & Serra 2019), trained on the Million Song Dataset's 50 top tags.

The weights come from the ``musicnn`` package (ISC licence, installed by ``make install`` with
``pip install --no-deps musicnn==0.1.0``: its own pins ask for numpy < 1.17). They ship as a
TensorFlow-1 checkpoint; :func:`musicnn_weights` reads it once with TensorFlow's checkpoint reader and
caches the arrays as ``.npz`` (``$MIR_CACHE`` or ``~/.cache/mir``), so the JAX and PyTorch backends can
build the model on a machine without TensorFlow when that file is copied there.

The checkpoint's layers are mapped on the Keras 3 port in :func:`mir.model.architectures.musicnn`
(same maths: a kernel ``(7, 561, 1, 64)`` of a full-height Conv2D is the Conv1D kernel ``(7, 561, 64)``).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


#: The package release whose checkpoint is read (``make install`` pins it).
MUSICNN_VERSION = "0.1.0"
#: The feature parameters musicnn was trained with (``features.*`` must match for ``train.arch: musicnn``).
MUSICNN_FEATURES = {"sample_rate": 16000, "n_fft": 512, "hop_length": 256, "n_mels": 96}
#: Its training input length: 187 frames ≈ 3 s.
MUSICNN_FRAMES = 187
INSTALL_HINT = f"pip install --no-deps musicnn=={MUSICNN_VERSION} (`make install` does)"


class PretrainedMissing(RuntimeError):
    """The pretrained weights are neither cached nor installed."""


def cache_path() -> Path:
    root = Path(os.environ.get("MIR_CACHE") or Path.home() / ".cache" / "mir")
    return root / f"musicnn_msd-{MUSICNN_VERSION}.npz"


def checkpoint_dir() -> Path:
    """The ``MSD_musicnn`` checkpoint folder inside the installed ``musicnn`` package (not imported).

    Its files are named ``.index`` and ``.data-00000-of-00001``: the checkpoint prefix is ``<folder>/``.
    """
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedMissing(f"train.arch musicnn needs the pretrained musicnn weights: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "MSD_musicnn"
    if not (folder / ".index").is_file():
        raise PretrainedMissing(f"{folder} has no checkpoint (.index): reinstall with {INSTALL_HINT}")
    return folder


def _read_checkpoint(folder: Path) -> dict[str, np.ndarray]:
    try:
        from tensorflow.python.training import py_checkpoint_reader
    except ImportError as e:  # JAX/torch machine without TensorFlow and without the cache file
        raise PretrainedMissing(
            f"reading the musicnn checkpoint needs TensorFlow; or copy {cache_path().name} from a machine that "
            f"has it into {cache_path().parent} (or $MIR_CACHE)") from e
    reader = py_checkpoint_reader.NewCheckpointReader(str(folder) + "/")
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if "Adam" not in k and not k.startswith("beta")}


def musicnn_weights() -> dict[str, np.ndarray]:
    """The ``MSD_musicnn`` variables by checkpoint name (``conv2d_5/kernel``, ``batch_normalization_3/gamma`` …)."""
    import numpy as np

    path = cache_path()
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    arrays = _read_checkpoint(checkpoint_dir())
    from mir.io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return arrays


def _bn(i: int) -> str:
    return "batch_normalization" + (f"_{i}" if i else "")


def _conv(i: int) -> str:
    return "conv2d" + (f"_{i}" if i else "")


#: Keras layer name → (checkpoint variable scope, kind). Kinds: bn, conv2d, conv1d (squeezed height).
LAYER_MAP = {
    "musicnn_bn_in": (_bn(0), "bn"),
    "musicnn_timbral_74": (_conv(0), "conv2d"), "musicnn_bn_timbral_74": (_bn(1), "bn"),
    "musicnn_timbral_77": (_conv(1), "conv2d"), "musicnn_bn_timbral_77": (_bn(2), "bn"),
    **{f"musicnn_temporal_{k}": (_conv(2 + i), "conv2d") for i, k in enumerate((128, 64, 32))},
    **{f"musicnn_bn_temporal_{k}": (_bn(3 + i), "bn") for i, k in enumerate((128, 64, 32))},
    **{f"musicnn_mid{i}": (_conv(5 + i), "conv1d") for i in range(3)},
    **{f"musicnn_bn_mid{i}": (_bn(6 + i), "bn") for i in range(3)},
    "musicnn_bn_pool": (_bn(9), "bn"),  # musicnn's own 200-unit layer and 50-tag output are not used
}


def layer_weights(name: str, w: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The Keras weight list of layer ``name`` (a :data:`LAYER_MAP` key) from the checkpoint arrays ``w``."""
    scope, kind = LAYER_MAP[name]
    if kind == "bn":
        return [w[f"{scope}/gamma"], w[f"{scope}/beta"], w[f"{scope}/moving_mean"], w[f"{scope}/moving_variance"]]
    kernel = w[f"{scope}/kernel"]
    if kind == "conv1d":
        kernel = kernel[:, :, 0, :]
    return [kernel, w[f"{scope}/bias"]]


def load_musicnn(model, weights: dict[str, np.ndarray] | None = None) -> int:
    """Set every ``musicnn_*`` layer of ``model`` from the checkpoint; returns how many layers were set."""
    w = musicnn_weights() if weights is None else weights
    n = 0
    for layer in model.layers:
        if layer.name in LAYER_MAP:
            layer.set_weights(layer_weights(layer.name, w))
            n += 1
    return n


#: musicnn's 50 Million Song Dataset tags, in the order of its output layer (``musicnn.configuration``).
MSD_TAGS = ("rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
            "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
            "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock",
            "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
            "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb",
            "indie pop", "sad", "House", "happy")


def musicnn_tag_logits(features: np.ndarray, weights: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """musicnn's own 50-tag logits (:data:`MSD_TAGS`) from the body's pooled output, pure numpy.

    ``features`` is the output of ``musicnn_bn_pool`` (what the engine caches per chunk, ``(n, 1506)``);
    the rest is musicnn's back end as trained: Dense 200 ReLU → batch norm → Dense 50 (inference mode,
    TensorFlow's ε = 1e-3). These are *semantic* outputs (genre and style tags learned from a million songs),
    which monitoring uses to tell a new genre from a known genre recorded differently.
    """
    import numpy as np

    w = musicnn_weights() if weights is None else weights
    x = np.asarray(features, dtype=np.float64)
    h = np.maximum(x @ w["dense/kernel"] + w["dense/bias"], 0.0)
    bn = "batch_normalization_10"
    h = (h - w[f"{bn}/moving_mean"]) / np.sqrt(w[f"{bn}/moving_variance"] + 1e-3) * w[f"{bn}/gamma"] + w[f"{bn}/beta"]
    return h @ w["dense_1/kernel"] + w["dense_1/bias"]
