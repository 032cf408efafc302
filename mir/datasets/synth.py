"""The embedded demo dataset (``dataset: synth``): its registry entry. The generator is :mod:`mir.demo`.

Light to import (the genre names only); :func:`render` loads the generator.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from mir.demo.genres import GENRES, check_genres
from mir.section import Section

if TYPE_CHECKING:
    from mir.config import Config
    from mir.datasets.base import Clip

#: The dataset's name in ``data.dataset`` (and its params.yaml section).
NAME = "synth"

#: artists each genre needs for the split by artist (one each for train, valid and test); with fewer
#: (a tiny set) the clips are split one by one, as ingest splits any dataset without groups
_MIN_ARTISTS = 3


class Params(Section):
    """The embedded demo dataset: which genres exist, how many clips, how long."""

    genres: list[str] = ["classical", "electronic", "jazz", "rock"]
    clips_per_genre: int = Field(default=60, ge=1)
    seconds: float = Field(default=30.0, gt=0, le=600)
    sample_rate: int = Field(default=22050, ge=8000, le=192000)
    format: Literal["wav", "flac", "ogg", "mp3"] = "mp3"

    @field_validator("genres")
    @classmethod
    def _known_genres(cls, v: list[str]) -> list[str]:
        check_genres(v)
        if not v:
            raise ValueError(f"needs at least one genre; allowed: {', '.join(GENRES)}")
        return v


def genres(cfg: "Config") -> list[str]:
    """The configured demo genres (``synth.genres``): exactly those are rendered."""
    return list(cfg.synth.genres)


def clips(cfg: "Config") -> list["Clip"]:
    """Not listed from a source: the data stage renders the demo (:func:`render`)."""
    raise ValueError("the synth dataset is rendered by the data stage (mir data prepare), not listed")


def clips_per_genre(cfg: "Config") -> int:
    """How many clips of each genre :func:`render` writes."""
    return cfg.synth.clips_per_genre


def render(cfg: "Config", out: Path, *, progress: bool = True) -> list["Clip"]:
    """Render the configured demo set into ``out`` (resumable); return its clips, grouped by artist, with
    their split: each genre's artists are split by ``data.valid_fraction``/``test_fraction``, so valid and
    test hold artists the model never trained on (like GTZAN's artist-filtered split). A genre with fewer
    than three artists (a tiny set) leaves the split to ingest, by clip, with no groups."""
    from collections import Counter

    from mir.datasets.base import Clip
    from mir.datasets.ingest import assign_splits
    from mir.demo.writer import generate

    written = generate(out, genres=cfg.synth.genres, clips_per_genre=cfg.synth.clips_per_genre,
                       seconds=cfg.synth.seconds, sample_rate=cfg.synth.sample_rate, seed=cfg.seed,
                       fmt=cfg.synth.format, workers=cfg.features.workers or None, progress=progress)
    # artist-disjoint and stratified: each genre's artists (not clips) are split by data.*_fraction
    artist_genre = {w["artist"]: w["genre"] for w in written}
    names = sorted(artist_genre)
    split_of = dict(zip(names, assign_splits(names, [artist_genre[a] for a in names], seed=cfg.seed,
                                             valid_fraction=cfg.data.valid_fraction,
                                             test_fraction=cfg.data.test_fraction)))
    if min(Counter(artist_genre.values()).values()) < _MIN_ARTISTS:  # too few artists to split by: by clip
        split_of = dict.fromkeys(names)
    return [Clip(clip_id=Path(w["path"]).relative_to(out).with_suffix("").as_posix(), path=Path(w["path"]),
                 genre=w["genre"], group=w["artist"] if split_of[w["artist"]] else None, split=split_of[w["artist"]])
            for w in written]
