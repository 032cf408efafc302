"""Accelerator benchmark: mir's architectures trained and run on whatever the Keras backend sees.

    python bench/gpu.py make-npz --out chunks.npz [--audio DIR | --features DIR] [--weights-out musicnn.npz]
    python bench/gpu.py run --npz chunks.npz --out OUT [--musicnn-weights musicnn.npz] [--backend jax|torch]
    python bench/gpu.py check --out OUT

``make-npz`` (here, with mir's own featurize: ``featurize_file`` on a ``<genre>/*`` audio folder, or a
``data/features`` store, else clips of the embedded demo rendered on the spot) writes log-mel clips as float16
plus labels, and with ``--weights-out`` copies the musicnn weights cache (:func:`mir.model.pretrained.cache_path`,
written from musicnn's checkpoint with TensorFlow here) so a machine without TensorFlow can build the body.

``run`` (on the accelerator; JAX or PyTorch on CUDA, the CPU when there is none) trains each from-scratch
architecture and the musicnn head (frozen pretrained body, embedded once as the ``train`` stage does) for a few
epochs in every ``--precisions`` policy with the same seed, data and initial weights, and times the full model
at inference. Each (architecture, precision) runs in its own child process (``--in-process`` for tests), so the
peak accelerator memory is its own and one failure does not stop the others. Per run: examples/s for training
(epochs after the first, which pays for compilation) and for inference, the peak accelerator memory, the
training loss of the first and last epoch, the saved ``<arch>-<precision>.keras`` and its probabilities and
``embedding`` on a fixed probe batch. Writes ``results.json`` and ``results.md`` into ``--out``.

``check`` (back here, on the CPU with TensorFlow) loads every saved model and compares its predictions on the
probe batch with the ones recorded on the accelerator.

Tolerances (see README's GPU section for why):
- mixed vs float32: final training loss within ``LOSS_ATOL + LOSS_RTOL · loss_f32 + seed spread``, the spread
  being how far a float32 run with seed + 1 ends from the seed's (run too unless ``--no-spread``);
- check: probabilities within ``PROB_ATOL`` and the embedding within ``EMB_RTOL`` (relative L2 norm).

This script imports no TensorFlow, librosa or pydantic outside ``make-npz`` and ``check``: on the accelerator it
needs only keras, numpy, the backend and mir's ``mir.model.{architectures,layers,pretrained}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX: allocate what is used, not 75 %

FROM_SCRATCH = ("fma_cnn", "melgram_cnn", "shortchunk_res", "cnn")
ARCHS = (*FROM_SCRATCH, "musicnn")
PRECISIONS = ("float32", "mixed_float16")
#: mixed vs float32: |loss_mixed − loss_f32| ≤ LOSS_ATOL + LOSS_RTOL · loss_f32 (final epoch's mean training loss).
LOSS_ATOL, LOSS_RTOL = 0.05, 0.10
#: check: |p_here − p_accelerator| ≤ PROB_ATOL, ‖e_here − e_acc‖ / ‖e_acc‖ ≤ EMB_RTOL (per precision).
PROB_ATOL = {"float32": 2e-3, "mixed": 1e-2}
EMB_RTOL = {"float32": 5e-3, "mixed": 3e-2}
PROBE = 8  # probe batch size


def _kind(precision: str) -> str:
    return "float32" if precision == "float32" else "mixed"


# ------------------------------------------------------------------ make-npz (here: mir's featurize)


def _demo_clips(genres: list[str], per_genre: int, *, seed: int, seconds: float, sr: int, tmp: Path):
    """Render ``per_genre`` clips of each demo genre into wav files; yields ``(genre, path)``."""
    import soundfile as sf

    from mir.demo import clip_seed
    from mir.demo.render import render_clip

    for genre in genres:
        for i in range(per_genre):
            y = render_clip(genre, seed=clip_seed(seed=seed, genre=genre, index=i), seconds=seconds, sr=sr)
            path = tmp / f"{genre}-{i}.wav"
            sf.write(path, y, sr)
            yield genre, path


def _folder_clips(root: Path, per_genre: int):
    from mir.datasets.base import AUDIO_EXTENSIONS

    for genre_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in genre_dir.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)[:per_genre]
        yield from ((genre_dir.name, p) for p in files)


def _centre(S, frames: int):
    import numpy as np

    if S.shape[1] < frames:
        raise SystemExit(f"clips have {S.shape[1]} frames, fewer than --frames {frames}: use longer clips")
    start = (S.shape[1] - frames) // 2
    return np.asarray(S[:, start:start + frames], dtype=np.float16)


def make_npz(args) -> None:
    """Log-mel clips (float16, centre ``--frames`` frames) + labels, by mir's featurize, into ``--out``."""
    import shutil
    import tempfile

    import numpy as np

    from mir.config import FeatureParams

    fp = FeatureParams(clip_seconds=args.seconds)
    mels, labels, source = [], [], ""
    if args.features:
        from mir.features.extract import FeatureStore

        store = FeatureStore(args.features)
        idx = store.index.groupby("genre", sort=True).head(args.clips_per_genre)
        meta = json.loads((Path(args.features) / "meta.json").read_text()) if (
            Path(args.features) / "meta.json").is_file() else {}
        fp_dict, source = meta.get("params", {}), f"feature store {args.features}"
        for row, genre in zip(idx["row"], idx["genre"]):
            mels.append(_centre(store.logmel[int(row)], args.frames))
            labels.append(str(genre))
    else:
        from mir.features.extract import featurize_file

        fp_dict = fp.model_dump(include={"sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax",
                                         "clip_seconds"})
        with tempfile.TemporaryDirectory() as tmp:
            if args.audio:
                clips, source = _folder_clips(Path(args.audio), args.clips_per_genre), f"audio {args.audio}"
            else:
                clips = _demo_clips(args.genres.split(","), args.clips_per_genre, seed=args.seed,
                                    seconds=args.seconds, sr=fp.sample_rate, tmp=Path(tmp))
                source = f"mir demo (synth), seed {args.seed}"
            for genre, path in clips:
                S, _ = featurize_file(path, fp=fp)
                mels.append(_centre(S, args.frames))
                labels.append(genre)
    if len(set(labels)) < 2:
        raise SystemExit(f"need clips of at least 2 genres, found {sorted(set(labels))}")
    genres = sorted(set(labels))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, logmel=np.stack(mels), labels=np.array([genres.index(g) for g in labels]),
                        genres=np.array(genres), features=json.dumps(fp_dict, default=str), source=source)
    print(f"{out}: {len(mels)} clips × {mels[0].shape} ({', '.join(genres)}), {out.stat().st_size / 1e6:.1f} MB")
    if args.weights_out:
        from mir.model.pretrained import cache_path, musicnn_weights

        musicnn_weights()  # writes the cache from musicnn's checkpoint (TensorFlow) when it is not there yet
        shutil.copyfile(cache_path(), args.weights_out)
        print(f"{args.weights_out}: musicnn weights (from {cache_path()})")


