"""Any genre-per-folder collection: ``<root>/<genre>/**/*.{mp3,wav,ogg,flac,au}``.

Extensions are matched case-insensitively; hidden files and folders (names
starting with ``.``, such as the temporary files of an interrupted copy) and
non-audio files are ignored (an entry named like audio that is not a usable file
— a broken link, a folder called ``x.mp3`` — is listed, and ingest rejects it with
the reason); sub-folders of a genre folder are searched
recursively. A clip's id is its path relative to the genre root, without the
extension (``"rock/song1"``, ``"rock/live/song2"``).

Split modes:

- ``"random"``: ``split=None`` on every clip; the ingest stage assigns a seeded,
  stratified split.
- ``"dirs"``: ``<root>/train/<genre>/...`` (required), ``<root>/valid/<genre>/...``
  and ``<root>/test/<genre>/...`` (optional); the split is the top folder's name
  and is not part of the clip id (an id found under two split folders is an error).
- ``"files"``: ``<root>/<genre>/...`` plus ``<root>/train.txt``, ``valid.txt`` and
  ``test.txt`` (at least one), each listing clips one per line by relative path
  (``genre/name.ext``) or id (``genre/name``). A listed extension need not be the
  file's (``blues.00029.wav`` in a list matches ``blues.00029.mp3`` on disk).
  Clips in no list are left out, with a one-line warning giving the count.

``group_by="artist"`` fills :attr:`Clip.group` with the file's artist tag
(:func:`read_artist`), so the ingest stage can keep an artist within one split.

The loader only reads: nothing is written into the dataset folder.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path, PurePosixPath

from typing import TYPE_CHECKING, Literal

from mir.datasets.base import AUDIO_EXTENSIONS, SPLITS, Clip
from mir.section import ConfigError, Section

if TYPE_CHECKING:
    from mir.config import Config

__all__ = ["AUDIO_EXTENSIONS", "GROUP_BY", "NAME", "SPLIT_MODES", "Params", "available_genres", "check", "clips",
           "genres", "list_clips", "read_artist", "read_tag"]

log = logging.getLogger(__name__)

#: The dataset's name in ``data.dataset`` (and its params.yaml section).
NAME = "folder"
SPLIT_MODES = ("random", "dirs", "files")
GROUP_BY = (None, "artist")


class Params(Section):
    """``dataset: folder`` — any ``<root>/<genre>/*.mp3`` tree."""

    root: str | None = None
    split: Literal["random", "dirs", "files"] = "random"
    group_by: Literal["artist"] | None = None


def genres(cfg: "Config") -> None:
    """A folder's genres are known once it is read (:func:`available_genres`): ``None``."""
    return None


def check(cfg: "Config") -> None:
    """``folder.root`` / ``data.genres`` / ``folder.split`` against the folder itself.

    Raises :class:`mir.section.ConfigError` (the CLI exits 2: bad parameters) for a root that
    does not exist or is not a folder, ``split: dirs`` without ``train/``, or a genre with no folder.
    """
    root = Path(cfg.folder.root)
    if root.is_symlink() and not root.exists():
        raise ConfigError(f"folder.root: {root} is a broken symbolic link")
    if not root.exists():
        raise ConfigError(f"folder.root: {root} does not exist")
    if not root.is_dir():
        raise ConfigError(f"folder.root: {root} is a file, not a folder (expected <root>/<genre>/*.mp3)")
    if cfg.folder.split == "dirs" and not (root / "train").is_dir():
        raise ConfigError(f"folder.split: dirs needs {root}/train/<genre>/ (and optionally valid/, test/)")
    available = available_genres(root, cfg.folder.split)
    missing = [g for g in cfg.data.genres or [] if g not in available]
    if missing:
        raise ConfigError(f"data.genres: {', '.join(repr(g) for g in missing)} not in dataset 'folder' ({root}); "
                          f"allowed: {', '.join(available) or '(no genre folders)'}")
    if cfg.data.genres is not None and len(cfg.data.genres) < 2:
        raise ConfigError("data.genres: a classifier needs at least 2 genres")


def clips(cfg: "Config") -> list[Clip]:
    """The configured clips (``folder:`` section, ``data.genres``), after :func:`check`."""
    check(cfg)
    return list_clips(cfg.folder.root, genres=cfg.data.genres, split=cfg.folder.split, group_by=cfg.folder.group_by)


#: Tag keys per field: ID3 frame, then the Vorbis/FLAC/MP4 spellings.
TAG_KEYS = {"artist": ("TPE1", ("artist", "ARTIST", "Artist", "\xa9ART")),
            "title": ("TIT2", ("title", "TITLE", "Title", "\xa9nam"))}


def read_tag(path: str | Path, field: str = "artist") -> str | None:
    """One text tag (``"artist"`` or ``"title"``) of an audio file, read with mutagen.

    Parameters
    ----------
    path : str or Path
        An audio file: ID3 (MP3, and WAV/AIFF with an ID3 chunk: ``TPE1`` / ``TIT2``),
        Vorbis comments (Ogg Vorbis/Opus, FLAC) or MP4 (``©ART`` / ``©nam``).
    field : {"artist", "title"}
        Which tag.

    Returns
    -------
    str or None
        The first non-empty value, stripped; ``None`` when the file has no such tag,
        has no tags at all, or cannot be read. Never raises.
    """
    id3_key, other_keys = TAG_KEYS[field]
    try:
        import mutagen

        f = mutagen.File(path)
        tags = getattr(f, "tags", None)
        if not tags:
            return None
        values: list = []
        if hasattr(tags, "getall"):  # ID3 (mp3, wav, aiff)
            for frame in tags.getall(id3_key):
                values.extend(frame.text)
        else:  # Vorbis comments (ogg, flac), MP4, APEv2: case-insensitive keys
            for key in other_keys:
                try:
                    v = tags[key]
                except (KeyError, ValueError, TypeError):
                    continue
                values.extend(v if isinstance(v, list) else [v])
                break
        for v in values:
            s = str(v).strip()
            if s:
                return s
        return None
    except Exception:  # noqa: BLE001 - a broken or odd file must not stop listing
        return None


def read_artist(path: str | Path) -> str | None:
    """The artist tag of an audio file (see :func:`read_tag`); ``None`` when absent or unreadable."""
    return read_tag(path, "artist")


def _visible(rel: Path) -> bool:
    return not any(part.startswith(".") for part in rel.parts)


def _audio_files(gdir: Path) -> list[Path]:
    """Audio files under one genre folder (recursively), hidden ones skipped, sorted.

    Every visible entry with an audio extension is listed, also when it is not a usable
    file (a broken symbolic link, a folder named ``x.mp3``): ingest then rejects it with
    the reason, so no path vanishes silently.
    """
    out = []
    for f in gdir.rglob("*"):
        if f.suffix.lower() in AUDIO_EXTENSIONS and _visible(f.relative_to(gdir)):
            out.append(f)
    return sorted(out)


def _genre_dirs(base: Path) -> dict[str, Path]:
    return {d.name: d for d in sorted(base.iterdir()) if d.is_dir() and not d.name.startswith(".")}


def available_genres(root: str | Path, split: str = "random") -> list[str]:
    """The genre folders of a dataset folder (under ``train/``, ``valid/``, ``test/`` for ``split="dirs"``)."""
    root = Path(root)
    bases = [root / s for s in SPLITS if (root / s).is_dir()] if split == "dirs" else [root]
    return sorted({g for b in bases for g in _genre_dirs(b)})


def _clip_id(genre: str, gdir: Path, f: Path) -> str:
    return str(PurePosixPath(genre, *f.relative_to(gdir).with_suffix("").parts))


def _select(available: list[str], genres, where: Path) -> list[str]:
    if genres is None:
        return available
    genres = list(genres)
    missing = [g for g in genres if g not in available]
    if missing:
        raise ValueError(f"genre folder(s) {', '.join(missing)} not found in {where}; "
                         f"available: {', '.join(available) or '(none)'}")
    return [g for g in available if g in set(genres)]


def _collect(base: Path, genres, split: str | None, group_by: str | None) -> list[Clip]:
    """Clips of every selected genre folder under ``base``; ValueError on a duplicate id."""
    dirs = _genre_dirs(base)
    clips: dict[str, Clip] = {}
    for genre in genres:
        gdir = dirs.get(genre)
        if gdir is None:
            continue
        for f in _audio_files(gdir):
            cid = _clip_id(genre, gdir, f)
            if cid in clips:
                raise ValueError(f"clip id {cid!r} is not unique: {clips[cid].path} and {f}")
            group = read_artist(f) if group_by == "artist" else None
            clips[cid] = Clip(clip_id=cid, path=f, genre=genre, split=split, group=group)
    return list(clips.values())


def _list_id(line: str) -> str:
    """A split-list entry as a clip id: posix separators, no ``./``, no audio extension."""
    p = PurePosixPath(line.strip().replace("\\", "/"))
    if p.suffix.lower() in AUDIO_EXTENSIONS:
        p = p.with_suffix("")
    return str(p)


def _read_lists(root: Path) -> dict[str, str]:
    """``{clip_id: split}`` from ``<root>/{train,valid,test}.txt``."""
    found = {s: root / f"{s}.txt" for s in SPLITS if (root / f"{s}.txt").is_file()}
    if not found:
        raise ValueError(f"split='files' needs {root}/train.txt (and optionally valid.txt, test.txt); none found")
    split_of: dict[str, str] = {}
    for s, path in found.items():
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cid = _list_id(line)
            if split_of.get(cid, s) != s:
                raise ValueError(f"clip {cid!r} is listed in both {split_of[cid]}.txt and {s}.txt")
            split_of[cid] = s
    return split_of


def list_clips(root: str | Path, *, genres: list[str] | tuple[str, ...] | None = None, split: str = "random",
               group_by: str | None = None) -> list[Clip]:
    """Every audio file of a genre-per-folder dataset, labelled by its folder.

    Parameters
    ----------
    root : str or Path
        The dataset folder (``<root>/<genre>/...``, or ``<root>/<split>/<genre>/...``
        for ``split="dirs"``).
    genres : sequence of str, optional
        Only these genres; each must exist as a folder. ``None``: every folder.
    split : {"random", "dirs", "files"}
        Where the train/valid/test split comes from (see the module docstring).
    group_by : {None, "artist"}
        ``"artist"``: ``Clip.group`` is the file's artist tag (``None`` when untagged);
        ``None``: no grouping.

    Returns
    -------
    list of Clip
        Sorted by ``clip_id``.

    Raises
    ------
    FileNotFoundError
        If ``root`` (or ``root/train`` for ``"dirs"``) does not exist.
    ValueError
        For an unknown mode, requested genres with no folder (the message names those
        available), a dataset with no audio, a clip id found twice (two extensions of one
        file, or one id under two split folders), a clip listed in two split files, or,
        for ``"files"``, no list file.
    """
    if split not in SPLIT_MODES:
        raise ValueError(f"split must be one of {', '.join(SPLIT_MODES)}; got {split!r}")
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be None or 'artist'; got {group_by!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")

    if split == "dirs":
        if not (root / "train").is_dir():
            raise FileNotFoundError(f"split='dirs' needs {root}/train/<genre>/ (and optionally valid/, test/)")
        bases = {s: root / s for s in SPLITS if (root / s).is_dir()}
        available = sorted({g for b in bases.values() for g in _genre_dirs(b)})
        wanted = _select(available, genres, root)
        clips: list[Clip] = []
        where: dict[str, str] = {}
        for s, base in bases.items():
            for c in _collect(base, wanted, s, group_by):
                if c.clip_id in where:
                    raise ValueError(f"clip id {c.clip_id!r} appears under both {where[c.clip_id]}/ and {s}/")
                where[c.clip_id] = s
                clips.append(c)
    else:
        wanted = _select(list(_genre_dirs(root)), genres, root)
        clips = _collect(root, wanted, None, group_by)
        if split == "files":
            split_of = _read_lists(root)
            if not clips:
                raise ValueError(f"no audio files in {root}/<genre>/")
            kept = [replace(c, split=split_of[c.clip_id]) for c in clips if c.clip_id in split_of]
            unlisted = len(clips) - len(kept)
            if unlisted:
                log.warning("%s: %d clip(s) in no split list (train/valid/test.txt) left out", root, unlisted)
            in_genres = {cid for cid in split_of if cid.split("/", 1)[0] in set(wanted)}
            absent = len(in_genres - {c.clip_id for c in kept})
            if absent:
                log.info("%s: %d listed clip(s) have no audio file", root, absent)
            if not kept:
                raise ValueError(f"none of the {len(clips)} audio file(s) under {root} is listed in "
                                 f"train.txt / valid.txt / test.txt (entries are 'genre/name' or 'genre/name.ext')")
            clips = kept

    if not clips:
        raise ValueError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found under {root}"
                         + (f" for genres {', '.join(wanted)}" if genres is not None else ""))
    return sorted(clips, key=lambda c: c.clip_id)
