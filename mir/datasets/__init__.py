"""Datasets: one module per dataset, each a pure loader of ``(path, genre)`` pairs.

- :mod:`mir.datasets.synth` — the embedded, deterministic demo set (offline).
- :mod:`mir.datasets.ingest` — the ``ingest`` stage: any dataset → the manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mir.config import Config


def raw_dir(cfg: "Config") -> Path:
    """Where the configured dataset's audio lives (a DVC output for synth)."""
    return Path(cfg.paths.raw) / cfg.data.dataset


def prepare(cfg: "Config", *, progress: bool = True) -> Path:
    """Stage ``data``: make the configured dataset's raw audio available under :func:`raw_dir`.

    For ``synth`` this renders the demo set (resumable: existing clips are kept).
    """
    if cfg.data.dataset == "synth":
        from mir.datasets import synth

        out = raw_dir(cfg)
        synth.generate(
            out,
            genres=cfg.synth.genres,
            clips_per_genre=cfg.synth.clips_per_genre,
            seconds=cfg.synth.seconds,
            sample_rate=cfg.synth.sample_rate,
            seed=cfg.seed,
            fmt=cfg.synth.format,
            workers=cfg.features.workers or None,
            progress=progress,
        )
        return out
    raise AssertionError(cfg.data.dataset)  # pragma: no cover - the config's Literal guards this


def prepare_new_music(cfg: "Config", *, progress: bool = True) -> Path:
    """Stage ``new_music``: render the default "new music" set, a shifted synth set.

    Same genres as training, different seed, and a shift in loudness, EQ, noise,
    sample rate and codec, so drift monitoring has something real to find.
    """
    from mir.datasets import synth

    nm = cfg.new_music
    out = Path(cfg.paths.new_music)
    synth.generate(
        out,
        genres=cfg.genres,
        clips_per_genre=nm.clips_per_genre,
        seconds=cfg.synth.seconds,
        sample_rate=cfg.synth.sample_rate,
        seed=nm.seed,
        fmt=nm.format,
        shift=synth.Shift(**nm.shift.model_dump()),
        workers=cfg.features.workers or None,
        progress=progress,
    )
    return out


def list_clips(root: str | Path, *, genres: list[str] | None = None) -> list[tuple[Path, str]]:
    """``(path, genre)`` for every audio file in ``<root>/<genre>/``, sorted.

    Only the given genres are listed (all sub-folders when ``None``); hidden
    files (such as the temporary files of an interrupted write) are skipped.
    """
    from mir.audio import AUDIO_EXTENSIONS

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    out = []
    for gdir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if genres is not None and gdir.name not in genres:
            continue
        for f in sorted(gdir.iterdir()):
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in AUDIO_EXTENSIONS:
                out.append((f, gdir.name))
    return out