# ------------------------------------------------------------------ run (on the accelerator)


def pick_backend(name: str | None) -> str:
    """``--backend``, else ``$KERAS_BACKEND``, else the first of jax, torch, tensorflow that imports."""
    import importlib.util

    name = name or os.environ.get("KERAS_BACKEND")
    if not name:
        name = next((b for b in ("jax", "torch") if importlib.util.find_spec(b)), "tensorflow")
    os.environ["KERAS_BACKEND"] = name
    return name


def device_info(backend: str) -> tuple[str, str]:
    """``(device name, platform)``: the accelerator the backend computes on, or the CPU's model name."""
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "cpu") if Path("/proc/cpuinfo").is_file() else "cpu"
    if backend == "jax":
        import jax

        d = jax.devices()[0]
        return (d.device_kind if d.platform != "cpu" else cpu), d.platform
    if backend == "torch":
        import torch

        return (torch.cuda.get_device_name(0), "cuda") if torch.cuda.is_available() else (cpu, "cpu")
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return (tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU"), "gpu") if gpus \
            else (cpu, "cpu")
    return cpu, "cpu"


def reset_peak(backend: str) -> None:
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
    elif backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            tf.config.experimental.reset_memory_stats("GPU:0")


def peak_memory_mb(backend: str) -> float | None:
    """Peak accelerator memory of this process in MB (JAX: since the process started), None on a CPU."""
    if backend == "jax":
        import jax

        stats = jax.devices()[0].memory_stats() if jax.devices()[0].platform != "cpu" else None
        return stats["peak_bytes_in_use"] / 2**20 if stats and "peak_bytes_in_use" in stats else None
    if backend == "torch":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    return None


def crops(npz: dict, *, chunk: int, n: int, seed: int):
    """``n`` crops of ``chunk`` frames (clips round-robin in a seeded order, seeded offsets) and one-hot labels."""
    import numpy as np

    logmel, labels = npz["logmel"], npz["labels"]
    n_clips, _, frames = logmel.shape
    if frames < chunk:
        raise ValueError(f"the npz holds {frames} frames per clip, the architecture needs {chunk}")
    rng = np.random.default_rng(seed)
    clips = rng.permutation(np.arange(n) % n_clips)
    starts = rng.integers(0, frames - chunk + 1, size=n)
    x = np.stack([logmel[c, :, s:s + chunk] for c, s in zip(clips, starts)]).astype(np.float32)[..., None]
    y = np.eye(len(npz["genres"]), dtype=np.float32)[labels[clips]]
    return x, y


class EpochTimer:
    """A Keras callback factory recording each epoch's wall time (the logs' loss forces the device to finish)."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.seconds = []

            def on_epoch_begin(self, epoch, logs=None):
                self._t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self._t)

        return _Timer()


def build(arch: str, *, x, n_classes: int, weights_path: str | None):
    """The mir model of ``arch`` for ``x``'s shape (musicnn: the body's weights from ``weights_path``)."""
    import numpy as np

    from mir.model.architectures import build_model, musicnn
    from mir.model.cnn import band_stats
    from mir.model.pretrained import load_musicnn

    n_mels, chunk = x.shape[1], x.shape[2]
    if arch == "musicnn":
        if not weights_path:
            raise ValueError("musicnn needs --musicnn-weights (make-npz --weights-out writes the file)")
        model = musicnn(n_mels=n_mels, n_frames=chunk, n_classes=n_classes, pretrained=False)
        with np.load(weights_path) as z:
            load_musicnn(model, {k: z[k] for k in z.files})
        return model
    mean, var = band_stats(x[:, :, :, 0])
    return build_model(arch, n_mels=n_mels, n_frames=chunk, n_classes=n_classes, band_mean=mean, band_var=var)


def _timed_predict(model, x, *, batch: int) -> float:
    """Examples/s of ``model.predict`` over ``x`` (after one warm-up call that compiles)."""
    model.predict(x[:batch], batch_size=batch, verbose=0)
    t = time.perf_counter()
    model.predict(x, batch_size=batch, verbose=0)
    return len(x) / (time.perf_counter() - t)


def probe_outputs(model, x):
    """The model's probabilities and ``embedding`` on ``x`` (float32 numpy)."""
    import keras
    import numpy as np

    both = keras.Model(model.inputs, [model.output, model.get_layer("embedding").output])
    p, e = both.predict(x, batch_size=len(x), verbose=0)
    return np.asarray(p, np.float32), np.asarray(e, np.float32)


