"""One inference engine for every stage: each clip through the model's body once, on the fastest runtime.

Every model mir trains ends in a head of Dense layers (``drop_embed → embedding → drop_out → genre``,
:data:`mir.model.architectures.HEAD_LAYERS`; ``fma_cnn``'s starts at ``embedding``); everything before it
is the **body**. The
body is where the cost is (musicnn's: 2.8 GFLOP per 3-s chunk); the head is two Dense
layers. So the engine

1. builds a **body network** (Keras, from the model's own layers): input → the body's
   output (the head's input) and, for every feature map :func:`feature_map_layers`
   names, its channel means and variances (pooled in the network, so no feature map reaches
   host memory: monitoring's per-layer statistics);
2. runs it on the **runtime** chosen by ``inference.runtime`` (:mod:`mir.model.runtimes`):
   OpenVINO or ONNX Runtime on an ONNX export of the body network (made with Keras'
   ``model.export(format="onnx")``, cached by the body's weights hash under
   ``<inference.cache_dir>/exports/``, checked against Keras on a probe batch before it
   is used), or Keras itself — on a GPU, and as the fallback when a model can't be
   exported (one log line says why);
3. caches the body's outputs **per clip** (:class:`mir.model.body_cache.BodyCache`): keyed by the SHA-256 of the
   clip's log-mel features (a function of the audio and every feature parameter), the
   chunking and the body's weights hash. train (validation chunks), evaluate, monitor
   (reference, calibration, new music), the retrain comparison and repeated ``mir monitor``
   runs share the entries; a clip is embedded once, a killed run resumes from the clips
   already written (each entry is written atomically), an entry from other weights is never
   read (their hash is a different folder), and the cache is bounded
   (``inference.cache_max_mb``: least recently used entries go first) and cleared by
   ``mir cache clear``;
4. runs the head (Keras, the model's own layers) on the cached body outputs.

The result of :meth:`Engine.clip_outputs` is what the stages consume: per-clip mean
log-probabilities, per-chunk probabilities, the embedding and the layer statistics.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mir.model.body_cache import BodyCache, clip_digest
from mir.model.runtimes import (AUTO_ORDER, KerasRunner, OnnxRuntimeRunner, OpenVinoRunner, default_threads,
                                probe, quiet_export, record_verdict, remote_body, stamp_path, verdicts)

if TYPE_CHECKING:  # pragma: no cover
    from mir.config import Config

#: ``inference.runtime`` values; ``auto`` takes the first that works of :data:`AUTO_ORDER` (Keras on a GPU).
RUNTIMES = ("auto", "openvino", "onnxruntime", "keras")
#: Bumped when what a cache entry or an export holds changes (old entries are then never read).
SCHEMA = 3
#: The first head layer: the body is everything before it (models without it: the ``embedding`` layer).
HEAD_START = "drop_embed"
#: An exported body is used only if, on the probe batch, its probabilities are within this of Keras'…
PROB_ATOL = 1e-4
#: … and every body output within this × (1 + abs(Keras' value)) (Keras' own float32 error is ≈ 1e-4 of that).
BODY_RTOL = 1e-3


def _keras():
    from mir.model import keras_backend

    keras_backend()
    import keras

    return keras


def _log(msg: str) -> None:
    print(f"inference: {msg}")


# ------------------------------------------------------------------------------------------- networks


def feature_map_layers(model) -> list[str]:
    """Names of the model's non-linear feature maps: every activation with a time (and frequency) axis.

    These are the outputs of the convolutional (or recurrent) blocks, in order: ``Activation``/``ReLU``
    layers and convolutions with a built-in non-linearity whose output has rank 3 ``(batch, time,
    channels)`` or 4 ``(batch, mels, time, channels)``. Their channel statistics are the per-layer
    features of monitoring's unknown-genre distance (:mod:`mir.monitoring.ood`).
    """
    keras = _keras()
    names = []
    for layer in model.layers:
        try:
            rank = len(layer.output.shape)
        except (AttributeError, ValueError):
            continue
        if rank not in (3, 4):
            continue
        act = getattr(layer, "activation", None)
        is_act = isinstance(layer, (keras.layers.Activation, keras.layers.ReLU))
        conv_act = (isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D)) and act is not None
                    and getattr(act, "__name__", "linear") != "linear")
        if is_act or conv_act:
            names.append(layer.name)
    return names


def body_network(model, stats_layers: Sequence[str] = ()):
    """The model's body as a Keras model: input → ``[body output, (mean, variance) per stats layer]``.

    Each stats layer's channel mean and variance over its positions; the variance is the mean of squared
    *deviations* (``E[(x − E[x])²]``, not ``E[x²] − E[x]²``, which cancels catastrophically in float32 for a
    channel that barely varies). Built from ``model``'s own layers (no copy of the weights); the added
    layers are named after their source, so the network — and :func:`body_hash` — is the same in every process.
    """
    keras = _keras()
    from keras import layers

    outs = [model.get_layer(head_start(model)).input]
    for name in stats_layers:
        t = model.get_layer(name).output
        pool = layers.GlobalAveragePooling2D if len(t.shape) == 4 else layers.GlobalAveragePooling1D
        mean = pool(keepdims=True, dtype="float32", name=f"mir_mean_{name}")(t)
        dev = layers.Subtract(dtype="float32", name=f"mir_dev_{name}")([t, mean])
        var = pool(dtype="float32", name=f"mir_var_{name}")(layers.Multiply(dtype="float32", name=f"mir_sq_{name}")(
            [dev, dev]))
        outs += [layers.Flatten(dtype="float32", name=f"mir_meanflat_{name}")(mean), var]
    return keras.Model(model.inputs, outs, name="mir_body")


def head_start(model) -> str:
    """The first layer of the head: ``drop_embed`` (mir's standard head), else ``embedding``."""
    names = [layer.name for layer in model.layers]
    for name in (HEAD_START, "embedding"):
        if name in names:
            return name
    raise ValueError("the model has no 'embedding' layer: mir's inference engine needs one")


def head_network(model):
    """The head on the body's output: ``features → [probabilities, embedding]`` (the model's own layers).

    The head is the chain of layers from :func:`head_start` to the output (Dense and Dropout layers).
    """
    keras = _keras()
    from keras import layers

    names = [layer.name for layer in model.layers]
    first = head_start(model)
    x = inp = layers.Input(shape=tuple(model.get_layer(first).input.shape[1:]), name="body_features")
    emb = None
    for layer in model.layers[names.index(first):]:
        x = layer(x)
        if layer.name == "embedding":
            emb = x
    return keras.Model(inp, [x, emb], name="mir_head")


def body_hash(body) -> str:
    """Identity of a body network: its layers (class, name, configuration, connections) and weights."""
    keras = _keras()
    h = hashlib.sha256(f"mir-body-v{SCHEMA}".encode())
    for layer in body.layers:
        cfg = layer.get_config()
        for k in ("dtype", "build_config", "trainable"):
            cfg.pop(k, None)
        h.update(type(layer).__name__.encode())
        h.update(json.dumps(cfg, sort_keys=True, default=str).encode())
    h.update(json.dumps([[str(t.shape) for t in body.inputs], [str(t.shape) for t in body.outputs]]).encode())
    for w in body.weights:
        h.update(w.path.encode())
        h.update(np.ascontiguousarray(keras.ops.convert_to_numpy(w), dtype=np.float32).tobytes())
    return h.hexdigest()[:20]


# ------------------------------------------------------------------------------------------- the engine


_ENGINES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


class Engine:
    """The model's body on the chosen runtime, its per-clip cache, and its head.

    Parameters
    ----------
    model : keras.Model
        A mir model (input ``(n_mels, chunk, 1)``, the standard head).
    runtime : str
        One of :data:`RUNTIMES`.
    threads : int
        Threads for the runtime (0: the cores this process may use).
    batch_size : int
        Chunks per runtime call.
    cache_dir : path, optional
        The inference cache (exports and per-clip body outputs); ``None``: no cache, exports in
        ``$MIR_CACHE`` (or ``~/.cache/mir``).
    cache_max_mb : float
        Bound of the per-clip cache.
    stats_layers : sequence of str, optional
        Layers whose channel statistics the body also returns (default: :func:`feature_map_layers`).
    """

    #: frames of a segment's shared front end computed at a time (musicnn timelines)
    BLOCK = 1024

    def __init__(self, model, *, runtime: str = "auto", threads: int = 0, batch_size: int = 32,
                 cache_dir: str | os.PathLike[str] | None = None, cache_max_mb: float = 4096,
                 stats_layers: Sequence[str] | None = None, dask: bool = False, dask_address: str | None = None,
                 dask_workers: int = 0):
        if runtime not in RUNTIMES:
            raise ValueError(f"inference.runtime: {runtime!r} is not one of {', '.join(RUNTIMES)}")
        self.model = model
        self.chunk = int(model.inputs[0].shape[2])
        self.stats_layers = list(feature_map_layers(model) if stats_layers is None else stats_layers)
        self.body = body_network(model, self.stats_layers)
        self.head_net = head_network(model)
        self.stats_dims = [int(model.get_layer(n).output.shape[-1]) for n in self.stats_layers]
        self.key = body_hash(self.body)
        self.threads = threads or default_threads()
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir) if cache_dir else None
        #: chunks that went through the body in this engine's life (tests count them)
        self.body_chunks = 0
        self.body_seconds = 0.0
        self.requested = runtime
        self.dask, self.dask_address, self.dask_workers = dask, dask_address, dask_workers
        self._client = self._cluster = None
        self._runners: dict[str, Any] = {}
        self._exports_swept = False
        self._nets = {"stats": self.body, "plain": body_network(model)}
        #: SHA-256 of each export in use (its verdict and the body cache are bound to it)
        self.export_sha: dict[str, str] = {}
        self.runtime = self.runner("stats").name
        # outputs computed through an export are cached under that export's hash, Keras' under "keras"
        ident = f"x{self.export_sha['stats'][:16]}" if self.runtime != "keras" else "keras"
        self.cache = (BodyCache(self.cache_dir, f"{self.key}-c{self.chunk}-{ident}", max_mb=cache_max_mb, log=_log)
                      if self.cache_dir else None)

    @classmethod
    def for_model(cls, model, cfg: "Config | None" = None, **kwargs) -> "Engine":
        """The engine of ``model`` with ``cfg.inference``'s settings, built once per model and process."""
        if cfg is not None:
            ip = cfg.inference
            fp = cfg.features
            kwargs = {"runtime": ip.runtime, "threads": ip.threads or fp.workers,
                      "batch_size": ip.batch_size, "cache_dir": ip.cache_dir, "cache_max_mb": ip.cache_max_mb,
                      **({"dask": True, "dask_address": fp.dask_address, "dask_workers": fp.workers}
                         if fp.engine == "dask" else {}), **kwargs}
        key = json.dumps(kwargs, sort_keys=True, default=str)
        per_model = _ENGINES.setdefault(model, {})
        if key not in per_model:
            per_model[key] = cls(model, **kwargs)
        return per_model[key]

    # ------------------------------------------------------------------ runtime choice

    def _export_dir(self) -> Path:
        if self.cache_dir:
            return self.cache_dir / "exports"
        return Path(os.environ.get("MIR_CACHE") or Path.home() / ".cache" / "mir") / "exports"

    def _export_path(self, tag: str) -> Path:
        folder = self._export_dir()
        if not self._exports_swept:  # once per engine: what killed exports and verdict writes left
            from mir.io import sweep_stale_files

            sweep_stale_files(folder)
            self._exports_swept = True
        return folder / f"{self.key}-c{self.chunk}-{tag}.onnx"

    def export_onnx(self, tag: str = "stats") -> Path:
        """Network ``tag`` as ONNX (``<exports>/<body hash>-c<chunk>-<tag>.onnx``), exported once per body."""
        from mir.io import atomic_path

        path = self._export_path(tag)
        if path.is_file():
            return path
        keras = _keras()
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(f"ONNX export needs the TensorFlow backend (this is {keras.backend.backend()})")
        net = self._nets[tag]
        xs = probe(net, n=1)
        net.predict(xs if len(xs) > 1 else xs[0], verbose=0)  # Keras exports only a network that has been called
        t0 = time.perf_counter()
        with atomic_path(path) as tmp, quiet_export():
            net.export(str(tmp), format="onnx", verbose=False)
        _log(f"exported the model's {tag} network to {path} ({time.perf_counter() - t0:.1f} s, once per body)")
        return path

    def runner(self, tag: str):
        """The runner of network ``tag`` (built on first use): the requested runtime, else Keras."""
        if tag not in self._runners:
            self._runners[tag] = self._make_runner(tag)
        return self._runners[tag]

    def _make_runner(self, tag: str):
        from mir.model.device import accelerator

        keras = _keras()
        net, runtime = self._nets[tag], self.requested
        keras_runner = KerasRunner(net, max(self.batch_size, 64))
        if runtime == "keras" or (runtime == "auto" and accelerator(keras.backend.backend())[0] == "gpu"):
            return keras_runner  # on a GPU: Keras on the backend's GPU
        if tag != "stats" and "stats" in self._runners and self._runners["stats"].name == "keras":
            return keras_runner  # the body could not be exported: no second attempt, no second log line
        reasons = []
        for name in ([runtime] if runtime != "auto" else list(AUTO_ORDER)):
            try:
                return self._export_runner(tag, name, keras_runner)
            except Exception as err:  # noqa: BLE001 - any failure: the next runtime, at worst Keras
                reasons.append(f"{name} failed: {_first_line(err)}")
        _log(f"using Keras ({'; '.join(reasons)})")
        return keras_runner

    def _export_runner(self, tag: str, name: str, keras_runner):
        """Runtime ``name`` on the export of network ``tag``, verified against Keras (content-addressed trust).

        The verdict is kept beside the export with the export's SHA-256 and holds only for those bytes: a
        changed export is verified again. An export this engine did not just make that fails (it does not
        load, or its outputs differ from Keras') is exported again once; a fresh export that fails on this
        runtime is recorded as such (that runtime can't run this body: no export on every run).
        """
        import importlib.metadata as md

        from mir.io import sha256_file

        path, fresh = self._export_path(tag), False
        if not path.is_file():
            self.export_onnx(tag)
            fresh = True
        verdict = f"{name}=={md.version(name)}"
        while True:
            sha = sha256_file(path)
            known = verdicts(path, sha).get(verdict)
            try:
                if known is False:
                    raise RuntimeError(f"this export was checked before and does not match Keras on {name}")
                runner = (OpenVinoRunner if name == "openvino" else OnnxRuntimeRunner)(path, self.threads,
                                                                                      self.batch_size)
                if known is not True:
                    self._verify(runner, keras_runner, head=tag in ("stats", "plain"))
                    record_verdict(path, sha, verdict, True)
                self.export_sha[tag] = sha
                return runner
            except Exception as err:
                if fresh or known is False:
                    if fresh and known is None:
                        record_verdict(path, sha, verdict, False)
                    raise
                _log(f"the export {path.name} failed on {name} ({_first_line(err)}): exporting it again")
                for p in (path, stamp_path(path)):
                    p.unlink(missing_ok=True)
                self.export_onnx(tag)
                fresh = True

    def _verify(self, runner, keras_runner, *, head: bool) -> None:
        """Raise unless ``runner`` matches Keras on a probe batch."""
        xs = probe(keras_runner.net, n=4)
        ref = keras_runner(*xs)
        got = runner(*xs)
        if len(got) != len(ref) or any(a.shape != b.shape for a, b in zip(got, ref)):
            raise RuntimeError("the export's outputs do not line up with the model's")
        worst = max(float(np.max(np.abs(a - b) / (1.0 + np.abs(b)))) for a, b in zip(got, ref))
        dp = float(np.max(np.abs(self._head(ref[0])[0] - self._head(got[0])[0]))) if head else 0.0
        if not np.isfinite(worst) or worst > BODY_RTOL or not np.isfinite(dp) or dp > PROB_ATOL:
            raise RuntimeError(f"outputs differ from Keras (body {worst:.1e} relative, probabilities {dp:.1e})")

    # ------------------------------------------------------------------ passes

    def run_body(self, x: np.ndarray, *, stats: bool = True) -> list[np.ndarray]:
        """The body on chunks ``x`` ``(n, n_mels, chunk[, 1])`` (dB): ``[features, mean_1, var_1, …]``
        (``stats=False``: ``[features]``, a cheaper network)."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 3:
            x = x[..., None]
        tag = "stats" if stats else "plain"
        if len(x) == 0:
            return [np.zeros((0, *t.shape[1:]), np.float32) for t in self._nets[tag].outputs]
        t0 = time.perf_counter()
        out = self.runner(tag)(x)
        self.body_seconds += time.perf_counter() - t0
        self.body_chunks += len(x)
        return out

    def body_features(self, x: np.ndarray) -> np.ndarray:
        """The body's output (the head's input) for chunks ``x``; not cached (e.g. augmented training crops)."""
        return self.run_body(x, stats=False)[0]

    def _head(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(feats) == 0:
            k, d = self.head_net.outputs[0].shape[-1], self.head_net.outputs[1].shape[-1]
            return np.zeros((0, k)), np.zeros((0, d))
        p, e = self.head_net.predict(np.asarray(feats, np.float32), batch_size=1024, verbose=0)
        return np.asarray(p, np.float64), np.asarray(e, np.float64)

    def predict_chunks(self, x: np.ndarray) -> np.ndarray:
        """Genre probabilities of chunks ``x`` (not cached)."""
        return self._head(self.body_features(x))[0]

    def clip_body(self, X, rows, *, use_cache: bool = True) -> list[dict[str, np.ndarray]]:
        """Per clip of ``rows``: ``features (chunks, d)``, ``m1``/``var`` ``(chunks, Σ channels)`` (cached)."""
        from mir.model.data import segments

        from mir.model.data import chunk_starts

        rows = np.asarray(rows, dtype=int)
        digests = [clip_digest(X, int(r)) for r in rows] if (use_cache and self.cache) else [None] * len(rows)
        chunks = len(chunk_starts(X.shape[2], self.chunk))
        c = sum(self.stats_dims)
        widths = (int(self.body.outputs[0].shape[-1]), c, c)
        got: list[dict | None] = [self.cache.get(d, chunks=chunks, widths=widths) if d else None for d in digests]
        if self.cache is not None:
            self.cache.report()
        miss = [i for i, g in enumerate(got) if g is None]
        if miss:
            x, owner = segments(X, rows[miss], self.chunk)
            out = self._run_on_dask(x) if self.dask else self.run_body(x)
            feats, stats = out[0], out[1:]
            m1 = (np.concatenate(stats[0::2], axis=1) if stats else np.zeros((len(x), 0), np.float32))
            var = (np.concatenate(stats[1::2], axis=1) if stats else np.zeros((len(x), 0), np.float32))
            for j, i in enumerate(miss):
                sel = owner == j
                entry = {"features": feats[sel], "m1": m1[sel], "var": var[sel]}
                got[i] = entry
                if digests[i]:
                    self.cache.put(digests[i], entry)
        return got  # type: ignore[return-value]

    def _run_on_dask(self, x: np.ndarray) -> list[np.ndarray]:
        """The body (with statistics) on the Dask cluster: batches of chunks to workers that load the export.

        The export must be on a filesystem the workers share (``inference.cache_dir``, as the feature cache).
        A body that runs on Keras (no export) runs here instead.
        """
        if self.runtime == "keras":
            return self.run_body(x)
        path = self.export_onnx("stats")
        if self._client is None:
            import atexit

            from dask.distributed import Client, LocalCluster

            if self.dask_address:
                self._client = Client(self.dask_address)
            else:
                self._cluster = LocalCluster(n_workers=self.dask_workers or self.threads, threads_per_worker=1,
                                             processes=True, dashboard_address=None)
                self._client = Client(self._cluster)
            atexit.register(self.close)
        t0 = time.perf_counter()
        step = 4 * self.batch_size
        futures = self._client.map(remote_body, [x[i:i + step] for i in range(0, len(x), step)],
                                   path=str(path.resolve()), runtime=self.runtime, per_call=self.batch_size,
                                   pure=False)
        parts = self._client.gather(futures)
        self.body_seconds += time.perf_counter() - t0
        self.body_chunks += len(x)
        return [np.concatenate(p) for p in zip(*parts)]

    def clip_outputs(self, X, rows, *, batch_clips: int = 64, use_cache: bool = True,
                     progress: bool = False, desc: str = "embed", per_clip=None) -> dict[str, Any]:
        """Every non-overlapping chunk of clips ``rows`` of ``X`` through the model, ``batch_clips`` at a time.

        Parameters
        ----------
        X : array (clips, n_mels, frames)
            Log-mel spectrograms in dB (a memory map is fine: a batch of clips is read at a time).
        rows : sequence of int
            Which clips.
        use_cache : bool
            Read and write the per-clip body cache (when the engine has one).
        per_clip : dict of str to callable, optional
            ``{name: f}``: ``f(entry)`` of each clip's body entry (``features``, ``m1``, ``var``), stacked into
            ``out[name]`` (what else a caller reads from the same body pass, e.g. tags).

        Returns
        -------
        dict
            ``logp`` (per-clip mean log-probabilities, ``(n, k)``), ``seg_p`` (per-chunk probabilities),
            ``owner`` (the clip index of each chunk), ``embedding`` (per-clip mean of the ``embedding``
            layer) and ``layer_stats`` (``{layer: (n, 2c)}``: each channel's mean and standard deviation
            over the chunk's positions, averaged over the clip's chunks; empty without stats layers).
        """
        from tqdm.auto import tqdm

        rows = np.asarray(rows, dtype=int)
        k = int(self.head_net.outputs[0].shape[-1])
        d = int(self.head_net.outputs[1].shape[-1])
        logps, seg_ps, owners, embs, stats = [], [], [], [], []
        extra: dict[str, list] = {name: [] for name in per_clip or {}}
        bar = tqdm(total=len(rows), desc=desc, unit="clip", disable=not progress)
        for start in range(0, len(rows), batch_clips):
            part = rows[start:start + batch_clips]
            entries = self.clip_body(X, part, use_cache=use_cache)
            for name, f in (per_clip or {}).items():
                extra[name] += [f(en) for en in entries]
            counts = np.array([len(e["features"]) for e in entries])
            owner = np.repeat(np.arange(len(part)), counts)
            p, e = self._head(np.concatenate([en["features"] for en in entries]))

            def clip_mean(v):
                sums = np.zeros((len(part), v.shape[1]))
                np.add.at(sums, owner, v)
                return sums / counts[:, None]

            logps.append(clip_mean(np.log(np.clip(p, 1e-9, 1.0))))
            seg_ps.append(p)
            owners.append(owner + start)
            embs.append(clip_mean(e))
            m1 = np.concatenate([en["m1"] for en in entries]).astype(np.float64)
            sd = np.sqrt(np.maximum(np.concatenate([en["var"] for en in entries]).astype(np.float64), 0.0))
            per_layer, off = [], 0
            for c in self.stats_dims:
                per_layer.append(clip_mean(np.concatenate([m1[:, off:off + c], sd[:, off:off + c]], axis=1)))
                off += c
            stats.append(per_layer)
            bar.update(len(part))
        bar.close()
        if self.cache is not None and self.cache.written:
            self.cache.evict()
            self.cache.written = 0
        cat = (lambda parts, w: np.concatenate(parts) if parts else np.zeros((0, w)))
        return {
            "logp": cat(logps, k), "seg_p": cat(seg_ps, k),
            "owner": np.concatenate(owners) if owners else np.zeros(0, dtype=int),
            "embedding": cat(embs, d),
            "layer_stats": {name: cat([s[i] for s in stats], 2 * c)
                            for i, (name, c) in enumerate(zip(self.stats_layers, self.stats_dims))},
            **{name: np.stack(v) if v else np.zeros((0, 0)) for name, v in extra.items()},
        }

    def window_probs(self, S: np.ndarray, starts, *, shared: bool | None = None) -> np.ndarray:
        """Genre probabilities of the windows of log-mel ``S`` ``(n_mels, frames)`` starting at frames ``starts``.

        For musicnn, what overlapping windows share is computed once per block of the segment
        (:func:`mir.model.architectures.musicnn_timeline_networks`; the same numbers as window by window,
        tested); other models run window by window. ``shared=False`` forces the window-by-window path.
        """
        starts = np.asarray(starts, dtype=int)
        T = self.chunk
        if len(starts) == 0:
            return np.zeros((0, int(self.head_net.outputs[0].shape[-1])))
        if shared is None:
            shared = "musicnn_timbral_74" in {layer.name for layer in self.model.layers} and len(starts) > 1
        if not shared:
            return self.predict_chunks(np.stack([S[:, s:s + T] for s in starts]))
        from mir.model.architectures import MUSICNN_TIMBRAL_PAD as P
        from mir.model.architectures import musicnn_timeline_networks

        if "front" not in self._nets:
            self._nets.update(musicnn_timeline_networks(self.model))
        S = np.asarray(S, dtype=np.float32)
        lo, hi = int(starts.min()), int(starts.max()) + T
        # the shared part, in blocks of at most BLOCK frames (memory: one block's feature maps)
        bn, t74, t77 = [], [], []
        for b0 in range(lo, hi - 2 * P, self.BLOCK):
            b1 = min(b0 + self.BLOCK + 2 * P, hi)
            out = self.runner("front")(S[None, :, b0:b1, None])
            bn.append(out[0][0, : (b1 - b0 - 2 * P) if b1 < hi else None])
            t74.append(out[1][0])
            t77.append(out[2][0])
        bn, t74, t77 = np.concatenate(bn), np.concatenate(t74), np.concatenate(t77)
        # each window's zero-padded ends: 3 positions a side, from 6 frames + 3 zeros
        zeros = np.zeros((P, *bn.shape[1:]), np.float32)
        ends = np.stack([np.concatenate([zeros, bn[s - lo:s - lo + 2 * P]]) for s in starts]
                        + [np.concatenate([bn[s - lo + T - 2 * P:s - lo + T], zeros]) for s in starts])
        e74, e77 = self.runner("timbral")(ends)
        n = len(starts)
        w74 = np.stack([np.concatenate([e74[i], t74[s - lo:s - lo + T - 2 * P], e74[n + i]]) for i, s in enumerate(starts)])
        w77 = np.stack([np.concatenate([e77[i], t77[s - lo:s - lo + T - 2 * P], e77[n + i]]) for i, s in enumerate(starts)])
        wbn = np.stack([bn[s - lo:s - lo + T] for s in starts])
        t0 = time.perf_counter()
        feats = self.runner("rest")(wbn, w74, w77)[0]
        self.body_seconds += time.perf_counter() - t0
        return self._head(feats)[0]

    def close(self) -> None:
        """Close the Dask client (and the local cluster this engine started), if any."""
        for c in (self._client, self._cluster):
            if c is not None:
                with contextlib.suppress(Exception):
                    c.close()
        self._client = self._cluster = None

    def describe(self) -> str:
        prov = getattr(self.runner("stats"), "provider", "")
        return f"{self.runtime}{f' ({prov})' if prov else ''}, {self.threads} thread(s), body {self.key}"


def _first_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip() and not ln.strip().startswith("Exception from")]
    return (lines[0][:200] if lines else type(err).__name__)


def softmax_rows(logp: np.ndarray) -> np.ndarray:
    """Normalise mean log-probabilities into a distribution per row."""
    z = np.exp(logp - logp.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)
