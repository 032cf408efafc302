"""Drum sounds of the demo generator: a per-clip kit of noise and oscillator voices with envelopes."""

from __future__ import annotations

import zlib

import numpy as np

from mir.demo.dsp import TWO_PI, filt, pulse

class Kit:
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
        y = np.sin(TWO_PI * np.cumsum(inst) / sr) * np.exp(-t / dec)
        y += r.uniform(0.05, 0.4) * r.standard_normal(t.size) * np.exp(-t / 0.004)
        return y

    def _snare(self, r, sr):
        t = self._t(0.45, sr)
        fc = r.uniform(1500, 5000)
        noise = filt(r.standard_normal(t.size), "band", (fc * 0.4, min(fc * 2.2, 0.45 * sr)), sr)
        y = noise * np.exp(-t / r.uniform(0.07, 0.2)) * r.uniform(1.5, 3.0)
        y += r.uniform(0.3, 0.8) * np.sin(TWO_PI * r.uniform(160, 240) * t) * np.exp(-t / 0.05)
        return y

    def _rim(self, r, sr):
        t = self._t(0.12, sr)
        y = filt(r.standard_normal(t.size), "band", (1200, 3500), sr) * np.exp(-t / 0.008) * 2.0
        y += np.sin(TWO_PI * r.uniform(700, 1000) * t) * np.exp(-t / 0.015)
        return y

    def _clap(self, r, sr):
        t = self._t(0.4, sr)
        noise = filt(r.standard_normal(t.size), "band", (800, min(3000, 0.45 * sr)), sr) * 2.5
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
            metal += pulse(f0 * ratio * t)
        y = 0.6 * r.standard_normal(t.size) + 0.15 * metal
        y = filt(y, "high", r.uniform(5000, 8000) if sr > 17000 else 0.35 * sr, sr, order=4)
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
            metal += pulse(f0 * ratio * t)
        y = filt(0.2 * metal + 0.3 * r.standard_normal(t.size), "high", 3000, sr, order=2)
        bell = np.sin(TWO_PI * r.uniform(2500, 3500) * t) * np.exp(-t / 0.25) * r.uniform(0.05, 0.3)
        return (y * np.exp(-t / r.uniform(0.3, 0.8)) + bell) * 0.7

    def _crash(self, r, sr):
        t = self._t(2.0, sr)
        y = filt(r.standard_normal(t.size), "high", r.uniform(2500, 5000), sr, order=2)
        return y * np.exp(-t / r.uniform(0.5, 1.2)) * 0.8

    def _brush(self, r, sr):
        t = self._t(0.35, sr)
        y = filt(r.standard_normal(t.size), "band", (1500, min(8000, 0.45 * sr)), sr)
        return y * np.minimum(1.0, t / 0.02) * np.exp(-t / r.uniform(0.06, 0.15)) * 0.8

    def _tom(self, r, sr):
        t = self._t(0.5, sr)
        f0 = r.uniform(90, 180)
        inst = f0 * (1 + 0.5 * np.exp(-t / 0.04))
        return np.sin(TWO_PI * np.cumsum(inst) / sr) * np.exp(-t / r.uniform(0.15, 0.35))