def save_lean(model, path: Path) -> None:
    """Save ``model`` as ``.keras`` without optimizer state (an uncompiled copy: same layers, policies, weights)."""
    import keras

    lean = keras.Model.from_config(model.get_config())  # not clone_model: that one compiles the copy too
    lean.set_weights(model.get_weights())
    lean.save(path)


def run_name(arch: str, precision: str, seed_offset: int = 0) -> str:
    return f"{arch}-{precision}" + (f"-seed+{seed_offset}" if seed_offset else "")


def train_one(args, arch: str, precision: str, seed_offset: int = 0) -> dict:
    """Train and time one (architecture, precision); saves the model and its probe outputs into ``--out``.

    The crops are drawn with ``--seed`` always; weights, dropout and shuffling with ``--seed`` + ``seed_offset``
    (a nonzero offset is the float32 seed-to-seed reference: nothing is saved for it).
    """
    import importlib

    import keras
    import numpy as np

    from mir.model.architectures import DEFAULT_CHUNK, FROZEN_BODY, body_model, head_model

    backend = keras.backend.backend()
    keras.backend.clear_session()
    keras.config.set_dtype_policy(precision)
    reset_peak(backend)
    with np.load(args.npz) as z:
        npz = {k: z[k] for k in ("logmel", "labels", "genres")}
    n = args.examples // args.batch * args.batch  # whole batches: no recompilation for a last, smaller one
    x, y = crops(npz, chunk=DEFAULT_CHUNK[arch], n=n, seed=args.seed)
    probe_x, _ = crops(npz, chunk=DEFAULT_CHUNK[arch], n=PROBE, seed=args.seed + 1000)
    keras.utils.set_random_seed(args.seed + seed_offset)
    model = build(arch, x=x, n_classes=y.shape[1], weights_path=args.musicnn_weights)
    fitted, fit_x, embed_s = model, x, None
    if arch in FROZEN_BODY:  # as the train stage: embed the crops through the frozen body once, fit the head
        body, fitted = body_model(model, arch), head_model(model, arch)
        embed_s = _timed_predict(body, x, batch=args.batch)
        fit_x = body.predict(x, batch_size=args.batch, verbose=0)
    fitted.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr), loss="categorical_crossentropy")
    timer = EpochTimer()
    hist = fitted.fit(fit_x, y, batch_size=args.batch, epochs=args.epochs, shuffle=True, verbose=0,
                      callbacks=[timer]).history["loss"]
    later = timer.seconds[1:] or timer.seconds
    infer = _timed_predict(model, x, batch=args.batch)
    p, e = probe_outputs(model, probe_x)
    if not seed_offset:
        name = run_name(arch, precision)
        save_lean(model, Path(args.out) / f"{name}.keras")
        # the crops are float16 values (the npz's): stored as float16, exactly
        np.savez(Path(args.out) / f"{name}.probe.npz", x=probe_x.astype(np.float16), probs=p, embedding=e)
    peak = peak_memory_mb(backend)
    keras.config.set_dtype_policy("float32")
    device, platform = device_info(backend)
    return {"device": device, "platform": platform, "keras": keras.__version__, "backend": backend,
            "backend_version": importlib.import_module(backend).__version__, "arch": arch, "precision": precision, "seed": args.seed + seed_offset, "status": "ok",
            "params": int(model.count_params()), "chunk": DEFAULT_CHUNK[arch], "examples": n, "batch": args.batch,
            "epochs": args.epochs, "steps": args.epochs * (n // args.batch),
            "first_epoch_s": round(timer.seconds[0], 2), "train_ex_s": round(n * len(later) / sum(later), 1),
            "infer_ex_s": round(infer, 1), "body_ex_s": None if embed_s is None else round(embed_s, 1),
            "peak_mem_mb": None if peak is None else round(peak, 1),
            "loss_first": round(float(hist[0]), 5), "loss": round(float(hist[-1]), 5),
            "finite": bool(np.isfinite(hist).all() and np.isfinite(p).all())}


def one(args) -> dict:
    """One (architecture, precision, seed offset), errors caught: the row for the table."""
    try:
        return train_one(args, args.arch, args.precision, args.seed_offset)
    except Exception as err:  # noqa: BLE001 - a failing architecture is a row of the table, not the end of the run
        import traceback

        traceback.print_exc()
        return {"arch": args.arch, "precision": args.precision, "seed": args.seed + args.seed_offset,
                "status": f"error: {type(err).__name__}: {err}"}
    finally:  # in-process runs: the next one (or the caller) starts from the default policy
        if "keras" in sys.modules:
            sys.modules["keras"].config.set_dtype_policy("float32")


def _child(args, arch: str, precision: str, seed_offset: int) -> dict:
    """Run one (architecture, precision) in a child process (its own peak memory; a crash is one row)."""
    rows = Path(args.out) / "rows"
    rows.mkdir(parents=True, exist_ok=True)
    row_path = rows / f"{run_name(arch, precision, seed_offset)}.json"
    row_path.unlink(missing_ok=True)
    passed = ("npz", "out", "musicnn_weights", "epochs", "examples", "batch", "seed", "lr")
    cmd = [sys.executable, __file__, "one", "--arch", arch, "--precision", precision, "--row", str(row_path),
           "--seed-offset", str(seed_offset),
           *(f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k in passed and v is not None)]
    failed = {"arch": arch, "precision": precision, "seed": args.seed + seed_offset}
    try:
        subprocess.run(cmd, timeout=args.timeout, check=False)
    except subprocess.TimeoutExpired:
        return {**failed, "status": f"error: timed out after {args.timeout:g} s"}
    if not row_path.is_file():
        return {**failed, "status": "error: the child process died (its output is above)"}
    return json.loads(row_path.read_text())


def agreement(rows: list[dict], *, seed: int) -> None:
    """Mark each mixed row ``agrees`` when its final loss is within the tolerance of its float32 row's.

    Tolerance: ``LOSS_ATOL + LOSS_RTOL · loss_f32 + seed_spread``, where ``seed_spread`` is
    ``|loss_f32(seed + 1) − loss_f32(seed)|`` when that reference run was made (``--spread``), else 0.
    """
    ok = [r for r in rows if r["status"] == "ok" and r["precision"] == "float32"]
    ref = {r["arch"]: r for r in ok if r["seed"] == seed}
    other = {r["arch"]: r for r in ok if r["seed"] != seed}
    for r in rows:
        if r["precision"] == "float32" or r["status"] != "ok" or r["arch"] not in ref:
            continue
        f32 = ref[r["arch"]]["loss"]
        spread = abs(other[r["arch"]]["loss"] - f32) if r["arch"] in other else 0.0
        tol = LOSS_ATOL + LOSS_RTOL * f32 + spread
        r.update(vs_float32=round(r["loss"] - f32, 5), seed_spread=round(spread, 5), tolerance=round(tol, 5),
                 agrees=bool(r["finite"] and abs(r["loss"] - f32) <= tol))


COLUMNS = (("arch", "arch"), ("precision", "precision"), ("seed", "seed"), ("train ex/s", "train_ex_s"),
           ("infer ex/s", "infer_ex_s"), ("body ex/s", "body_ex_s"), ("peak MB", "peak_mem_mb"),
           ("1st epoch s", "first_epoch_s"), ("loss 1st epoch", "loss_first"), ("loss after N steps", "loss"),
           ("Δ vs f32", "vs_float32"), ("tolerance", "tolerance"), ("agrees", "agrees"))


def _cell(r: dict, key: str) -> str:
    v = r.get(key)
    if r["status"] != "ok" and key not in ("arch", "precision", "seed"):
        return r["status"].replace("|", "/")[:200] if key == "train_ex_s" else ""
    if v is None:
        return "n/a" if key == "peak_mem_mb" else ""
    if isinstance(v, bool):
        return "yes" if v else "**NO**"
    return str(v)


def table(result: dict) -> str:
    """The markdown table of ``results.json``."""
    head = (f"{result['device']} ({result['platform']}), Keras {result['keras']} on {result['backend']} "
            f"{result['backend_version']}; {result['examples']} examples × {result['epochs']} epochs, batch "
            f"{result['batch']} (N = {result['steps']} steps), seed {result['seed']}; agrees: finite and "
            f"|Δloss| ≤ {LOSS_ATOL} + {LOSS_RTOL} · loss_f32 + |loss_f32(seed+1) − loss_f32(seed)|\n\n")
    lines = ["| " + " | ".join(c for c, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(r, k) for _, k in COLUMNS) + " |" for r in result["rows"]]
    return head + "\n".join(lines) + "\n"


def write_results(args, rows: list[dict]) -> dict:
    """``results.json`` and ``results.md`` of the rows so far (written after every run: a killed run keeps them)."""
    rows = sorted(rows, key=lambda r: (r["arch"], r["seed"], r["precision"]))
    agreement(rows, seed=args.seed)
    ok = [r for r in rows if r["status"] == "ok"]
    first = ok[0] if ok else {}
    result = {**{k: first.get(k, "?") for k in ("device", "platform", "keras", "backend_version")},
              "backend": os.environ["KERAS_BACKEND"], "python": sys.version.split()[0], "npz": str(args.npz),
              "seed": args.seed, "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
              "examples": first.get("examples", args.examples), "steps": first.get("steps"),
              "tolerance": {"loss_atol": LOSS_ATOL, "loss_rtol": LOSS_RTOL, "prob_atol": PROB_ATOL,
                            "embedding_rtol": EMB_RTOL}, "rows": rows}
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps(result, indent=1))
    (out / "results.md").write_text(table(result))
    return result


