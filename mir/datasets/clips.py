"""What the data stages wrote: the clip table (``data/raw/clips.csv``), the labelled new music handed over
for training, and the new_music stage's status file.

Read by config (the label set), ingest, monitoring and retraining; written by :mod:`mir.datasets.prepare`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mir.config import Config
    from mir.datasets.base import Clip

CLIPS_COLUMNS = ["clip_id", "path", "genre", "split", "group", "source"]


def clips_csv(cfg: "Config") -> Path:
    return Path(cfg.paths.raw) / "clips.csv"


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


def labelled_clips(cfg: "Config") -> list["Clip"]:
    """Labelled new music handed over for retraining: ``<retrain.labelled_dir>/<genre>/*`` (``[]`` when none).

    These are mir's own copies (``flows/monitor.py`` writes them; the user's folder is never touched); the data
    stage adds them to the dataset's clips, split like any clip without a split of its own.
    """
    from mir.datasets.base import AUDIO_EXTENSIONS, Clip

    root = Path(cfg.retrain.labelled_dir)
    if not root.is_dir():
        return []
    out = []
    for f in sorted(root.glob("*/*")):
        if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS and not f.name.startswith("."):
            genre = f.parent.name
            out.append(Clip(clip_id=f"labelled/{genre}/{f.stem}", path=f, genre=genre))
    return out


def labelled_genres(cfg: "Config") -> list[str]:
    """Genres of :func:`labelled_clips`."""
    return sorted({c.genre for c in labelled_clips(cfg)})


#: The file the new_music stage writes into ``paths.new_music`` to say what it holds.
NEW_MUSIC_STATUS = "new_music.json"


def new_music_status(cfg: "Config") -> dict | None:
    """What the new_music stage wrote (``None`` before it ran, or for a synth set of an older run)."""
    import json

    p = Path(cfg.paths.new_music) / NEW_MUSIC_STATUS
    return json.loads(p.read_text()) if p.exists() else None
