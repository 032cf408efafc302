"""Arrangers of the four base genres (classical, electronic, jazz, rock).

An arranger ``(rng, seconds, sr) -> (Song, (rt60_lo, rt60_hi))`` draws one clip's tempo, key, harmony,
instruments and patterns from ``rng`` and writes its stems; the range is the clip's reverb time.
The order of the draws is part of the output: reordering them changes every clip.
"""

from __future__ import annotations

import numpy as np

from mir.demo.drums import Kit
from mir.demo.dsp import TWO_PI, filt
from mir.demo.instruments import make_instr
from mir.demo.song import HMINOR, MAJOR, Song, diatonic_chord, melody, pick, tempo, tonality, voice

def classical(rng, seconds, sr):
    """Strings, piano, chamber or organ textures with rubato, a stepwise melody and slow swells."""
    s = Song(rng, seconds, sr, bpm=tempo(rng, 56, 124), jitter=0.012, rubato=rng.uniform(0.02, 0.08))
    progs = [[0, 3, 4, 0], [0, 5, 1, 4], [0, 3, 1, 4], [0, 4, 5, 2, 3, 0, 3, 4], [0, 1, 4, 0], [0, 5, 3, 4]]
    key, scale, chord_at, chords, bpc = tonality(rng, s, progs=progs, bars_per_chord=[1, 1, 2], p_minor=0.4,
                                                 minor_scale=HMINOR, lowest=48)
    texture = pick(rng, ["strings", "strings", "piano", "piano", "chamber", "organ"])
    n_chg = len(chords)
    chg = np.arange(n_chg) * bpc
    if texture in ("strings", "chamber", "organ"):
        pad = make_instr("organ" if texture == "organ" else "strings", rng, sr)
        upper = [voice(c, key, rng.uniform(64, 70)) for c in chords]
        s.notes("strings", pad, upper, chg, bpc * 0.98, rng.uniform(0.5, 0.8), send=0.5)
        cello = [key + c[0] - 12 * int(rng.integers(1, 3)) + 12 for c in chords]
        s.notes("strings", pad, cello, chg, bpc * 0.98, 0.6, send=0.5)
    if texture == "piano":
        pno = make_instr("piano", rng, sr)
        pattern = pick(rng, [[0, 2, 1, 2], [0, 1, 2, 1], [0, 2, 1, 2, 0, 2, 1, 2]])
        step = pick(rng, [0.5, 0.5, 1.0])
        onsets = np.arange(0, s.n_bars * 4, step)
        lh = []
        for b in onsets:
            v = voice(chord_at(b), key - 12, 50)
            lh.append(v[pattern[int(round(b / step)) % len(pattern)] % len(v)])
        s.notes("piano", pno, lh, onsets, step * 1.5, rng.uniform(0.35, 0.55), send=0.35)
        mel_instr = pno
    else:
        mel_instr = pad if texture == "organ" and rng.random() < 0.5 else make_instr(
            pick(rng, ["violin", "violin", "flute", "piano", "pluck"]), rng, sr)
    # melody: quarter/half notes, stepwise
    onsets, b = [], 0.0
    while b < s.n_bars * 4:
        onsets.append(b)
        b += pick(rng, [1.0, 1.0, 2.0, 0.5, 0.5, 1.5])
    onsets = np.array(onsets)
    durs = np.diff(np.append(onsets, s.n_bars * 4)) * 0.95
    mel = melody(rng, key, scale, chord_at, onsets, 64, 86)
    s.notes("melody", mel_instr, mel, onsets, durs, rng.uniform(0.45, 0.75), send=0.5)
    if rng.random() < 0.25:  # harp arpeggios
        harp = make_instr("pluck", rng, sr)
        arp_on = np.arange(0, s.n_bars * 4, 0.5)
        arp = [voice(chord_at(b), key, 62)[int(i) % 3] + 12 * ((int(i) // 3) % 2) for i, b in enumerate(arp_on)]
        s.notes("harp", harp, arp, arp_on, 1.0, 0.25, send=0.5)
    # dynamics: slow swells over the whole ensemble
    t = np.arange(s.n) / sr
    depth = rng.uniform(3.0, 10.0)
    swell = 10.0 ** (depth / 20.0 * np.sin(TWO_PI * t / rng.uniform(5.0, 14.0) + rng.uniform(0, 6.3)))
    for name in s.stems:
        s.stems[name] *= swell
    _postfx_strings(s, sr, rng)
    return s, (1.2, 3.0)


def _postfx_strings(s: Song, sr: int, rng) -> None:
    if "strings" in s.stems:
        s.stems["strings"] = filt(s.stems["strings"], "low", rng.uniform(2500, 5000), sr)
    if "melody" in s.stems:
        s.stems["melody"] = filt(s.stems["melody"], "low", rng.uniform(3500, 7000), sr)


def _four_floor(s: Song, kit: Kit, rng, *, breakdown: bool) -> None:
    bars = np.arange(s.n_bars)
    if breakdown:
        start = int(rng.integers(0, max(1, s.n_bars - 4)))
        bars = bars[(bars < start) | (bars >= start + int(rng.integers(2, 5)))]
    beats = (bars[:, None] * 4 + np.arange(4)[None, :]).ravel()
    s.drums("kick", kit["kick"], beats, 1.0, gain_db=0.0)
    s.drums("drums", kit[pick(rng, ["clap", "snare", "clap"])], (bars[:, None] * 4 + np.array([1, 3])).ravel(),
            0.8, send=0.2)
    s.drums("drums", kit["hat_o"], (np.arange(s.n_bars)[:, None] * 4 + np.arange(4) + 0.5).ravel(), 0.5)
    if rng.random() < 0.6:
        b16 = np.arange(0, s.n_bars * 4, 0.25)
        b16 = b16[(b16 * 2) % 2 != 1]  # not on the off-beat 8ths (the open hat is there)
        acc = np.where((b16 % 1) == 0, 0.35, 0.22)
        s.drums("drums", kit["hat_c"], b16, acc)


def electronic(rng, seconds, sr):
    """Four-on-the-floor drums, a synth bass, pad and arpeggio, side-chain pumping."""
    s = Song(rng, seconds, sr, bpm=tempo(rng, 116, 140), jitter=0.0)
    kit = Kit(rng, sr)
    progs = [[0, 5, 2, 6], [0, 6, 5, 6], [0, 3, 5, 4], [0, 5, 3, 4], [0, 0, 5, 6]]
    key, scale, chord_at, chords, bpc = tonality(rng, s, progs=progs, bars_per_chord=[1, 2], p_minor=0.75,
                                                 size=[3, 4])
    _four_floor(s, kit, rng, breakdown=rng.random() < 0.5)
    # bass
    bass = make_instr(pick(rng, ["sawbass", "acidbass", "fmbass", "sub808", "square"]), rng, sr)
    style = pick(rng, ["offbeat", "rolling", "octave"])
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
    pad = make_instr(pick(rng, ["supersaw", "supersaw", "strings", "square", "organ", "epiano", "piano"]), rng, sr)
    chg = np.arange(len(chords)) * bpc
    s.notes("pad", pad, [voice(c, key, rng.uniform(60, 68)) for c in chords], chg, bpc, 0.45, send=0.4)
    # arpeggio
    if rng.random() < 0.7:
        arp = make_instr(pick(rng, ["pluck", "square", "bell", "squarelead"]), rng, sr)
        step = pick(rng, [0.25, 0.5])
        on = np.arange(0, s.n_bars * 4, step)
        order = pick(rng, [[0, 1, 2, 1], [0, 1, 2, 3], [2, 1, 0, 1], [0, 2, 1, 2]])
        notes = []
        for i, b in enumerate(on):
            v = voice(chord_at(b), key + 12, 72)
            notes.append(v[order[i % len(order)] % len(v)])
        s.notes("arp", arp, notes, on, step * 0.8, 0.35, send=0.4)
    pump = s.beat_envelope(1.0, rng.uniform(0.2, 0.8), rng.uniform(0.06, 0.2))
    for name in ("pad", "arp", "bass"):
        if name in s.stems:
            s.stems[name] *= pump
    s.stems["pad"] = filt(s.stems["pad"], "low", rng.uniform(1500, 7000), sr)
    s.stems["bass"] = filt(s.stems["bass"], "low", rng.uniform(300, 2500), sr)
    return s, (0.3, 1.5)


def jazz(rng, seconds, sr):
    """Swung ride or brushes, a walking bass, rootless comping and sometimes a horn or flute lead."""
    s = Song(rng, seconds, sr, bpm=tempo(rng, 92, 210), swing8=rng.uniform(0.6, 0.69), jitter=0.008)
    kit = Kit(rng, sr)
    progs = [[1, 4, 0, 0], [1, 4, 0, 5], [0, 5, 1, 4], [2, 5, 1, 4], [0, 3, 1, 4], [3, 2, 1, 0]]
    key, scale, chord_at, chords, bpc = tonality(rng, s, progs=progs, bars_per_chord=[1, 1, 0.5], p_minor=0.25,
                                                 size=4)
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
    bass = make_instr(pick(rng, ["upright", "upright", "fingerbass"]), rng, sr)
    walk = []
    n_beats = s.n_bars * 4
    for b in range(n_beats):
        c = chord_at(b)
        nxt = chord_at(b + 1)
        if b % bpc == 0:
            m = key + c[0]
        elif (b + 1) % bpc == 0:
            m = key + nxt[0] + pick(rng, [-1, 1, 7 - 12, -2])
        else:
            m = key + pick(rng, c[1:] + [c[0] + 2, c[0] + 12])
        while m > 55:
            m -= 12
        while m < 33:
            m += 12
        walk.append(m)
    s.notes("bass", bass, walk, np.arange(n_beats), 0.9, rng.uniform(0.7, 1.0, n_beats), gain_db=1.0)
    # comping: rootless voicings (3, 5, 7, 9)
    comp = make_instr(pick(rng, ["piano", "piano", "epiano", "pluck", "organ"]), rng, sr)
    hits, vs = [], []
    for bar in range(s.n_bars):
        rhythm = pick(rng, [[0, 1.5], [1.5, 3], [0.5, 2], [1.5, 2.5, 3.5], [0, 2.5], [3.5]])
        for p in rhythm:
            hits.append(bar * 4 + p)
    hits = np.array(hits)
    voic = [voice(chord_at(b)[1:] + [chord_at(b)[0] + 14], key, rng.uniform(60, 66)) for b in hits]
    s.notes("comp", comp, voic, hits, rng.choice([0.5, 1.0, 1.5], hits.size), rng.uniform(0.3, 0.55, hits.size),
            send=0.3)
    if rng.random() < 0.6:  # horn or flute lead in swung 8ths
        lead = make_instr(pick(rng, ["horn", "horn", "flute", "squarelead"]), rng, sr)
        on = np.arange(0, n_beats, 0.5)
        keep = rng.random(on.size) < rng.uniform(0.4, 0.8)
        on = on[keep]
        if on.size:
            durs = np.minimum(np.diff(np.append(on, n_beats)), 1.5) * 0.9
            mel = melody(rng, key, scale, chord_at, on, 62, 82)
            s.notes("lead", lead, mel, on, durs, rng.uniform(0.35, 0.6), send=0.3)
            s.stems["lead"] = filt(s.stems["lead"], "low", rng.uniform(2500, 6000), sr)
    s.stems["bass"] = filt(s.stems["bass"], "low", rng.uniform(800, 2000), sr)
    return s, (0.6, 1.6)


def guitar_stem(s: Song, name: str, rng, sr, drive_range) -> None:
    x = filt(s.stems[name], "high", 90.0, sr)
    drive = rng.uniform(*drive_range)
    x = np.tanh(drive * x)
    x = filt(x, "low", rng.uniform(2500, 5500), sr, order=4)
    s.stems[name] = x * 0.5


def _rock_drums(s: Song, kit: Kit, rng) -> None:
    n = s.n_bars
    bars = np.arange(n)[:, None] * 4
    kick = pick(rng, [[0, 2], [0, 2, 2.5], [0, 1.5, 2], [0, 0.5, 2], [0, 2.5]])
    s.drums("kick", kit["kick"], (bars + np.array(kick)).ravel(), 1.0)
    s.drums("drums", kit["snare"], (bars + np.array([1, 3])).ravel(), 0.9, send=0.25)
    cym = kit["ride"] if rng.random() < 0.25 else kit["hat_c"]
    acc = np.tile([0.6, 0.4], 4 * n)
    s.drums("drums", cym, np.arange(0, n * 4, 0.5), acc, send=0.1)
    every = pick(rng, [4, 8])
    s.drums("drums", kit["crash"], np.arange(0, n, every) * 4.0, 0.6, send=0.3)
    fills = np.arange(every - 1, n, every) * 4.0
    if rng.random() < 0.6 and fills.size:
        fb = (fills[:, None] + np.array([3.0, 3.25, 3.5, 3.75])).ravel()
        s.drums("drums", kit[pick(rng, ["snare", "tom"])], fb, 0.7, send=0.25)


def rock(rng, seconds, sr):
    """A backbeat with fills, power chords on a distorted (or clean) guitar, bass in eighths."""
    s = Song(rng, seconds, sr, bpm=tempo(rng, 96, 165), jitter=0.007)
    kit = Kit(rng, sr)
    key = int(rng.integers(40, 52))
    progs = [[0, 10, 5, 0], [0, 5, 7, 5], [0, 8, 10, 0], [0, 3, 5, 3], [0, 7, 9, 5], [0, 5, 0, 7], [0, 7, 5, 5]]
    prog = pick(rng, progs)
    bpc = pick(rng, [1, 2])
    _rock_drums(s, kit, rng)
    n_beats = s.n_bars * 4

    def root_at(b):
        return key + prog[int(b // (4 * bpc)) % len(prog)]

    clean = rng.random() < 0.25  # clean (plucked) guitar instead of a distorted one
    gtr = make_instr("pluck" if clean else "guitar", rng, sr)
    style = pick(rng, ["eighths", "eighths", "sustain", "mixed"])
    if style == "sustain":
        on = np.arange(0, n_beats, 2.0)
        dur = 1.9
    else:
        on = np.arange(0, n_beats, 0.5)
        dur = 0.45 if style == "eighths" else 0.3
    chords = [[root_at(b), root_at(b) + 7, root_at(b) + 12] for b in on]
    if clean:
        chords = [voice([0, 4 if rng.random() < 0.5 else 3, 7, 12], root_at(b) + 12, 60) for b in on]
    s.notes("guitar", gtr, chords, on, dur, rng.uniform(0.7, 1.0, on.size), send=0.15)
    if not clean:
        guitar_stem(s, "guitar", rng, sr, (3.0, 12.0))
    bass = make_instr(pick(rng, ["fingerbass", "sawbass", "pluck"]), rng, sr)
    bon = np.arange(0, n_beats, 0.5)
    s.notes("bass", bass, [root_at(b) - 12 for b in bon], bon, 0.45, 0.8, gain_db=-1.0)
    s.stems["bass"] = filt(s.stems["bass"], "low", rng.uniform(600, 2000), sr)
    if rng.random() < 0.3:  # organ pad (shared with reggae/jazz)
        org = make_instr("organ", rng, sr)
        scale = MAJOR
        on = np.arange(0, n_beats, 4.0)
        s.notes("keys", org, [voice(diatonic_chord(scale, 0), root_at(b), 64) for b in on], on, 3.9, 0.4, send=0.2)
    if rng.random() < 0.4:  # lead guitar line, pentatonic
        lead = make_instr("guitar", rng, sr)
        penta = (0, 3, 5, 7, 10)
        on = np.arange(0, n_beats, 0.5)
        on = on[rng.random(on.size) < 0.45]
        if on.size:
            mel = [key + 24 + penta[int(rng.integers(5))] for _ in on]
            s.notes("lead", lead, mel, on, 0.45, 0.5, send=0.3)
            guitar_stem(s, "lead", rng, sr, (4.0, 15.0))
    return s, (0.3, 1.2)
