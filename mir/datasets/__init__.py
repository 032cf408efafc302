"""Datasets: one module per dataset, each a pure loader returning :class:`~mir.datasets.base.Clip` records.

- :mod:`mir.datasets.synth` — the embedded, deterministic demo set (offline).
- :mod:`mir.datasets.folder` — any ``<root>/<genre>/*.mp3`` tree.
- :mod:`mir.datasets.gtzan` — GTZAN, with the artist-filtered split.
- :mod:`mir.datasets.fma` — the Free Music Archive (small/medium/large/full), official split.
- :mod:`mir.datasets.ingest` — the ``ingest`` stage: clips → probed, hashed, split manifest.

The ``data`` stage (:func:`prepare`) turns the configured dataset into
``data/raw/clips.csv`` (and, with ``data.snapshot``, a copy of the selected
audio under ``data/raw/<dataset>/``, versioned by DVC). Source folders are
only ever read.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mir.config import Config
    from mir.datasets.base import Clip

CLIPS_COLUMNS = ["clip_id", "path", "genre", "split", "group", "source"]


def clips_csv(cfg: "Config") -> Path:
    return Path(cfg.paths.raw) / "clips.csv"


def raw_dir(cfg: "Config") -> Path:
    """Where the configured dataset's audio is put (a DVC output)."""
    return Path(cfg.paths.raw) / cfg.data.dataset


def select_clips(cfg: "Config") -> list["Clip"]:
    """The clips of the configured (non-synth) dataset and genres, from its loader (reads only)."""
    ds = cfg.data.dataset
    if ds == "folder":
        from mir.datasets import folder

        check_folder_params(cfg)
        return folder.list_clips(cfg.folder.root, genres=cfg.data.genres, split=cfg.folder.split,
                                 group_by=cfg.folder.group_by)
    if ds == "gtzan":
        from mir.datasets import gtzan

        return gtzan.list_clips(cfg.gtzan.root, genres=cfg.data.genres, split=cfg.gtzan.split)
    if ds == "fma":
        from mir.datasets import fma

        return fma.list_clips(cfg.fma.root, subset=cfg.fma.subset, genres=cfg.data.genres,
                              balance=cfg.fma.balance, seed=cfg.seed)
    raise ValueError(f"no loader for dataset {ds!r}")


def check_folder_params(cfg: "Config") -> None:
    """``folder.root`` / ``data.genres`` / ``folder.split`` against the folder itself.

    Raises :class:`mir.config.ConfigError` (the CLI exits 2: bad parameters) for a root that
    does not exist or is not a folder, ``split: dirs`` without ``train/``, or a genre with no folder.
    """
    from mir.config import ConfigError
    from mir.datasets import folder

    root = Path(cfg.folder.root)
    if root.is_symlink() and not root.exists():
        raise ConfigError(f"folder.root: {root} is a broken symbolic link")
    if not root.exists():
        raise ConfigError(f"folder.root: {root} does not exist")
    if not root.is_dir():
        raise ConfigError(f"folder.root: {root} is a file, not a folder (expected <root>/<genre>/*.mp3)")
    if cfg.folder.split == "dirs" and not (root / "train").is_dir():
        raise ConfigError(f"folder.split: dirs needs {root}/train/<genre>/ (and optionally valid/, test/)")
    available = folder.available_genres(root, cfg.folder.split)
    missing = [g for g in cfg.data.genres or [] if g not in available]
    if missing:
        raise ConfigError(f"data.genres: {', '.join(repr(g) for g in missing)} not in dataset 'folder' ({root}); "
                          f"allowed: {', '.join(available) or '(no genre folders)'}")
    if cfg.data.genres is not None and len(cfg.data.genres) < 2:
        raise ConfigError("data.genres: a classifier needs at least 2 genres")


