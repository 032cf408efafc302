"""Arrangers of the further genres (hiphop, reggae, metal, country): "a new genre arrives".

Same contract as :mod:`mir.demo.arrange_base`.
"""

from __future__ import annotations

import numpy as np

from mir.demo.arrange_base import guitar_stem
from mir.demo.drums import Kit
from mir.demo.dsp import filt
from mir.demo.instruments import make_instr
from mir.demo.song import Song, melody, pick, tempo, tonality, voice

def _sparse_lead(s: Song, rng, sr: int, *, p: float, choices: list[str], step: float, density: float,
                 tonic: int, scale, chord_at, pitch_range: tuple[int, int], dur: float, vel: float) -> bool:
    """With chance ``p``, a ``"lead"`` stem: a melody on a random ``density`` share of a ``step``-beat grid,
    played by one of ``choices``; whether it has notes."""
    if not rng.random() < p:
        return False
    lead = make_instr(pick(rng, choices), rng, sr)
    on = np.arange(0, s.n_bars * 4, step)
    on = on[rng.random(on.size) < density]
    if not on.size:
        return False
    s.notes("lead", lead, melody(rng, tonic, scale, chord_at, on, *pitch_range), on, dur, vel, send=0.3)
    return True


def hiphop(rng, seconds, sr):
    """A swung 16th-note beat, an 808 or finger bass on the kicks, dusty keys."""
    s = Song(rng, seconds, sr, bpm=tempo(rng, 78, 100), swing16=rng.uniform(0.53, 0.64), jitter=0.006)
    kit = Kit(rng, sr)
    progs = [[0, 3], [0, 5], [0, 6], [0, 5, 3, 4], [0, 0, 3, 3]]
    key, scale, chord_at, chords, bpc = tonality(rng, s, progs=progs, bars_per_chord=[1, 2], p_minor=0.8, size=4)
    bars = np.arange(s.n_bars)[:, None] * 4
    kick = np.array(pick(rng, [[0, 0.75, 2.5], [0, 2.25, 2.5], [0, 1.5, 2.5, 3.25], [0, 2.5], [0, 1.75, 2.5]]))
    s.drums("kick", kit["kick"], (bars + kick).ravel(), 1.0)
    s.drums("drums", kit[pick(rng, ["snare", "snare", "clap"])], (bars + np.array([1, 3])).ravel(), 0.95,
            send=0.2)
    step = pick(rng, [0.5, 0.25])
    hb = np.arange(0, s.n_bars * 4, step)
    s.drums("drums", kit["hat_c"], hb, np.where(hb % 1 == 0, 0.45, 0.28))
    if rng.random() < 0.5:
        s.drums("drums", kit["hat_o"], (bars + 3.5).ravel(), 0.3)
    bass = make_instr(pick(rng, ["sub808", "sub808", "fingerbass", "sawbass"]), rng, sr)
    kb = (bars + kick).ravel()
    durs = np.diff(np.append(kb, s.n_bars * 4))
    s.notes("bass", bass, [key - 12 * (key > 40) + chord_at(b)[0] for b in kb], kb, durs * 0.95, 0.9)
    s.stems["bass"] = filt(s.stems["bass"], "low", rng.uniform(250, 900), sr)
    keys = make_instr(pick(rng, ["epiano", "piano", "strings", "organ", "bell"]), rng, sr)
    chg = np.arange(len(chords)) * bpc
    restrike = rng.random() < 0.5
    on = np.sort(np.concatenate([chg, chg + 2.5])) if restrike else chg
    durs = np.diff(np.append(on, on[-1] + bpc)) * 0.95
    s.notes("keys", keys, [voice(chord_at(b), key + 12, rng.uniform(58, 66)) for b in on], on, durs, 0.45,
            send=0.3)
    s.stems["keys"] = filt(s.stems["keys"], "low", rng.uniform(1500, 5000), sr)  # dusty sample
    _sparse_lead(s, rng, sr, p=0.35, choices=["flute", "horn", "bell"], step=0.5, density=0.3,
                 tonic=key + 12, scale=scale, chord_at=chord_at, pitch_range=(60, 80), dur=0.45, vel=0.35)
    return s, (0.3, 1.0)


