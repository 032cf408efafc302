"""GTZAN (Tzanetakis & Cook, 2002): 1000 30-s clips, 10 genres, 100 each.

Accepted layouts (the folder holding the ``<genre>/`` directories is found by
:func:`audio_root`):

- ``<root>/genres/<genre>/<genre>.000NN.au`` (the original archive),
- ``<root>/genres_original/<genre>/<genre>.000NN.wav`` (the common Kaggle copy,
  also under ``<root>/Data/genres_original``),
- ``<root>/<genre>/...`` directly.

Files are ``<genre>.NNNNN`` with extension ``.au`` or ``.wav`` (or ``.flac``,
``.ogg``, ``.mp3`` for re-encoded copies); other files are ignored. Clips that
are missing (``jazz.00054`` is broken upstream and absent from many copies) are
simply not listed.

Split modes:

- ``"artist_filtered"``: the fault-filtered, artist-disjoint partition of
  Kereliuk, Sturm & Larsen (2015), 443 train / 197 valid / 290 test clips, shipped
  in ``mir/datasets/splits/gtzan/`` (see ``SOURCE.md`` there). Clips in none of the
  three lists (repetitions, distortions, mislabellings) are left out.
- ``"random"``: every clip, with ``split=None``; the ingest stage assigns a seeded,
  stratified split.

The loader only reads: nothing is written into the dataset folder.

Example
-------
>>> from mir.datasets import gtzan
>>> clips = gtzan.list_clips("data/raw/gtzan", genres=["blues", "jazz"])  # doctest: +SKIP
>>> clips[0].clip_id, clips[0].split  # doctest: +SKIP
('blues/blues.00000', 'valid')
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

from typing import TYPE_CHECKING, Literal

from mir.datasets.base import Clip
from mir.section import Section

if TYPE_CHECKING:
    from mir.config import Config

__all__ = ["EXTENSIONS", "GENRES", "NAME", "SPLIT_MODES", "Params", "audio_root", "clips", "genres", "list_clips",
           "split_lists"]

#: The dataset's name in ``data.dataset`` (and its params.yaml section).
NAME = "gtzan"

log = logging.getLogger(__name__)

GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock",
)
SPLIT_MODES = ("artist_filtered", "random")


class Params(Section):
    """``dataset: gtzan`` — ``<root>/genres/<genre>/<genre>.000NN.au`` (or ``genres_original``)."""

    root: str = "data/external/gtzan"
    split: Literal["artist_filtered", "random"] = "artist_filtered"


def genres(cfg: "Config") -> list[str]:
    """The genres GTZAN has."""
    return list(GENRES)


def clips(cfg: "Config") -> list[Clip]:
    """The configured clips (``gtzan:`` section, ``data.genres``)."""
    return list_clips(cfg.gtzan.root, genres=cfg.data.genres, split=cfg.gtzan.split)

#: Accepted audio extensions, in order of preference when one clip exists in several formats
#: (lossless first).
EXTENSIONS = (".wav", ".au", ".flac", ".ogg", ".mp3")

#: Sub-folders of the dataset root that may hold the ``<genre>/`` directories, most specific first.
_LAYOUTS = ("genres_original", "genres", "Data/genres_original", ".")

_SPLIT_FILES = {"train": "train_filtered.txt", "valid": "valid_filtered.txt", "test": "test_filtered.txt"}


def _has_genre_dirs(folder: Path) -> bool:
    return folder.is_dir() and any((folder / g).is_dir() for g in GENRES)


def audio_root(root: str | Path) -> Path:
    """The folder holding GTZAN's ``<genre>/`` directories, for any accepted layout.

    Parameters
    ----------
    root : str or Path
        The dataset folder: the one containing ``genres/`` or ``genres_original/``
        (or ``Data/genres_original/``), or the genre directories themselves.

    Returns
    -------
    Path
        ``root/genres_original``, ``root/genres``, ``root/Data/genres_original`` or
        ``root`` — the first that has at least one GTZAN genre directory.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist or none of those folders has a genre directory.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"GTZAN folder {root} does not exist")
    for sub in _LAYOUTS:
        cand = root if sub == "." else root / sub
        if _has_genre_dirs(cand):
            return cand
    raise FileNotFoundError(
        f"no GTZAN genre folders found in {root}: expected <root>/genres/<genre>/, "
        f"<root>/genres_original/<genre>/ or <root>/<genre>/ with <genre> one of {', '.join(GENRES)}"
    )


@lru_cache(maxsize=1)
def _split_lists() -> dict[str, tuple[str, ...]]:
    from importlib.resources import files

    base = files("mir.datasets").joinpath("splits", "gtzan")
    out = {}
    for split, name in _SPLIT_FILES.items():
        text = base.joinpath(name).read_text(encoding="utf-8")
        out[split] = tuple(line.strip() for line in text.splitlines() if line.strip())
    return out


