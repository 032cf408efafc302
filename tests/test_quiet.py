"""Item 5 of issue 24: no TensorFlow/absl start-up lines or retracing warnings, mir's own output intact.

One subprocess through the entry points' :func:`mir.env.quiet` (as ``mir``, the flows and the tests
call it): import Keras (TensorFlow), run a tiny model at several batch sizes and a ``tf.function``
at several shapes (both retrace), then print a line of its own, a Python warning and another
TensorFlow warning: those three must reach stderr, nothing in absl's format may.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from mir.env import QUIET_ENV, is_tf_noise

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import logging, sys, warnings
    from mir.env import quiet
    quiet()
    import numpy as np
    import keras
    import tensorflow as tf
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    for n in range(1, 8):
        m.predict(np.zeros((n, 3)), verbose=0)
    f = tf.function(lambda x: x * 2)
    for n in range(1, 8):
        f(tf.zeros((n,)))
    from keras.src.export.tf2onnx_lib import patch_tf2onnx
    patch_tf2onnx()  # Keras's ONNX export: NumPy 2 warns about `np.object` here
    print("mir: own line", file=sys.stderr)
    warnings.warn("a Python warning")
    logging.getLogger("tensorflow").warning("another TensorFlow warning")
""")


def _start(script: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENV}  # as a user's shell: nothing preset
    env.update(PYTHONPATH=str(ROOT), KERAS_BACKEND="tensorflow")
    return subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _stderr(proc: subprocess.Popen) -> str:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    return err


def test_tensorflow_is_quiet_and_mir_is_not():
    """Both runs at once (each is mostly TensorFlow's import): ≈ 20 s on 2 cores."""
    quiet, loud = _start(SCRIPT), _start(SCRIPT.replace("quiet()", "pass"))
    # without mir.env's hook the same script prints what is forbidden below (so the check can fail)
    noise = _stderr(loud)
    assert [ln for ln in noise.splitlines() if is_tf_noise(ln)], noise
    assert "retracing" in noise, noise
    assert "np.object" in noise, noise

    err = _stderr(quiet)
    lines = err.splitlines()
    assert not [ln for ln in lines if is_tf_noise(ln)], err
    assert not [ln for ln in lines if "oneDNN" in ln or "absl" in ln or "cpu_feature_guard" in ln], err
    assert "retracing" not in err, err
    assert "np.object" not in err, err
    assert "mir: own line" in lines
    assert any("UserWarning: a Python warning" in ln for ln in lines), err
    assert any("another TensorFlow warning" in ln for ln in lines), err

