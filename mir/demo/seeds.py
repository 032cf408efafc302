"""Stable seeds of the demo set: SHA-256 derivations, the same in every process and on every platform."""

from __future__ import annotations

import hashlib


def clip_seed(*, seed: int, genre: str, index: int) -> int:
    """The seed of one clip, from the dataset seed, its genre and its index.

    Stable across runs, processes and platforms (SHA-256, not :func:`hash`), and
    independent of which other genres or how many clips are generated.

    Parameters
    ----------
    seed : int
        Dataset seed.
    genre : str
        Genre name.
    index : int
        Clip index within the genre.

    Returns
    -------
    int
        A non-negative integer below ``2**63``.
    """
    digest = hashlib.sha256(f"mir.synth:{int(seed)}:{genre}:{int(index)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def shift_seed(cs: int) -> int:
    """The seed of the noise a :class:`mir.demo.Shift` adds to the clip of clip seed ``cs``."""
    return int.from_bytes(hashlib.sha256(f"mir.synth.shift:{cs}".encode()).digest()[:8], "big") & (2**63 - 1)