def split_lists() -> dict[str, list[str]]:
    """The fault-filtered, artist-disjoint GTZAN split (Kereliuk, Sturm & Larsen, 2015).

    Returns
    -------
    dict of str to list of str
        ``{"train": [...], "valid": [...], "test": [...]}`` with 443, 197 and 290
        clip ids like ``"blues/blues.00029"``, in the order of the source lists
        (``mir/datasets/splits/gtzan/*_filtered.txt``; provenance in ``SOURCE.md``).
    """
    return {split: list(ids) for split, ids in _split_lists().items()}


def _split_of() -> dict[str, str]:
    return {cid: split for split, ids in _split_lists().items() for cid in ids}


def _genre_files(gdir: Path, genre: str) -> dict[str, Path]:
    """``{clip_id: path}`` for the ``<genre>.NNNNN.<ext>`` files of one genre folder."""
    pat = re.compile(rf"^{re.escape(genre)}\.\d{{5}}$")
    rank = {ext: i for i, ext in enumerate(EXTENSIONS)}
    best: dict[str, tuple[int, Path]] = {}
    for f in gdir.iterdir():
        ext = f.suffix.lower()
        if f.name.startswith(".") or ext not in rank or not pat.match(f.stem) or not f.is_file():
            continue
        cid = f"{genre}/{f.stem}"
        if cid not in best or rank[ext] < best[cid][0]:
            best[cid] = (rank[ext], f)
    return {cid: p for cid, (_, p) in best.items()}


def list_clips(root: str | Path, *, genres: list[str] | tuple[str, ...] | None = None,
               split: str = "artist_filtered") -> list[Clip]:
    """Every GTZAN clip under ``root``, labelled, with its split.

    Parameters
    ----------
    root : str or Path
        The dataset folder, in any layout :func:`audio_root` accepts.
    genres : sequence of str, optional
        Only these genres (each one of :data:`GENRES` and present as a folder).
        ``None``: every GTZAN genre folder present (a partial copy is fine).
    split : {"artist_filtered", "random"}
        ``"artist_filtered"``: each clip gets its split from :func:`split_lists`, and
        clips in none of the lists are left out. ``"random"``: every clip, ``split=None``.

    Returns
    -------
    list of Clip
        Sorted by ``clip_id`` (``"<genre>/<genre>.NNNNN"``); ``group`` is ``None``
        (the artist-filtered split is already artist-disjoint). Listed clips whose
        file is missing (such as ``jazz.00054``) are skipped.

    Raises
    ------
    ValueError
        For an unknown split mode, a genre not in :data:`GENRES`, or a requested
        genre with no folder.
    FileNotFoundError
        If no GTZAN layout is found under ``root``.
    """
    if split not in SPLIT_MODES:
        raise ValueError(f"GTZAN split must be one of {', '.join(SPLIT_MODES)}; got {split!r}")
    if genres is not None:
        genres = list(genres)
        unknown = [g for g in genres if g not in GENRES]
        if unknown:
            raise ValueError(f"unknown GTZAN genre(s) {', '.join(map(repr, unknown))}; "
                             f"allowed: {', '.join(GENRES)}")
    base = audio_root(root)
    present = [g for g in GENRES if (base / g).is_dir()]
    if genres is None:
        wanted = present
    else:
        missing = [g for g in genres if g not in present]
        if missing:
            raise ValueError(f"GTZAN genre folder(s) {', '.join(missing)} not found in {base}; "
                             f"available: {', '.join(present)}")
        wanted = [g for g in GENRES if g in set(genres)]

    split_of = _split_of() if split == "artist_filtered" else {}
    clips: list[Clip] = []
    dropped = 0
    for genre in wanted:
        for cid, path in _genre_files(base / genre, genre).items():
            if split == "random":
                clips.append(Clip(clip_id=cid, path=path, genre=genre))
            elif cid in split_of:
                clips.append(Clip(clip_id=cid, path=path, genre=genre, split=split_of[cid]))
            else:
                dropped += 1
    if split == "artist_filtered":
        found = {c.clip_id for c in clips}
        absent = sorted(cid for cid, s in split_of.items() if cid.split("/", 1)[0] in wanted and cid not in found)
        if dropped:
            log.info("GTZAN artist_filtered: left out %d clip(s) in no split list", dropped)
        if absent:
            log.info("GTZAN artist_filtered: %d listed clip(s) have no file (e.g. %s)", len(absent), absent[0])
    clips.sort(key=lambda c: c.clip_id)
    return clips

