"""Recording-condition changes ("new music"): :class:`Shift` and :func:`apply_shift`.

The codec of shifted music is :func:`mir.demo.generate`'s ``fmt``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import soxr
from scipy import signal as _signal

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


