"""One clip's song: timing (tempo, swing, rubato, humanisation), harmony, melody, and stems to place notes in.

The arrangers (:mod:`mir.demo.arrange_base`, :mod:`mir.demo.arrange_extra`) build a :class:`Song` per clip
and add drums and notes to its stems; :func:`mir.demo.render.render_clip` mixes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from mir.demo import artists
from mir.demo.dsp import hz, place
from mir.demo.instruments import Instr

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
HMINOR = (0, 2, 3, 5, 7, 8, 11)


def diatonic_chord(scale, degree: int, size: int = 3) -> list[int]:
    """Semitones above the key root of the diatonic chord on ``degree`` (stacked thirds)."""
    return [scale[(degree + 2 * i) % 7] + 12 * ((degree + 2 * i) // 7) for i in range(size)]


def voice(semis, root: int, center: float) -> list[int]:
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


class Song:
    """Timing (tempo, swing, rubato, humanisation) and stems for one clip."""

    def __init__(self, rng: np.random.Generator, seconds: float, sr: int, *, bpm: float, swing8: float = 0.5,
                 swing16: float = 0.5, jitter: float = 0.0, rubato: float = 0.0):
        self.rng, self.sr = rng, sr
        self.n = max(1, int(round(seconds * sr)))
        self.spb = 60.0 / bpm
        artist = artists.current()
        if artist is not None:  # the artist's timing habits: tighter or looser than the genre's norm
            jitter *= artist.tightness
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
        """The buffer of stem ``name``, created silent (with its mix gain and reverb send) on first use."""
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
        """Add a drum ``sample`` at song positions ``beats`` (in beats), velocities humanised."""
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
            place(buf, int(i), sample, float(v))

    def notes(self, stem: str, instr: Instr, midis, beats, durs, vels=1.0, gain_db: float = 0.0,
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
                    x = instr.note(hz(mm, self.tune), n_on)
                    self._notes[key] = x
                place(buf, int(round((start + j * strum) * self.sr)), x, v)

    def beat_envelope(self, beats_per_pulse: float, depth: float, release: float) -> np.ndarray:
        """Side-chain "pumping" gain: dips to ``1 - depth`` on every pulse, recovering in ``release`` s."""
        pulses = self.times(np.arange(0, self.n_bars * 4, beats_per_pulse), humanize=False)
        t = np.arange(self.n) / self.sr
        i = np.searchsorted(pulses, t, side="right") - 1
        since = t - pulses[np.clip(i, 0, None)]
        since[i < 0] = 10.0
        return 1.0 - depth * np.exp(-since / release)


def melody(rng, root: int, scale, chord_at: Callable[[float], list[int]], onsets, lo: int, hi: int) -> list[int]:
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


def harmony(rng, n_bars: int, progs, bars_per_chord: float, *, scale, size: int = 3):
    """Chord per bar position: returns ``chord_at(beat) -> semitones`` and the chord list per change."""
    prog = progs[int(rng.integers(len(progs)))]
    beats_per = 4.0 * bars_per_chord
    n_changes = int(math.ceil(n_bars * 4 / beats_per)) + 1
    chords = [diatonic_chord(scale, prog[i % len(prog)], size) for i in range(n_changes)]

    def chord_at(b: float) -> list[int]:
        return chords[min(int(b // beats_per), n_changes - 1)]

    return chord_at, chords, beats_per


def pick(rng, options):
    """One of ``options``, drawn with ``rng``: uniformly, or by the current artist's preferences
    (:meth:`mir.demo.artists.Artist.weights`) while a clip of an artist renders."""
    artist = artists.current()
    if artist is None or len(options) < 2:
        return options[int(rng.integers(len(options)))]
    cum = np.cumsum(artist.weights(options))
    return options[min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(options) - 1)]


def tempo(rng, lo: float, hi: float) -> float:
    """A clip's tempo in the genre's range ``[lo, hi]`` BPM: inside the current artist's own window of it,
    or the tempo a crossover part follows (:func:`mir.demo.artists.bpm_override`); one draw either way."""
    u = float(rng.random())
    fixed = artists.bpm_override()
    if fixed is not None:
        return fixed
    artist = artists.current()
    if artist is not None:
        u = float(np.clip(artist.tempo_u + (u - 0.5) * artist.tempo_spread, 0.0, 1.0))
    return lo + u * (hi - lo)


class Tonality(NamedTuple):
    """A clip's key (MIDI note of the tonic), scale and chords (see :func:`harmony`)."""

    key: int
    scale: tuple[int, ...]
    chord_at: Callable[[float], list[int]]
    chords: list[list[int]]
    beats_per_chord: float


def tonality(rng, s: Song, *, progs, bars_per_chord: list[float], p_minor: float | None = None,
             minor_scale: tuple[int, ...] = MINOR, lowest: int = 36, size: int | list[int] = 3) -> Tonality:
    """Draw a key (``lowest`` + a pitch class), the mode (minor with chance ``p_minor``; ``None``: major
    without a draw), the chord duration (one of ``bars_per_chord``), the chord size (one of ``size`` when
    a list) and a progression of ``progs``, in that order."""
    key = int(rng.integers(0, 12)) + lowest
    scale = MAJOR if p_minor is None else (minor_scale if rng.random() < p_minor else MAJOR)
    per_chord = pick(rng, bars_per_chord)
    chord_at, chords, bpc = harmony(rng, s.n_bars, progs, per_chord, scale=scale,
                                    size=pick(rng, size) if isinstance(size, list) else size)
    return Tonality(key, scale, chord_at, chords, bpc)
