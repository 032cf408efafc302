"""A folder of new music: labelled by sub-folder (``<dir>/<genre>/**``) or unlabelled (files in ``<dir>``).

A pure loader, like the dataset modules: it reads names only and never writes. The new_music stage
snapshots such a folder, the monitor analyses it, retraining takes the labelled songs of new genres.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mir.datasets.base import AUDIO_EXTENSIONS

__all__ = ["NewSong", "list_new_music"]


@dataclass(frozen=True)
class NewSong:
    """One file of a new-music folder; ``label`` is its genre folder (``None``: unlabelled)."""

    song_id: str
    path: Path
    label: str | None


#: Folders nested deeper than this under a new-music folder are skipped (listed with the reason), not walked.
MAX_DEPTH = 32


def _skip(skipped: list[dict] | None, path: str, reason: str) -> None:
    from mir.io import printable

    if skipped is not None:
        skipped.append({"path": printable(path), "reason": reason})


def _inside(target: str, bases: list[str]) -> bool:
    return any(target == b or target.startswith(b.rstrip(os.sep) + os.sep) for b in bases)


def _walk(root: Path, skipped: list[dict] | None):
    """Yield ``(path, rel_parts)`` of every visible entry named like audio under ``root``, iteratively.

    Symbolically linked folders are followed once (a link back to a folder already walked — a loop — is
    skipped); a linked file is listed only when its target is inside ``root`` or a linked folder being
    walked; names that are not UTF-8 and folders deeper than :data:`MAX_DEPTH` are skipped with the reason.
    """
    from mir.io import utf8_name

    real_root = os.path.realpath(root)
    st = os.stat(root)
    bases, seen = [real_root], {(st.st_ino, st.st_dev)}
    stack = [(str(root), ())]
    while stack:
        folder, parts = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError as err:
            _skip(skipped, folder, f"folder can't be read ({err.strerror or err})")
            continue
        for e in entries:
            if e.name.startswith("."):
                continue
            audio = os.path.splitext(e.name)[1].lower() in AUDIO_EXTENSIONS
            try:
                is_dir = e.is_dir()  # follows a link
            except OSError:
                is_dir = False
            if not utf8_name(e.name):
                if audio or is_dir:
                    _skip(skipped, e.path, "the name is not valid UTF-8 (rename it)")
                continue
            if audio and e.is_symlink() and os.path.exists(e.path) and not is_dir:
                target = os.path.realpath(e.path)
                if not _inside(target, bases):
                    _skip(skipped, e.path, f"symbolic link to a file outside the folder ({target}): not followed")
                    continue
            if audio:
                yield Path(e.path), (*parts, e.name)
            if not is_dir:
                continue
            if len(parts) + 1 >= MAX_DEPTH:
                _skip(skipped, e.path, f"folder nested more than {MAX_DEPTH} levels deep: not walked")
                continue
            try:
                ino = (st := os.stat(e.path)).st_ino, st.st_dev
            except OSError as err:
                _skip(skipped, e.path, f"folder can't be read ({err.strerror or err})")
                continue
            if ino in seen:
                _skip(skipped, e.path, "symbolic link to a folder already listed (a loop): not followed")
                continue
            seen.add(ino)
            if e.is_symlink():
                bases.append(os.path.realpath(e.path))
            stack.append((e.path, (*parts, e.name)))


def list_new_music(root: str | Path, *, skipped: list[dict] | None = None) -> list[NewSong]:
    """Every audio file under ``root``: top-level files unlabelled, ``<genre>/**`` files labelled.

    Hidden files and folders (``.``-prefixed) and non-audio files are ignored;
    extensions match case-insensitively. Nothing is written. Symbolically linked
    folders (a genre folder ``jazz -> /music/jazz``) are followed, once each (no
    loop); a linked file only when its target stays inside the folder (or a linked
    folder). Entries that can't be used safely — such a link, a name that is not
    UTF-8, a folder nested deeper than :data:`MAX_DEPTH` — are appended to
    ``skipped`` as ``{"path", "reason"}`` (printable paths).

    Parameters
    ----------
    root : str or Path
        The new-music folder.
    skipped : list, optional
        Receives the entries skipped, with their reason.

    Returns
    -------
    list of NewSong
        Sorted by ``song_id`` (the path relative to ``root`` without extension).

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder.
    ValueError
        If it holds no audio file.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"new-music folder {root} does not exist")
    songs: dict[str, NewSong] = {}
    mine: list[dict] = []
    for f, parts in sorted(_walk(root, mine), key=lambda fp: fp[1]):
        label = parts[0] if len(parts) > 1 else None
        sid = str(PurePosixPath(*parts).with_suffix(""))
        if sid in songs:  # song.mp3 and song.wav side by side
            sid = str(PurePosixPath(*parts))
        songs[sid] = NewSong(song_id=sid, path=f, label=label)
    if skipped is not None:
        skipped.extend(mine)
    if not songs:
        extra = f" ({len(mine)} skipped: {mine[0]['path']}: {mine[0]['reason']}{' …' if len(mine) > 1 else ''})" \
            if mine else ""
        raise ValueError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found under {root}{extra}")
    return sorted(songs.values(), key=lambda s: s.song_id)
