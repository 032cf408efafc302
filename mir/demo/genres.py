"""The demo set's genre names (no numpy: importing this is cheap)."""

from __future__ import annotations

BASE_GENRES: tuple[str, ...] = ("classical", "electronic", "jazz", "rock")
"""The four genres of the default dataset."""

EXTRA_GENRES: tuple[str, ...] = ("hiphop", "reggae", "metal", "country")
"""Further genres, for "a new genre arrives"."""

GENRES: tuple[str, ...] = BASE_GENRES + EXTRA_GENRES
"""Every genre :func:`mir.demo.render_clip` knows."""


def check_genres(genres: list[str]) -> list[str]:
    """``genres`` unchanged, or a ``ValueError`` naming the first one that is not in :data:`GENRES`."""
    bad = [g for g in genres if g not in GENRES]
    if bad:
        raise ValueError(f"unknown synth genre {bad[0]!r}; allowed: {', '.join(GENRES)}")
    return genres


def check_genre(genre: str) -> None:
    """Raise ``ValueError`` (naming the allowed genres) unless ``genre`` is one of :data:`GENRES`."""
    if genre not in GENRES:
        raise ValueError(f"unknown genre {genre!r}; allowed genres: {', '.join(GENRES)}")
