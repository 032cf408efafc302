"""Rendering one clip: the genre's arranger, then mix, reverb, background noise and mastering.

Every random draw comes from one generator seeded by ``(clip seed, genre)``, in a fixed order: the
steps below must keep it (reordering them changes every clip).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
from scipy import signal as _signal

from mir.demo import arrange_base, arrange_extra
from mir.demo.dsp import TWO_PI, filt, onepole_lp
from mir.demo.genres import GENRES, check_genre
from mir.demo.song import Song, pick

#: bump when the synthesis changes, so stale folders are detected (see :func:`mir.demo.generate`)
GENERATOR_VERSION = 1

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

#: chance of vinyl crackle per genre (others: 5 %)
_P_CRACKLE = {"hiphop": 0.5, "jazz": 0.2, "classical": 0.15}


def render_clip(genre: str, *, seed: int, seconds: float = 30.0, sr: int = 22050) -> np.ndarray:
    """Render one synthetic clip of a genre.

    Parameters
    ----------
    genre : str
        One of :data:`mir.demo.GENRES`.
    seed : int
        Clip seed (see :func:`mir.demo.clip_seed`); the clip is a pure function of
        ``(genre, seed, seconds, sr)``.
    seconds : float
        Duration in seconds.
    sr : int
        Sample rate in Hz.

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
    rng = np.random.default_rng([int(seed) % 2**64, zlib.crc32(genre.encode())])
    song, rt_range = _ARRANGERS[genre](rng, float(seconds), sr)
    mix, bus = _mix(song, rng=rng)
    mix += _reverb(bus, rng=rng, sr=sr, rt_range=rt_range)
    rms = float(np.sqrt(np.mean(mix**2)))
    if rms > 0:
        mix /= rms
        _add_background(mix, rng=rng, sr=sr, genre=genre)
        mix = _master(mix, rng=rng, sr=sr)
    return mix.astype(np.float32)


def _mix(song: Song, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The stems summed at their gains (± 6 dB drawn per stem), and the reverb bus (their sends)."""
    n = song.n
    mix = np.zeros(n)
    bus = np.zeros(n)
    for name, x in song.stems.items():
        x = x[:n]
        rms = np.sqrt(np.mean(x**2))
        if rms == 0:
            continue
        g = 10.0 ** ((song.gain_db[name] + rng.uniform(-6.0, 6.0)) / 20.0)
        mix += g * x
        if name not in _DRY:
            bus += g * song.send[name] * x
    return mix, bus


def _reverb(bus: np.ndarray, *, rng: np.random.Generator, sr: int, rt_range: tuple[float, float]) -> np.ndarray:
    """The wet signal of ``bus``: exponentially decaying, low-passed noise as the impulse response."""
    n = bus.size
    rt60 = rng.uniform(*rt_range)
    ir_n = int(min(rt60, 2.0) * sr)
    t = np.arange(ir_n) / sr
    ir = onepole_lp(rng.standard_normal(ir_n), rng.uniform(2500, 7000), sr) * np.exp(-6.9 * t / rt60)
    ir /= np.sqrt(np.sum(ir**2)) + 1e-12
    wet = rng.uniform(0.4, 1.2)
    return wet * _signal.oaconvolve(bus, ir)[:n]


def _add_background(mix: np.ndarray, *, rng: np.random.Generator, sr: int, genre: str) -> None:
    """Add background noise (white or pink-ish), sometimes mains hum and crackle, to ``mix`` in place."""
    n = mix.size
    snr = rng.uniform(22.0, 55.0)
    noise = rng.standard_normal(n)
    if rng.random() < 0.5:
        noise = onepole_lp(noise, rng.uniform(300, 3000), sr)
        noise /= np.sqrt(np.mean(noise**2)) + 1e-12
    mix += noise * 10.0 ** (-snr / 20.0)
    if rng.random() < 0.15:
        hum_f = pick(rng, [50.0, 60.0])
        tt = np.arange(n) / sr
        hum = np.sin(TWO_PI * hum_f * tt) + 0.5 * np.sin(TWO_PI * 3 * hum_f * tt)
        mix += 10 ** (-rng.uniform(30, 45) / 20) * hum
    if rng.random() < _P_CRACKLE.get(genre, 0.05):
        pops = (rng.random(n) < rng.uniform(2, 15) / sr) * rng.standard_normal(n) * rng.uniform(0.5, 3.0)
        mix += filt(pops, "high", 1000, sr)


def _master(mix: np.ndarray, *, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Mastering: tone (tilt), sometimes a band-limited or thin recording, loudness, soft limiter."""
    lo = onepole_lp(mix, rng.uniform(400.0, 2500.0), sr)
    tone_db = rng.uniform(-10.0, 10.0)  # > 0: brighter
    mix = lo * 10.0 ** (-tone_db / 40.0) + (mix - lo) * 10.0 ** (tone_db / 40.0)
    if rng.random() < 0.4:  # band-limited recording
        mix = filt(mix, "low", rng.uniform(3500.0, 10000.0), sr)
    if rng.random() < 0.3:  # thin recording
        mix = filt(mix, "high", rng.uniform(60.0, 250.0), sr)
    target = 10.0 ** (rng.uniform(-26.0, -12.0) / 20.0)
    mix *= target / (np.sqrt(np.mean(mix**2)) + 1e-12)
    peak = float(np.max(np.abs(mix)))
    if peak > 0.5:  # soft limiter above 0.5, then make sure the peak is <= 0.99
        over = np.abs(mix) > 0.5
        mix[over] = np.sign(mix[over]) * (0.5 + 0.5 * np.tanh((np.abs(mix[over]) - 0.5) / 0.5))
        peak = float(np.max(np.abs(mix)))
        if peak > 0.99:
            mix *= 0.99 / peak
    return mix