def reggae(rng, seconds, sr):
    """One-drop drums, off-beat skank stabs, organ bubble and a repeated bass riff."""
    s = Song(rng, seconds, sr, bpm=tempo(rng, 64, 94), swing8=rng.uniform(0.5, 0.6), jitter=0.006)
    kit = Kit(rng, sr)
    progs = [[0, 3], [0, 4], [0, 3, 4, 3], [0, 5, 3, 4], [0, 6], [0, 3, 0, 4]]
    key, scale, chord_at, chords, bpc = tonality(rng, s, progs=progs, bars_per_chord=[1, 2], p_minor=0.4)
    bars = np.arange(s.n_bars)[:, None] * 4
    one_drop = rng.random() < 0.75
    kick = [2] if one_drop else [0, 2]
    s.drums("kick", kit["kick"], (bars + np.array(kick)).ravel(), 0.9)
    s.drums("drums", kit[pick(rng, ["rim", "rim", "snare"])], (bars + 2).ravel(), 0.8, send=0.3)
    hb = np.arange(0, s.n_bars * 4, 0.5)
    s.drums("drums", kit["hat_c"], hb, np.where(hb % 1 == 0, 0.25, 0.4))
    # skank: short chord stabs on every off-beat
    skank = make_instr(pick(rng, ["pluck", "pluck", "organ", "piano"]), rng, sr)
    on = np.arange(0, s.n_bars * 4) + 0.5
    s.notes("skank", skank, [voice(chord_at(b), key + 12, rng.uniform(64, 70)) for b in on], on,
            rng.uniform(0.12, 0.25), 0.55, send=0.35)
    if rng.random() < 0.5:  # organ bubble
        org = make_instr("organ", rng, sr)
        ob = (bars + np.array([0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25, 3.75])).ravel()
        s.notes("bubble", org, [voice(chord_at(b), key, 58) for b in ob], ob, 0.18, 0.3, send=0.2)
    # bass riff, one bar repeated (rest on the downbeat)
    bass = make_instr(pick(rng, ["fingerbass", "fingerbass", "sub808", "square"]), rng, sr)
    riff_pos = np.sort(rng.choice([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], size=int(rng.integers(4, 7)), replace=False))
    riff_int = rng.choice([0, 0, 7, 12, 4, 5, -5], size=riff_pos.size)
    bon = (bars + riff_pos).ravel()
    bint = np.tile(riff_int, s.n_bars)
    s.notes("bass", bass, [key + chord_at(b)[0] + int(i) for b, i in zip(bon, bint)], bon, 0.45, 1.0, gain_db=2.0)
    s.stems["bass"] = filt(s.stems["bass"], "low", rng.uniform(300, 900), sr)
    _sparse_lead(s, rng, sr, p=0.3, choices=["horn", "flute", "squarelead"], step=1.0, density=0.5,
                 tonic=key + 12, scale=scale, chord_at=chord_at, pitch_range=(62, 80), dur=0.9, vel=0.35)
    return s, (0.4, 1.4)