def _snapshot(clips: list["Clip"], dest: Path, *, progress: bool) -> list["Clip"]:
    """Copy each clip under ``dest/<clip_id><ext>`` (never a hard link: the source stays untouched)."""
    from dataclasses import replace

    from tqdm.auto import tqdm

    from mir.io import atomic_path

    out = []
    for c in tqdm(clips, desc="snapshot", unit="clip", disable=not progress):
        target = dest / f"{c.clip_id}{Path(c.path).suffix.lower()}"
        if not Path(c.path).is_file():  # listed but missing: ingest rejects it with the reason
            out.append(c)
            continue
        if not (target.exists() and target.stat().st_size == Path(c.path).stat().st_size):
            with atomic_path(target) as tmp:
                shutil.copyfile(c.path, tmp)
        out.append(replace(c, path=target))
    return out


def prepare(cfg: "Config", *, progress: bool = True) -> Path:
    """Stage ``data``: write ``data/raw/clips.csv`` for the configured dataset; return its path.

    ``synth`` renders the demo set into ``data/raw/synth`` (resumable). Other
    datasets are listed by their loader and, with ``data.snapshot``, copied
    into ``data/raw/<dataset>``.
    """
    import pandas as pd

    from mir.config import DATASETS
    from mir.datasets.base import Clip
    from mir.io import claim_dir, write_csv

    # data/raw is mir's: a path parameter pointing at someone's folder is refused before anything is written
    claim_dir(cfg.paths.raw, what="paths.raw", legacy={"clips.csv", *DATASETS})
    if cfg.data.dataset == "synth":
        from mir.datasets import synth

        out = raw_dir(cfg)
        written = synth.generate(
            out, genres=cfg.synth.genres, clips_per_genre=cfg.synth.clips_per_genre, seconds=cfg.synth.seconds,
            sample_rate=cfg.synth.sample_rate, seed=cfg.seed, fmt=cfg.synth.format,
            workers=cfg.features.workers or None, progress=progress,
        )
        clips = [Clip(clip_id=Path(w["path"]).relative_to(out).with_suffix("").as_posix(), path=Path(w["path"]),
                      genre=w["genre"]) for w in written]
        sources = [None] * len(clips)
    else:
        listed = select_clips(cfg)
        if not listed:
            raise ValueError(f"dataset {cfg.data.dataset!r} has no clips for the selected genres")
        sources = [str(c.path) for c in listed]
        clips = _snapshot(listed, raw_dir(cfg), progress=progress) if cfg.data.snapshot else listed
    df = pd.DataFrame([{"clip_id": c.clip_id, "path": str(c.path), "genre": c.genre, "split": c.split,
                        "group": c.group, "source": s} for c, s in zip(clips, sources)], columns=CLIPS_COLUMNS)
    write_csv(clips_csv(cfg), df.sort_values("clip_id", kind="stable"))
    genres = sorted(df["genre"].unique())
    print(f"data: {len(df)} clips of {len(genres)} genres ({', '.join(genres)}) → {clips_csv(cfg)}")
    return clips_csv(cfg)


def read_clips(cfg: "Config"):
    """The data stage's clip table (``data/raw/clips.csv``)."""
    from mir.io import read_table

    path = clips_csv(cfg)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run the data stage first (mir data prepare)")
    return read_table(path)


def snapshot_genres(cfg: "Config") -> list[str]:
    """Genres present in the data stage's clip table."""
    return sorted(read_clips(cfg)["genre"].astype(str).unique())


def prepare_new_music(cfg: "Config", *, progress: bool = True) -> Path:
    """Stage ``new_music``: render the default "new music" set, a shifted synth set.

    Same genres as training (where the synth set has them), a different seed, and a
    shift in loudness, EQ, noise, sample rate and codec, so drift monitoring has
    something real to find.
    """
    from mir.datasets import synth
    from mir.io import claim_dir

    nm = cfg.new_music
    out = claim_dir(cfg.paths.new_music, what="paths.new_music", legacy={"synth.json", *synth.GENRES})
    genres = [g for g in cfg.data.genres or cfg.synth.genres if g in synth.GENRES] or list(synth.BASE_GENRES)
    synth.generate(
        out, genres=genres, clips_per_genre=nm.clips_per_genre, seconds=cfg.synth.seconds,
        sample_rate=cfg.synth.sample_rate, seed=nm.seed, fmt=nm.format, shift=synth.Shift(**nm.shift.model_dump()),
        workers=cfg.features.workers or None, progress=progress,
    )
    return out

