"""The Free Music Archive (FMA) dataset: metadata, clip listing and checksums.

FMA (Defferrard et al., 2017, https://github.com/mdeff/fma) ships as zip archives:

- ``fma_metadata.zip`` → ``fma_metadata/`` with ``tracks.csv``, ``genres.csv``, ...;
- ``fma_<subset>.zip`` → ``fma_<subset>/`` with ``000/000002.mp3``, ..., a ``checksums``
  file (``<sha1>  <relpath>`` lines, as written by ``sha1sum``) and ``README.txt``.

The subsets are nested: ``small`` (8,000 30-s clips, 8 balanced genres) ⊂
``medium`` (25,000 clips, 16 genres) ⊂ ``large`` (all 106,574 tracks, 30-s clips);
``full`` holds the same tracks untrimmed. ``tracks.csv``'s ``('set', 'split')``
is the official artist-filtered training/validation/test split.

This module only *reads* a dataset folder (``root``, holding ``fma_metadata/``
and ``fma_<subset>/``); :mod:`mir.datasets.download` fetches and checks it.
Files listed in the metadata but missing on disk, or broken (see
:data:`KNOWN_BROKEN`), are still listed: the ingest stage rejects them with a
reason, like any other unusable file.

Example
-------
>>> from mir.datasets import fma
>>> fma.audio_path("data/fma", 2, subset="small").as_posix()
'data/fma/fma_small/000/000002.mp3'
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mir.datasets.base import Clip
from mir.section import Section

if TYPE_CHECKING:
    import pandas as pd

    from mir.config import Config

__all__ = [
    "NAME",
    "Params",
    "clips",
    "genres",
    "ARCHIVES",
    "DEFAULT_BASE_URL",
    "KNOWN_BROKEN",
    "SUBSETS",
    "TOP_GENRES",
    "audio_path",
    "clip_id",
    "list_clips",
    "load_genres",
    "load_tracks",
    "read_checksums",
    "verify_checksums",
]

SUBSETS: tuple[str, ...] = ("small", "medium", "large", "full")
"""The audio subsets, smallest first; each includes the previous one (``full`` = all tracks, untrimmed)."""

_ORDERED_SUBSETS: tuple[str, ...] = ("small", "medium", "large")
"""The values of ``tracks.csv``'s ``('set', 'subset')`` column (an ordered categorical)."""

TOP_GENRES: tuple[str, ...] = (
    "Blues", "Classical", "Country", "Easy Listening", "Electronic", "Experimental", "Folk", "Hip-Hop",
    "Instrumental", "International", "Jazz", "Old-Time / Historic", "Pop", "Rock", "Soul-RnB", "Spoken",
)
"""The 16 top-level genres (the values of ``('track', 'genre_top')``)."""

KNOWN_BROKEN: frozenset[int] = frozenset({
    1486, 5574, 65753, 80391, 98558, 98559, 98560, 98565, 98566, 98567, 98568, 98569, 98571,
    99134, 105247, 108924, 108925, 126981, 127336, 133297, 143992,
})
"""Track ids whose audio upstream reports as broken (no audio, or far shorter than 30 s).

In ``fma_small``: 099134, 108925 and 133297 hold no audio; 098565, 098567 and
098569 are far shorter than 30 s. Informational only: :func:`list_clips` does
not filter on it; the pipeline rejects such files by decoding and measuring them.
"""

ARCHIVES: dict[str, tuple[str, str]] = {
    "metadata": ("fma_metadata.zip", "f0df49ffe5f2a6008d7dc83c6915b31835dfe733"),
    "small": ("fma_small.zip", "ade154f733639d52e35e32f5593efe5be76c6d70"),
    "medium": ("fma_medium.zip", "c67b69ea232021025fca9231fc1c7c1a063ab50b"),
    "large": ("fma_large.zip", "497109f4dd721066b5ce5e5f250ec604dc78939e"),
    "full": ("fma_full.zip", "0f0ace23fbe9ba30ecb7e95f763e435ea802b8ab"),
}
"""Archive key → ``(file name, published SHA-1)`` (the 2017-05-09 release)."""

DEFAULT_BASE_URL = "https://os.unil.cloud.switch.ch/fma/"
"""Where the archives are published (the FMA project's mirror at SWITCH)."""

