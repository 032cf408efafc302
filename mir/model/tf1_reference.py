"""musicnn's own TF1 graphs, restored from their checkpoints: the reference the Keras ports are checked against.

``python -m mir.model.tf1_reference IN.npy OUT.npz BODY…`` reads dB chunks ``(n, 96, 187)`` (mir's
log-mel), builds each body's graph with ``musicnn.models.define_model`` under ``tf.compat.v1`` graph
mode, restores the checkpoint with ``tf.compat.v1.train.Saver`` (exactly as ``musicnn.extractor``
does) and writes, per body, ``<body>/tags`` (the taggram: sigmoid of the logits) and ``<body>/features``
(musicnn: its 200-unit ``penultimate``; vgg: ``pool5`` flattened).

``tf.compat.v1.layers`` needs Keras 2: this runs in its own process with ``TF_USE_LEGACY_KERAS=1`` and
the ``tf_keras`` package (:func:`run` starts it). Nothing in mir imports this module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def available() -> str | None:
    """Why the reference can't run here (``None``: it can)."""
    import importlib.util

    for mod in ("musicnn", "tf_keras", "tensorflow"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed"
    return None


def run(x, bodies, tmp: Path) -> dict:
    """The reference outputs of ``bodies`` on dB chunks ``x`` ``(n, 96, 187)``: ``{"<body>/tags": …}``."""
    import numpy as np

    tmp.mkdir(parents=True, exist_ok=True)
    np.save(tmp / "x.npy", np.asarray(x, np.float32))
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-m", "mir.model.tf1_reference", str(tmp / "x.npy"),
                           str(tmp / "ref.npz"), *bodies], env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"musicnn's TF1 reference failed:\n{proc.stderr[-3000:]}")
    with np.load(tmp / "ref.npz") as z:
        return {k: z[k] for k in z.files}


def _body_outputs(name: str, x) -> dict:
    import numpy as np
    import tensorflow as tf
    from musicnn import models

    from mir.model.pretrained import body_info, checkpoint_dir

    body = body_info(name)
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        ph = tf.compat.v1.placeholder(tf.float32, [None, x.shape[2], x.shape[1]])
        is_training = tf.compat.v1.placeholder(tf.bool)
        out = models.define_model(ph, is_training, body.folder, len(body.tags))
        feats = tf.compat.v1.layers.flatten(out[5]) if body.kind == "vgg" else out[8]
        tags = tf.nn.sigmoid(out[0])
    with tf.compat.v1.Session() as sess:
        tf.compat.v1.train.Saver().restore(sess, str(checkpoint_dir(name)) + "/")
        # musicnn's input: log10(1 + 10000·mel power), time-major; mir's chunks are dB = 10·log10(power)
        logc = np.log10(1.0 + 10000.0 * 10.0 ** (np.asarray(x, np.float64) / 10.0)).transpose(0, 2, 1)
        t, f = sess.run([tags, feats], {ph: logc.astype(np.float32), is_training: False})
    return {f"{name}/tags": t, f"{name}/features": f}


def main(argv: list[str]) -> None:
    import numpy as np

    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    x = np.load(argv[0])
    out = {}
    for name in argv[2:]:
        out.update(_body_outputs(name, x))
    np.savez(argv[1], **out)


if __name__ == "__main__":
    main(sys.argv[1:])