def metal(rng, seconds, sr):
    """Fast double-kick (or blast beat) drums; short, heavily distorted 16th-note riffs with accented chords."""
    s = Song(rng, seconds, sr, bpm=tempo(rng, 135, 200), jitter=0.004)
    kit = Kit(rng, sr)
    key = int(rng.integers(35, 43))
    prog = pick(rng, [[0, 1, 0, 3], [0, 5, 6, 3], [0, 3, 5, 6], [0, 0, 1, 0], [0, 8, 7, 1]])
    n = s.n_bars
    bars = np.arange(n)[:, None] * 4
    step = pick(rng, [0.25, 0.5])
    kb = np.arange(0, n * 4, step)
    s.drums("kick", kit["kick"], kb, 0.85)
    if rng.random() < 0.25:  # blast beat
        s.drums("drums", kit["snare"], np.arange(0, n * 4, 0.5) + 0.5, 0.8, send=0.2)
    else:
        s.drums("drums", kit["snare"], (bars + np.array([1, 3])).ravel(), 0.95, send=0.2)
    cym = kit[pick(rng, ["crash", "ride", "hat_c"])]
    s.drums("drums", cym, np.arange(0, n * 4, 1.0), 0.5, send=0.2)

    def root_at(b):
        return key + prog[int(b // 4) % len(prog)]

    on = np.arange(0, n * 4, 0.25)
    accent = rng.random(on.size) < 0.25
    chords = [[root_at(b), root_at(b) + 7, root_at(b) + 12] if a else [root_at(b)] for b, a in zip(on, accent)]
    gtr = make_instr("guitar", rng, sr)
    s.notes("guitar", gtr, chords, on, np.where(accent, 0.24, 0.12), rng.uniform(0.75, 1.0, on.size), send=0.1)
    guitar_stem(s, "guitar", rng, sr, (12.0, 40.0))
    bass = make_instr(pick(rng, ["fingerbass", "sawbass"]), rng, sr)
    bon = np.arange(0, n * 4, 0.5)
    s.notes("bass", bass, [root_at(b) - 12 for b in bon], bon, 0.45, 0.8)
    s.stems["bass"] = filt(s.stems["bass"], "low", rng.uniform(600, 2000), sr)
    return s, (0.3, 1.0)


def country(rng, seconds, sr):
    """Boom-chick bass, strummed acoustic guitar, train beat or backbeat, fiddle leads."""
    s = Song(rng, seconds, sr, bpm=tempo(rng, 88, 140), swing8=rng.uniform(0.5, 0.57), jitter=0.007)
    kit = Kit(rng, sr)
    progs = [[0, 3, 4, 0], [0, 4, 3, 0], [0, 0, 3, 4], [0, 3, 0, 4], [0, 5, 3, 4]]
    key, scale, chord_at, chords, bpc = tonality(rng, s, progs=progs, bars_per_chord=[1, 2])
    bars = np.arange(s.n_bars)[:, None] * 4
    s.drums("kick", kit["kick"], (bars + np.array([0, 2])).ravel(), 0.8)
    train = rng.random() < 0.4
    if train:
        tb = np.arange(0, s.n_bars * 4, 0.5)
        s.drums("drums", kit["brush"], tb, np.where(tb % 1 == 0, 0.5, 0.8), send=0.2)
    else:
        s.drums("drums", kit[pick(rng, ["snare", "rim"])], (bars + np.array([1, 3])).ravel(), 0.8, send=0.25)
        s.drums("drums", kit["hat_c"], np.arange(0, s.n_bars * 4, 0.5), 0.35)
    # boom-chick bass: root on 1, fifth on 3
    bass = make_instr(pick(rng, ["fingerbass", "upright"]), rng, sr)
    bon = (bars + np.array([0, 2])).ravel()
    bm = [key + chord_at(b)[0] + (7 if b % 4 == 2 else 0) - (12 if key > 42 else 0) for b in bon]
    s.notes("bass", bass, bm, bon, 1.4, 0.9)
    s.stems["bass"] = filt(s.stems["bass"], "low", rng.uniform(700, 1800), sr)
    # strummed acoustic guitar
    gtr = make_instr("pluck", rng, sr)
    pattern = np.array(pick(rng, [[0, 1, 1.5, 2.5, 3], [0, 1, 2, 3], [0, 1.5, 2, 3, 3.5], [0, 0.5, 1.5, 2, 3]]))
    on = (bars + pattern).ravel()
    strums = [voice(chord_at(b) + [chord_at(b)[0] + 12], key + 12, rng.uniform(55, 62)) for b in on]
    s.notes("guitar", gtr, strums, on, 0.9, rng.uniform(0.35, 0.55, on.size), send=0.25,
            strum=rng.uniform(0.006, 0.015))
    penta = (0, 2, 4, 7, 9)
    if _sparse_lead(s, rng, sr, p=0.6, choices=["violin", "violin", "pluck", "horn"], step=0.5, density=0.4,
                    tonic=key + 12, scale=penta, chord_at=chord_at, pitch_range=(64, 84), dur=0.6, vel=0.4):
        s.stems["lead"] = filt(s.stems["lead"], "low", rng.uniform(3000, 6000), sr)  # fiddle or steel-ish
    return s, (0.3, 1.2)
