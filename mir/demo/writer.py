"""Writing a demo dataset: ``<out>/<genre>/<genre>.<index:05d>.<fmt>`` plus ``<out>/synth.json``.

:func:`generate` checks its arguments, refuses a folder written with other content parameters, plans the
clips that are missing (existing ones are kept: a killed run resumes), renders them (in worker processes)
and writes every file through :func:`mir.io.atomic_path`; what a killed run left is swept by the next
(:func:`mir.io.sweep_stale_files`).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

from mir.demo.artists import artist_index, make_artist
from mir.demo.genres import check_genre
from mir.demo.render import GENERATOR_VERSION, render_clip
from mir.demo.seeds import clip_seed, shift_seed
from mir.demo.shift import Shift, apply_shift
from mir.io import atomic_path, sweep_stale_files, write_json

FORMATS: tuple[str, ...] = ("wav", "flac", "ogg", "mp3")
"""Output formats (file extensions) :func:`generate` writes."""

#: extension -> (soundfile format, subtype)
_SF_FORMAT: dict[str, tuple[str, str | None]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", None),
}
#: sample rates MPEG-1/2/2.5 layer III can store
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

META_NAME = "synth.json"
#: the ``generator`` recorded in synth.json (the module's name before mir.demo: folders stay valid)
_GENERATOR = "mir.datasets.synth"
#: synth.json keys that decide a clip's bytes: a folder written with other values is refused
_CONTENT_KEYS = ("version", "seconds", "sample_rate", "seed", "fmt", "shift")


@dataclasses.dataclass(frozen=True)
class _Params:
    genres: list[str]
    clips_per_genre: int
    seconds: float
    sample_rate: int
    seed: int
    fmt: str
    shift: Shift | None

    def meta(self) -> dict:
        """The content of synth.json."""
        return {
            "generator": _GENERATOR,
            "version": GENERATOR_VERSION,
            "genres": self.genres,
            "clips_per_genre": self.clips_per_genre,
            "seconds": self.seconds,
            "sample_rate": self.sample_rate,
            "seed": self.seed,
            "fmt": self.fmt,
            "shift": dataclasses.asdict(self.shift) if self.shift is not None else None,
        }


class _Job(NamedTuple):
    """One clip to render and write (a worker's argument: pickled)."""

    genre: str
    seed: int
    dataset_seed: int
    artist: int
    seconds: float
    sr: int
    fmt: str
    shift: Shift | None
    path: str


def generate(
    out_dir: str | os.PathLike,
    *,
    genres: Iterable[str],
    clips_per_genre: int,
    seconds: float = 30.0,
    sample_rate: int = 22050,
    seed: int = 0,
    fmt: str = "mp3",
    shift: Shift | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> list[dict]:
    """Write a synthetic dataset: ``<out_dir>/<genre>/<genre>.<index:05d>.<fmt>``.

    Each file is written atomically (:func:`mir.io.atomic_path`: a hidden temporary file in the
    same folder, then :func:`os.replace`), so an interrupted run never leaves a half-written clip
    under its final name; a clip whose file exists is skipped (resumable), and the temporary files
    of killed runs are removed. ``<out_dir>/synth.json`` records the parameters.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Output folder (created).
    genres : iterable of str
        Genres to render, each one of :data:`mir.demo.GENRES`.
    clips_per_genre : int
        Clips per genre (indices ``0 .. clips_per_genre - 1``).
    seconds : float
        Clip duration.
    sample_rate : int
        Rendering sample rate (the file's rate unless ``shift.sample_rate`` is set).
    seed : int
        Dataset seed; clip ``i`` of genre ``g`` uses ``clip_seed(seed=seed, genre=g, index=i)``.
    fmt : str
        One of :data:`FORMATS` (file extension; MP3 via libsndfile, OGG Vorbis,
        16-bit PCM WAV and FLAC).
    shift : Shift or None
        Recording-condition change applied to every clip (noise seeded per clip).
    workers : int or None
        Worker processes (default ``os.cpu_count()``); ``1`` renders in-process.
        Workers are started with ``spawn``, so a script that calls this with
        several workers needs the usual ``if __name__ == "__main__":`` guard.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    list of dict
        One ``{"path", "genre", "index", "seed", "artist"}`` per clip (``artist``: its name,
        :mod:`mir.demo.artists`) (existing ones
        included), genres in the given order, then by index.

    Raises
    ------
    ValueError
        For an unknown genre or format, ``clips_per_genre < 1``, ``seconds <= 0``,
        an MP3 sample rate MP3 can't store, or a folder whose ``synth.json``
        was written with other content parameters (seed, seconds, rate, format,
        shift): its clips would not match.
    """
    params = _check_params(genres=genres, clips_per_genre=clips_per_genre, seconds=seconds,
                           sample_rate=sample_rate, seed=seed, fmt=fmt, shift=shift)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _resume(out, params=params)
    records, todo = _plan(out, params=params)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(records), initial=len(records) - len(todo), desc=f"synth {out.name}", unit="clip")
    try:
        _write_all(todo, workers=workers, done=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    return records


def _check_params(*, genres: Iterable[str], clips_per_genre: int, seconds: float, sample_rate: int, seed: int,
                  fmt: str, shift: Shift | None) -> _Params:
    """:func:`generate`'s arguments, checked and normalised (``ValueError`` naming the first bad one)."""
    genres = [genres] if isinstance(genres, str) else genres
    genres = list(dict.fromkeys(genres))
    if not genres:
        raise ValueError("genres must name at least one genre")
    for g in genres:
        check_genre(g)
    fmt = str(fmt).lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; allowed formats: {', '.join(FORMATS)}")
    if isinstance(clips_per_genre, bool) or int(clips_per_genre) != clips_per_genre or clips_per_genre < 1:
        raise ValueError(f"clips_per_genre must be an integer >= 1, got {clips_per_genre!r}")
    if not float(seconds) > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    if int(sample_rate) != sample_rate or sample_rate < 8000:
        raise ValueError(f"sample_rate must be an integer >= 8000 Hz, got {sample_rate!r}")
    if shift is not None and not isinstance(shift, Shift):
        raise ValueError(f"shift must be a Shift or None, got {type(shift).__name__}")
    out_sr = shift.sample_rate if shift is not None and shift.sample_rate is not None else int(sample_rate)
    if fmt == "mp3" and out_sr not in _MP3_RATES:
        raise ValueError(f"MP3 can't store {out_sr} Hz; use one of {_MP3_RATES} or another format")
    return _Params(genres=genres, clips_per_genre=int(clips_per_genre), seconds=float(seconds),
                   sample_rate=int(sample_rate), seed=int(seed), fmt=fmt, shift=shift)


def _resume(out: Path, *, params: _Params) -> None:
    """Refuse a folder written with other content parameters; sweep a killed run's leftovers; record ours."""
    meta = params.meta()
    meta_path = out / META_NAME
    if meta_path.exists():
        try:
            old = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            old = None
        if isinstance(old, dict):
            diff = [k for k in _CONTENT_KEYS if old.get(k) != meta[k]]
            if diff:
                raise ValueError(
                    f"{out} holds clips generated with other parameters ({', '.join(diff)} differ); "
                    "use another folder or delete it"
                )
    sweep_stale_files(out)
    write_json(meta_path, meta)


def _plan(out: Path, *, params: _Params) -> tuple[list[dict], list[_Job]]:
    """Every clip's record, and the jobs of those whose file is missing (genre folders created)."""
    records, todo = [], []
    for g in params.genres:
        gdir = out / g
        gdir.mkdir(exist_ok=True)
        sweep_stale_files(gdir)
        for i in range(params.clips_per_genre):
            cs = clip_seed(seed=params.seed, genre=g, index=i)
            k = artist_index(i)
            path = gdir / f"{g}.{i:05d}.{params.fmt}"
            records.append({"path": str(path), "genre": g, "index": i, "seed": cs,
                            "artist": make_artist(seed=params.seed, genre=g, index=k).name})
            if not path.exists():
                todo.append(_Job(g, cs, params.seed, k, params.seconds, params.sample_rate, params.fmt, params.shift,
                                 str(path)))
    return records, todo


def _write_all(todo: list[_Job], *, workers: int | None, done: Callable[[int], object] | None) -> None:
    """Render and write ``todo``: in-process with one worker, else in a process pool."""
    n_workers = (os.cpu_count() or 1) if workers is None else int(workers)
    n_workers = max(1, min(n_workers, len(todo)))
    if n_workers == 1:
        for job in todo:
            _render_job(job)
            if done is not None:
                done(1)
    elif todo:
        chunk = max(1, len(todo) // (n_workers * 4))
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=_mp_context()) as pool:
            for _ in pool.map(_render_job, todo, chunksize=chunk):
                if done is not None:
                    done(1)


def _render_job(job: _Job) -> str:
    """Worker: render, shift and write one clip (top-level so it pickles)."""
    artist = make_artist(seed=job.dataset_seed, genre=job.genre, index=job.artist)
    y = render_clip(job.genre, seed=job.seed, seconds=job.seconds, sr=job.sr, artist=artist)
    out_sr = job.sr
    if job.shift is not None and not job.shift.is_identity():
        y, out_sr = apply_shift(y, sr=job.sr, shift=job.shift, seed=shift_seed(job.seed))
    _write_audio(Path(job.path), y=y, sr=out_sr, fmt=job.fmt)
    return job.path


def _write_audio(path: Path, *, y: np.ndarray, sr: int, fmt: str) -> None:
    sf_format, subtype = _SF_FORMAT[fmt]
    with atomic_path(path) as tmp:
        sf.write(str(tmp), y, sr, format=sf_format, subtype=subtype)


def _mp_context():
    """``spawn`` (safe when the caller runs threads: Prefect, TensorFlow), unless the main
    module can't be re-imported by a spawned child (``python - < script``): then ``fork``."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and not os.path.exists(main_file) and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")
