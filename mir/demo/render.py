"""Rendering one clip: the genre's arranger, then mix, reverb, background noise and mastering.

Every random draw comes from one generator seeded by ``(clip seed, genre)``, in a fixed order: the
steps below must keep it (reordering them changes every clip).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
from scipy import signal as _signal

from mir.demo import arrange_base, arrange_extra, artists
from mir.demo.artists import Artist
from mir.demo.dsp import TWO_PI, filt, onepole_lp
from mir.demo.genres import GENRES, check_genre
from mir.demo.song import Song

#: bump when the synthesis changes, so stale folders are detected (see :func:`mir.demo.generate`)
GENERATOR_VERSION = 2

_ARRANGERS: dict[str, Callable[[np.random.Generator, float, int], tuple[Song, tuple[float, float]]]] = {
    "classical": arrange_base.classical,
    "electronic": arrange_base.electronic,
    "jazz": arrange_base.jazz,
    "rock": arrange_base.rock,
    "hiphop": arrange_extra.hiphop,
    "reggae": arrange_extra.reggae,
    "metal": arrange_extra.metal,
    "country": arrange_extra.country,
}
assert set(_ARRANGERS) == set(GENRES)

#: stems kept out of the reverb (low end)
_DRY = ("kick", "bass")

#: chance of vinyl crackle per genre (others: 5 %), added to the artist's own habit
_P_CRACKLE = {"hiphop": 0.5, "jazz": 0.2, "classical": 0.15}

#: the stems a crossover artist borrows from the other genre, per part
_RHYTHM = ("kick", "drums")


def render_clip(genre: str, *, seed: int, seconds: float = 30.0, sr: int = 22050,
                artist: Artist | None = None) -> np.ndarray:
    """Render one synthetic clip of a genre, as played and produced by an artist.

    Parameters
    ----------
    genre : str
        One of :data:`mir.demo.GENRES`.
    seed : int
        Clip seed (see :func:`mir.demo.clip_seed`); the clip is a pure function of
        ``(genre, seed, seconds, sr)`` and its artist.
    seconds : float
        Duration in seconds.
    sr : int
        Sample rate in Hz.
    artist : Artist or None
        Who plays it (:func:`mir.demo.artists.make_artist`); ``None``: a one-song artist drawn from
        the clip seed. The clip is then a pure function of ``(genre, seed, seconds, sr, artist)``.

    Returns
    -------
    numpy.ndarray
        Mono float32 audio of ``round(seconds * sr)`` samples, peak ≤ 1.

    Raises
    ------
    ValueError
        For an unknown genre (the message lists the allowed ones), ``seconds <= 0``
        or a sample rate below 8000 Hz.
    """
    check_genre(genre)
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    if int(sr) != sr or sr < 8000:
        raise ValueError(f"sample rate must be an integer >= 8000 Hz, got {sr!r}")
    sr = int(sr)
    if artist is None:
        artist = artists.one_song_artist(seed=int(seed), genre=genre)
    rng = np.random.default_rng([int(seed) % 2**64, zlib.crc32(genre.encode())])
    with artists.playing(artist):
        song, rt_range = _ARRANGERS[genre](rng, float(seconds), sr)
    if artist.crossover is not None:
        _borrow(song, artist=artist, seed=int(seed), seconds=float(seconds), sr=sr)
    mix, bus = _mix(song, rng=rng, artist=artist)
    mix += _reverb(bus, rng=rng, sr=sr, rt_range=rt_range, artist=artist)
    rms = float(np.sqrt(np.mean(mix**2)))
    if rms > 0:
        mix /= rms
        _add_background(mix, rng=rng, sr=sr, genre=genre, artist=artist)
        mix = _master(mix, rng=rng, sr=sr, artist=artist)
    return mix.astype(np.float32)


def _borrow(song: Song, *, artist: Artist, seed: int, seconds: float, sr: int) -> None:
    """A crossover artist's borrowed part: the other genre's rhythm section (or everything but it),
    arranged at this song's tempo by the same artist, mixed in at the artist's level as stems ``x_*``."""
    genre = artist.crossover
    rng = np.random.default_rng([seed % 2**64, zlib.crc32(genre.encode()), 1])
    with artists.playing(artist, bpm=60.0 / song.spb):
        other, _ = _ARRANGERS[genre](rng, seconds, sr)
    for name, x in other.stems.items():
        if (name in _RHYTHM) == (artist.crossover_part == "rhythm"):
            song.stems["x_" + name] = x[:song.n]
            song.gain_db["x_" + name] = other.gain_db[name] + artist.crossover_db
            song.send["x_" + name] = other.send[name]


def _mix(song: Song, *, rng: np.random.Generator, artist: Artist) -> tuple[np.ndarray, np.ndarray]:
    """The stems summed at their gains (the artist's balance, ± 2 dB drawn per stem), and the reverb bus."""
    n = song.n
    mix = np.zeros(n)
    bus = np.zeros(n)
    for name, x in song.stems.items():
        x = x[:n]
        rms = np.sqrt(np.mean(x**2))
        if rms == 0:
            continue
        g = 10.0 ** ((song.gain_db[name] + artist.stem_db(name) + rng.uniform(-2.0, 2.0)) / 20.0)
        mix += g * x
        if name.removeprefix("x_") not in _DRY:
            bus += g * song.send[name] * x
    return mix, bus


def _reverb(bus: np.ndarray, *, rng: np.random.Generator, sr: int, rt_range: tuple[float, float],
            artist: Artist) -> np.ndarray:
    """The wet signal of ``bus`` in the artist's room (its place in the genre's ``rt_range``, its
    brightness and wetness): exponentially decaying, low-passed noise as the impulse response."""
    n = bus.size
    u = float(np.clip(artist.rt60_u + rng.uniform(-0.1, 0.1), 0.0, 1.0))
    rt60 = rt_range[0] + u * (rt_range[1] - rt_range[0])
    ir_n = int(min(rt60, 2.0) * sr)
    t = np.arange(ir_n) / sr
    ir = onepole_lp(rng.standard_normal(ir_n), artist.room_hz * rng.uniform(0.9, 1.1), sr) * np.exp(-6.9 * t / rt60)
    ir /= np.sqrt(np.sum(ir**2)) + 1e-12
    wet = artist.wet * rng.uniform(0.85, 1.15)
    return wet * _signal.oaconvolve(bus, ir)[:n]


def _add_background(mix: np.ndarray, *, rng: np.random.Generator, sr: int, genre: str, artist: Artist) -> None:
    """Add the artist's background noise (white or low-passed), mains hum and crackle to ``mix`` in place."""
    n = mix.size
    snr = artist.snr_db + rng.uniform(-3.0, 3.0)
    noise = rng.standard_normal(n)
    if artist.noise_hz is not None:
        noise = onepole_lp(noise, artist.noise_hz, sr)
        noise /= np.sqrt(np.mean(noise**2)) + 1e-12
    mix += noise * 10.0 ** (-snr / 20.0)
    if artist.hum_hz is not None:
        tt = np.arange(n) / sr
        hum = np.sin(TWO_PI * artist.hum_hz * tt) + 0.5 * np.sin(TWO_PI * 3 * artist.hum_hz * tt)
        mix += 10 ** (-rng.uniform(30, 45) / 20) * hum
    if rng.random() < _P_CRACKLE.get(genre, 0.05) + artist.crackle:
        pops = (rng.random(n) < rng.uniform(2, 15) / sr) * rng.standard_normal(n) * rng.uniform(0.5, 3.0)
        mix += filt(pops, "high", 1000, sr)


def _master(mix: np.ndarray, *, rng: np.random.Generator, sr: int, artist: Artist) -> np.ndarray:
    """The artist's mastering: tone (tilt), band-limiting or thinning, loudness, how hard it hits the limiter."""
    lo = onepole_lp(mix, artist.tone_hz, sr)
    tone_db = artist.tone_db + rng.uniform(-2.0, 2.0)  # > 0: brighter
    mix = lo * 10.0 ** (-tone_db / 40.0) + (mix - lo) * 10.0 ** (tone_db / 40.0)
    if artist.bandlimit_hz is not None:  # band-limited recording
        mix = filt(mix, "low", artist.bandlimit_hz * rng.uniform(0.9, 1.1), sr)
    if artist.thin_hz is not None:  # thin recording
        mix = filt(mix, "high", artist.thin_hz * rng.uniform(0.9, 1.1), sr)
    target = 10.0 ** ((artist.loud_db + rng.uniform(-1.5, 1.5)) / 20.0) * artist.drive
    mix *= target / (np.sqrt(np.mean(mix**2)) + 1e-12)
    peak = float(np.max(np.abs(mix)))
    if peak > 0.5:  # soft limiter above 0.5, then make sure the peak is <= 0.99
        over = np.abs(mix) > 0.5
        mix[over] = np.sign(mix[over]) * (0.5 + 0.5 * np.tanh((np.abs(mix[over]) - 0.5) / 0.5))
        peak = float(np.max(np.abs(mix)))
        if peak > 0.99:
            mix *= 0.99 / peak
    return mix
