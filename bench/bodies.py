"""Forward cost of musicnn's four pretrained bodies (mir.model.bodies): crops/s through Keras and ONNX Runtime.

    nice python bench/bodies.py [--batch 64] [--reps 3] [--threads 2] [--bodies msd_musicnn,mtt_vgg]

Each body (features + tags outputs) runs on the same batch of 3-s chunks (96 mels × 187 frames, random dB):
Keras ``model.predict`` and ``model.export(format="onnx")`` run by the engine's runners (:mod:`mir.model.runtimes`:
ONNX Runtime ``CPUExecutionProvider`` and OpenVINO f32, ``--threads`` threads). Also all bodies in one model
(``bodies_model``).
Prints one row per model: crops/s (best of ``--reps`` after a warm-up), the ONNX export time and the max abs
difference of the tag probabilities from Keras (worst runtime). Needs the musicnn package and tf2onnx.
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
    """crops/s of the bodies ``names`` (one model) through Keras and the engine's exported runtimes on ``x``."""
    import importlib.util

    import keras
    import numpy as np

    from mir.model.bodies import bodies_model
    from mir.model.runtimes import OnnxRuntimeRunner, OpenVinoRunner

    m = bodies_model(names)
    keys = [k for k in m.output if k.endswith(("_features", "_tags"))]
    net = keras.Model(m.inputs, [m.output[k] for k in keys], name="bench_bodies")
    ref = net.predict(x, batch_size=len(x), verbose=0)
    res = {"keras": len(x) / _best(lambda: net.predict(x, batch_size=len(x), verbose=0), reps),
           "params": m.count_params(), "tags_diff": 0.0}
    path = tmp / ("-".join(names) + ".onnx")
    t0 = time.perf_counter()
    net.export(str(path), format="onnx", verbose=False)
    res["export_s"] = time.perf_counter() - t0
    for name, cls in (("onnxruntime", OnnxRuntimeRunner), ("openvino", OpenVinoRunner)):
        if importlib.util.find_spec(name) is None:
            res[name] = float("nan")
            continue
        runner = cls(path, threads, len(x))  # the engine's runners: intra-op threads, f32
        got = runner(x)
        res[name] = len(x) / _best(lambda: runner(x), reps)
        res["tags_diff"] = max([res["tags_diff"]] + [float(np.abs(g - r).max())
                                                     for k, g, r in zip(keys, got, ref) if k.endswith("_tags")])
    return res


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
    print(f"{'bodies':<44} {'params':>9} {'keras':>7} {'onnxrt':>7} {'openvino':>8} {'export s':>8} "
          f"{'tags max|Δ|':>11}   (crops/s)")
    with tempfile.TemporaryDirectory() as tmp:
        for names in runs:
            r = measure(names, x, reps=args.reps, threads=args.threads, tmp=Path(tmp))
            print(f"{'+'.join(names):<44} {r['params']:>9,} {r['keras']:>7.1f} {r['onnxruntime']:>7.1f} "
                  f"{r['openvino']:>8.1f} {r['export_s']:>8.1f} {r['tags_diff']:>11.1e}", flush=True)


if __name__ == "__main__":
    main()
