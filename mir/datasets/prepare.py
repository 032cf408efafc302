"""Stages ``data`` and ``new_music``: the configured dataset's clips → ``data/raw``; new music → ``data/new``.

The ``data`` stage (:func:`prepare`) turns the configured dataset (looked up in
:mod:`mir.datasets.registry`) into ``data/raw/clips.csv`` (and, with ``data.snapshot``,
a copy of the selected audio under ``data/raw/<dataset>/``, versioned by DVC). Source
folders are only ever read.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from mir.datasets.clips import CLIPS_COLUMNS, NEW_MUSIC_STATUS, clips_csv, labelled_clips

if TYPE_CHECKING:
    from mir.config import Config
    from mir.datasets.base import Clip

def raw_dir(cfg: "Config") -> Path:
    """Where the configured dataset's audio is put (a DVC output)."""
    return Path(cfg.paths.raw) / cfg.data.dataset


def select_clips(cfg: "Config") -> list["Clip"]:
    """The clips of the configured dataset and genres, from its loader (reads only; not for a rendered one)."""
    from mir.datasets.registry import configured, is_rendered

    ds = configured(cfg)
    if is_rendered(ds):
        raise ValueError(f"dataset {ds.NAME!r} is rendered by the data stage, not listed from a source")
    return ds.clips(cfg)


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

    A rendered dataset (the ``synth`` demo) is generated into ``data/raw/synth`` (resumable).
    Other datasets are listed by their loader and, with ``data.snapshot``, copied into
    ``data/raw/<dataset>``.
    """
    import pandas as pd

    from mir.datasets.registry import NAMES, configured, is_rendered
    from mir.io import claim_dir, write_csv

    # data/raw is mir's: a path parameter pointing at someone's folder is refused before anything is written
    claim_dir(cfg.paths.raw, what="paths.raw", legacy={"clips.csv", *NAMES})
    ds = configured(cfg)
    if is_rendered(ds):
        clips = ds.render(cfg, raw_dir(cfg), progress=progress)
        sources = [None] * len(clips)
    else:
        listed = select_clips(cfg)
        if not listed:
            raise ValueError(f"dataset {cfg.data.dataset!r} has no clips for the selected genres")
        sources = [str(c.path) for c in listed]
        clips = _snapshot(listed, raw_dir(cfg), progress=progress) if cfg.data.snapshot else listed
    extra = labelled_clips(cfg)  # labelled new music handed over for retraining (mir's own copies)
    if extra:
        sources += [str(c.path) for c in extra]
        clips += _snapshot(extra, Path(cfg.paths.raw), progress=progress) if cfg.data.snapshot else extra
    df = pd.DataFrame([{"clip_id": c.clip_id, "path": str(c.path), "genre": c.genre, "split": c.split,
                        "group": c.group, "source": s} for c, s in zip(clips, sources)], columns=CLIPS_COLUMNS)
    write_csv(clips_csv(cfg), df.sort_values("clip_id", kind="stable"))
    genres = sorted(df["genre"].unique())
    print(f"data: {len(df)} clips of {len(genres)} genres ({', '.join(genres)}) → {clips_csv(cfg)}")
    return clips_csv(cfg)


def not_configured_message(cfg: "Config") -> str:
    return (f"no new music is configured (data.dataset is {cfg.data.dataset!r} and new_music.source is "
            f"{cfg.new_music.source!r}: the synth set would be unrelated music). To monitor your own music, set "
            "new_music.source: folder and new_music.root: DIR in params.yaml (DIR/<genre>/*.mp3 labelled, DIR/*.mp3 "
            "unlabelled), then dvc repro; or run mir monitor --new DIR")


def prepare_new_music(cfg: "Config", *, progress: bool = True) -> Path:
    """Stage ``new_music``: the new music the monitor stage analyses, in ``paths.new_music``.

    - ``new_music.source: folder`` — the audio under ``new_music.root`` (``<root>/<genre>/**``
      labelled, ``<root>/*`` unlabelled) copied into ``data/new/`` with the same layout, so DVC
      versions it (``new_music.snapshot: false``: nothing copied, the monitor reads the folder in
      place). The folder is only read. A folder with no audio yet is reported, not an error.
    - ``source: synth`` with the synth dataset (the demo) — a shifted synth set: same genres as
      training, a different seed, and a shift in loudness, EQ, noise, sample rate and codec, so
      drift monitoring has something real to find.
    - ``source: synth`` with any other dataset — nothing is rendered (it would be unrelated music):
      ``data/new/new_music.json`` says that no new music is configured and how to add it.

    Raises
    ------
    FileNotFoundError
        ``source: folder`` and ``new_music.root`` does not exist.
    """
    import json

    from mir import demo
    from mir.io import MARKER, claim_dir, remove_owned, write_text

    nm = cfg.new_music
    # data/new is mir's: a path parameter pointing at someone's folder is refused before anything is written
    out = claim_dir(cfg.paths.new_music, what="paths.new_music",
                    legacy={"synth.json", NEW_MUSIC_STATUS, *demo.GENRES})
    status = out / NEW_MUSIC_STATUS
    if nm.source == "folder":
        from mir.datasets.new_music import list_new_music

        root = Path(nm.root)
        if not root.is_dir():
            raise FileNotFoundError(f"new_music.root {root} does not exist (new_music.source: folder)")
        if root.resolve() == out.resolve() or out.resolve() in root.resolve().parents:
            raise ValueError(f"new_music.root {root} must not be {out} (the stage's output) or inside it")
    if nm.source == "folder" or cfg.data.dataset != "synth":  # mir's own (claimed) output: emptied, as DVC does
        for child in out.iterdir():
            if child.name != MARKER:
                remove_owned(child)
    if nm.source == "folder":
        skipped: list[dict] = []  # links out of the folder, names not UTF-8, too deep: listed, never copied
        try:
            songs = list_new_music(root, skipped=skipped)
        except ValueError:
            songs = []
        files = []
        for s in songs:
            rel = s.path.relative_to(root)
            usable = s.path.is_file()  # named like audio but not a file: left to the monitor's reasons
            files.append({"path": rel.as_posix(), "label": s.label, "bytes": s.path.stat().st_size if usable else None})
            if nm.snapshot and usable:
                _copy_file(s.path, out / rel)
        write_text(status, json.dumps({"source": "folder", "root": str(root), "snapshot": nm.snapshot,
                                       "configured": True, "n_files": len(files), "files": files,
                                       "skipped": skipped}, indent=1))
        where = f"copied into {out}" if nm.snapshot else "read in place (new_music.snapshot: false)"
        print(f"new_music: {len(files)} audio file(s) in {root}, {where}"
              + ("" if files else " — the folder holds no audio yet"))
        for r in skipped:
            print(f"  skipped {r['path']}: {r['reason']}")
        return out
    if cfg.data.dataset != "synth":
        msg = not_configured_message(cfg)
        write_text(status, json.dumps({"source": nm.source, "configured": False, "message": msg}, indent=1))
        print(f"new_music: {msg}")
        return out

    from mir.demo.shift import Shift
    from mir.demo.writer import generate

    genres = [g for g in cfg.data.genres or cfg.synth.genres if g in demo.GENRES] or list(demo.BASE_GENRES)
    genres += [g for g in nm.new_genres if g not in genres]
    generate(
        out, genres=genres, clips_per_genre=nm.clips_per_genre, seconds=cfg.synth.seconds,
        sample_rate=cfg.synth.sample_rate, seed=nm.seed, fmt=nm.format, shift=Shift(**nm.shift.model_dump()),
        workers=cfg.features.workers or None, progress=progress,
    )
    return out


def _copy_file(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` atomically (never a link: DVC makes cached files read-only)."""
    from mir.io import atomic_path

    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)

