"""Stage ``featurize``: every manifest clip → a fixed-size log-mel spectrogram.

Clips are decoded and transformed in parallel worker processes and streamed,
in manifest order, into one memory-mapped ``logmel.npy`` (float16,
``(clips, n_mels, frames)``), so memory stays flat in the number of clips.
Beside it: ``index.csv`` (row → clip, genre, split), ``stats.csv`` (per-clip
summary statistics for validation and drift) and ``rejected.csv`` (clips that
could not be featurised, with the reason). The folder is replaced atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mir.config import Config, FeatureParams

#: A clip whose RMS level is below this is rejected as silent.
SILENCE_DB = -60.0


def clip_frames(fp: "FeatureParams") -> int:
    """Frames per clip for the configured clip length."""
    from mir.features.logmel import n_frames

    return n_frames(int(round(fp.clip_seconds * fp.sample_rate)), hop_length=fp.hop_length)


def featurize_file(path: str | os.PathLike[str], *, fp: "FeatureParams") -> tuple[np.ndarray, dict[str, float]]:
    """Decode one file and return ``(logmel_db, stats)`` for the first ``clip_seconds``.

    Shorter clips are zero-padded. Raises :class:`mir.audio.AudioError` when the
    file can't be decoded or is silent.
    """
    from mir.audio import AudioError, fix_length, load
    from mir.features.logmel import logmel, n_frames, summary_stats

    y = load(path, sr=fp.sample_rate, max_seconds=fp.clip_seconds)
    S = logmel(fix_length(y, int(round(fp.clip_seconds * fp.sample_rate))), sr=fp.sample_rate, n_fft=fp.n_fft,
               hop_length=fp.hop_length, n_mels=fp.n_mels, fmin=fp.fmin, fmax=fp.fmax)
    # statistics over the real audio only, not the zero padding
    valid = S[:, : min(S.shape[1], n_frames(y.shape[0], hop_length=fp.hop_length))]
    stats = summary_stats(y, valid, sr=fp.sample_rate, hop_length=fp.hop_length)
    if stats["rms_db"] < SILENCE_DB:
        raise AudioError(f"silent (RMS {stats['rms_db']:.1f} dBFS < {SILENCE_DB:.0f})")
    return S, stats


def _work(args: tuple[str, Any]) -> tuple[np.ndarray | None, dict[str, float] | None, str | None]:
    from mir.audio import AudioError

    path, fp = args
    try:
        S, stats = featurize_file(path, fp=fp)
        return S.astype(np.float16), stats, None
    except (AudioError, OSError) as err:
        return None, None, str(err)


def iter_features(paths: list[str], *, fp: "FeatureParams", workers: int | None = None):
    """Yield ``(logmel_db | None, stats | None, error | None)`` per path, in order.

    Runs on ``workers`` processes (default: all cores) with a bounded window of
    clips in flight, so memory does not grow with the number of clips.
    """
    workers = workers or os.cpu_count() or 1
    jobs = ((p, fp) for p in paths)
    if workers == 1 or len(paths) < 4:
        yield from map(_work, jobs)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    window = 4 * workers
    # forkserver: safe when the caller has threads (Prefect, TensorFlow), cheaper than spawn
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
        pending: deque = deque()
        for job in jobs:
            pending.append(ex.submit(_work, job))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def featurize(cfg: "Config", *, progress: bool = True) -> Path:
    """Stage ``featurize``: write the feature store under ``paths.features``; return its path."""
    import pandas as pd
    from tqdm.auto import tqdm

    from mir.io import atomic_dir, write_csv, write_json

    fp = cfg.features
    manifest = pd.read_csv(cfg.paths.manifest)
    T = clip_frames(fp)
    n = len(manifest)
    out = Path(cfg.paths.features)
    ok = np.zeros(n, dtype=bool)
    stats_rows: list[dict[str, Any]] = []
    rejected: list[dict[str, str]] = []
    with atomic_dir(out) as tmp:
        store = np.lib.format.open_memmap(tmp / "logmel.npy", mode="w+", dtype=np.float16, shape=(n, fp.n_mels, T))
        results = iter_features(manifest["path"].tolist(), fp=fp, workers=fp.workers or None)
        for i, (S, stats, err) in enumerate(tqdm(results, total=n, desc="featurize", unit="clip",
                                                 disable=not progress)):
            row = manifest.iloc[i]
            if err is not None:
                rejected.append({"path": row["path"], "genre": row["genre"], "stage": "featurize", "reason": err})
                continue
            store[i] = S
            ok[i] = True
            stats_rows.append({"clip_id": row["clip_id"], "genre": row["genre"], "split": row["split"], **stats})
        store.flush()
        del store
        index = manifest[["clip_id", "genre", "split"]].copy()
        index.insert(0, "row", np.arange(n))
        write_csv(tmp / "index.csv", index[ok])
        write_csv(tmp / "stats.csv", pd.DataFrame(stats_rows))
        write_csv(tmp / "rejected.csv", pd.DataFrame(rejected, columns=["path", "genre", "stage", "reason"]))
        write_json(tmp / "meta.json", {"params": fp.model_dump(), "shape": [n, fp.n_mels, T],
                                       "n_ok": int(ok.sum()), "n_rejected": len(rejected)})
    print(f"featurize: {int(ok.sum())} clips × {fp.n_mels} mels × {T} frames, {len(rejected)} rejected → {out}")
    for r in rejected[:10]:
        print(f"  rejected {r['path']}: {r['reason']}")
    return out


class FeatureStore:
    """Read access to a feature folder written by :func:`featurize` (memory-mapped)."""

    def __init__(self, path: str | os.PathLike[str]):
        import pandas as pd

        self.path = Path(path)
        self.logmel = np.load(self.path / "logmel.npy", mmap_mode="r")
        self.index = pd.read_csv(self.path / "index.csv")

    def split(self, name: str):
        """Index rows of one split (``train``/``valid``/``test``)."""
        return self.index[self.index["split"] == name].reset_index(drop=True)

    def stats(self):
        import pandas as pd

        return pd.read_csv(self.path / "stats.csv")
