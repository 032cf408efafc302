"""The embedded demo dataset (``dataset: synth``): deterministic synthetic music.

Every clip is rendered from musical structure — tempo, drum pattern, bass line,
chord progression in a random key, instrument timbres and mix — with plain
numpy synthesis (additive, subtractive, FM, plucked strings, noise drums), so a
CNN on log-mel spectrograms can learn the genres without any sample files.

The classes overlap on purpose: instruments are shared between genres (piano,
organ, plucked guitar, saw pads), tempo ranges overlap, and each clip gets a
random key, tempo, palette, mix, tone (spectral tilt), background noise,
reverb, loudness and tuning. No single global feature (loudness, spectral
centroid) separates the classes.

A clip depends only on ``(genre, clip seed, seconds, sample rate)`` and the clip
seed only on ``(seed, genre, index)`` (:func:`clip_seed`), so adding a genre or
more clips later leaves every existing clip byte-identical.

:class:`Shift` describes "new music" that differs from the training data
(loudness, EQ, noise, sample rate; the codec is :func:`generate`'s ``fmt``),
applied by :func:`apply_shift`.

Example
-------
>>> from mir.datasets import synth
>>> y = synth.render_clip("jazz", seed=1, seconds=2.0)
>>> y.dtype, y.shape
(dtype('float32'), (44100,))
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
import soxr
from scipy import signal as _signal

if TYPE_CHECKING:
    from mir.config import Config
    from mir.datasets.base import Clip

__all__ = [
    "BASE_GENRES",
    "EXTRA_GENRES",
    "FORMATS",
    "GENRES",
    "Shift",
    "apply_shift",
    "clip_seed",
    "generate",
    "render_clip",
]

BASE_GENRES: tuple[str, ...] = ("classical", "electronic", "jazz", "rock")
"""The four genres of the default dataset."""

EXTRA_GENRES: tuple[str, ...] = ("hiphop", "reggae", "metal", "country")
"""Further genres, for "a new genre arrives"."""

GENRES: tuple[str, ...] = BASE_GENRES + EXTRA_GENRES
"""Every genre :func:`render_clip` knows."""

FORMATS: tuple[str, ...] = ("wav", "flac", "ogg", "mp3")
"""Output formats (file extensions) :func:`generate` writes."""

#: extension -> (soundfile format, subtype)
_SF_FORMAT: dict[str, tuple[str, str | None]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", None),
}
#: sample rates MPEG-1/2/2.5 layer III can store
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

#: bump when the synthesis changes, so stale folders are detected (see :func:`generate`)
GENERATOR_VERSION = 1

_META_NAME = "synth.json"
_TMP_RE = re.compile(r"^\..+\.tmp\.(\d+)\.[A-Za-z0-9]+$")


# ----------------------------------------------------------------------------------------------
# seeds and shifts
# ----------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Shift:
    """A change of recording conditions, applied to rendered clips ("new music").

    Parameters
    ----------
    gain_db : float
        Loudness change in dB (the result is hard-clipped to ±1).
    tilt_db_per_octave : float
        Spectral tilt in dB per octave around 1 kHz (negative = darker). The
        tilt keeps the overall RMS, it changes the balance only.
    lowpass_hz : float or None
        Cut-off of an 8th-order Butterworth low-pass; ``None`` (or a cut-off at
        or above Nyquist) for none.
    snr_db : float or None
        Add white Gaussian noise at this signal-to-noise ratio; ``None`` for none.
    sample_rate : int or None
        Resample to this rate (with soxr); ``None`` to keep the rate.
    """

    gain_db: float = 0.0
    tilt_db_per_octave: float = 0.0
    lowpass_hz: float | None = None
    snr_db: float | None = None
    sample_rate: int | None = None

    def __post_init__(self) -> None:
        # normalise the types (YAML/JSON may give ints for floats and vice versa)
        for name in ("gain_db", "tilt_db_per_octave", "lowpass_hz", "snr_db"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, float(value))
        if self.sample_rate is not None:
            if float(self.sample_rate) != int(self.sample_rate):
                raise ValueError(f"Shift.sample_rate must be a positive integer or None, got {self.sample_rate!r}")
            object.__setattr__(self, "sample_rate", int(self.sample_rate))
        for name in ("gain_db", "tilt_db_per_octave"):
            if not math.isfinite(float(getattr(self, name))):
                raise ValueError(f"Shift.{name} must be finite, got {getattr(self, name)!r}")
        if self.lowpass_hz is not None and not float(self.lowpass_hz) > 0:
            raise ValueError(f"Shift.lowpass_hz must be > 0 or None, got {self.lowpass_hz!r}")
        if self.snr_db is not None and not math.isfinite(float(self.snr_db)):
            raise ValueError(f"Shift.snr_db must be finite or None, got {self.snr_db!r}")
        if self.sample_rate is not None and self.sample_rate <= 0:
            raise ValueError(f"Shift.sample_rate must be a positive integer or None, got {self.sample_rate!r}")

    def is_identity(self) -> bool:
        """Whether this shift changes nothing.

        Returns
        -------
        bool
            ``True`` when every field has its default value.
        """
        return (
            self.gain_db == 0
            and self.tilt_db_per_octave == 0
            and self.lowpass_hz is None
            and self.snr_db is None
            and self.sample_rate is None
        )


def _tilt(y: np.ndarray, sr: int, db_per_octave: float, *, ref_hz: float = 1000.0) -> np.ndarray:
    """Spectral tilt (dB/octave around ``ref_hz``) via the FFT, with the input's RMS kept."""
    if db_per_octave == 0 or y.size < 2:
        return y
    spec = np.fft.rfft(y)
    freqs = np.fft.rfftfreq(y.size, 1.0 / sr)
    octaves = np.log2(np.clip(freqs, 40.0, None) / ref_hz)
    spec *= 10.0 ** (db_per_octave * octaves / 20.0)
    out = np.fft.irfft(spec, n=y.size)
    rms_in = np.sqrt(np.mean(y**2))
    rms_out = np.sqrt(np.mean(out**2))
    if rms_out > 0:
        out *= rms_in / rms_out
    return out