#: The dataset's name in ``data.dataset`` (and its params.yaml section).
NAME = "fma"


class Params(Section):
    """``dataset: fma`` — the Free Music Archive (``mir data download fma`` fetches it)."""

    root: str = "data/external/fma"
    subset: Literal["small", "medium", "large", "full"] = "small"
    balance: bool = False
    base_url: str = DEFAULT_BASE_URL  # where `mir data download fma` fetches from


def genres(cfg: "Config") -> list[str]:
    """The top-level genres FMA has."""
    return list(TOP_GENRES)


def clips(cfg: "Config") -> list[Clip]:
    """The configured clips (``fma:`` section, ``data.genres``, ``seed`` for balancing)."""
    return list_clips(cfg.fma.root, subset=cfg.fma.subset, genres=cfg.data.genres, balance=cfg.fma.balance,
                      seed=cfg.seed)


#: ``('set', 'split')`` values → :data:`mir.datasets.base.SPLITS`
_SPLIT_MAP = {"training": "train", "validation": "valid", "test": "test"}

_DOWNLOAD_HINT = "run `mir data download fma --subset {subset}` first"


def _check_subset(subset: str) -> str:
    if subset not in SUBSETS:
        raise ValueError(f"unknown FMA subset {subset!r}: expected one of {', '.join(SUBSETS)}")
    return subset


def clip_id(track_id: int) -> str:
    """The clip id (and audio path without extension) of a track: ``2`` → ``"000/000002"``."""
    tid = int(track_id)
    if tid < 0:
        raise ValueError(f"track id must be >= 0, got {tid}")
    return f"{tid // 1000:03d}/{tid:06d}"


def audio_path(root: str | os.PathLike[str], track_id: int, *, subset: str) -> Path:
    """The audio file of a track in a subset: ``root/fma_<subset>/000/000002.mp3`` for track 2.

    Parameters
    ----------
    root : path-like
        The dataset folder (holding ``fma_metadata/`` and ``fma_<subset>/``).
    track_id : int
        The FMA track id.
    subset : {"small", "medium", "large", "full"}
        Which audio folder.

    Returns
    -------
    Path
        The path (whether or not the file exists).
    """
    _check_subset(subset)
    return Path(root) / f"fma_{subset}" / f"{clip_id(track_id)}.mp3"


def _metadata_file(root: str | os.PathLike[str], name: str, *, subset: str | None) -> Path:
    path = Path(root) / "fma_metadata" / name
    if not path.is_file():
        hint = _DOWNLOAD_HINT.format(subset=subset or "small|medium|large|full")
        raise FileNotFoundError(f"FMA metadata file {path} not found: {hint}")
    return path


def load_tracks(root: str | os.PathLike[str]) -> "pd.DataFrame":
    """Read ``root/fma_metadata/tracks.csv`` (two-level column header, indexed by ``track_id``).

    ``('set', 'subset')`` becomes an ordered categorical ``small < medium < large``
    (so ``tracks[('set', 'subset')] <= "medium"`` selects the medium subset,
    which includes small); ``('set', 'split')`` and ``('track', 'genre_top')``
    become categoricals. Other columns are left as pandas reads them (list-valued
    columns such as ``('track', 'genres')`` stay strings like ``"[21]"``).

    Parameters
    ----------
    root : path-like
        The dataset folder.

    Returns
    -------
    pandas.DataFrame
        One row per track, columns a two-level :class:`pandas.MultiIndex`.

    Raises
    ------
    FileNotFoundError
        If the file is missing (the message says how to download it).
    """
    import pandas as pd

    path = _metadata_file(root, "tracks.csv", subset=None)
    tracks = pd.read_csv(path, index_col=0, header=[0, 1], low_memory=False)
    if tracks.columns.nlevels != 2:  # pragma: no cover - pandas raises first on a flat header
        raise ValueError(f"{path}: expected a two-level column header")
    missing = [c for c in [("set", "subset"), ("set", "split"), ("track", "genre_top")] if c not in tracks.columns]
    if missing:
        raise ValueError(f"{path}: not an FMA tracks.csv, missing columns {missing}")
    tracks.index = tracks.index.astype("int64")
    tracks.index.name = "track_id"
    tracks[("set", "subset")] = tracks[("set", "subset")].astype(
        pd.CategoricalDtype(categories=list(_ORDERED_SUBSETS), ordered=True))
    tracks[("set", "split")] = tracks[("set", "split")].astype(
        pd.CategoricalDtype(categories=list(_SPLIT_MAP)))
    tracks[("track", "genre_top")] = tracks[("track", "genre_top")].astype("category")
    return tracks


