"""Artists of the demo set: who plays a clip, and how they sound.

Each genre's clips come in runs of :data:`CLIPS_PER_ARTIST` by one artist (clip ``i`` is by artist
``i // CLIPS_PER_ARTIST``, so adding clips adds artists and leaves the existing ones as they are). An
:class:`Artist` is drawn from ``(dataset seed, genre, artist index)`` alone and holds what stays the
same across its songs:

- **palette and playing tendencies**: every :func:`mir.demo.song.pick` an arranger makes (instruments,
  drum patterns, progressions, bass styles) is weighted by the artist's own preferences over those
  options (a Dirichlet draw per option list), so an artist keeps returning to its sounds and grooves;
- **tempo range**: a window inside the genre's range (:func:`mir.demo.song.tempo`), and its timing
  tightness (humanisation);
- **production**: stem balance, tone (EQ tilt and its corner), band-limiting or thinning, room
  (reverb time, brightness, wetness), background noise and hum, loudness and how hard it is limited;
- **crossover**: some artists of the base genres borrow a part (the rhythm section or the harmony) from another of the
  base genres, mixed under their own (nu-jazz with club drums, symphonic rock, ...).

The artist is a grouping key (:attr:`mir.datasets.base.Clip.group`): the demo's split keeps every
artist on one side, so valid and test hold artists the model never heard.

While a clip renders, its artist is the *current* one (:func:`playing`), read by ``pick`` and ``tempo``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np

from mir.demo.genres import BASE_GENRES

#: clips per artist within a genre (clip ``i`` is by artist ``i // CLIPS_PER_ARTIST``)
CLIPS_PER_ARTIST = 4

#: chance that an artist borrows a part from another genre
P_CROSSOVER = 0.5

_CURRENT: ContextVar["Artist | None"] = ContextVar("mir_demo_artist", default=None)
_BPM: ContextVar["float | None"] = ContextVar("mir_demo_bpm", default=None)


def _seed_of(*parts: object) -> int:
    text = ":".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") & (2**63 - 1)


@dataclass(frozen=True)
class Artist:
    """One artist's constant traits (see the module docstring); drawn by :func:`make_artist`."""

    name: str
    seed: int
    focus: float  # Dirichlet concentration of its preferences (small: few favourite options)
    tempo_u: float  # where in the genre's tempo range it plays (0..1)
    tempo_spread: float  # how wide its own window is (share of the genre's range)
    tightness: float  # humanisation multiplier
    stem_spread_db: float  # how unusual its stem balance is
    tone_db: float  # > 0: brighter
    tone_hz: float
    bandlimit_hz: float | None
    thin_hz: float | None
    rt60_u: float  # where in the genre's reverb range its room is (0..1)
    room_hz: float  # brightness of the room
    wet: float
    snr_db: float
    noise_hz: float | None  # None: white noise floor, else low-passed at this corner
    hum_hz: float | None
    crackle: float
    loud_db: float
    drive: float  # > 1: pushed into the limiter
    crossover: str | None
    crossover_part: str  # "rhythm" or "harmony"
    crossover_db: float
    _weights: dict = field(default_factory=dict, compare=False, repr=False)

    def weights(self, options) -> np.ndarray:
        """The artist's preference weights over one option list (stable: a hash of the list seeds them)."""
        key = repr(list(options))
        w = self._weights.get(key)
        if w is None:
            rng = np.random.default_rng(_seed_of("mir.synth.pick", self.seed, key))
            w = rng.dirichlet(np.full(len(options), self.focus)) + 1e-3
            self._weights[key] = w
        return w

    def stem_db(self, stem: str) -> float:
        """The artist's level offset (dB) for a stem name."""
        u = _seed_of("mir.synth.stem", self.seed, stem) / 2**63
        return (2.0 * u - 1.0) * self.stem_spread_db


def artist_index(index: int) -> int:
    """The artist (within its genre) of clip ``index``."""
    return int(index) // CLIPS_PER_ARTIST


def make_artist(*, seed: int, genre: str, index: int) -> Artist:
    """Artist ``index`` of ``genre`` in the dataset of seed ``seed`` (a pure function of the three)."""
    s = _seed_of("mir.synth.artist", int(seed), genre, int(index))
    r = np.random.default_rng(s)
    name = f"{genre}-{s % 16**6:06x}"
    others = [g for g in BASE_GENRES if g != genre]
    crosses = r.random() < P_CROSSOVER and genre in BASE_GENRES  # the further genres stay pure (new-genre demo)
    crossover = others[int(r.integers(len(others)))] if crosses else None
    return Artist(
        name=name, seed=s, focus=float(r.uniform(0.3, 1.0)),
        tempo_u=float(r.random()), tempo_spread=float(r.uniform(0.15, 0.4)), tightness=float(r.uniform(0.4, 1.8)),
        stem_spread_db=float(r.uniform(2.0, 8.0)),
        tone_db=float(r.uniform(-10.0, 10.0)), tone_hz=float(r.uniform(400.0, 2500.0)),
        bandlimit_hz=float(r.uniform(3500.0, 10000.0)) if r.random() < 0.4 else None,
        thin_hz=float(r.uniform(60.0, 250.0)) if r.random() < 0.3 else None,
        rt60_u=float(r.random()), room_hz=float(r.uniform(2500.0, 7000.0)), wet=float(r.uniform(0.3, 1.3)),
        snr_db=float(r.uniform(24.0, 55.0)), noise_hz=float(r.uniform(300.0, 3000.0)) if r.random() < 0.5 else None,
        hum_hz=(50.0 if r.random() < 0.5 else 60.0) if r.random() < 0.15 else None,
        crackle=float(r.uniform(0.0, 0.4)), loud_db=float(r.uniform(-24.0, -12.0)), drive=float(r.uniform(1.0, 1.8)),
        crossover=crossover, crossover_part="rhythm" if r.random() < 0.5 else "harmony",
        crossover_db=float(r.uniform(-3.0, 3.0)),
    )


def one_song_artist(*, seed: int, genre: str) -> Artist:
    """The artist of a clip rendered on its own (no dataset): drawn from the clip seed."""
    return make_artist(seed=seed, genre=genre, index=-1)


def current() -> Artist | None:
    """The artist of the clip being rendered (``None`` outside :func:`playing`)."""
    return _CURRENT.get()


def bpm_override() -> float | None:
    """The tempo a crossover part must follow (``None``: the arranger draws its own)."""
    return _BPM.get()


@contextlib.contextmanager
def playing(artist: Artist | None, *, bpm: float | None = None) -> Iterator[None]:
    """Make ``artist`` the current one (and, for a crossover part, fix the tempo) inside the block."""
    t1, t2 = _CURRENT.set(artist), _BPM.set(bpm)
    try:
        yield
    finally:
        _BPM.reset(t2)
        _CURRENT.reset(t1)
