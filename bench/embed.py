"""Inference benchmark: the model body through plain Keras and through mir's engine, on the same chunks.

    python bench/embed.py [--model models/model.keras] [--chunks 256] [--threads N]

Chunks: 3-s log-mel chunks of the shared FMA sample (../shared/data/fma_small_sample, $MIR_SHARED_DATA) when
present, else of generated audio. Model: models/model.keras (after `make demo`), else the default musicnn
(pretrained body, untrained head: the same cost per chunk).

Prints crops/s (chunks/s) of `model.predict` (the previous path), of TensorFlow with oneDNN off (its default
on CPUs without AVX-512 VNNI/BF16: measured in a child process), of XLA (`jit_compile=True`) and of the engine on
each runtime it can use; the max abs difference of the probabilities from Keras; the body's GFLOP per chunk and
the FLOP-bound estimate for this CPU (measured float32 GEMM rate ÷ GFLOP per chunk); the cost of a cached pass.
Last line: ``body_speedup_vs_keras=X crops_per_s=Y max_abs_diff=Z`` (the engine as `inference.runtime: auto`
picks it, against `model.predict`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mir.env import quiet  # noqa: E402

quiet()  # telemetry off, TensorFlow quiet (before it is imported)


def _chunks(n: int):
    import numpy as np

    from mir.config import FeatureParams
    from mir.features.extract import featurize_file
    from mir.model.data import chunk_starts

    fp = FeatureParams()
    shared = Path(os.environ.get("MIR_SHARED_DATA", ROOT.parent / "shared" / "data")) / "fma_small_sample"
    files = sorted(shared.rglob("*.mp3")) if shared.is_dir() else []
    out, what = [], f"{len(files)} shared FMA clips"
    for f in files:
        try:
            S, _ = featurize_file(f, fp=fp)
        except Exception:  # noqa: BLE001 - a bad clip is skipped here
            continue
        out += [S[:, s:s + 187] for s in chunk_starts(S.shape[1], 187)]
        if len(out) >= n:
            break
    if len(out) < n:
        rng = np.random.default_rng(0)
        out += list(rng.normal(-35, 15, size=(n - len(out), 96, 187)).astype(np.float32))
        what += " + generated"
    return np.stack(out[:n]).astype(np.float32)[..., None], what


def _model(path: str):
    from mir.model import keras_backend

    keras_backend()
    import keras

    if Path(path).exists():
        return keras.models.load_model(path), path
    from mir.model.architectures import build_model

    return build_model("musicnn", n_mels=96, n_frames=187, n_classes=4), "musicnn (pretrained body, untrained head)"


def _rate(fn, x, repeats: int = 2) -> tuple[float, object]:
    fn(x[:32])  # warm-up: tracing, compilation, thread pools
    best, out = 0.0, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(x)
        best = max(best, len(x) / (time.perf_counter() - t0))
    return best, out


def _flops_per_chunk(model) -> float:
    """Multiply-adds ×2 of every Conv/Dense layer, from the layer shapes."""
    import numpy as np

    total = 0.0
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        out = layer.output.shape[1:]
        k = np.prod(kernel.shape[:-1])  # taps × input channels
        total += 2.0 * k * np.prod(out)
    return total


def _gemm_gflops() -> float:
    import numpy as np

    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    a @ a
    t0 = time.perf_counter()
    for _ in range(5):
        a @ a
    return 5 * 2 * 2048 ** 3 / (time.perf_counter() - t0) / 1e9


def child(args) -> None:
    """`model.predict` only (run with TF_ENABLE_ONEDNN_OPTS=0 by the parent)."""
    x, _ = _chunks(args.chunks)
    model, _ = _model(args.model)
    rate, _ = _rate(lambda v: model.predict(v, batch_size=64, verbose=0), x, repeats=1)
    print(json.dumps({"rate": rate}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "model.keras"))
    ap.add_argument("--chunks", type=int, default=256)
    ap.add_argument("--threads", type=int, default=0, help="engine threads (0: all cores)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    import numpy as np
    import tensorflow as tf

    from mir.model.inference import Engine
    from mir.model.runtimes import available_runtimes

    x, what = _chunks(args.chunks)
    model, which = _model(args.model)
    print(f"chunks: {len(x)} × 96 mels × 187 frames ({what}); model: {which}; {os.cpu_count()} cores")
    gflop = _flops_per_chunk(model) / 1e9
    gemm = _gemm_gflops()
    print(f"body + head: {gflop:.2f} GFLOP per chunk; float32 GEMM here: {gemm:.0f} GFLOP/s "
          f"→ FLOP-bound estimate {gemm / gflop:.0f} chunks/s")

    rows = []
    keras_rate, ref = _rate(lambda v: model.predict(v, batch_size=64, verbose=0), x)
    rows.append(("Keras `model.predict` (batch 64), TensorFlow + oneDNN", keras_rate, 0.0))
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"}
    r = subprocess.run([sys.executable, __file__, "--child", "--model", args.model, "--chunks", str(args.chunks)],
                       env=env, capture_output=True, text=True)
    try:
        rows.append(("Keras `model.predict`, oneDNN off (TF's default without AVX-512 VNNI/BF16)",
                     json.loads(r.stdout.strip().splitlines()[-1])["rate"], float("nan")))
    except (ValueError, IndexError):
        print(f"(oneDNN-off child failed: {r.stderr.strip().splitlines()[-1:]})")
    xla = tf.function(lambda t: model(t, training=False), jit_compile=True)
    xla_rate, xla_out = _rate(lambda v: np.concatenate([np.asarray(xla(tf.constant(v[i:i + 32])))
                                                        for i in range(0, len(v), 32)]), x)
    rows.append(("XLA (`tf.function(jit_compile=True)`, batch 32)", xla_rate, float(np.abs(xla_out - ref).max())))
    engines = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rt in ["auto"] + available_runtimes():
            t0 = time.perf_counter()
            e = Engine(model, runtime=rt, threads=args.threads, cache_dir=tmp)
            setup = time.perf_counter() - t0
            rate, out = _rate(e.predict_chunks, x)
            engines[rt] = (e, rate, float(np.abs(out - ref).max()))
            if rt != "auto":
                rows.append((f"mir engine: {e.describe().split(', body')[0]} (set-up {setup:.1f} s)", rate,
                             engines[rt][2]))
        auto, auto_rate, auto_diff = engines["auto"]
        # a cached pass: the same clips again (what evaluate/monitor pay for clips already embedded)
        X = x[:, :, :, 0].reshape(-1, 4, 96, 187).transpose(0, 2, 1, 3).reshape(-1, 96, 4 * 187)
        auto.clip_outputs(X, range(len(X)))
        t0 = time.perf_counter()
        auto.clip_outputs(X, range(len(X)))
        cached = len(x) / (time.perf_counter() - t0)
    print()
    print("| path | chunks/s | × Keras | max abs diff of probabilities vs Keras |")
    print("|---|---|---|---|")
    for name, rate, diff in rows:
        d = "—" if diff == 0.0 else ("n/a" if diff != diff else f"{diff:.1e}")
        print(f"| {name} | {rate:.1f} | {rate / keras_rate:.2f} | {d} |")
    print(f"| cached pass (`inference.runtime: auto`, clips seen before) | {cached:.0f} | {cached / keras_rate:.0f} | 0 |")
    print(f"\nauto picks: {auto.describe()}")
    off = [r for name, r, _ in rows if "oneDNN off" in name]
    if off:
        print(f"speedup vs Keras with oneDNN off (TensorFlow's default on CPUs without AVX-512 VNNI/BF16): "
              f"{auto_rate / off[0]:.2f}")
    print(f"body_speedup_vs_keras={auto_rate / keras_rate:.2f} crops_per_s={auto_rate:.1f} max_abs_diff={auto_diff:.1e}")


if __name__ == "__main__":
    main()
