"""Stage ``featurize``: every manifest clip → a fixed-size log-mel spectrogram (and MFCCs).

Three steps, each a function the DVC stage and the Prefect flow share:

1. :func:`plan` — look every clip up in a content-addressed cache
   (``<cache_dir>/<feature-params hash>/<sha256[:2]>/<sha256>.npz``, keyed by the
   audio's checksum and every parameter that changes features). Only misses
   need work, so adding N clips to M featurised ones costs O(N), and a changed
   feature parameter recomputes everything.
2. :func:`compute` — decode and transform the misses in parallel (a process pool,
   or Dask: ``features.engine``). Each worker writes its cache entry atomically
   (temp file + rename), so a killed run loses at most the clips in flight and
   never leaves a half-written entry. The worker hashes the bytes it decodes: a
   file whose bytes no longer match the manifest's checksum is rejected for this
   run only ("changed since ingest"), never cached. A clip whose very bytes can't
   be featurised gets an ``.err`` entry holding the reason (keyed by the hash of
   what was read); a transient error (``OSError``: permissions, a vanished file,
   a network filesystem) is reported for this run and never cached.
3. :func:`finish` — one reject budget over ingest + featurize
   (``data.max_reject_fraction``), checked **before** anything is written; then
   :func:`pack` streams the entries, in manifest order, into one memory-mapped
   ``logmel.npy`` (float16, ``(clips, n_mels, frames)``), with ``index.csv``,
   ``stats.csv`` (per-clip summary statistics), ``rejected.csv`` and
   ``meta.json`` (nothing run-dependent: the store's bytes depend only on the
   manifest, the audio and the parameters). The folder is replaced atomically,
   only if it is mir's own (:func:`mir.io.atomic_dir`). The run's counts
   (computed / from cache / rejected) go to ``<cache_dir>/last_run.json``.
   Memory stays flat in the number of clips.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mir.config import Config, FeatureParams


def clip_frames(fp: "FeatureParams") -> int:
    """Frames per clip for the configured clip length."""
    from mir.features.logmel import n_frames

    return n_frames(int(round(fp.clip_seconds * fp.sample_rate)), hop_length=fp.hop_length)


def featurize_file(path: str | os.PathLike[str], *, fp: "FeatureParams",
                   silence_db: float = -60.0) -> tuple[np.ndarray, dict[str, float]]:
    """Decode one file and return ``(logmel_db, stats)`` for the first ``clip_seconds``.

    Shorter clips are zero-padded. Raises :class:`mir.audio.AudioError` when the
    file can't be decoded, holds non-finite samples, or is silent.
    """
    from mir.audio import AudioError, fix_length, load
    from mir.features.logmel import logmel, n_frames, summary_stats

    y = load(path, sr=fp.sample_rate, max_seconds=fp.clip_seconds)
    S = logmel(fix_length(y, int(round(fp.clip_seconds * fp.sample_rate))), sr=fp.sample_rate, n_fft=fp.n_fft,
               hop_length=fp.hop_length, n_mels=fp.n_mels, fmin=fp.fmin, fmax=fp.fmax)
    # statistics over the real audio only, not the zero padding
    valid = S[:, : min(S.shape[1], n_frames(y.shape[0], hop_length=fp.hop_length))]
    stats = summary_stats(y, valid, sr=fp.sample_rate, hop_length=fp.hop_length)
    if stats["rms_db"] < silence_db:
        raise AudioError(f"silent (RMS {stats['rms_db']:.1f} dBFS < {silence_db:g})")
    return S, stats


def mfcc(S_db: np.ndarray, *, n_mfcc: int) -> np.ndarray:
    """MFCCs from a log-mel spectrogram in dB (DCT-II, orthonormal, as librosa)."""
    import scipy.fft

    return scipy.fft.dct(S_db.astype(np.float32), axis=0, type=2, norm="ortho")[:n_mfcc]


# ---------------------------------------------------------------- the cache


@dataclass(frozen=True)
class Job:
    """One clip to featurise: its audio, where its cache entry goes, and the checksum ingest recorded."""

    path: str
    entry: str  # cache entry path without extension (".npz" on success, ".err" on failure)
    checksum: str = ""  # the manifest's SHA-256 ("" = take the file as it is)


#: The files of a feature store (a folder of exactly these, written before the marker existed, is mir's).
STORE_FILES = frozenset({"logmel.npy", "mfcc.npy", "index.csv", "stats.csv", "rejected.csv", "meta.json"})


def cache_entry(cache_root: Path, checksum: str) -> Path:
    return cache_root / checksum[:2] / checksum


def _err_reason(err_path: Path) -> str | None:
    """The reason in a failure entry, or ``None`` when it is not a valid one (an older mir's plain-text
    entries could hold a transient error or another file's failure: they are recomputed)."""
    import json

    try:
        rec = json.loads(err_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("checksum") != err_path.stem or not rec.get("reason"):
        return None
    return str(rec["reason"])


def _read_entry(entry: Path) -> tuple[dict[str, np.ndarray] | None, str | None]:
    """``(arrays, None)`` for a good entry, ``(None, reason)`` for a failed clip, ``(None, None)`` if absent."""
    npz = entry.with_suffix(".npz")
    if npz.exists():
        with np.load(npz) as z:
            return {k: z[k] for k in z.files}, None
    return None, _err_reason(entry.with_suffix(".err"))


def _has_entry(entry: Path) -> bool:
    return entry.with_suffix(".npz").exists() or _err_reason(entry.with_suffix(".err")) is not None


def changed_reason() -> str:
    return "changed since ingest (its bytes no longer match the manifest's checksum): run mir ingest again"


def run_job(job: Job, fp: "FeatureParams", silence_db: float = -60.0) -> str | None:
    """Featurise one clip into its cache entry (atomically); return the rejection reason or ``None``.

    The file is read once; its SHA-256 and the decode both come from those bytes. Only a
    failure of exactly the manifest's bytes is cached (``.err``); a changed file or a
    transient error is returned, never cached.
    """
    import hashlib
    import io
    import json

    from mir.audio import AudioError, path_problem
    from mir.io import atomic_path, write_text

    entry = Path(job.entry)
    problem = path_problem(job.path)
    if problem:
        return problem  # nothing read: nothing to key a failure by
    try:
        with open(job.path, "rb") as f:
            data = f.read()
    except OSError as err:
        return f"unreadable file: {err.strerror or err}"
    digest = hashlib.sha256(data).hexdigest()
    if job.checksum and digest != job.checksum:
        return changed_reason()
    try:
        S, stats = featurize_file(io.BytesIO(data), fp=fp, silence_db=silence_db)
    except AudioError as err:  # these bytes can't be featurised, whoever reads them: cached
        if entry.name == digest:
            write_text(entry.with_suffix(".err"), json.dumps({"checksum": digest, "reason": str(err)}))
        return str(err)
    except (OSError, MemoryError) as err:  # transient: reported, not cached
        return f"{type(err).__name__}: {err}"
    arrays = {"logmel": S.astype(np.float16), "stats_names": np.array(list(stats)),
              "stats_values": np.array(list(stats.values()), dtype=np.float64)}
    if fp.n_mfcc:
        arrays["mfcc"] = mfcc(S, n_mfcc=fp.n_mfcc).astype(np.float16)
    with atomic_path(entry.with_suffix(".npz")) as tmp:
        np.savez(tmp, **arrays)
    return None


def run_batch(jobs: list[Job], fp: "FeatureParams", silence_db: float = -60.0) -> list[str | None]:
    """:func:`run_job` over a batch (the unit of work shipped to a process or a Dask worker)."""
    return [run_job(j, fp, silence_db) for j in jobs]


def plan(cfg: "Config") -> tuple[Any, list[Job]]:
    """``(manifest, jobs)``: the manifest and the clips whose cache entry is missing.

    Refuses (:class:`mir.io.OutputCollision`) before any work when ``paths.features`` is a
    folder mir did not write; removes the temporary copies killed runs left beside it.
    """
    from mir.io import check_output_dir, read_table, sweep_stale

    check_output_dir(cfg.paths.features, what="paths.features", legacy=STORE_FILES)
    sweep_stale(cfg.paths.features)  # what a killed pack left behind
    manifest = read_table(cfg.paths.manifest)
    root = Path(cfg.features.cache_dir) / cfg.features.cache_key()
    jobs = []
    for path, checksum in zip(manifest["path"], manifest["checksum"]):
        entry = cache_entry(root, checksum)
        if not _has_entry(entry):
            jobs.append(Job(path=str(path), entry=str(entry), checksum=str(checksum)))
    # identical audio twice (e.g. a duplicate) is computed once
    jobs = list({j.entry: j for j in jobs}.values())
    return manifest, jobs


def batches(jobs: list[Job], size: int) -> list[list[Job]]:
    return [jobs[i : i + size] for i in range(0, len(jobs), size)]


def compute(jobs: list[Job], *, fp: "FeatureParams", silence_db: float = -60.0, progress: bool = True,
            failures: dict[str, str] | None = None) -> int:
    """Featurise ``jobs`` with the configured engine; return how many were computed.

    ``failures``, when given, receives ``{entry: reason}`` for every clip that failed in this
    run (cached or not: a transient error has no cache entry to read the reason from).
    """
    from tqdm.auto import tqdm

    if failures is None:
        failures = {}
    if not jobs:
        return 0

    def record(batch: list[Job], reasons: list[str | None]) -> None:
        for j, r in zip(batch, reasons):
            if r is not None:
                failures[j.entry] = r
        bar.update(len(batch))

    workers = fp.workers or os.cpu_count() or 1
    bar = tqdm(total=len(jobs), desc="featurize", unit="clip", disable=not progress)
    size = max(1, min(8, len(jobs) // (4 * workers)))
    work = batches(jobs, size)
    if fp.engine == "dask":
        _compute_dask(work, fp=fp, silence_db=silence_db, workers=workers, record=record)
    elif workers == 1 or len(jobs) < 4:
        for b in work:
            record(b, run_batch(b, fp, silence_db))
    else:
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        ctx = _mp_context()
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
            pending, it = {}, iter(work)
            for b in it:  # a bounded window of batches in flight
                pending[ex.submit(run_batch, b, fp, silence_db)] = b
                if len(pending) >= 2 * workers:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        record(pending.pop(f), f.result())
            for f, b in pending.items():
                record(b, f.result())
    bar.close()
    return len(jobs)


def _mp_context():
    """forkserver (safe when the caller has threads: Prefect, TensorFlow) with the feature code preloaded,
    so each worker starts in ~0.2 s."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["mir.features.extract", "mir.audio", "soundfile", "soxr", "scipy.fft"])
    return ctx


def _compute_dask(work: list[list[Job]], *, fp, silence_db: float, workers: int, record) -> None:
    """Run batches on a Dask cluster (``features.dask_address``) or a local one."""
    from dask.distributed import Client, LocalCluster, as_completed

    if fp.dask_address:
        client, cluster = Client(fp.dask_address), None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        from itertools import islice

        it = iter(work)
        batch_of = {}
        for b in islice(it, 2 * workers):
            batch_of[client.submit(run_batch, b, fp, silence_db, pure=False)] = b
        ac = as_completed(list(batch_of))
        for f in ac:
            record(batch_of.pop(f), f.result())
            nxt = next(it, None)
            if nxt is not None:
                nf = client.submit(run_batch, nxt, fp, silence_db, pure=False)
                batch_of[nf] = nxt
                ac.add(nf)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def survey(cfg: "Config", manifest, *, failures: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The featurize rejections of ``manifest`` (one row per clip without features), reading no arrays.

    A clip is rejected with the reason of its cached failure, or of this run's failure
    (``failures``, from :func:`compute`: a transient error or a changed file has no cache entry).
    """
    fp = cfg.features
    root = Path(fp.cache_dir) / fp.cache_key()
    failures = failures or {}
    rejected = []
    for row in manifest.itertuples(index=False):
        entry = cache_entry(root, row.checksum)
        if entry.with_suffix(".npz").exists():
            continue
        reason = failures.get(str(entry)) or _err_reason(entry.with_suffix(".err"))
        rejected.append({"clip_id": row.clip_id, "path": row.path, "genre": row.genre, "stage": "featurize",
                         "reason": reason or "no cache entry (featurisation did not run)"})
    return rejected


def pack(cfg: "Config", manifest, *, n_computed: int = 0, failures: dict[str, str] | None = None,
         progress: bool = True) -> Path:
    """Stream the cache entries of ``manifest`` into the feature store under ``paths.features``.

    The store holds nothing run-dependent (``n_computed`` is accepted for old callers and
    ignored: the run's counts are :func:`finish`'s ``last_run.json``), so an identical rerun
    writes identical bytes and DVC sees no change.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from mir.io import atomic_dir, write_csv, write_json

    fp = cfg.features
    root = Path(fp.cache_dir) / fp.cache_key()
    n, T = len(manifest), clip_frames(fp)
    out = Path(cfg.paths.features)
    ok = np.zeros(n, dtype=bool)
    stats_rows: list[dict[str, Any]] = []
    rejected = {r["clip_id"]: r for r in survey(cfg, manifest, failures=failures)}
    with atomic_dir(out, what="paths.features", legacy=STORE_FILES) as tmp:
        store = np.lib.format.open_memmap(tmp / "logmel.npy", mode="w+", dtype=np.float16, shape=(n, fp.n_mels, T))
        mf = (np.lib.format.open_memmap(tmp / "mfcc.npy", mode="w+", dtype=np.float16, shape=(n, fp.n_mfcc, T))
              if fp.n_mfcc else None)
        for i, row in enumerate(tqdm(manifest.itertuples(index=False), total=n, desc="pack", unit="clip",
                                     disable=not progress)):
            if row.clip_id in rejected:
                continue
            arrays, err = _read_entry(cache_entry(root, row.checksum))
            if arrays is None:  # vanished since the survey
                rejected[row.clip_id] = {"clip_id": row.clip_id, "path": row.path, "genre": row.genre,
                                         "stage": "featurize", "reason": err or "cache entry vanished during the run"}
                continue
            store[i] = arrays["logmel"]
            if mf is not None:
                mf[i] = arrays["mfcc"]
            ok[i] = True
            stats = dict(zip(arrays["stats_names"].tolist(), arrays["stats_values"].tolist()))
            stats_rows.append({"clip_id": row.clip_id, "genre": row.genre, "split": row.split, **stats})
        store.flush()
        del store, mf
        index = manifest[["clip_id", "genre", "split"]].copy()
        index.insert(0, "row", np.arange(n))
        write_csv(tmp / "index.csv", index[ok])
        write_csv(tmp / "stats.csv", pd.DataFrame(stats_rows))
        write_csv(tmp / "rejected.csv", pd.DataFrame(list(rejected.values()),
                                                     columns=["clip_id", "path", "genre", "stage", "reason"]))
        write_json(tmp / "meta.json", {"params": fp.model_dump(exclude={"workers", "engine", "dask_address"}),
                                       "cache_key": fp.cache_key(), "shape": [n, fp.n_mels, T], "n_ok": int(ok.sum()),
                                       "n_rejected": len(rejected)})
    return out


def last_run_path(cfg: "Config") -> Path:
    """Where featurize records its last run's counts and rejections (beside the cache, not a DVC output)."""
    return Path(cfg.features.cache_dir) / "last_run.json"


def finish(cfg: "Config", manifest, *, n_computed: int, failures: dict[str, str] | None = None,
           progress: bool = True) -> Path:
    """Apply the pipeline's reject budget, then pack the store; print the summary and rejections.

    The budget (``data.max_reject_fraction``) covers ingest's and featurize's rejections
    together, and is checked **before** ``paths.features`` is touched: a failing run leaves
    the previous store (or none) in place. The run's counts and rejections go to
    :func:`last_run_path`, outside the DVC output.
    """
    from mir.datasets.ingest import check_reject_budget
    from mir.io import write_json

    rejected = survey(cfg, manifest, failures=failures)
    run = {"cache_key": cfg.features.cache_key(), "n_clips": len(manifest), "n_computed": n_computed,
           "n_cached": len(manifest) - n_computed, "n_rejected": len(rejected), "rejected": rejected}
    for r in rejected[:10]:
        print(f"  rejected {r['clip_id']}: {r['reason']}")
    if len(rejected) > 10:
        print(f"  … and {len(rejected) - 10} more in {last_run_path(cfg)}")
    try:
        check_reject_budget(cfg, n_featurize_rejected=len(rejected), n_manifest=len(manifest),
                            tables=f"{cfg.paths.rejected} and {last_run_path(cfg)}")
    except ValueError as err:
        write_json(last_run_path(cfg), {**run, "ok": False, "error": str(err)})
        raise ValueError(f"{err}; {cfg.paths.features} left unchanged") from None
    out = pack(cfg, manifest, failures=failures, progress=progress)
    store = FeatureStore(out)
    write_json(last_run_path(cfg), {**run, "ok": True, "n_ok": len(store.index)})
    print(f"featurize: {len(store.index)} clips × {cfg.features.n_mels} mels × {store.logmel.shape[2]} frames "
          f"({n_computed} computed, {len(manifest) - n_computed} from cache), {len(rejected)} rejected → {out}")
    return out


def featurize(cfg: "Config", *, progress: bool = True) -> Path:
    """Stage ``featurize``: plan → compute (cache misses only) → finish. Returns the store's path."""
    manifest, jobs = plan(cfg)
    failures: dict[str, str] = {}
    n_computed = compute(jobs, fp=cfg.features, silence_db=cfg.audio.silence_db, progress=progress,
                         failures=failures)
    return finish(cfg, manifest, n_computed=n_computed, failures=failures, progress=progress)


def iter_features(paths: list[str], *, fp: "FeatureParams", workers: int | None = None, silence_db: float = -60.0):
    """Yield ``(logmel_db | None, stats | None, error | None)`` per path, in order, without caching.

    For ad-hoc folders (new music): a bounded window of clips in flight on a
    process pool, so memory does not grow with the number of clips.
    """
    from collections import deque

    workers = workers or os.cpu_count() or 1
    jobs = ((p, fp, silence_db) for p in paths)
    if workers == 1 or len(paths) < 4:
        yield from (_one(*j) for j in jobs)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as ex:
        pending: deque = deque()
        for job in jobs:
            pending.append(ex.submit(_one, *job))
            if len(pending) >= 4 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _one(path: str, fp: "FeatureParams", silence_db: float):
    from mir.audio import AudioError

    try:
        S, stats = featurize_file(path, fp=fp, silence_db=silence_db)
        return S.astype(np.float16), stats, None
    except (AudioError, OSError) as err:
        return None, None, str(err)


class FeatureStore:
    """Read access to a feature folder written by :func:`featurize` (memory-mapped)."""

    def __init__(self, path: str | os.PathLike[str]):
        from mir.io import read_table

        self.path = Path(path)
        self.logmel = np.load(self.path / "logmel.npy", mmap_mode="r")
        self.index = read_table(self.path / "index.csv")

    def split(self, name: str):
        """Index rows of one split (``train``/``valid``/``test``)."""
        return self.index[self.index["split"] == name].reset_index(drop=True)

    def stats(self):
        from mir.io import read_table

        return read_table(self.path / "stats.csv")

    def rejected(self):
        from mir.io import read_table

        return read_table(self.path / "rejected.csv")
