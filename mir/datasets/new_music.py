"""A folder of new music: labelled by sub-folder (``<dir>/<genre>/**``) or unlabelled (files in ``<dir>``).

A pure loader, like the dataset modules: it reads names only and never writes. The new_music stage
snapshots such a folder, the monitor analyses it, retraining takes the labelled songs of new genres.
"""

from __future__ import annotations

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


def list_new_music(root: str | Path) -> list[NewSong]:
    """Every audio file under ``root``: top-level files unlabelled, ``<genre>/**`` files labelled.

    Hidden files and folders (``.``-prefixed) and non-audio files are ignored;
    extensions match case-insensitively. Nothing is written.

    Parameters
    ----------
    root : str or Path
        The new-music folder.

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
    for f in sorted(root.rglob("*")):
        rel = f.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):  # named like audio but no file: skipped with a reason
            continue
        if f.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        label = rel.parts[0] if len(rel.parts) > 1 else None
        sid = str(PurePosixPath(*rel.with_suffix("").parts))
        if sid in songs:  # song.mp3 and song.wav side by side
            sid = str(PurePosixPath(*rel.parts))
        songs[sid] = NewSong(song_id=sid, path=f, label=label)
    if not songs:
        raise ValueError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found under {root}")
    return sorted(songs.values(), key=lambda s: s.song_id)
