"""Synthesis primitives of the demo generator: pitch, filters, envelopes, oscillators, mixing into a buffer.

Plain numpy/scipy; every function is pure (no random numbers drawn here).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal as _signal

TWO_PI = 2.0 * np.pi


def hz(midi: float, tune_cents: float = 0.0) -> float:
    """Frequency (Hz) of a MIDI note, detuned by ``tune_cents``."""
    return 440.0 * 2.0 ** ((float(midi) - 69.0 + tune_cents / 100.0) / 12.0)


def _sos(kind: str, fc, sr: int, order: int = 2):
    """Butterworth second-order sections, the cut-off(s) kept within 20 Hz .. 0.95 Nyquist."""
    nyq = 0.5 * sr
    if np.ndim(fc):
        fc = [min(max(f, 20.0), 0.95 * nyq) for f in fc]
    else:
        fc = min(max(float(fc), 20.0), 0.95 * nyq)
    return _signal.butter(order, fc, btype=kind, fs=sr, output="sos")


def filt(x: np.ndarray, kind: str, fc, sr: int, order: int = 2) -> np.ndarray:
    """Butterworth filter (``kind``: low, high, band) of order ``order`` at ``fc`` (a pair for band)."""
    return _signal.sosfilt(_sos(kind, fc, sr, order), x)


def onepole_lp(x: np.ndarray, fc: float, sr: int) -> np.ndarray:
    """One-pole low-pass at ``fc`` (at most 0.45 of the sample rate)."""
    a = math.exp(-TWO_PI * min(fc, 0.45 * sr) / sr)
    return _signal.lfilter([1.0 - a], [1.0, -a], x)


def envelope(n_on: int, n_rel: int, sr: int, *, attack: float = 0.005, decay: float = 0.3,
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


def harmonics(f: float, n: int, sr: int, amps, *, tau: float | None = None, beta: float = 0.0,
               vib: np.ndarray | None = None) -> np.ndarray:
    """Σ_k amps[k-1]·sin(k·φ)·exp(-t(1+β(k-1))/τ) by the Chebyshev recurrence (one sin, one cos)."""
    t = np.arange(n) / sr
    phase = TWO_PI * f * t if vib is None else TWO_PI * np.cumsum(f * vib) / sr
    phase = np.mod(phase, TWO_PI)
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


def saw(phase: np.ndarray) -> np.ndarray:
    """Naive sawtooth in [-1, 1) of a phase in cycles."""
    return 2.0 * (phase - np.floor(phase)) - 1.0


def pulse(phase: np.ndarray, width: float = 0.5) -> np.ndarray:
    """Naive pulse wave (±1) of a phase in cycles, high for ``width`` of each cycle."""
    return np.where(phase - np.floor(phase) < width, 1.0, -1.0)


def place(buf: np.ndarray, start: int, x: np.ndarray, gain: float = 1.0) -> None:
    """Add ``gain * x`` into ``buf`` at sample ``start`` (clipped to the buffer)."""
    n = buf.size
    a, b = start, start + x.size
    if b <= 0 or a >= n:
        return
    xa = max(0, -a)
    xb = x.size - max(0, b - n)
    buf[max(a, 0):min(b, n)] += gain * x[xa:xb]

