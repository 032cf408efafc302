"""The runtimes the inference engine (:mod:`mir.model.inference`) runs a network on.

Each runner takes the network's inputs as arrays (batch first) and returns its outputs as float32
arrays, ``batch_size`` rows per call: Keras (``model.predict``), ONNX Runtime and OpenVINO (an ONNX file).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np

#: The runtimes ``inference.runtime: auto`` tries on a CPU, fastest first (bench/embed.py measures them).
AUTO_ORDER = ("openvino", "onnxruntime")



class KerasRunner:
    name = "keras"

    def __init__(self, net, batch_size: int):
        self.net, self.batch_size = net, batch_size

    def __call__(self, *xs: np.ndarray) -> list[np.ndarray]:
        out = self.net.predict(list(xs) if len(xs) > 1 else xs[0], batch_size=self.batch_size, verbose=0)
        return [np.asarray(o, dtype=np.float32) for o in (out if isinstance(out, (list, tuple)) else [out])]


class OnnxRuntimeRunner:
    name = "onnxruntime"

    def __init__(self, path: Path, threads: int, batch_size: int):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        self.session = ort.InferenceSession(str(path), so, providers=providers)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.batch_size = batch_size
        self.provider = self.session.get_providers()[0]

    def __call__(self, *xs: np.ndarray) -> list[np.ndarray]:
        b = self.batch_size
        parts = [self.session.run(None, {n: x[i:i + b] for n, x in zip(self.inputs, xs)})
                 for i in range(0, len(xs[0]), b)]
        return [np.concatenate(p) for p in zip(*parts)]


class OpenVinoRunner:
    name = "openvino"

    def __init__(self, path: Path, threads: int, batch_size: int):
        import openvino as ov

        # f32 explicitly: on CPUs with AVX512-BF16/AMX OpenVINO would otherwise infer in bfloat16
        self.compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                                  "INFERENCE_PRECISION_HINT": "f32"})
        self.request = self.compiled.create_infer_request()
        self.batch_size = batch_size
        self.provider = "CPU"

    def __call__(self, *xs: np.ndarray) -> list[np.ndarray]:
        parts, b = [], self.batch_size
        for i in range(0, len(xs[0]), b):
            res = self.request.infer({k: np.ascontiguousarray(x[i:i + b]) for k, x in enumerate(xs)})
            parts.append([np.array(res[o], copy=True) for o in self.compiled.outputs])
        return [np.concatenate(p) for p in zip(*parts)]


def available_runtimes() -> list[str]:
    """The runtimes importable here (Keras always)."""
    import importlib.util

    found = [r for r in AUTO_ORDER if importlib.util.find_spec(r) is not None]
    return found + ["keras"]


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


_REMOTE: dict = {}  # (export, runtime) → runner, per Dask worker process


def remote_body(x: np.ndarray, *, path: str, runtime: str, per_call: int) -> list[np.ndarray]:
    """A Dask task: the exported body on ``x``, one runner per worker process and export (one thread each)."""
    key = (path, runtime)
    if key not in _REMOTE:
        cls = OpenVinoRunner if runtime == "openvino" else OnnxRuntimeRunner
        _REMOTE[key] = cls(Path(path), 1, per_call)
    return _REMOTE[key](np.asarray(x, dtype=np.float32))


# ------------------------------------------------------------------ exports: probe, verdicts, quiet export


def stamp_path(export: Path) -> Path:
    return export.with_suffix(".verified.json")


def verdicts(export: Path, sha: str) -> dict:
    """The verdicts kept for the export's bytes ``sha`` (``{}``: none, or they were about other bytes)."""
    try:
        done = json.loads(stamp_path(export).read_text())
    except (OSError, ValueError):
        return {}
    return done if isinstance(done, dict) and done.get("sha256") == sha else {}


def record_verdict(export: Path, sha: str, verdict: str, ok: bool) -> None:
    """Keep ``verdict: ok`` beside the export, bound to its SHA-256 (a write that fails is not an error)."""
    from mir.io import write_json

    with contextlib.suppress(OSError):
        write_json(stamp_path(export), {**verdicts(export, sha), "sha256": sha, verdict: ok})


def probe(net, *, n: int) -> list[np.ndarray]:
    """A deterministic input batch for ``net`` (dB-like values; an unknown length becomes 200 frames)."""
    rng = np.random.default_rng(0)
    xs = []
    for t in net.inputs:
        shape = [200 if d is None else int(d) for d in t.shape[1:]]
        loc, scale = (-30.0, 15.0) if len(xs) == 0 else (0.0, 1.0)
        xs.append(rng.normal(loc, scale, size=(n, *shape)).astype(np.float32))
    return xs


@contextlib.contextmanager
def quiet_export():
    """Silence tf2onnx's INFO/WARNING lines while exporting."""
    import logging

    names = ("tf2onnx", "tensorflow", "absl")
    old = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for n, lvl in old.items():
            logging.getLogger(n).setLevel(lvl)