def load_genres(root: str | os.PathLike[str]) -> "pd.DataFrame":
    """Read ``root/fma_metadata/genres.csv``: indexed by ``genre_id``, columns ``#tracks, parent, title, top_level``.

    Raises
    ------
    FileNotFoundError
        If the file is missing (the message says how to download it).
    """
    import pandas as pd

    path = _metadata_file(root, "genres.csv", subset=None)
    return pd.read_csv(path, index_col=0)


def list_clips(
    root: str | os.PathLike[str],
    *,
    subset: str = "small",
    genres: Iterable[str] | None = None,
    balance: bool = False,
    seed: int = 0,
) -> list[Clip]:
    """The clips of an FMA subset, labelled with their top-level genre and official split.

    Parameters
    ----------
    root : path-like
        The dataset folder (``fma_metadata/`` and ``fma_<subset>/``). Only read.
    subset : {"small", "medium", "large", "full"}
        Tracks whose ``('set', 'subset')`` is at most ``subset`` (every track for
        ``"full"``); paths point into ``fma_<subset>/``.
    genres : iterable of str, optional
        Top-level genres to keep (default: every genre present in the subset).
    balance : bool
        Within each split, keep for every genre as many clips as the smallest
        genre of that split has (a seeded, deterministic choice: the clips with
        the smallest ``sha256(f"{seed}:{clip_id}")``, so adding or removing a
        genre never changes which clips another genre keeps unless the minimum
        changes).
    seed : int
        Seed of the balancing choice.

    Returns
    -------
    list of Clip
        Sorted by ``clip_id``. ``split`` is ``train``/``valid``/``test`` from
        ``('set', 'split')`` (``None`` if unset); ``group`` is the artist id (or
        name when no id column), as a string. Tracks without ``genre_top`` are
        skipped. Files missing on disk are listed anyway.

    Raises
    ------
    ValueError
        On an unknown subset, a genre outside :data:`TOP_GENRES`, or a requested
        genre with no track in the subset.
    FileNotFoundError
        If ``tracks.csv`` is missing.
    """
    import pandas as pd

    _check_subset(subset)
    wanted = _wanted(genres)
    _metadata_file(root, "tracks.csv", subset=subset)  # the error names the subset to download
    sel = _select(load_tracks(root), subset=subset, wanted=wanted)
    clips = [
        Clip(
            clip_id=clip_id(tid),
            path=audio_path(root, tid, subset=subset),
            genre=str(g),
            split=_SPLIT_MAP.get(str(s)) if pd.notna(s) else None,
            group=_group_str(grp),
        )
        for tid, g, s, grp in zip(sel.index, sel[("track", "genre_top")], sel[("set", "split")], _artists(sel),
                                  strict=True)
    ]
    if balance:
        clips = _balance(clips, seed=seed)
    clips.sort(key=lambda c: c.clip_id)
    return clips


def _wanted(genres: Iterable[str] | None) -> list[str] | None:
    """The requested top-level genres (``None``: all), checked against :data:`TOP_GENRES`."""
    if genres is None:
        return None
    wanted = list(dict.fromkeys(genres))
    unknown = [g for g in wanted if g not in TOP_GENRES]
    if unknown:
        raise ValueError(
            f"unknown FMA genre(s) {', '.join(map(repr, unknown))}: expected top-level genres among "
            f"{', '.join(TOP_GENRES)}")
    if not wanted:
        raise ValueError("genres is empty: give at least one FMA top-level genre, or None for all")
    return wanted