def run(args) -> dict:
    """All architectures × precisions (+ the float32 seed + 1 reference); ``results.json``/``.md`` in ``--out``."""
    Path(args.out).mkdir(parents=True, exist_ok=True)
    backend = pick_backend(args.backend)
    runs = [(a, p, 0) for a in args.archs.split(",") for p in args.precisions.split(",")]
    if args.spread:
        runs += [(a, "float32", 1) for a in args.archs.split(",")]
    rows = []
    for arch, precision, offset in runs:
        print(f"== {run_name(arch, precision, offset)} ({backend})", flush=True)
        if args.in_process:
            rows.append(one(argparse.Namespace(**{**vars(args), "arch": arch, "precision": precision,
                                                  "seed_offset": offset})))
        else:
            rows.append(_child(args, arch, precision, offset))
        print(json.dumps(rows[-1]), flush=True)
        result = write_results(args, rows)
    print(table(result))
    return result


# ------------------------------------------------------------------ check (here, CPU + TensorFlow)


def check(args) -> int:
    """Load every saved model here and compare its probe predictions with the accelerator's; 0 when all agree."""
    import numpy as np

    from mir.model import keras_backend

    keras_backend()
    import keras

    out = Path(args.out)
    result = json.loads((out / "results.json").read_text())
    lines, bad = [], 0
    for r in (r for r in result["rows"] if r["status"] == "ok" and r["seed"] == result["seed"]):
        name = f"{r['arch']}-{r['precision']}"
        ref = np.load(out / f"{name}.probe.npz")
        keras.config.set_dtype_policy("float32")
        model = keras.models.load_model(out / f"{name}.keras")
        p, e = probe_outputs(model, ref["x"])
        dp = float(np.abs(p - ref["probs"]).max())
        de = float(np.linalg.norm(e - ref["embedding"]) / max(np.linalg.norm(ref["embedding"]), 1e-12))
        kind = _kind(r["precision"])
        ok = dp <= PROB_ATOL[kind] and de <= EMB_RTOL[kind]
        bad += not ok
        lines.append({"model": name, "max_abs_prob_diff": dp, "embedding_rel_diff": de, "ok": ok,
                      "same_argmax": float((p.argmax(1) == ref["probs"].argmax(1)).mean())})
        print(f"{name:28s} max|Δp| {dp:.2e} (≤ {PROB_ATOL[kind]:g})  ‖Δe‖/‖e‖ {de:.2e} (≤ {EMB_RTOL[kind]:g})  "
              f"{'ok' if ok else 'MISMATCH'}")
    (out / "check.json").write_text(json.dumps({"backend_here": keras.backend.backend(), "models": lines},
                                               indent=1))
    print(f"check: {len(lines) - bad}/{len(lines)} models predict here as on {result['device']}")
    return 1 if bad or not lines else 0


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-npz", help="log-mel clips by mir's featurize (run here)")
    m.add_argument("--out", required=True)
    m.add_argument("--audio", help="a <genre>/* audio folder (default: the embedded demo, rendered)")
    m.add_argument("--features", help="a feature store (data/features) instead of audio")
    m.add_argument("--genres", default="classical,electronic,jazz,rock", help="demo genres")
    m.add_argument("--clips-per-genre", type=int, default=16)
    m.add_argument("--frames", type=int, default=1024, help="centre frames kept per clip (≥ 640 for fma_cnn)")
    m.add_argument("--seconds", type=float, default=30.0, help="clip length featurised")
    m.add_argument("--seed", type=int, default=42)
    m.add_argument("--weights-out", help="also copy the musicnn weights cache (npz) here")
    for name in ("run", "one"):
        r = sub.add_parser(name, help="train and time on the accelerator" if name == "run" else "one run (a child of run)")
        r.add_argument("--npz", required=True)
        r.add_argument("--out", required=True)
        r.add_argument("--musicnn-weights")
        r.add_argument("--epochs", type=int, default=3)
        r.add_argument("--examples", type=int, default=1024, help="training crops per epoch")
        r.add_argument("--batch", type=int, default=64)
        r.add_argument("--lr", type=float, default=1e-3)
        r.add_argument("--seed", type=int, default=0)
        if name == "run":
            r.add_argument("--backend", help="jax | torch | tensorflow (default: $KERAS_BACKEND, else jax, torch)")
            r.add_argument("--archs", default=",".join(ARCHS))
            r.add_argument("--precisions", default=",".join(PRECISIONS))
            r.add_argument("--in-process", action="store_true", help="no child processes (tests)")
            r.add_argument("--timeout", type=float, default=600, help="seconds per child")
            r.add_argument("--no-spread", dest="spread", action="store_false",
                           help="skip the float32 run with seed + 1 (the seed-to-seed reference of the tolerance)")
        else:
            r.add_argument("--arch", required=True)
            r.add_argument("--precision", required=True)
            r.add_argument("--seed-offset", type=int, default=0)
            r.add_argument("--row", required=True)
    c = sub.add_parser("check", help="load the saved models here and compare their predictions")
    c.add_argument("--out", required=True)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    if args.cmd == "make-npz":
        make_npz(args)
    elif args.cmd == "run":
        rows = run(args)["rows"]
        return 0 if all(r["status"] == "ok" and r.get("agrees", True) for r in rows) else 1
    elif args.cmd == "one":
        pick_backend(None)
        Path(args.row).write_text(json.dumps(one(args)))
    else:
        return check(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