def apply_shift(y: np.ndarray, *, sr: int, shift: Shift, seed: int) -> tuple[np.ndarray, int]:
    """Apply a :class:`Shift` to mono audio.

    Order: tilt → low-pass → noise (at ``snr_db`` relative to the filtered
    signal) → gain → resampling → hard clip to ±1.

    Parameters
    ----------
    y : numpy.ndarray
        Mono audio, 1-D.
    sr : int
        Its sample rate.
    shift : Shift
        What to change.
    seed : int
        Seed of the added noise (the result is deterministic).

    Returns
    -------
    tuple of (numpy.ndarray, int)
        The shifted audio (float32, within ±1) and its sample rate.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"apply_shift expects mono 1-D audio, got shape {y.shape}")
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    y = _tilt(y, sr, float(shift.tilt_db_per_octave))
    if shift.lowpass_hz is not None and float(shift.lowpass_hz) < 0.5 * sr and y.size:
        sos = _signal.butter(8, float(shift.lowpass_hz), btype="low", fs=sr, output="sos")
        y = _signal.sosfilt(sos, y)
    if shift.snr_db is not None and y.size:
        rms = float(np.sqrt(np.mean(y**2)))
        if rms > 0:
            rng = np.random.default_rng(int(seed) % 2**64)
            y = y + rng.standard_normal(y.size) * (rms / 10.0 ** (float(shift.snr_db) / 20.0))
    if shift.gain_db:
        y = y * 10.0 ** (float(shift.gain_db) / 20.0)
    out_sr = int(sr)
    if shift.sample_rate is not None and int(shift.sample_rate) != sr:
        out_sr = int(shift.sample_rate)
        y = soxr.resample(y, sr, out_sr, quality="HQ")
    return np.clip(y, -1.0, 1.0).astype(np.float32), out_sr


# ----------------------------------------------------------------------------------------------
# synthesis primitives
# ----------------------------------------------------------------------------------------------

_TWO_PI = 2.0 * np.pi


def _hz(midi: float, tune_cents: float = 0.0) -> float:
    return 440.0 * 2.0 ** ((float(midi) - 69.0 + tune_cents / 100.0) / 12.0)


def _sos(kind: str, fc, sr: int, order: int = 2):
    nyq = 0.5 * sr
    if np.ndim(fc):
        fc = [min(max(f, 20.0), 0.95 * nyq) for f in fc]
    else:
        fc = min(max(float(fc), 20.0), 0.95 * nyq)
    return _signal.butter(order, fc, btype=kind, fs=sr, output="sos")


def _filt(x: np.ndarray, kind: str, fc, sr: int, order: int = 2) -> np.ndarray:
    return _signal.sosfilt(_sos(kind, fc, sr, order), x)


def _onepole_lp(x: np.ndarray, fc: float, sr: int) -> np.ndarray:
    a = math.exp(-_TWO_PI * min(fc, 0.45 * sr) / sr)
    return _signal.lfilter([1.0 - a], [1.0, -a], x)


def _env(n_on: int, n_rel: int, sr: int, *, attack: float = 0.005, decay: float = 0.3,
         sustain: float = 1.0) -> np.ndarray:
    """Attack ramp, exponential decay towards ``sustain``, quadratic release after note-off."""
    n = n_on + n_rel
    t = np.arange(n) / sr
    env = sustain + (1.0 - sustain) * np.exp(-t / max(decay, 1e-4))
    if attack > 0:
        env *= np.minimum(1.0, t / attack)
    if n_rel > 0:
        level = env[n_on - 1] if n_on > 0 else 0.0
        r = np.linspace(1.0, 0.0, n_rel, endpoint=False)
        env[n_on:] = level * r * r
    return env


def _harmonics(f: float, n: int, sr: int, amps, *, tau: float | None = None, beta: float = 0.0,
               vib: np.ndarray | None = None) -> np.ndarray:
    """Σ_k amps[k-1]·sin(k·φ)·exp(-t(1+β(k-1))/τ) by the Chebyshev recurrence (one sin, one cos)."""
    t = np.arange(n) / sr
    phase = _TWO_PI * f * t if vib is None else _TWO_PI * np.cumsum(f * vib) / sr
    phase = np.mod(phase, _TWO_PI)
    s = np.sin(phase).astype(np.float32)
    c2 = (2.0 * np.cos(phase)).astype(np.float32)
    k_max = max(1, min(len(amps), int(0.45 * sr / max(f, 1.0))))
    y = (amps[0] * s).astype(np.float64)
    s_prev = np.zeros(n, np.float32)
    tmp = np.empty(n, np.float32)
    q = np.exp(-t * beta / tau).astype(np.float32) if (tau and beta) else None
    qk = np.ones(n, np.float32) if q is not None else None
    for k in range(1, k_max):
        np.multiply(c2, s, out=tmp)
        tmp -= s_prev
        s_prev, s, tmp = s, tmp, s_prev
        if amps[k] == 0:
            continue
        if q is not None:
            qk *= q
            np.multiply(qk, s, out=tmp)
            tmp *= amps[k]
        else:
            np.multiply(s, amps[k], out=tmp)
        y += tmp
    if tau:
        y *= np.exp(-t / tau)
    return y


def _saw(phase: np.ndarray) -> np.ndarray:
    return 2.0 * (phase - np.floor(phase)) - 1.0


def _pulse(phase: np.ndarray, width: float = 0.5) -> np.ndarray:
    return np.where(phase - np.floor(phase) < width, 1.0, -1.0)


def _place(buf: np.ndarray, start: int, x: np.ndarray, gain: float = 1.0) -> None:
    """Add ``gain * x`` into ``buf`` at sample ``start`` (clipped to the buffer)."""
    n = buf.size
    a, b = start, start + x.size
    if b <= 0 or a >= n:
        return
    xa = max(0, -a)
    xb = x.size - max(0, b - n)
    buf[max(a, 0):min(b, n)] += gain * x[xa:xb]


class _Instr:
    """A pitched instrument: ``fn(freq, n_on) -> samples`` (with its release tail)."""

    def __init__(self, name: str, fn: Callable[[float, int], np.ndarray]):
        self.name = name
        self.fn = fn


def _make_instr(kind: str, rng: np.random.Generator, sr: int) -> _Instr:  # noqa: C901 - a palette
    """One instrument with per-clip random timbre parameters."""
    u = rng.uniform

    if kind == "piano":
        bright = u(0.0, 1.0)
        tilt = 1.3 + 1.0 * (1.0 - bright)
        amps = np.arange(1, 13, dtype=float) ** -tilt
        amps[1::2] *= u(0.6, 1.0)
        tau0 = u(0.8, 2.0)

        def fn(f, n_on):
            n_rel = int(0.12 * sr)
            tau = tau0 * min(2.5, (262.0 / f) ** 0.6)
            y = _harmonics(f, n_on + n_rel, sr, amps, tau=tau, beta=0.35)
            return y * _env(n_on, n_rel, sr, attack=0.003, sustain=1.0)

    elif kind == "epiano":  # FM electric piano
        index0 = u(1.0, 3.5)
        tine = u(0.05, 0.3)
        tau0 = u(0.8, 2.0)

        def fn(f, n_on):
            n_rel = int(0.15 * sr)
            n = n_on + n_rel
            t = np.arange(n) / sr
            ph = _TWO_PI * f * t
            y = np.sin(ph + index0 * np.exp(-t / 0.25) * np.sin(ph))
            if 14 * f < 0.45 * sr:
                y += tine * np.sin(14 * ph) * np.exp(-t / 0.04)
            return y * _env(n_on, n_rel, sr, attack=0.002, decay=tau0 * min(2.0, (262 / f) ** 0.5), sustain=0.0)

    elif kind == "organ":
        # drawbars 16', 8', 4', 2 2/3', 2', 1 1/3', 1' = harmonics 1, 2, 4, 6, 8, 12, 16 of f/2
        amps = np.zeros(16)
        amps[[0, 1, 3, 5, 7, 11, 15]] = [u(0.3, 1.0), 1.0, u(0.2, 1.0), u(0.0, 0.7), u(0.0, 0.6), u(0.0, 0.4),
                                         u(0.0, 0.4)]
        trem = u(4.5, 7.0)
        trem_d = u(0.0, 0.25)

        def fn(f, n_on):
            n_rel = int(0.04 * sr)
            n = n_on + n_rel
            t = np.arange(n) / sr
            y = _harmonics(0.5 * f, n, sr, amps)
            y *= 1.0 - trem_d * (0.5 + 0.5 * np.sin(_TWO_PI * trem * t))
            return 0.35 * y * _env(n_on, n_rel, sr, attack=0.006, sustain=1.0)

    elif kind in ("strings", "violin"):
        n_osc = 3 if kind == "strings" else 2
        detune = u(0.002, 0.007) if kind == "strings" else u(0.0005, 0.002)
        vib_rate = u(4.8, 6.2)
        vib_depth = u(0.002, 0.005) if kind == "strings" else u(0.004, 0.008)
        attack = u(0.08, 0.35) if kind == "strings" else u(0.04, 0.12)
        offs = np.linspace(-detune, detune, n_osc)

        def fn(f, n_on):
            n_rel = int(0.3 * sr)
            n = n_on + n_rel
            t = np.arange(n) / sr
            vib = 1.0 + vib_depth * np.minimum(1.0, t / 0.4) * np.sin(_TWO_PI * vib_rate * t)
            base = np.cumsum(vib) * (f / sr)
            y = np.zeros(n)
            for i, o in enumerate(offs):
                y += _saw(base * (1.0 + o) + 0.31 * i)
            return (0.5 / n_osc) * y * _env(n_on, n_rel, sr, attack=attack, sustain=1.0)

    elif kind == "supersaw":
        n_osc = int(rng.integers(3, 6))
        detune = u(0.003, 0.012)
        attack = u(0.01, 0.3)
        offs = np.linspace(-detune, detune, n_osc)

        def fn(f, n_on):
            n_rel = int(0.2 * sr)
            n = n_on + n_rel
            base = np.arange(n) * (f / sr)
            y = np.zeros(n)
            for i, o in enumerate(offs):
                y += _saw(base * (1.0 + o) + 0.37 * i)
            return (0.6 / n_osc) * y * _env(n_on, n_rel, sr, attack=attack, sustain=1.0)

    elif kind in ("square", "squarelead"):
        width = u(0.25, 0.5)
        decay = u(0.1, 0.5)
        sustain = u(0.3, 0.9)
        vib = kind == "squarelead"

        def fn(f, n_on):
            n_rel = int(0.05 * sr)
            n = n_on + n_rel
            t = np.arange(n) / sr
            ph = f * t
            if vib:
                ph = np.cumsum(1.0 + 0.004 * np.sin(_TWO_PI * 5.5 * t)) * (f / sr)
            return 0.3 * _pulse(ph, width) * _env(n_on, n_rel, sr, attack=0.004, decay=decay, sustain=sustain)

    elif kind in ("pluck", "upright", "fingerbass"):
        # additive approximation of a plucked string (Karplus-Strong-like harmonic damping)
        pos = u(0.08, 0.3)
        k = np.arange(1, 17)
        amps = np.abs(np.sin(np.pi * k * pos)) / k ** (1.0 if kind == "pluck" else 1.6)
        tau0 = {"pluck": u(0.6, 2.0), "upright": u(0.4, 0.9), "fingerbass": u(0.8, 2.0)}[kind]
        beta = {"pluck": u(0.15, 0.5), "upright": u(0.5, 1.2), "fingerbass": u(0.3, 0.8)}[kind]
        pick = u(0.0, 0.4)

        def fn(f, n_on):
            n_rel = int(0.06 * sr)
            n = n_on + n_rel
            y = _harmonics(f, n, sr, amps, tau=tau0 * min(2.0, (196.0 / f) ** 0.3), beta=beta)
            if pick:
                m = min(n, int(0.004 * sr))
                y[:m] += pick * np.hanning(2 * m)[m:] * np.sin(_TWO_PI * 8.0 * f * np.arange(m) / sr)
            return y * _env(n_on, n_rel, sr, attack=0.001, sustain=1.0)

    elif kind in ("sawbass", "acidbass"):
        decay = u(0.08, 0.4)
        sustain = u(0.2, 0.8)

        def fn(f, n_on):
            n_rel = int(0.03 * sr)
            n = n_on + n_rel
            y = _saw(np.arange(n) * (f / sr))
            y += 0.5 * np.sin(_TWO_PI * 0.5 * f * np.arange(n) / sr)  # sub-octave
            return 0.4 * y * _env(n_on, n_rel, sr, attack=0.003, decay=decay, sustain=sustain)

    elif kind == "sub808":
        tau = u(0.4, 1.5)
        drive = u(1.0, 3.0)

        def fn(f, n_on):
            n_rel = int(0.05 * sr)
            n = n_on + n_rel
            t = np.arange(n) / sr
            inst = f * (1.0 + 1.0 * np.exp(-t / 0.025))
            y = np.tanh(drive * np.sin(_TWO_PI * np.cumsum(inst) / sr)) / np.tanh(drive)
            return y * np.exp(-t / tau) * _env(n_on, n_rel, sr, attack=0.002, sustain=1.0)

    elif kind == "fmbass":
        ratio = float(rng.choice([0.5, 1.0, 2.0]))
        index0 = u(1.0, 4.0)

        def fn(f, n_on):
            n_rel = int(0.03 * sr)
            n = n_on + n_rel
            t = np.arange(n) / sr
            y = np.sin(_TWO_PI * f * t + index0 * np.exp(-t / 0.15) * np.sin(_TWO_PI * ratio * f * t))
            return 0.8 * y * _env(n_on, n_rel, sr, attack=0.002, decay=0.3, sustain=0.6)

    elif kind == "bell":  # FM bell / mallet (arpeggios)
        ratio = float(rng.choice([1.4, 2.0, 3.5]))
        index0 = u(1.0, 3.0)

        def fn(f, n_on):
            n_rel = int(0.1 * sr)
            n = n_on + n_rel
            t = np.arange(n) / sr
            y = np.sin(_TWO_PI * f * t + index0 * np.exp(-t / 0.3) * np.sin(_TWO_PI * ratio * f * t))
            return 0.6 * y * _env(n_on, n_rel, sr, attack=0.001, decay=0.5, sustain=0.0)

    elif kind in ("horn", "flute"):
        vib_rate = u(4.5, 6.0)
        vib_depth = u(0.003, 0.008)
        if kind == "horn":
            k = np.arange(1, 16)
            amps = k ** -u(0.9, 1.5)
        else:
            amps = np.array([1.0, u(0.05, 0.3), u(0.0, 0.15), u(0.0, 0.05)])
        breath = u(0.0, 0.15) if kind == "flute" else 0.0
        nrng = np.random.default_rng(int(rng.integers(2**32)))

        def fn(f, n_on):
            n_rel = int(0.08 * sr)
            n = n_on + n_rel
            t = np.arange(n) / sr
            vib = 1.0 + vib_depth * np.minimum(1.0, t / 0.3) * np.sin(_TWO_PI * vib_rate * t)
            y = _harmonics(f, n, sr, amps, vib=vib)
            if breath:
                y += breath * _filt(nrng.standard_normal(n), "band", (f, min(4 * f, 0.4 * sr)), sr)
            return 0.5 * y * _env(n_on, n_rel, sr, attack=0.05 if kind == "flute" else 0.03, sustain=1.0)

    elif kind == "guitar":  # raw oscillator for the distorted-guitar stem
        mix = u(0.0, 0.6)
        detune = u(0.001, 0.004)

        def fn(f, n_on):
            n_rel = int(0.03 * sr)
            n = n_on + n_rel
            ph = np.arange(n) * (f / sr)
            y = (1 - mix) * _saw(ph) + mix * _pulse(ph * (1 + detune) + 0.2, 0.4)
            y += 0.7 * _saw(ph * (1 - detune) + 0.5)
            return 0.4 * y * _env(n_on, n_rel, sr, attack=0.002, decay=0.8, sustain=0.5)

    else:  # pragma: no cover - internal palette names only
        raise KeyError(kind)
    return _Instr(kind, fn)


class _Kit:
    """Per-clip drum sounds (noise + oscillators with envelopes), built lazily."""

    def __init__(self, rng: np.random.Generator, sr: int):
        self.rng = rng
        self.sr = sr
        self.seed = int(rng.integers(2**32))
        self.cache: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.cache:
            r = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
            self.cache[name] = getattr(self, "_" + name)(r, self.sr)
        return self.cache[name]

    @staticmethod
    def _t(sec: float, sr: int) -> np.ndarray:
        return np.arange(int(sec * sr)) / sr

    def _kick(self, r, sr):
        t = self._t(0.6, sr)
        f0, f1, dec = r.uniform(120, 260), r.uniform(40, 62), r.uniform(0.12, 0.45)
        inst = f1 + (f0 - f1) * np.exp(-t / r.uniform(0.015, 0.05))
        y = np.sin(_TWO_PI * np.cumsum(inst) / sr) * np.exp(-t / dec)
        y += r.uniform(0.05, 0.4) * r.standard_normal(t.size) * np.exp(-t / 0.004)
        return y

    def _snare(self, r, sr):
        t = self._t(0.45, sr)
        fc = r.uniform(1500, 5000)
        noise = _filt(r.standard_normal(t.size), "band", (fc * 0.4, min(fc * 2.2, 0.45 * sr)), sr)
        y = noise * np.exp(-t / r.uniform(0.07, 0.2)) * r.uniform(1.5, 3.0)
        y += r.uniform(0.3, 0.8) * np.sin(_TWO_PI * r.uniform(160, 240) * t) * np.exp(-t / 0.05)
        return y

    def _rim(self, r, sr):
        t = self._t(0.12, sr)
        y = _filt(r.standard_normal(t.size), "band", (1200, 3500), sr) * np.exp(-t / 0.008) * 2.0
        y += np.sin(_TWO_PI * r.uniform(700, 1000) * t) * np.exp(-t / 0.015)
        return y

    def _clap(self, r, sr):
        t = self._t(0.4, sr)
        noise = _filt(r.standard_normal(t.size), "band", (800, min(3000, 0.45 * sr)), sr) * 2.5
        env = np.exp(-t / r.uniform(0.08, 0.2))
        for k in range(3):
            d = 0.011 * k
            env += (t >= d) * np.exp(-np.clip(t - d, 0, None) / 0.004)
        return noise * env * 0.6

    def _hat(self, r, sr, dec):
        t = self._t(max(0.1, dec * 6), sr)
        metal = np.zeros(t.size)
        f0 = r.uniform(300, 480)
        for ratio in (2.0, 3.0, 4.16, 5.43, 6.79, 8.21):
            metal += _pulse(f0 * ratio * t)
        y = 0.6 * r.standard_normal(t.size) + 0.15 * metal
        y = _filt(y, "high", r.uniform(5000, 8000) if sr > 17000 else 0.35 * sr, sr, order=4)
        return y * np.exp(-t / dec) * 1.2

    def _hat_c(self, r, sr):
        return self._hat(r, sr, r.uniform(0.015, 0.05))

    def _hat_o(self, r, sr):
        return self._hat(r, sr, r.uniform(0.15, 0.4))

    def _ride(self, r, sr):
        t = self._t(1.6, sr)
        f0 = r.uniform(350, 520)
        metal = np.zeros(t.size)
        for ratio in (1.0, 1.342, 1.2312, 1.6532, 1.9523, 2.1523):
            metal += _pulse(f0 * ratio * t)
        y = _filt(0.2 * metal + 0.3 * r.standard_normal(t.size), "high", 3000, sr, order=2)
        bell = np.sin(_TWO_PI * r.uniform(2500, 3500) * t) * np.exp(-t / 0.25) * r.uniform(0.05, 0.3)
        return (y * np.exp(-t / r.uniform(0.3, 0.8)) + bell) * 0.7

    def _crash(self, r, sr):
        t = self._t(2.0, sr)
        y = _filt(r.standard_normal(t.size), "high", r.uniform(2500, 5000), sr, order=2)
        return y * np.exp(-t / r.uniform(0.5, 1.2)) * 0.8

    def _brush(self, r, sr):
        t = self._t(0.35, sr)
        y = _filt(r.standard_normal(t.size), "band", (1500, min(8000, 0.45 * sr)), sr)
        return y * np.minimum(1.0, t / 0.02) * np.exp(-t / r.uniform(0.06, 0.15)) * 0.8

    def _tom(self, r, sr):
        t = self._t(0.5, sr)
        f0 = r.uniform(90, 180)
        inst = f0 * (1 + 0.5 * np.exp(-t / 0.04))
        return np.sin(_TWO_PI * np.cumsum(inst) / sr) * np.exp(-t / r.uniform(0.15, 0.35))


# ----------------------------------------------------------------------------------------------
# song: timing, note and drum placement, mix
# ----------------------------------------------------------------------------------------------

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_HMINOR = (0, 2, 3, 5, 7, 8, 11)


def _chord(scale, degree: int, size: int = 3) -> list[int]:
    """Semitones above the key root of the diatonic chord on ``degree`` (stacked thirds)."""
    return [scale[(degree + 2 * i) % 7] + 12 * ((degree + 2 * i) // 7) for i in range(size)]


def _voice(semis, root: int, center: float) -> list[int]:
    """Pitch classes ``root + semis`` placed in the octave nearest to ``center`` (close voicing)."""
    out = []
    for s in semis:
        m = root + s
        m += 12 * round((center - m) / 12.0)
        out.append(int(m))
    return sorted(set(out))


def _quantize_len(n: float) -> int:
    """Note lengths on a 1/12-octave grid (so the per-clip note cache hits often)."""
    n = max(float(n), 256.0)
    return int(round(2.0 ** (round(12.0 * math.log2(n)) / 12.0)))


class _Song:
    """Timing (tempo, swing, rubato, humanisation) and stems for one clip."""

    def __init__(self, rng: np.random.Generator, seconds: float, sr: int, *, bpm: float, swing8: float = 0.5,
                 swing16: float = 0.5, jitter: float = 0.0, rubato: float = 0.0):
        self.rng, self.sr = rng, sr
        self.n = max(1, int(round(seconds * sr)))
        self.spb = 60.0 / bpm
        self.swing8, self.swing16, self.jitter = swing8, swing16, jitter
        n_beats = int(math.ceil(seconds / self.spb * 1.25)) + 12
        dur = np.full(n_beats, self.spb)
        if rubato > 0:  # slowly varying tempo
            knots = rng.normal(0.0, rubato, n_beats // 4 + 2)
            dur *= np.exp(np.interp(np.arange(n_beats) / 4.0, np.arange(knots.size), knots))
        self._beat_t = np.concatenate([[0.0], np.cumsum(dur)])
        self.offset = float(rng.uniform(0.0, 4.0)) * self.spb  # clip starts inside the first bar
        self.n_bars = int(np.searchsorted(self._beat_t, seconds + self.offset) // 4) + 2
        self.stems: dict[str, np.ndarray] = {}
        self.gain_db: dict[str, float] = {}
        self.send: dict[str, float] = {}
        self._notes: dict[tuple, np.ndarray] = {}
        self.tune = float(rng.normal(0.0, 8.0))  # cents

    def stem(self, name: str, gain_db: float = 0.0, send: float = 0.0) -> np.ndarray:
        if name not in self.stems:
            self.stems[name] = np.zeros(self.n)
            self.gain_db[name] = gain_db
            self.send[name] = send
        return self.stems[name]

    def _swing(self, beats: np.ndarray) -> np.ndarray:
        whole = np.floor(beats)
        frac = beats - whole
        if self.swing16 != 0.5:
            h = frac * 2.0
            hw = np.floor(h)
            hf = h - hw
            s = self.swing16
            hf = np.where(hf < 0.5, hf / 0.5 * s, s + (hf - 0.5) / 0.5 * (1 - s))
            frac = (hw + hf) / 2.0
        if self.swing8 != 0.5:
            s = self.swing8
            frac = np.where(frac < 0.5, frac / 0.5 * s, s + (frac - 0.5) / 0.5 * (1 - s))
        return whole + frac

    def times(self, beats, *, humanize: bool = True) -> np.ndarray:
        """Clip time (s) of song positions in beats."""
        b = self._swing(np.asarray(beats, dtype=float))
        t = np.interp(b, np.arange(self._beat_t.size), self._beat_t) - self.offset
        if humanize and self.jitter > 0:
            t = t + self.rng.normal(0.0, self.jitter, t.shape)
        return t

    def drums(self, stem: str, sample: np.ndarray, beats, vels, gain_db: float = 0.0, send: float = 0.0) -> None:
        beats = np.asarray(beats, dtype=float)
        if beats.size == 0:
            return
        buf = self.stem(stem, gain_db, send)
        idx = np.round(self.times(beats) * self.sr).astype(np.int64)
        vels = np.broadcast_to(np.asarray(vels, dtype=float), idx.shape)
        vels = vels * self.rng.uniform(0.85, 1.0, idx.shape)
        keep = (idx >= -sample.size) & (idx < self.n)
        if not keep.any():
            return
        for i, v in zip(idx[keep], vels[keep]):
            _place(buf, int(i), sample, float(v))

    def notes(self, stem: str, instr: _Instr, midis, beats, durs, vels=1.0, gain_db: float = 0.0,
              send: float = 0.0, strum: float = 0.0) -> None:
        """Add notes (``midis`` may hold chords: a list per onset)."""
        buf = self.stem(stem, gain_db, send)
        beats = np.asarray(beats, dtype=float)
        durs = np.broadcast_to(np.asarray(durs, dtype=float), beats.shape)
        vels = np.broadcast_to(np.asarray(vels, dtype=float), beats.shape)
        t0 = self.times(beats)
        t1 = self.times(beats + durs, humanize=False)
        for start, end, m, v in zip(t0, t1, midis, vels):
            if end < 0 or start * self.sr >= self.n:
                continue
            chord = m if isinstance(m, (list, tuple)) else [m]
            n_on = _quantize_len((end - start) * self.sr)
            for j, mm in enumerate(chord):
                key = (instr.name, id(instr), int(mm), n_on)
                x = self._notes.get(key)
                if x is None:
                    x = instr.fn(_hz(mm, self.tune), n_on)
                    self._notes[key] = x
                _place(buf, int(round((start + j * strum) * self.sr)), x, v)

    def beat_envelope(self, beats_per_pulse: float, depth: float, release: float) -> np.ndarray:
        """Side-chain "pumping" gain: dips to ``1 - depth`` on every pulse, recovering in ``release`` s."""
        pulses = self.times(np.arange(0, self.n_bars * 4, beats_per_pulse), humanize=False)
        t = np.arange(self.n) / self.sr
        i = np.searchsorted(pulses, t, side="right") - 1
        since = t - pulses[np.clip(i, 0, None)]
        since[i < 0] = 10.0
        return 1.0 - depth * np.exp(-since / release)


def _melody(rng, root: int, scale, chord_at: Callable[[float], list[int]], onsets, lo: int, hi: int) -> list[int]:
    """A stepwise random walk on the scale, pulled to chord tones on strong beats."""
    pitches = [root + s + 12 * o for o in range(-2, 5) for s in scale]
    pitches = [p for p in pitches if lo <= p <= hi]
    if not pitches:
        pitches = [lo]
    i = len(pitches) // 2
    out = []
    for b in onsets:
        i = int(np.clip(i + rng.choice([-2, -1, -1, 0, 1, 1, 2]), 0, len(pitches) - 1))
        if float(b) % 2 == 0:  # strong beat: nearest chord tone
            tones = {(root + s) % 12 for s in chord_at(float(b))}
            cands = [j for j, p in enumerate(pitches) if p % 12 in tones]
            if cands:
                i = min(cands, key=lambda j: abs(j - i))
        out.append(pitches[i])
    return out


def _harmony(rng, n_bars: int, progs, bars_per_chord: float, *, scale, size: int = 3):
    """Chord per bar position: returns ``chord_at(beat) -> semitones`` and the chord list per change."""
    prog = progs[int(rng.integers(len(progs)))]
    beats_per = 4.0 * bars_per_chord
    n_changes = int(math.ceil(n_bars * 4 / beats_per)) + 1
    chords = [_chord(scale, prog[i % len(prog)], size) for i in range(n_changes)]

    def chord_at(b: float) -> list[int]:
        return chords[min(int(b // beats_per), n_changes - 1)]

    return chord_at, chords, beats_per


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


# ----------------------------------------------------------------------------------------------
# genres
# ----------------------------------------------------------------------------------------------


def _classical(rng, seconds, sr):
    s = _Song(rng, seconds, sr, bpm=rng.uniform(56, 124), jitter=0.012, rubato=rng.uniform(0.02, 0.08))
    key = int(rng.integers(0, 12)) + 48
    minor = rng.random() < 0.4
    scale = _HMINOR if minor else _MAJOR
    progs = [[0, 3, 4, 0], [0, 5, 1, 4], [0, 3, 1, 4], [0, 4, 5, 2, 3, 0, 3, 4], [0, 1, 4, 0], [0, 5, 3, 4]]
    chord_at, chords, bpc = _harmony(rng, s.n_bars, progs, _pick(rng, [1, 1, 2]), scale=scale)
    texture = _pick(rng, ["strings", "strings", "piano", "piano", "chamber", "organ"])
    n_chg = len(chords)
    chg = np.arange(n_chg) * bpc
    if texture in ("strings", "chamber", "organ"):
        pad = _make_instr("organ" if texture == "organ" else "strings", rng, sr)
        upper = [_voice(c, key, rng.uniform(64, 70)) for c in chords]
        s.notes("strings", pad, upper, chg, bpc * 0.98, rng.uniform(0.5, 0.8), send=0.5)
        cello = [key + c[0] - 12 * int(rng.integers(1, 3)) + 12 for c in chords]
        s.notes("strings", pad, cello, chg, bpc * 0.98, 0.6, send=0.5)
    if texture == "piano":
        pno = _make_instr("piano", rng, sr)
        pattern = _pick(rng, [[0, 2, 1, 2], [0, 1, 2, 1], [0, 2, 1, 2, 0, 2, 1, 2]])
        step = _pick(rng, [0.5, 0.5, 1.0])
        onsets = np.arange(0, s.n_bars * 4, step)
        lh = []
        for b in onsets:
            v = _voice(chord_at(b), key - 12, 50)
            lh.append(v[pattern[int(round(b / step)) % len(pattern)] % len(v)])
        s.notes("piano", pno, lh, onsets, step * 1.5, rng.uniform(0.35, 0.55), send=0.35)
        mel_instr = pno
    else:
        mel_instr = pad if texture == "organ" and rng.random() < 0.5 else _make_instr(
            _pick(rng, ["violin", "violin", "flute", "piano", "pluck"]), rng, sr)
    # melody: quarter/half notes, stepwise
    onsets, b = [], 0.0
    while b < s.n_bars * 4:
        onsets.append(b)
        b += _pick(rng, [1.0, 1.0, 2.0, 0.5, 0.5, 1.5])
    onsets = np.array(onsets)
    durs = np.diff(np.append(onsets, s.n_bars * 4)) * 0.95
    mel = _melody(rng, key, scale, chord_at, onsets, 64, 86)
    s.notes("melody", mel_instr, mel, onsets, durs, rng.uniform(0.45, 0.75), send=0.5)
    if rng.random() < 0.25:  # harp arpeggios
        harp = _make_instr("pluck", rng, sr)
        arp_on = np.arange(0, s.n_bars * 4, 0.5)
        arp = [_voice(chord_at(b), key, 62)[int(i) % 3] + 12 * ((int(i) // 3) % 2) for i, b in enumerate(arp_on)]
        s.notes("harp", harp, arp, arp_on, 1.0, 0.25, send=0.5)
    # dynamics: slow swells over the whole ensemble
    t = np.arange(s.n) / sr
    depth = rng.uniform(3.0, 10.0)
    swell = 10.0 ** (depth / 20.0 * np.sin(_TWO_PI * t / rng.uniform(5.0, 14.0) + rng.uniform(0, 6.3)))
    for name in s.stems:
        s.stems[name] *= swell
    _postfx_strings(s, sr, rng)
    return s, (1.2, 3.0)


def _postfx_strings(s: _Song, sr: int, rng) -> None:
    if "strings" in s.stems:
        s.stems["strings"] = _filt(s.stems["strings"], "low", rng.uniform(2500, 5000), sr)
    if "melody" in s.stems:
        s.stems["melody"] = _filt(s.stems["melody"], "low", rng.uniform(3500, 7000), sr)


def _four_floor(s: _Song, kit: _Kit, rng, *, breakdown: bool) -> None:
    bars = np.arange(s.n_bars)
    if breakdown:
        start = int(rng.integers(0, max(1, s.n_bars - 4)))
        bars = bars[(bars < start) | (bars >= start + int(rng.integers(2, 5)))]
    beats = (bars[:, None] * 4 + np.arange(4)[None, :]).ravel()
    s.drums("kick", kit["kick"], beats, 1.0, gain_db=0.0)
    s.drums("drums", kit[_pick(rng, ["clap", "snare", "clap"])], (bars[:, None] * 4 + np.array([1, 3])).ravel(),
            0.8, send=0.2)
    s.drums("drums", kit["hat_o"], (np.arange(s.n_bars)[:, None] * 4 + np.arange(4) + 0.5).ravel(), 0.5)
    if rng.random() < 0.6:
        b16 = np.arange(0, s.n_bars * 4, 0.25)
        b16 = b16[(b16 * 2) % 2 != 1]  # not on the off-beat 8ths (the open hat is there)
        acc = np.where((b16 % 1) == 0, 0.35, 0.22)
        s.drums("drums", kit["hat_c"], b16, acc)


def _electronic(rng, seconds, sr):
    s = _Song(rng, seconds, sr, bpm=rng.uniform(116, 140), jitter=0.0)
    kit = _Kit(rng, sr)
    key = int(rng.integers(0, 12)) + 36
    minor = rng.random() < 0.75
    scale = _MINOR if minor else _MAJOR
    progs = [[0, 5, 2, 6], [0, 6, 5, 6], [0, 3, 5, 4], [0, 5, 3, 4], [0, 0, 5, 6]]
    chord_at, chords, bpc = _harmony(rng, s.n_bars, progs, _pick(rng, [1, 2]), scale=scale,
                                     size=_pick(rng, [3, 4]))
    _four_floor(s, kit, rng, breakdown=rng.random() < 0.5)
    # bass
    bass = _make_instr(_pick(rng, ["sawbass", "acidbass", "fmbass", "sub808", "square"]), rng, sr)
    style = _pick(rng, ["offbeat", "rolling", "octave"])
    if style == "offbeat":
        on = np.arange(0, s.n_bars * 4) + 0.5
        dur = 0.4
    else:
        on = np.arange(0, s.n_bars * 4, 0.25)
        on = on[(on % 1) != 0]
        dur = 0.2
    roots = [key + chord_at(b)[0] + (12 if style == "octave" and (b * 4) % 2 == 1 else 0) for b in on]
    s.notes("bass", bass, roots, on, dur, 0.8, gain_db=-2.0)
    # pad
    pad = _make_instr(_pick(rng, ["supersaw", "supersaw", "strings", "square", "organ", "epiano", "piano"]), rng, sr)
    chg = np.arange(len(chords)) * bpc
    s.notes("pad", pad, [_voice(c, key, rng.uniform(60, 68)) for c in chords], chg, bpc, 0.45, send=0.4)
    # arpeggio
    if rng.random() < 0.7:
        arp = _make_instr(_pick(rng, ["pluck", "square", "bell", "squarelead"]), rng, sr)
        step = _pick(rng, [0.25, 0.5])
        on = np.arange(0, s.n_bars * 4, step)
        order = _pick(rng, [[0, 1, 2, 1], [0, 1, 2, 3], [2, 1, 0, 1], [0, 2, 1, 2]])
        notes = []
        for i, b in enumerate(on):
            v = _voice(chord_at(b), key + 12, 72)
            notes.append(v[order[i % len(order)] % len(v)])
        s.notes("arp", arp, notes, on, step * 0.8, 0.35, send=0.4)
    pump = s.beat_envelope(1.0, rng.uniform(0.2, 0.8), rng.uniform(0.06, 0.2))
    for name in ("pad", "arp", "bass"):
        if name in s.stems:
            s.stems[name] *= pump
    s.stems["pad"] = _filt(s.stems["pad"], "low", rng.uniform(1500, 7000), sr)
    s.stems["bass"] = _filt(s.stems["bass"], "low", rng.uniform(300, 2500), sr)
    return s, (0.3, 1.5)


def _jazz(rng, seconds, sr):
    s = _Song(rng, seconds, sr, bpm=rng.uniform(92, 210), swing8=rng.uniform(0.6, 0.69), jitter=0.008)
    kit = _Kit(rng, sr)
    key = int(rng.integers(0, 12)) + 36
    minor = rng.random() < 0.25
    scale = _MINOR if minor else _MAJOR
    progs = [[1, 4, 0, 0], [1, 4, 0, 5], [0, 5, 1, 4], [2, 5, 1, 4], [0, 3, 1, 4], [3, 2, 1, 0]]
    chord_at, chords, bpc = _harmony(rng, s.n_bars, progs, _pick(rng, [1, 1, 0.5]), scale=scale, size=4)
    bars = np.arange(s.n_bars)[:, None] * 4
    brushes = rng.random() < 0.3
    if brushes:
        s.drums("drums", kit["brush"], (bars + np.arange(4)).ravel(), 0.6, send=0.3)
        s.drums("drums", kit["brush"], (bars + np.array([0.5, 2.5])).ravel(), 0.35, send=0.3)
    else:
        pos = np.array([0, 1, 1.5, 2, 3, 3.5])
        vel = np.array([1.0, 0.8, 0.55, 1.0, 0.8, 0.55])
        s.drums("drums", kit["ride"], (bars + pos).ravel(), np.tile(vel, s.n_bars) * 0.6, send=0.3)
    s.drums("drums", kit["hat_c"], (bars + np.array([1, 3])).ravel(), 0.35)
    if rng.random() < 0.5:
        s.drums("kick", kit["kick"], (bars + np.arange(4)).ravel(), 0.15)
    ghosts = np.arange(0, s.n_bars * 4, 0.5)
    ghosts = ghosts[rng.random(ghosts.size) < rng.uniform(0.05, 0.2)]
    s.drums("drums", kit["snare"], ghosts, rng.uniform(0.15, 0.4, ghosts.size), send=0.3)
    # walking bass
    bass = _make_instr(_pick(rng, ["upright", "upright", "fingerbass"]), rng, sr)
    walk = []
    n_beats = s.n_bars * 4
    for b in range(n_beats):
        c = chord_at(b)
        nxt = chord_at(b + 1)
        if b % bpc == 0:
            m = key + c[0]
        elif (b + 1) % bpc == 0:
            m = key + nxt[0] + _pick(rng, [-1, 1, 7 - 12, -2])
        else:
            m = key + _pick(rng, c[1:] + [c[0] + 2, c[0] + 12])
        while m > 55:
            m -= 12
        while m < 33:
            m += 12
        walk.append(m)
    s.notes("bass", bass, walk, np.arange(n_beats), 0.9, rng.uniform(0.7, 1.0, n_beats), gain_db=1.0)
    # comping: rootless voicings (3, 5, 7, 9)
    comp = _make_instr(_pick(rng, ["piano", "piano", "epiano", "pluck", "organ"]), rng, sr)
    hits, vs = [], []
    for bar in range(s.n_bars):
        rhythm = _pick(rng, [[0, 1.5], [1.5, 3], [0.5, 2], [1.5, 2.5, 3.5], [0, 2.5], [3.5]])
        for p in rhythm:
            hits.append(bar * 4 + p)
    hits = np.array(hits)
    voic = [_voice(chord_at(b)[1:] + [chord_at(b)[0] + 14], key, rng.uniform(60, 66)) for b in hits]
    s.notes("comp", comp, voic, hits, rng.choice([0.5, 1.0, 1.5], hits.size), rng.uniform(0.3, 0.55, hits.size),
            send=0.3)
    if rng.random() < 0.6:  # horn or flute lead in swung 8ths
        lead = _make_instr(_pick(rng, ["horn", "horn", "flute", "squarelead"]), rng, sr)
        on = np.arange(0, n_beats, 0.5)
        keep = rng.random(on.size) < rng.uniform(0.4, 0.8)
        on = on[keep]
        if on.size:
            durs = np.minimum(np.diff(np.append(on, n_beats)), 1.5) * 0.9
            mel = _melody(rng, key, scale, chord_at, on, 62, 82)
            s.notes("lead", lead, mel, on, durs, rng.uniform(0.35, 0.6), send=0.3)
            s.stems["lead"] = _filt(s.stems["lead"], "low", rng.uniform(2500, 6000), sr)
    s.stems["bass"] = _filt(s.stems["bass"], "low", rng.uniform(800, 2000), sr)
    return s, (0.6, 1.6)


def _guitar_stem(s: _Song, name: str, rng, sr, drive_range) -> None:
    x = _filt(s.stems[name], "high", 90.0, sr)
    drive = rng.uniform(*drive_range)
    x = np.tanh(drive * x)
    x = _filt(x, "low", rng.uniform(2500, 5500), sr, order=4)
    s.stems[name] = x * 0.5


def _rock_drums(s: _Song, kit: _Kit, rng) -> None:
    n = s.n_bars
    bars = np.arange(n)[:, None] * 4
    kick = _pick(rng, [[0, 2], [0, 2, 2.5], [0, 1.5, 2], [0, 0.5, 2], [0, 2.5]])
    s.drums("kick", kit["kick"], (bars + np.array(kick)).ravel(), 1.0)
    s.drums("drums", kit["snare"], (bars + np.array([1, 3])).ravel(), 0.9, send=0.25)
    cym = kit["ride"] if rng.random() < 0.25 else kit["hat_c"]
    acc = np.tile([0.6, 0.4], 4 * n)
    s.drums("drums", cym, np.arange(0, n * 4, 0.5), acc, send=0.1)
    every = _pick(rng, [4, 8])
    s.drums("drums", kit["crash"], np.arange(0, n, every) * 4.0, 0.6, send=0.3)
    fills = np.arange(every - 1, n, every) * 4.0
    if rng.random() < 0.6 and fills.size:
        fb = (fills[:, None] + np.array([3.0, 3.25, 3.5, 3.75])).ravel()
        s.drums("drums", kit[_pick(rng, ["snare", "tom"])], fb, 0.7, send=0.25)


def _rock(rng, seconds, sr):
    s = _Song(rng, seconds, sr, bpm=rng.uniform(96, 165), jitter=0.007)
    kit = _Kit(rng, sr)
    key = int(rng.integers(40, 52))
    progs = [[0, 10, 5, 0], [0, 5, 7, 5], [0, 8, 10, 0], [0, 3, 5, 3], [0, 7, 9, 5], [0, 5, 0, 7], [0, 7, 5, 5]]
    prog = _pick(rng, progs)
    bpc = _pick(rng, [1, 2])
    _rock_drums(s, kit, rng)
    n_beats = s.n_bars * 4

    def root_at(b):
        return key + prog[int(b // (4 * bpc)) % len(prog)]

    clean = rng.random() < 0.25  # clean (plucked) guitar instead of a distorted one
    gtr = _make_instr("pluck" if clean else "guitar", rng, sr)
    style = _pick(rng, ["eighths", "eighths", "sustain", "mixed"])
    if style == "sustain":
        on = np.arange(0, n_beats, 2.0)
        dur = 1.9
    else:
        on = np.arange(0, n_beats, 0.5)
        dur = 0.45 if style == "eighths" else 0.3
    chords = [[root_at(b), root_at(b) + 7, root_at(b) + 12] for b in on]
    if clean:
        chords = [_voice([0, 4 if rng.random() < 0.5 else 3, 7, 12], root_at(b) + 12, 60) for b in on]
    s.notes("guitar", gtr, chords, on, dur, rng.uniform(0.7, 1.0, on.size), send=0.15)
    if not clean:
        _guitar_stem(s, "guitar", rng, sr, (3.0, 12.0))
    bass = _make_instr(_pick(rng, ["fingerbass", "sawbass", "pluck"]), rng, sr)
    bon = np.arange(0, n_beats, 0.5)
    s.notes("bass", bass, [root_at(b) - 12 for b in bon], bon, 0.45, 0.8, gain_db=-1.0)
    s.stems["bass"] = _filt(s.stems["bass"], "low", rng.uniform(600, 2000), sr)
    if rng.random() < 0.3:  # organ pad (shared with reggae/jazz)
        org = _make_instr("organ", rng, sr)
        scale = _MAJOR
        on = np.arange(0, n_beats, 4.0)
        s.notes("keys", org, [_voice(_chord(scale, 0), root_at(b), 64) for b in on], on, 3.9, 0.4, send=0.2)
    if rng.random() < 0.4:  # lead guitar line, pentatonic
        lead = _make_instr("guitar", rng, sr)
        penta = (0, 3, 5, 7, 10)
        on = np.arange(0, n_beats, 0.5)
        on = on[rng.random(on.size) < 0.45]
        if on.size:
            mel = [key + 24 + penta[int(rng.integers(5))] for _ in on]
            s.notes("lead", lead, mel, on, 0.45, 0.5, send=0.3)
            _guitar_stem(s, "lead", rng, sr, (4.0, 15.0))
    return s, (0.3, 1.2)


def _hiphop(rng, seconds, sr):
    s = _Song(rng, seconds, sr, bpm=rng.uniform(78, 100), swing16=rng.uniform(0.53, 0.64), jitter=0.006)
    kit = _Kit(rng, sr)
    key = int(rng.integers(0, 12)) + 36
    scale = _MINOR if rng.random() < 0.8 else _MAJOR
    progs = [[0, 3], [0, 5], [0, 6], [0, 5, 3, 4], [0, 0, 3, 3]]
    chord_at, chords, bpc = _harmony(rng, s.n_bars, progs, _pick(rng, [1, 2]), scale=scale, size=4)
    bars = np.arange(s.n_bars)[:, None] * 4
    kick = np.array(_pick(rng, [[0, 0.75, 2.5], [0, 2.25, 2.5], [0, 1.5, 2.5, 3.25], [0, 2.5], [0, 1.75, 2.5]]))
    s.drums("kick", kit["kick"], (bars + kick).ravel(), 1.0)
    s.drums("drums", kit[_pick(rng, ["snare", "snare", "clap"])], (bars + np.array([1, 3])).ravel(), 0.95,
            send=0.2)
    step = _pick(rng, [0.5, 0.25])
    hb = np.arange(0, s.n_bars * 4, step)
    s.drums("drums", kit["hat_c"], hb, np.where(hb % 1 == 0, 0.45, 0.28))
    if rng.random() < 0.5:
        s.drums("drums", kit["hat_o"], (bars + 3.5).ravel(), 0.3)
    bass = _make_instr(_pick(rng, ["sub808", "sub808", "fingerbass", "sawbass"]), rng, sr)
    kb = (bars + kick).ravel()
    durs = np.diff(np.append(kb, s.n_bars * 4))
    s.notes("bass", bass, [key - 12 * (key > 40) + chord_at(b)[0] for b in kb], kb, durs * 0.95, 0.9)
    s.stems["bass"] = _filt(s.stems["bass"], "low", rng.uniform(250, 900), sr)
    keys = _make_instr(_pick(rng, ["epiano", "piano", "strings", "organ", "bell"]), rng, sr)
    chg = np.arange(len(chords)) * bpc
    restrike = rng.random() < 0.5
    on = np.sort(np.concatenate([chg, chg + 2.5])) if restrike else chg
    durs = np.diff(np.append(on, on[-1] + bpc)) * 0.95
    s.notes("keys", keys, [_voice(chord_at(b), key + 12, rng.uniform(58, 66)) for b in on], on, durs, 0.45,
            send=0.3)
    s.stems["keys"] = _filt(s.stems["keys"], "low", rng.uniform(1500, 5000), sr)  # dusty sample
    if rng.random() < 0.35:
        lead = _make_instr(_pick(rng, ["flute", "horn", "bell"]), rng, sr)
        on = np.arange(0, s.n_bars * 4, 0.5)
        on = on[rng.random(on.size) < 0.3]
        if on.size:
            s.notes("lead", lead, _melody(rng, key + 12, scale, chord_at, on, 60, 80), on, 0.45, 0.35, send=0.3)
    return s, (0.3, 1.0)


def _reggae(rng, seconds, sr):
    s = _Song(rng, seconds, sr, bpm=rng.uniform(64, 94), swing8=rng.uniform(0.5, 0.6), jitter=0.006)
    kit = _Kit(rng, sr)
    key = int(rng.integers(0, 12)) + 36
    minor = rng.random() < 0.4
    scale = _MINOR if minor else _MAJOR
    progs = [[0, 3], [0, 4], [0, 3, 4, 3], [0, 5, 3, 4], [0, 6], [0, 3, 0, 4]]
    chord_at, chords, bpc = _harmony(rng, s.n_bars, progs, _pick(rng, [1, 2]), scale=scale)
    bars = np.arange(s.n_bars)[:, None] * 4
    one_drop = rng.random() < 0.75
    kick = [2] if one_drop else [0, 2]
    s.drums("kick", kit["kick"], (bars + np.array(kick)).ravel(), 0.9)
    s.drums("drums", kit[_pick(rng, ["rim", "rim", "snare"])], (bars + 2).ravel(), 0.8, send=0.3)
    hb = np.arange(0, s.n_bars * 4, 0.5)
    s.drums("drums", kit["hat_c"], hb, np.where(hb % 1 == 0, 0.25, 0.4))
    # skank: short chord stabs on every off-beat
    skank = _make_instr(_pick(rng, ["pluck", "pluck", "organ", "piano"]), rng, sr)
    on = np.arange(0, s.n_bars * 4) + 0.5
    s.notes("skank", skank, [_voice(chord_at(b), key + 12, rng.uniform(64, 70)) for b in on], on,
            rng.uniform(0.12, 0.25), 0.55, send=0.35)
    if rng.random() < 0.5:  # organ bubble
        org = _make_instr("organ", rng, sr)
        ob = (bars + np.array([0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25, 3.75])).ravel()
        s.notes("bubble", org, [_voice(chord_at(b), key, 58) for b in ob], ob, 0.18, 0.3, send=0.2)
    # bass riff, one bar repeated (rest on the downbeat)
    bass = _make_instr(_pick(rng, ["fingerbass", "fingerbass", "sub808", "square"]), rng, sr)
    riff_pos = np.sort(rng.choice([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], size=int(rng.integers(4, 7)), replace=False))
    riff_int = rng.choice([0, 0, 7, 12, 4, 5, -5], size=riff_pos.size)
    bon = (bars + riff_pos).ravel()
    bint = np.tile(riff_int, s.n_bars)
    s.notes("bass", bass, [key + chord_at(b)[0] + int(i) for b, i in zip(bon, bint)], bon, 0.45, 1.0, gain_db=2.0)
    s.stems["bass"] = _filt(s.stems["bass"], "low", rng.uniform(300, 900), sr)
    if rng.random() < 0.3:
        lead = _make_instr(_pick(rng, ["horn", "flute", "squarelead"]), rng, sr)
        ln = np.arange(0, s.n_bars * 4, 1.0)
        ln = ln[rng.random(ln.size) < 0.5]
        if ln.size:
            s.notes("lead", lead, _melody(rng, key + 12, scale, chord_at, ln, 62, 80), ln, 0.9, 0.35, send=0.3)
    return s, (0.4, 1.4)


def _metal(rng, seconds, sr):
    s = _Song(rng, seconds, sr, bpm=rng.uniform(135, 200), jitter=0.004)
    kit = _Kit(rng, sr)
    key = int(rng.integers(35, 43))
    prog = _pick(rng, [[0, 1, 0, 3], [0, 5, 6, 3], [0, 3, 5, 6], [0, 0, 1, 0], [0, 8, 7, 1]])
    n = s.n_bars
    bars = np.arange(n)[:, None] * 4
    step = _pick(rng, [0.25, 0.5])
    kb = np.arange(0, n * 4, step)
    s.drums("kick", kit["kick"], kb, 0.85)
    if rng.random() < 0.25:  # blast beat
        s.drums("drums", kit["snare"], np.arange(0, n * 4, 0.5) + 0.5, 0.8, send=0.2)
    else:
        s.drums("drums", kit["snare"], (bars + np.array([1, 3])).ravel(), 0.95, send=0.2)
    cym = kit[_pick(rng, ["crash", "ride", "hat_c"])]
    s.drums("drums", cym, np.arange(0, n * 4, 1.0), 0.5, send=0.2)

    def root_at(b):
        return key + prog[int(b // 4) % len(prog)]

    on = np.arange(0, n * 4, 0.25)
    accent = rng.random(on.size) < 0.25
    chords = [[root_at(b), root_at(b) + 7, root_at(b) + 12] if a else [root_at(b)] for b, a in zip(on, accent)]
    gtr = _make_instr("guitar", rng, sr)
    s.notes("guitar", gtr, chords, on, np.where(accent, 0.24, 0.12), rng.uniform(0.75, 1.0, on.size), send=0.1)
    _guitar_stem(s, "guitar", rng, sr, (12.0, 40.0))
    bass = _make_instr(_pick(rng, ["fingerbass", "sawbass"]), rng, sr)
    bon = np.arange(0, n * 4, 0.5)
    s.notes("bass", bass, [root_at(b) - 12 for b in bon], bon, 0.45, 0.8)
    s.stems["bass"] = _filt(s.stems["bass"], "low", rng.uniform(600, 2000), sr)
    return s, (0.3, 1.0)


def _country(rng, seconds, sr):
    s = _Song(rng, seconds, sr, bpm=rng.uniform(88, 140), swing8=rng.uniform(0.5, 0.57), jitter=0.007)
    kit = _Kit(rng, sr)
    key = int(rng.integers(0, 12)) + 36
    scale = _MAJOR
    progs = [[0, 3, 4, 0], [0, 4, 3, 0], [0, 0, 3, 4], [0, 3, 0, 4], [0, 5, 3, 4]]
    chord_at, chords, bpc = _harmony(rng, s.n_bars, progs, _pick(rng, [1, 2]), scale=scale)
    bars = np.arange(s.n_bars)[:, None] * 4
    s.drums("kick", kit["kick"], (bars + np.array([0, 2])).ravel(), 0.8)
    train = rng.random() < 0.4
    if train:
        tb = np.arange(0, s.n_bars * 4, 0.5)
        s.drums("drums", kit["brush"], tb, np.where(tb % 1 == 0, 0.5, 0.8), send=0.2)
    else:
        s.drums("drums", kit[_pick(rng, ["snare", "rim"])], (bars + np.array([1, 3])).ravel(), 0.8, send=0.25)
        s.drums("drums", kit["hat_c"], np.arange(0, s.n_bars * 4, 0.5), 0.35)
    # boom-chick bass: root on 1, fifth on 3
    bass = _make_instr(_pick(rng, ["fingerbass", "upright"]), rng, sr)
    bon = (bars + np.array([0, 2])).ravel()
    bm = [key + chord_at(b)[0] + (7 if b % 4 == 2 else 0) - (12 if key > 42 else 0) for b in bon]
    s.notes("bass", bass, bm, bon, 1.4, 0.9)
    s.stems["bass"] = _filt(s.stems["bass"], "low", rng.uniform(700, 1800), sr)
    # strummed acoustic guitar
    gtr = _make_instr("pluck", rng, sr)
    pattern = np.array(_pick(rng, [[0, 1, 1.5, 2.5, 3], [0, 1, 2, 3], [0, 1.5, 2, 3, 3.5], [0, 0.5, 1.5, 2, 3]]))
    on = (bars + pattern).ravel()
    strums = [_voice(chord_at(b) + [chord_at(b)[0] + 12], key + 12, rng.uniform(55, 62)) for b in on]
    s.notes("guitar", gtr, strums, on, 0.9, rng.uniform(0.35, 0.55, on.size), send=0.25,
            strum=rng.uniform(0.006, 0.015))
    if rng.random() < 0.6:  # fiddle or steel-ish lead
        lead = _make_instr(_pick(rng, ["violin", "violin", "pluck", "horn"]), rng, sr)
        penta = (0, 2, 4, 7, 9)
        ln = np.arange(0, s.n_bars * 4, 0.5)
        ln = ln[rng.random(ln.size) < 0.4]
        if ln.size:
            s.notes("lead", lead, _melody(rng, key + 12, penta, chord_at, ln, 64, 84), ln, 0.6, 0.4,
                    send=0.3)
            s.stems["lead"] = _filt(s.stems["lead"], "low", rng.uniform(3000, 6000), sr)
    return s, (0.3, 1.2)


_ARRANGERS: dict[str, Callable] = {
    "classical": _classical,
    "electronic": _electronic,
    "jazz": _jazz,
    "rock": _rock,
    "hiphop": _hiphop,
    "reggae": _reggae,
    "metal": _metal,
    "country": _country,
}
assert set(_ARRANGERS) == set(GENRES)

#: stems kept out of the reverb (low end)
_DRY = ("kick", "bass")


def _check_genre(genre: str) -> None:
    if genre not in _ARRANGERS:
        raise ValueError(f"unknown genre {genre!r}; allowed genres: {', '.join(GENRES)}")


def render_clip(genre: str, *, seed: int, seconds: float = 30.0, sr: int = 22050) -> np.ndarray:
    """Render one synthetic clip of a genre.

    Parameters
    ----------
    genre : str
        One of :data:`GENRES`.
    seed : int
        Clip seed (see :func:`clip_seed`); the clip is a pure function of
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
    _check_genre(genre)
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    if int(sr) != sr or sr < 8000:
        raise ValueError(f"sample rate must be an integer >= 8000 Hz, got {sr!r}")
    sr = int(sr)
    rng = np.random.default_rng([int(seed) % 2**64, zlib.crc32(genre.encode())])
    song, (rt_lo, rt_hi) = _ARRANGERS[genre](rng, float(seconds), sr)
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
    # reverb: exponentially decaying, low-passed noise
    rt60 = rng.uniform(rt_lo, rt_hi)
    ir_n = int(min(rt60, 2.0) * sr)
    t = np.arange(ir_n) / sr
    ir = _onepole_lp(rng.standard_normal(ir_n), rng.uniform(2500, 7000), sr) * np.exp(-6.9 * t / rt60)
    ir /= np.sqrt(np.sum(ir**2)) + 1e-12
    wet = rng.uniform(0.4, 1.2)
    mix += wet * _signal.oaconvolve(bus, ir)[:n]
    rms = float(np.sqrt(np.mean(mix**2)))
    if rms > 0:
        mix /= rms
        # background noise (white or pink-ish), hum, crackle
        snr = rng.uniform(22.0, 55.0)
        noise = rng.standard_normal(n)
        if rng.random() < 0.5:
            noise = _onepole_lp(noise, rng.uniform(300, 3000), sr)
            noise /= np.sqrt(np.mean(noise**2)) + 1e-12
        mix += noise * 10.0 ** (-snr / 20.0)
        if rng.random() < 0.15:
            hum_f = _pick(rng, [50.0, 60.0])
            tt = np.arange(n) / sr
            hum = np.sin(_TWO_PI * hum_f * tt) + 0.5 * np.sin(_TWO_PI * 3 * hum_f * tt)
            mix += 10 ** (-rng.uniform(30, 45) / 20) * hum
        p_crackle = {"hiphop": 0.5, "jazz": 0.2, "classical": 0.15}.get(genre, 0.05)
        if rng.random() < p_crackle:
            pops = (rng.random(n) < rng.uniform(2, 15) / sr) * rng.standard_normal(n) * rng.uniform(0.5, 3.0)
            mix += _filt(pops, "high", 1000, sr)
        # mastering tone (tilt) and loudness
        lo = _onepole_lp(mix, rng.uniform(400.0, 2500.0), sr)
        tone_db = rng.uniform(-10.0, 10.0)  # > 0: brighter
        mix = lo * 10.0 ** (-tone_db / 40.0) + (mix - lo) * 10.0 ** (tone_db / 40.0)
        if rng.random() < 0.4:  # band-limited recording
            mix = _filt(mix, "low", rng.uniform(3500.0, 10000.0), sr)
        if rng.random() < 0.3:  # thin recording
            mix = _filt(mix, "high", rng.uniform(60.0, 250.0), sr)
        target = 10.0 ** (rng.uniform(-26.0, -12.0) / 20.0)
        mix *= target / (np.sqrt(np.mean(mix**2)) + 1e-12)
        peak = float(np.max(np.abs(mix)))
        if peak > 0.5:  # soft limiter above 0.5, then make sure the peak is <= 0.99
            over = np.abs(mix) > 0.5
            mix[over] = np.sign(mix[over]) * (0.5 + 0.5 * np.tanh((np.abs(mix[over]) - 0.5) / 0.5))
            peak = float(np.max(np.abs(mix)))
            if peak > 0.99:
                mix *= 0.99 / peak
    return mix.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# writing a dataset