def _select(tracks: "pd.DataFrame", *, subset: str, wanted: list[str] | None) -> "pd.DataFrame":
    """The tracks of ``subset`` with a top-level genre (of ``wanted``, each of which must be present)."""
    import pandas as pd

    sub = tracks[("set", "subset")]
    mask = pd.Series(True, index=tracks.index) if subset == "full" else (sub <= subset)
    genre = tracks[("track", "genre_top")]
    mask &= genre.notna()
    present = sorted(set(genre[mask].astype(str)))
    if wanted is not None:
        absent = [g for g in wanted if g not in present]
        if absent:
            raise ValueError(
                f"FMA genre(s) {', '.join(map(repr, absent))} have no track in subset {subset!r} "
                f"(genres present: {', '.join(present) or 'none'})")
        mask &= genre.astype(object).isin(wanted)
    return tracks[mask]


def _artists(sel: "pd.DataFrame") -> "pd.Series":
    """Each track's artist id (its name when there is no id column): the group no split may straddle."""
    import pandas as pd

    if ("artist", "id") in sel.columns:
        return sel[("artist", "id")]
    if ("artist", "name") in sel.columns:
        return sel[("artist", "name")]
    return pd.Series(None, index=sel.index, dtype=object)


def _group_str(value) -> str | None:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _balance(clips: list[Clip], *, seed: int) -> list[Clip]:
    """Down-sample every genre of each split to the split's smallest genre count (seeded, stable)."""
    cells: dict[tuple[str | None, str], list[Clip]] = {}
    for c in clips:
        cells.setdefault((c.split, c.genre), []).append(c)
    smallest: dict[str | None, int] = {}
    for (split, _), cs in cells.items():
        smallest[split] = min(smallest.get(split, len(cs)), len(cs))
    out: list[Clip] = []
    for (split, _), cs in cells.items():
        ranked = sorted(cs, key=lambda c: (hashlib.sha256(f"{seed}:{c.clip_id}".encode()).hexdigest(), c.clip_id))
        out.extend(ranked[: smallest[split]])
    return out


def read_checksums(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse a ``sha1sum``-style ``checksums`` file into ``{relpath: sha1}``.

    Lines are ``<sha1>  <relpath>`` (``<sha1> *<relpath>`` for binary mode is
    accepted too); blank lines and ``#`` comments are skipped.

    Raises
    ------
    ValueError
        On a malformed line (the message gives the line number).
    """
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            digest, sep, rel = line.partition(" ")
            rel = rel[1:] if rel[:1] in (" ", "*") else rel
            if not sep or not rel or len(digest) != 40 or any(ch not in "0123456789abcdefABCDEF" for ch in digest):
                raise ValueError(f"{path}:{n}: not a '<sha1>  <path>' line: {line[:80]!r}")
            out[rel] = digest.lower()
    return out


def _sha1(path: Path, *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_checksums(
    audio_dir: str | os.PathLike[str],
    checksums: dict[str, str],
    *,
    only: Iterable[str] | None = None,
    progress: bool = True,
) -> list[tuple[str, str]]:
    """Check files under ``audio_dir`` against ``{relpath: sha1}``.

    Parameters
    ----------
    audio_dir : path-like
        The folder the relative paths are relative to (e.g. ``root/fma_small``).
    checksums : dict
        ``{relpath: sha1}``, e.g. from :func:`read_checksums`.
    only : iterable of str, optional
        Check only these relative paths (e.g. the files present in a partial
        copy); one absent from ``checksums`` is reported as unlisted.
        Default: every listed file.
    progress : bool
        Show a progress bar.

    Returns
    -------
    list of (str, str)
        ``(relpath, reason)`` for each file that is missing, unreadable,
        unlisted or whose SHA-1 differs, in relpath order; empty if all match.
    """
    from tqdm.auto import tqdm

    audio_dir = Path(audio_dir)
    rels = sorted(checksums) if only is None else sorted(set(only))
    failures: list[tuple[str, str]] = []
    for rel in tqdm(rels, desc="sha1", unit="file", disable=not progress, leave=False):
        expected = checksums.get(rel)
        if expected is None:
            failures.append((rel, "not listed in checksums"))
            continue
        path = audio_dir / rel
        if not path.is_file():
            failures.append((rel, "missing"))
            continue
        try:
            got = _sha1(path)
        except OSError as err:
            failures.append((rel, f"unreadable: {err.strerror or err}"))
            continue
        if got != expected.lower():
            failures.append((rel, f"sha1 mismatch: expected {expected.lower()}, got {got}"))
    return failures
