"""What every dataset loader returns: a list of :class:`Clip`.

Loaders are pure: they read a dataset's files and metadata and return clips;
they never write, move or modify anything in the dataset's folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The split names, in order.
SPLITS = ("train", "valid", "test")
#: Audio file extensions mir lists in a folder (decoding is by content, not by name).
AUDIO_EXTENSIONS = (".mp3", ".wav", ".ogg", ".flac", ".au")
#: Columns of the ingest manifest (``data/manifest.csv``), in order.
MANIFEST_COLUMNS = (
    "clip_id", "path", "genre", "split", "duration_s", "sample_rate", "channels", "checksum", "n_bytes",
)


@dataclass(frozen=True)
class Clip:
    """One audio file of a dataset.

    Attributes
    ----------
    clip_id : str
        Stable, unique id within the dataset, usable as a relative path without extension
        (e.g. ``"blues/blues.00029"``, ``"000/000002"``, ``"rock/song"``).
    path : Path
        The audio file (in the source dataset folder).
    genre : str
        The label.
    split : str or None
        ``"train"``, ``"valid"`` or ``"test"`` when the dataset defines the split, else ``None``
        (the ingest stage then assigns a seeded, stratified split).
    group : str or None
        A grouping key (e.g. the artist) that must not straddle splits, when known.
    """

    clip_id: str
    path: Path
    genre: str
    split: str | None = None
    group: str | None = None

    def __post_init__(self):
        if self.split is not None and self.split not in SPLITS:
            raise ValueError(f"clip {self.clip_id}: split must be one of {SPLITS}, got {self.split!r}")