# ----------------------------------------------------------------------------------------------


def _shift_seed(cs: int) -> int:
    return int.from_bytes(hashlib.sha256(f"mir.synth.shift:{cs}".encode()).digest()[:8], "big") & (2**63 - 1)


def _atomic_write_audio(path: Path, y: np.ndarray, sr: int, fmt: str) -> None:
    sf_format, subtype = _SF_FORMAT[fmt]
    tmp = path.with_name(f".{path.stem}.tmp.{os.getpid()}.{fmt}")
    try:
        sf.write(str(tmp), y, sr, format=sf_format, subtype=subtype)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _render_job(job: tuple) -> str:
    """Worker: render, shift and write one clip (top-level so it pickles)."""
    genre, cs, seconds, sr, fmt, shift, path = job
    y = render_clip(genre, seed=cs, seconds=seconds, sr=sr)
    out_sr = sr
    if shift is not None and not shift.is_identity():
        y, out_sr = apply_shift(y, sr=sr, shift=shift, seed=_shift_seed(cs))
    _atomic_write_audio(Path(path), y, out_sr, fmt)
    return path


def _mp_context():
    """``spawn`` (safe when the caller runs threads: Prefect, TensorFlow), unless the main
    module can't be re-imported by a spawned child (``python - < script``): then ``fork``."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and not os.path.exists(main_file) and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a leftover of this very process is stale by construction
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_stale_tmp(folder: Path) -> None:
    if not folder.is_dir():
        return
    for f in folder.iterdir():
        m = _TMP_RE.match(f.name)
        if m and f.is_file() and not _pid_alive(int(m.group(1))):
            f.unlink(missing_ok=True)


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.{os.getpid()}.json")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def generate(
    out_dir: str | os.PathLike,
    *,
    genres: Iterable[str],
    clips_per_genre: int,
    seconds: float = 30.0,
    sample_rate: int = 22050,
    seed: int = 0,
    fmt: str = "mp3",
    shift: Shift | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> list[dict]:
    """Write a synthetic dataset: ``<out_dir>/<genre>/<genre>.<index:05d>.<fmt>``.

    Each file is written atomically (a hidden temporary file in the same folder,
    then :func:`os.replace`), so an interrupted run never leaves a half-written
    clip under its final name; a clip whose file exists is skipped (resumable).
    ``<out_dir>/synth.json`` records the parameters.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Output folder (created).
    genres : iterable of str
        Genres to render, each one of :data:`GENRES`.
    clips_per_genre : int
        Clips per genre (indices ``0 .. clips_per_genre - 1``).
    seconds : float
        Clip duration.
    sample_rate : int
        Rendering sample rate (the file's rate unless ``shift.sample_rate`` is set).
    seed : int
        Dataset seed; clip ``i`` of genre ``g`` uses ``clip_seed(seed=seed, genre=g, index=i)``.
    fmt : str
        One of :data:`FORMATS` (file extension; MP3 via libsndfile, OGG Vorbis,
        16-bit PCM WAV and FLAC).
    shift : Shift or None
        Recording-condition change applied to every clip (noise seeded per clip).
    workers : int or None
        Worker processes (default ``os.cpu_count()``); ``1`` renders in-process.
        Workers are started with ``spawn``, so a script that calls this with
        several workers needs the usual ``if __name__ == "__main__":`` guard.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    list of dict
        One ``{"path", "genre", "index", "seed"}`` per clip (existing ones
        included), genres in the given order, then by index.

    Raises
    ------
    ValueError
        For an unknown genre or format, ``clips_per_genre < 1``, ``seconds <= 0``,
        an MP3 sample rate MP3 can't store, or a folder whose ``synth.json``
        was written with other content parameters (seed, seconds, rate, format,
        shift): its clips would not match.
    """
    if isinstance(genres, str):
        genres = [genres]
    genres = list(dict.fromkeys(genres))
    if not genres:
        raise ValueError("genres must name at least one genre")
    for g in genres:
        _check_genre(g)
    fmt = str(fmt).lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; allowed formats: {', '.join(FORMATS)}")
    if isinstance(clips_per_genre, bool) or int(clips_per_genre) != clips_per_genre or clips_per_genre < 1:
        raise ValueError(f"clips_per_genre must be an integer >= 1, got {clips_per_genre!r}")
    clips_per_genre = int(clips_per_genre)
    if not float(seconds) > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    seconds = float(seconds)
    if int(sample_rate) != sample_rate or sample_rate < 8000:
        raise ValueError(f"sample_rate must be an integer >= 8000 Hz, got {sample_rate!r}")
    sample_rate = int(sample_rate)
    if shift is not None and not isinstance(shift, Shift):
        raise ValueError(f"shift must be a Shift or None, got {type(shift).__name__}")
    out_sr = shift.sample_rate if shift is not None and shift.sample_rate is not None else sample_rate
    if fmt == "mp3" and out_sr not in _MP3_RATES:
        raise ValueError(f"MP3 can't store {out_sr} Hz; use one of {_MP3_RATES} or another format")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "generator": "mir.datasets.synth",
        "version": GENERATOR_VERSION,
        "genres": genres,
        "clips_per_genre": clips_per_genre,
        "seconds": seconds,
        "sample_rate": sample_rate,
        "seed": int(seed),
        "fmt": fmt,
        "shift": dataclasses.asdict(shift) if shift is not None else None,
    }
    meta_path = out / _META_NAME
    if meta_path.exists():
        try:
            old = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            old = None
        content_keys = ("version", "seconds", "sample_rate", "seed", "fmt", "shift")
        if isinstance(old, dict):
            diff = [k for k in content_keys if old.get(k) != meta[k]]
            if diff:
                raise ValueError(
                    f"{out} holds clips generated with other parameters ({', '.join(diff)} differ); "
                    "use another folder or delete it"
                )
    _remove_stale_tmp(out)
    _write_json_atomic(meta_path, meta)

    records, todo = [], []
    for g in genres:
        gdir = out / g
        gdir.mkdir(exist_ok=True)
        _remove_stale_tmp(gdir)
        for i in range(clips_per_genre):
            cs = clip_seed(seed=seed, genre=g, index=i)
            path = gdir / f"{g}.{i:05d}.{fmt}"
            records.append({"path": str(path), "genre": g, "index": i, "seed": cs})
            if not path.exists():
                todo.append((g, cs, seconds, sample_rate, fmt, shift, str(path)))

    n_workers = (os.cpu_count() or 1) if workers is None else int(workers)
    n_workers = max(1, min(n_workers, len(todo)))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(records), initial=len(records) - len(todo), desc=f"synth {out.name}", unit="clip")
    try:
        if n_workers == 1:
            for job in todo:
                _render_job(job)
                if bar is not None:
                    bar.update(1)
        elif todo:
            chunk = max(1, len(todo) // (n_workers * 4))
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=_mp_context()) as pool:
                for _ in pool.map(_render_job, todo, chunksize=chunk):
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return records


# --------------------------------------------------------------------------- the dataset-registry entry

#: The dataset's name in ``data.dataset`` (and its params.yaml section).
NAME = "synth"


def genres(cfg: "Config") -> list[str]:
    """The configured demo genres (``synth.genres``): exactly those are rendered."""
    return list(cfg.synth.genres)


def clips(cfg: "Config") -> list["Clip"]:
    """The demo's clips as rendered into ``data/raw/synth`` (:func:`render` writes them)."""
    raise ValueError("the synth dataset is rendered by the data stage (mir data prepare), not listed")


def render(cfg: "Config", out: Path, *, progress: bool = True) -> list["Clip"]:
    """Render the configured demo set into ``out`` (resumable); return its clips."""
    from mir.datasets.base import Clip

    written = generate(out, genres=cfg.synth.genres, clips_per_genre=cfg.synth.clips_per_genre,
                       seconds=cfg.synth.seconds, sample_rate=cfg.synth.sample_rate, seed=cfg.seed,
                       fmt=cfg.synth.format, workers=cfg.features.workers or None, progress=progress)
    return [Clip(clip_id=Path(w["path"]).relative_to(out).with_suffix("").as_posix(), path=Path(w["path"]),
                 genre=w["genre"]) for w in written]


def clips_per_genre(cfg: "Config") -> int:
    """How many clips of each genre :func:`render` writes."""
    return cfg.synth.clips_per_genre
