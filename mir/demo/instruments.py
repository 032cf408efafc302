"""Pitched instruments of the demo generator: one small builder per timbre, looked up by name.

A builder draws the instrument's per-clip timbre parameters from the clip's random generator (in a fixed
order: changing it changes every clip) and returns ``fn(freq, n_on) -> samples``, the note with its
release tail. :func:`make_instr` is the only entry point.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mir.demo.dsp import TWO_PI, envelope, filt, harmonics, pulse, saw

#: ``fn(freq, n_on, n_rel) -> samples``: a note held for ``n_on`` samples plus its ``n_rel``-sample release tail
NoteFn = Callable[[float, int, int], np.ndarray]


class Instr:
    """A pitched instrument: :meth:`note` renders one note with its release tail."""

    def __init__(self, name: str, fn: NoteFn, *, release: float, sr: int):
        self.name = name
        self.fn = fn
        self.release = release
        self.sr = sr

    def note(self, f: float, n_on: int) -> np.ndarray:
        """The note of frequency ``f`` held ``n_on`` samples, then ``release`` seconds of tail."""
        return self.fn(f, n_on, int(self.release * self.sr))


def _uniforms(rng: np.random.Generator, *ranges: tuple[float, float]) -> list[float]:
    """One uniform draw per ``(low, high)`` range, in order."""
    return [rng.uniform(lo, hi) for lo, hi in ranges]


def _saw_stack(base: np.ndarray, offs: np.ndarray, spread: float) -> np.ndarray:
    """Detuned saws: one per offset in ``offs``, phases spread by ``spread`` cycles."""
    y = np.zeros(base.size)
    for i, o in enumerate(offs):
        y += saw(base * (1.0 + o) + spread * i)
    return y


def _piano(*, kind: str, rng: np.random.Generator, sr: int) -> Instr:
    bright, odd_gain, tau0 = _uniforms(rng, (0.0, 1.0), (0.6, 1.0), (0.8, 2.0))
    amps = np.arange(1, 13, dtype=float) ** -(1.3 + 1.0 * (1.0 - bright))
    amps[1::2] *= odd_gain

    def fn(f, n_on, n_rel):
        tau = tau0 * min(2.5, (262.0 / f) ** 0.6)
        y = harmonics(f, n_on + n_rel, sr, amps, tau=tau, beta=0.35)
        return y * envelope(n_on, n_rel, sr, attack=0.003, sustain=1.0)

    return Instr(kind, fn, release=0.12, sr=sr)


def _epiano(*, kind: str, rng: np.random.Generator, sr: int) -> Instr:
    """FM electric piano."""
    index0, tine, tau0 = _uniforms(rng, (1.0, 3.5), (0.05, 0.3), (0.8, 2.0))

    def fn(f, n_on, n_rel):
        t = np.arange(n_on + n_rel) / sr
        ph = TWO_PI * f * t
        y = np.sin(ph + index0 * np.exp(-t / 0.25) * np.sin(ph))
        if 14 * f < 0.45 * sr:
            y += tine * np.sin(14 * ph) * np.exp(-t / 0.04)
        return y * envelope(n_on, n_rel, sr, attack=0.002, decay=tau0 * min(2.0, (262 / f) ** 0.5), sustain=0.0)

    return Instr(kind, fn, release=0.15, sr=sr)


def _organ(*, kind: str, rng: np.random.Generator, sr: int) -> Instr:
    # drawbars 16', 8', 4', 2 2/3', 2', 1 1/3', 1' = harmonics 1, 2, 4, 6, 8, 12, 16 of f/2 (8' at 1.0)
    *bars, trem, trem_d = _uniforms(rng, (0.3, 1.0), (0.2, 1.0), (0.0, 0.7), (0.0, 0.6), (0.0, 0.4), (0.0, 0.4),
                                    (4.5, 7.0), (0.0, 0.25))
    amps = np.zeros(16)
    amps[[0, 1, 3, 5, 7, 11, 15]] = [bars[0], 1.0, *bars[1:]]

    def fn(f, n_on, n_rel):
        t = np.arange(n_on + n_rel) / sr
        y = harmonics(0.5 * f, t.size, sr, amps)
        y *= 1.0 - trem_d * (0.5 + 0.5 * np.sin(TWO_PI * trem * t))
        return 0.35 * y * envelope(n_on, n_rel, sr, attack=0.006, sustain=1.0)

    return Instr(kind, fn, release=0.04, sr=sr)


#: oscillators and the draw ranges of detune, vibrato depth and attack
_BOWED = {
    "strings": (3, (0.002, 0.007), (0.002, 0.005), (0.08, 0.35)),  # a section: three detuned saws
    "violin": (2, (0.0005, 0.002), (0.004, 0.008), (0.04, 0.12)),
}


def _bowed(*, kind: str, rng: np.random.Generator, sr: int) -> Instr:
    """``strings`` or ``violin``: detuned saws with delayed vibrato."""
    n_osc, detune_range, depth_range, attack_range = _BOWED[kind]
    detune, vib_rate, vib_depth, attack = _uniforms(rng, detune_range, (4.8, 6.2), depth_range, attack_range)
    offs = np.linspace(-detune, detune, n_osc)

    def fn(f, n_on, n_rel):
        t = np.arange(n_on + n_rel) / sr
        vib = 1.0 + vib_depth * np.minimum(1.0, t / 0.4) * np.sin(TWO_PI * vib_rate * t)
        y = _saw_stack(np.cumsum(vib) * (f / sr), offs, 0.31)
        return (0.5 / n_osc) * y * envelope(n_on, n_rel, sr, attack=attack, sustain=1.0)

    return Instr(kind, fn, release=0.3, sr=sr)


def _supersaw(*, kind: str, rng: np.random.Generator, sr: int) -> Instr:
    n_osc = int(rng.integers(3, 6))
    detune, attack = _uniforms(rng, (0.003, 0.012), (0.01, 0.3))
    offs = np.linspace(-detune, detune, n_osc)

    def fn(f, n_on, n_rel):
        y = _saw_stack(np.arange(n_on + n_rel) * (f / sr), offs, 0.37)
        return (0.6 / n_osc) * y * envelope(n_on, n_rel, sr, attack=attack, sustain=1.0)

    return Instr(kind, fn, release=0.2, sr=sr)


def _square(*, kind: str, rng: np.random.Generator, sr: int) -> Instr:
    """``square`` or ``squarelead`` (with vibrato)."""
    width, decay, sustain = _uniforms(rng, (0.25, 0.5), (0.1, 0.5), (0.3, 0.9))
    vib = kind == "squarelead"

    def fn(f, n_on, n_rel):
        t = np.arange(n_on + n_rel) / sr
        ph = f * t
        if vib:
            ph = np.cumsum(1.0 + 0.004 * np.sin(TWO_PI * 5.5 * t)) * (f / sr)
        return 0.3 * pulse(ph, width) * envelope(n_on, n_rel, sr, attack=0.004, decay=decay, sustain=sustain)

    return Instr(kind, fn, release=0.05, sr=sr)


_PLUCKED = ("pluck", "upright", "fingerbass")


def _plucked(*, kind: str, rng: np.random.Generator, sr: int) -> Instr:
    """``pluck``, ``upright`` or ``fingerbass``: additive Karplus-Strong-like harmonic damping."""
    # the decay and damping of every kind are drawn (then this kind's kept): the palette's draw order
    pos, *decays, pick = _uniforms(rng, (0.08, 0.3), (0.6, 2.0), (0.4, 0.9), (0.8, 2.0),
                                   (0.15, 0.5), (0.5, 1.2), (0.3, 0.8), (0.0, 0.4))
    tau0, beta = decays[_PLUCKED.index(kind)], decays[3 + _PLUCKED.index(kind)]
    k = np.arange(1, 17)
    amps = np.abs(np.sin(np.pi * k * pos)) / k ** (1.0 if kind == "pluck" else 1.6)

    def fn(f, n_on, n_rel):
        n = n_on + n_rel
        y = harmonics(f, n, sr, amps, tau=tau0 * min(2.0, (196.0 / f) ** 0.3), beta=beta)
        if pick:
            m = min(n, int(0.004 * sr))
            y[:m] += pick * np.hanning(2 * m)[m:] * np.sin(TWO_PI * 8.0 * f * np.arange(m) / sr)
        return y * envelope(n_on, n_rel, sr, attack=0.001, sustain=1.0)

    return Instr(kind, fn, release=0.06, sr=sr)


def _sawbass(*, kind: str, rng: np.random.Generator, sr: int) -> Instr:
    """``sawbass`` or ``acidbass``: a saw with a sine sub-octave."""
    decay, sustain = _uniforms(rng, (0.08, 0.4), (0.2, 0.8))

    def fn(f, n_on, n_rel):
        i = np.arange(n_on + n_rel)
        y = saw(i * (f / sr)) + 0.5 * np.sin(TWO_PI * 0.5 * f * i / sr)  # + sub-octave
        return 0.4 * y * envelope(n_on, n_rel, sr, attack=0.003, decay=decay, sustain=sustain)

    return Instr(kind, fn, release=0.03, sr=sr)


def _sub808(*, kind: str, rng: np.random.Generator, sr: int) -> Instr:
    """A driven sine with a pitch drop at the onset."""
    tau, drive = _uniforms(rng, (0.4, 1.5), (1.0, 3.0))

    def fn(f, n_on, n_rel):
        t = np.arange(n_on + n_rel) / sr
        inst = f * (1.0 + 1.0 * np.exp(-t / 0.025))
        y = np.tanh(drive * np.sin(TWO_PI * np.cumsum(inst) / sr)) / np.tanh(drive)
        return y * np.exp(-t / tau) * envelope(n_on, n_rel, sr, attack=0.002, sustain=1.0)

    return Instr(kind, fn, release=0.05, sr=sr)


#: two-operator FM voices: modulator ratios drawn from, index range top, release (s), index decay (s),
#: gain and the envelope's attack, decay and sustain
_FM = {
    "fmbass": ([0.5, 1.0, 2.0], 4.0, 0.03, 0.15, 0.8, (0.002, 0.3, 0.6)),
    "bell": ([1.4, 2.0, 3.5], 3.0, 0.1, 0.3, 0.6, (0.001, 0.5, 0.0)),  # FM bell / mallet (arpeggios)
}


def _fm(*, kind: str, rng: np.random.Generator, sr: int) -> Instr:
    """``fmbass`` or ``bell``: a sine modulated by a sine at a drawn ratio, the index decaying."""
    ratios, index_hi, release, index_decay, gain, (attack, decay, sustain) = _FM[kind]
    ratio = float(rng.choice(ratios))
    index0 = rng.uniform(1.0, index_hi)

    def fn(f, n_on, n_rel):
        t = np.arange(n_on + n_rel) / sr
        y = np.sin(TWO_PI * f * t + index0 * np.exp(-t / index_decay) * np.sin(TWO_PI * ratio * f * t))
        return gain * y * envelope(n_on, n_rel, sr, attack=attack, decay=decay, sustain=sustain)

    return Instr(kind, fn, release=release, sr=sr)


def _wind(*, kind: str, rng: np.random.Generator, sr: int) -> Instr:
    """``horn`` (many harmonics) or ``flute`` (few, plus breath noise), both with vibrato."""
    u = rng.uniform
    vib_rate = u(4.5, 6.0)
    vib_depth = u(0.003, 0.008)
    if kind == "horn":
        amps = np.arange(1, 16) ** -u(0.9, 1.5)
    else:
        amps = np.array([1.0, u(0.05, 0.3), u(0.0, 0.15), u(0.0, 0.05)])
    breath = u(0.0, 0.15) if kind == "flute" else 0.0
    nrng = np.random.default_rng(int(rng.integers(2**32)))

    def fn(f, n_on, n_rel):
        t = np.arange(n_on + n_rel) / sr
        vib = 1.0 + vib_depth * np.minimum(1.0, t / 0.3) * np.sin(TWO_PI * vib_rate * t)
        y = harmonics(f, t.size, sr, amps, vib=vib)
        if breath:
            y += breath * filt(nrng.standard_normal(t.size), "band", (f, min(4 * f, 0.4 * sr)), sr)
        return 0.5 * y * envelope(n_on, n_rel, sr, attack=0.05 if kind == "flute" else 0.03, sustain=1.0)

    return Instr(kind, fn, release=0.08, sr=sr)


def _guitar(*, kind: str, rng: np.random.Generator, sr: int) -> Instr:
    """Raw oscillator for the distorted-guitar stem (the distortion is the arranger's)."""
    mix, detune = _uniforms(rng, (0.0, 0.6), (0.001, 0.004))

    def fn(f, n_on, n_rel):
        ph = np.arange(n_on + n_rel) * (f / sr)
        y = (1 - mix) * saw(ph) + mix * pulse(ph * (1 + detune) + 0.2, 0.4)
        y += 0.7 * saw(ph * (1 - detune) + 0.5)
        return 0.4 * y * envelope(n_on, n_rel, sr, attack=0.002, decay=0.8, sustain=0.5)

    return Instr(kind, fn, release=0.03, sr=sr)


_BUILDERS: dict[str, Callable[..., Instr]] = {
    "piano": _piano,
    "epiano": _epiano,
    "organ": _organ,
    "strings": _bowed,
    "violin": _bowed,
    "supersaw": _supersaw,
    "square": _square,
    "squarelead": _square,
    "pluck": _plucked,
    "upright": _plucked,
    "fingerbass": _plucked,
    "sawbass": _sawbass,
    "acidbass": _sawbass,
    "sub808": _sub808,
    "fmbass": _fm,
    "bell": _fm,
    "horn": _wind,
    "flute": _wind,
    "guitar": _guitar,
}
INSTRUMENTS: tuple[str, ...] = tuple(_BUILDERS)
"""Every instrument name :func:`make_instr` knows."""


def make_instr(kind: str, rng: np.random.Generator, sr: int) -> Instr:
    """One instrument with per-clip random timbre parameters.

    Raises
    ------
    KeyError
        For a name not in :data:`INSTRUMENTS` (internal palette names only).
    """
    return _BUILDERS[kind](kind=kind, rng=rng, sr=sr)
