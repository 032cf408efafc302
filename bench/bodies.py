"""Forward cost of musicnn's four pretrained bodies (mir.model.bodies): crops/s through Keras and ONNX Runtime.

    nice python bench/bodies.py [--batch 64] [--reps 3] [--threads 2] [--bodies msd_musicnn,mtt_vgg]

Each body (features + tags outputs) runs on the same batch of 3-s chunks (96 mels × 187 frames, random dB):
Keras ``model.predict`` and ``model.export(format="onnx")`` + onnxruntime ``CPUExecutionProvider`` with
``--threads`` intra-op threads (the engine's runtime). Also all bodies in one model (``bodies_model``).
Prints one row per model: crops/s (best of ``--reps`` after a warm-up), the ONNX export time and the max abs
difference of the tag probabilities from Keras. Needs the musicnn package, tf2onnx and onnxruntime.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def _best(fn, reps: int) -> float:
    fn()  # warm-up (graph tracing, allocation)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(names: list[str], x, *, reps: int, threads: int, tmp: Path) -> dict:
    """crops/s of the bodies ``names`` (one model) through Keras and ONNX Runtime on chunks ``x``."""
    import keras
    import numpy as np
    import onnxruntime as ort

    from mir.model.bodies import bodies_model

    m = bodies_model(names)
    keys = [k for k in m.output if k.endswith(("_features", "_tags"))]
    net = keras.Model(m.inputs, [m.output[k] for k in keys], name="bench_bodies")
    ref = net.predict(x, batch_size=len(x), verbose=0)
    t_keras = _best(lambda: net.predict(x, batch_size=len(x), verbose=0), reps)
    path = tmp / ("-".join(names) + ".onnx")
    t0 = time.perf_counter()
    net.export(str(path), format="onnx", verbose=False)
    t_export = time.perf_counter() - t0
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x}
    got = sess.run(None, feed)
    t_onnx = _best(lambda: sess.run(None, feed), reps)
    diff = max(float(np.abs(g - r).max()) for k, g, r in zip(keys, got, ref) if k.endswith("_tags"))
    return {"keras": len(x) / t_keras, "onnx": len(x) / t_onnx, "export_s": t_export, "tags_diff": diff,
            "params": m.count_params()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bodies", default="", help="comma-separated (default: each of the four, then all four)")
    args = ap.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from mir.model import keras_backend
    from mir.model.pretrained import BODIES

    keras_backend()
    singles = [b for b in args.bodies.split(",") if b] or list(BODIES)
    runs = [[b] for b in singles] + ([singles] if len(singles) > 1 else [])
    x = np.random.default_rng(0).uniform(-80, 0, (args.batch, 96, 187, 1)).astype(np.float32)
    print(f"{cpu_name()}, {os.cpu_count()} CPUs visible, {args.threads} threads, batch {args.batch} × 96 × 187")
    print(f"{'bodies':<44} {'params':>9} {'keras crops/s':>14} {'onnxrt crops/s':>15} {'export s':>9} "
          f"{'tags max|Δ|':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for names in runs:
            r = measure(names, x, reps=args.reps, threads=args.threads, tmp=Path(tmp))
            print(f"{'+'.join(names):<44} {r['params']:>9,} {r['keras']:>14.1f} {r['onnx']:>15.1f} "
                  f"{r['export_s']:>9.1f} {r['tags_diff']:>11.1e}", flush=True)


if __name__ == "__main__":
    main()
