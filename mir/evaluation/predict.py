"""``mir predict SONG…``: a whole song, any length, labelled second by second.

The song is decoded in segments of ``SEGMENT_S`` seconds (plus one model window
of overlap), so memory is bounded whatever its length. Each segment's log-mel
is computed once; the model sees one window (``chunk_frames``, ≈ 3 s) every
``hop_s`` seconds, all windows of a segment in one batch. Outputs per song:
``<stem>.csv`` (time, per-genre probabilities, top genre), ``<stem>.json``
(shares, top genre, per-second rows), ``<stem>.png`` (timeline) and, with
``--html``, ``<stem>.html`` (an audio player, the timeline drawn by Vega-Lite — a playhead that follows
playback, click to seek, hover for a second's probabilities —, the segments where the top genre changes,
the shares; self-contained, ``song.html``).
``<stem>`` is the file's name without extension, or ``<name>-<8 hex>`` (a hash of
the song's real path) when another song of the run, or an earlier run's output in
the folder, already has that name (:func:`output_stems`).

Before a song is decoded it passes the ``audio:`` policy as ingest applies it
(:func:`song_problem`: the same messages), except ``audio.max_duration_s`` — whole
songs of any length are what ``predict`` is for — and digital (or near) silence is
refused: a song with no second louder than ``audio.silence_db``. Refused songs are
named with the reason; the others are still predicted (exit code 1 if any was refused).

The HTML player holds the first :data:`PLAYER_MAX_S` seconds of the song (16 kHz
mono Ogg Vorbis, encoded block by block: one ``soundfile.write`` of ≥ 2 097 152
samples crashes libvorbis), so the page stays self-contained and a few MB at most
whatever the song's length; the timeline covers the whole song.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mir.config import Config

#: Seconds decoded at a time.
SEGMENT_S = 60.0

#: Seconds of the song in the HTML page's player (16 kHz mono Vorbis: about 2–5 MB as a data URI).
PLAYER_MAX_S = 600.0
PLAYER_SR = 16000


@dataclass
class Timeline:
    """Per-window genre probabilities of one song."""

    path: str
    genres: list[str]
    times: np.ndarray  # window start, seconds
    probs: np.ndarray  # (windows, genres)
    duration_s: float

    def shares(self) -> dict[str, float]:
        """Mean probability per genre over the song (sums to 1)."""
        m = self.probs.mean(axis=0) if len(self.probs) else np.zeros(len(self.genres))
        return {g: float(v) for g, v in zip(self.genres, m)}

    def top(self) -> str:
        s = self.shares()
        return max(s, key=s.get)


def timeline(path: str | Path, *, model, genres: list[str], fp, chunk_frames: int, hop_s: float = 1.0) -> Timeline:
    """Slide the model over the whole of ``path``; memory bounded by one segment.

    ``model`` is a Keras model or its :class:`mir.model.inference.Engine`; the engine computes
    what overlapping windows share once per segment (:meth:`~mir.model.inference.Engine.window_probs`).
    """
    import soundfile as sf

    from mir.audio import AudioError, load, quiet_decoder
    from mir.features.logmel import logmel
    from mir.model.inference import Engine

    engine = model if isinstance(model, Engine) else Engine.for_model(model)

    try:
        with quiet_decoder():
            info = sf.info(str(path))
    except Exception as err:
        raise AudioError(f"unreadable audio: {err}") from None
    duration = info.frames / info.samplerate
    win_s = chunk_frames * fp.hop_length / fp.sample_rate
    # one exact time grid for the whole song: window k starts at k·hop_s
    grid = np.arange(max(1, int(np.floor(max(duration - win_s, 0.0) / hop_s)) + 1)) * hop_s
    times, probs = [], []
    for t0 in np.arange(0.0, max(duration, 1e-6), SEGMENT_S):
        ts = grid[(grid >= t0) & (grid < t0 + SEGMENT_S)]
        if ts.size == 0:
            continue
        y = load(path, sr=fp.sample_rate, offset_s=float(t0), max_seconds=SEGMENT_S + win_s)
        S = logmel(y, sr=fp.sample_rate, n_fft=fp.n_fft, hop_length=fp.hop_length, n_mels=fp.n_mels,
                   fmin=fp.fmin, fmax=fp.fmax)
        starts = np.round((ts - t0) * fp.sample_rate / fp.hop_length).astype(int)
        need = int(starts.max()) + chunk_frames
        if S.shape[1] < need:  # the song's last window (or a song shorter than one window): pad
            S = np.pad(S, ((0, 0), (0, need - S.shape[1])), constant_values=float(S.min()))
        probs.append(engine.window_probs(S, starts))
        times.extend(ts)
    P = np.concatenate(probs) if probs else np.zeros((0, len(genres)))
    return Timeline(path=str(path), genres=list(genres), times=np.asarray(times), probs=P, duration_s=duration)


def timeline_png(tl: Timeline) -> bytes:
    """A stacked-area timeline of the genre probabilities."""
    from mir.reports.html import figure_png, mpl

    plt = mpl()
    fig, ax = plt.subplots(figsize=(11, 3.2))
    if len(tl.times):
        ax.stackplot(tl.times, tl.probs.T, labels=tl.genres, alpha=0.9)
    ax.set_xlim(0, max(tl.duration_s, 1))
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.set_title(Path(tl.path).name)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return figure_png(fig)


def _source(path: str | Path) -> str:
    import os

    return os.path.realpath(os.fspath(path))


def _recorded_source(json_path: Path) -> str | None:
    """The real path of the song an existing ``<stem>.json`` was written for (``None``: no such output)."""
    import json

    try:
        rec = json.loads(json_path.read_text(encoding="utf-8"))
        return rec.get("source") or _source(rec["path"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


#: Longest output stem (bytes): ``<stem>.html`` and its temporary name stay within the 255-byte name limit.
MAX_STEM = 200


def _hash(src: str) -> str:
    import hashlib

    return hashlib.sha1(os.fsencode(src)).hexdigest()[:8]


def _base(song: str) -> str:
    """The song's file name without extension (``song`` if none), cut to :data:`MAX_STEM` bytes (+ a hash)."""
    from mir.io import bounded_name

    base = Path(song).stem or "song"
    return base if len(os.fsencode(base)) <= MAX_STEM else f"{bounded_name(base, MAX_STEM - 20)}-{_hash(_source(song))}"


def _hashed(song: str) -> str:
    from mir.io import bounded_name

    return f"{bounded_name(_base(song), MAX_STEM - 20)}-{_hash(_source(song))}"


def output_stems(songs: list[str], out_dir: Path) -> dict[str, str]:
    """``{song: output stem}``, unique per song: the file name without extension, or ``<name>-<hash>``
    when another song of this run (``a/x.mp3`` and ``b/x.mp3``, ``x.mp3`` and ``x.wav``) or an earlier
    output in ``out_dir`` for a different file has that name. These are preferences: :func:`claim_stem`
    makes the choice atomic across processes when the song's outputs are written."""
    sources: dict[str, set[str]] = {}
    for song in songs:
        sources.setdefault(_base(song), set()).add(_source(song))
    stems = {}
    for song in songs:
        base, src = _base(song), _source(song)
        hashed = _hashed(song)
        recorded = _recorded_source(out_dir / f"{base}.json")
        if recorded == src:
            stems[song] = base  # this song's earlier output: updated in place
        elif len(sources[base]) > 1 or recorded is not None or (out_dir / f"{hashed}.json").exists():
            stems[song] = hashed
        else:
            stems[song] = base
    return stems


def claim_stem(out_dir: Path, song: str, stem: str) -> str:
    """Reserve ``out_dir/<stem>.json`` for ``song`` across processes (exclusive create) and return the stem.

    Two ``mir predict`` runs into one folder may prefer the same stem for different songs
    (:func:`output_stems` looks before either writes); the first to create ``<stem>.json`` owns
    it, the other falls back to ``<name>-<hash>``. A stem already recording this song is reused.
    """
    import json

    from mir.io import create_exclusive

    src = _source(song)
    text = json.dumps({"path": str(song), "source": src, "pending": True})
    candidates = dict.fromkeys([stem, _hashed(song)] + [f"{_hashed(song)}-{i}" for i in range(2, 6)])
    for c in candidates:
        path = out_dir / f"{c}.json"
        if create_exclusive(path, text) or _recorded_source(path) == src:
            return c
    raise OSError(f"no free output name for {song} in {out_dir}")


def song_problem(path: str | Path, audio) -> str | None:
    """Why ``predict`` refuses a song (the ``audio:`` policy without its maximum duration; silence), or ``None``."""
    from mir.audio import AudioError, loudest_second_db, policy_problem, probe

    try:
        info = probe(path)
        problem = policy_problem(info, audio, check_max_duration=False)
        if problem:
            return problem
        loudest = loudest_second_db(path, above_db=audio.silence_db)
    except AudioError as err:
        return str(err)
    except (OSError, RuntimeError) as err:
        return f"unreadable audio: {err}"
    if loudest < audio.silence_db:
        return f"silent (no second louder than {audio.silence_db:g} dBFS; the loudest: {loudest:.1f})"
    return None


def segments(tl: Timeline) -> list[dict]:
    """The runs of seconds with the same most likely genre: ``{"start", "end", "genre", "mean"}`` (seconds;
    ``mean`` = that genre's mean probability over the run); the last run ends with the song."""
    if not len(tl.probs):
        return []
    top = tl.probs.argmax(axis=1)
    cuts = [0, *np.flatnonzero(np.diff(top)) + 1, len(top)]
    out = []
    for i, j in zip(cuts[:-1], cuts[1:]):
        end = float(tl.times[j]) if j < len(top) else max(float(tl.duration_s), float(tl.times[-1]))
        out.append({"start": round(float(tl.times[i]), 2), "end": round(end, 2), "genre": tl.genres[top[i]],
                    "mean": float(tl.probs[i:j, top[i]].mean())})
    return out


def timeline_spec(tl: Timeline) -> dict:
    """The song page's Vega-Lite chart: stacked genre probabilities over time, a hover rule and the playhead.

    The data (``{"t", "genre", "p"}`` rows) is filled in by the page's script from the per-second table;
    the signals ``playhead`` and ``hover`` (seconds; ``hover`` < 0 hides its rule) are set by the page.
    """
    from mir.reports.vega import SCHEMA

    x = {"field": "t", "type": "quantitative"}
    return {"$schema": SCHEMA, "width": 900, "height": 220, "padding": 5,
            "params": [{"name": "playhead", "value": 0}, {"name": "hover", "value": -1}],
            "layer": [
                {"mark": {"type": "area", "interpolate": "step-after"},
                 "encoding": {"x": {**x, "title": "time (s)", "scale": {"domain": [0, max(tl.duration_s, 1.0)],
                                                                         "nice": False, "zero": True}},
                              "y": {"field": "p", "type": "quantitative", "stack": "zero", "title": "probability",
                                    "scale": {"domain": [0, 1]}},
                              "color": {"field": "genre", "type": "nominal", "title": "genre",
                                        "scale": {"domain": list(tl.genres)}, "sort": list(tl.genres)}}},
                {"name": "hover", "data": {"values": [{}]},
                 "transform": [{"calculate": "hover", "as": "t"}, {"filter": "datum.t >= 0"}],
                 "mark": {"type": "rule", "color": "#1d2330", "strokeDash": [3, 3]}, "encoding": {"x": x}},
                {"name": "playhead", "data": {"values": [{}]}, "transform": [{"calculate": "playhead", "as": "t"}],
                 "mark": {"type": "rule", "color": "#b42318", "strokeWidth": 2}, "encoding": {"x": x}}]}


def _player_context(path: str, duration_s: float) -> dict:
    """The player's part of the page context: the first :data:`PLAYER_MAX_S` seconds as Ogg/Vorbis."""
    from mir.reports.html import audio_clip

    seconds = min(duration_s, PLAYER_MAX_S)
    return {"player": audio_clip(path, seconds=seconds, sr=PLAYER_SR), "duration_s": duration_s,
            "player_max_s": PLAYER_MAX_S, "player_s": float(seconds)}


def _player(path: str, duration_s: float) -> str:
    """The player alone (``song_player.html``), as the song page includes it."""
    from mir.reports.html import render

    return render("song_player.html", **_player_context(path, duration_s))


def song_page(tl: Timeline, png: bytes) -> str:
    """The song's HTML page (``song.html``): player, interactive timeline, segments, genre shares."""
    from mir.reports.html import render
    from mir.reports.vega import bundle

    player = _player_context(tl.path, tl.duration_s)
    shares = sorted(tl.shares().items(), key=lambda kv: -kv[1])
    song = {"genres": list(tl.genres), "times": [round(float(t), 2) for t in tl.times],
            "probs": np.round(tl.probs, 4).tolist(), "duration_s": float(tl.duration_s), "player_s": player["player_s"],
            "spec": timeline_spec(tl)}
    return render("song.html", title=f"mir — {Path(tl.path).name}", subtitle="", name=Path(tl.path).name,
                  top=tl.top(), **player, js=bundle(), png=png, song=song, segments=segments(tl),
                  shares=[(g, f"{v:.1%}") for g, v in shares])


def write_outputs(tl: Timeline, out_dir: Path, *, html: bool = False, stem: str | None = None) -> dict[str, Path]:
    """Write CSV, JSON, PNG (and HTML) for one song as ``out_dir/<stem>.*``; return their paths.

    ``stem`` defaults to the song's file name without extension (:func:`output_stems` makes it unique).
    """
    import pandas as pd

    from mir.io import atomic_path, write_csv, write_json, write_text

    stem = stem or Path(tl.path).stem
    out_dir.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(tl.probs, columns=tl.genres).round(4)
    df.insert(0, "time_s", np.round(tl.times, 2))
    df["top"] = [tl.genres[i] for i in tl.probs.argmax(axis=1)] if len(tl.probs) else []
    paths = {"csv": write_csv(out_dir / f"{stem}.csv", df)}
    shares = tl.shares()
    paths["json"] = write_json(out_dir / f"{stem}.json", {
        "path": tl.path, "source": _source(tl.path), "duration_s": round(tl.duration_s, 2), "top": tl.top(),
        "shares": {g: round(v, 4) for g, v in shares.items()},
        "seconds": df.to_dict(orient="records")})
    png = timeline_png(tl)
    with atomic_path(out_dir / f"{stem}.png") as tmp:
        tmp.write_bytes(png)
    paths["png"] = out_dir / f"{stem}.png"
    if html:
        paths["html"] = write_text(out_dir / f"{stem}.html", song_page(tl, png))
    return paths


def _claim_out_dir(out_dir: Path) -> None:
    """``out_dir`` must be new, empty, mir's (marker) or an older mir's predictions folder; else refused (exit 2)."""
    from mir.io import MARKER, MARKER_TEXT, claim_dir

    if out_dir.is_dir() and not (out_dir / MARKER).exists():
        entries = list(out_dir.iterdir())
        if entries and all(e.is_file() and e.suffix in (".csv", ".json", ".png", ".html") for e in entries) and all(
                _recorded_source(e) is not None for e in entries if e.suffix == ".json"):
            (out_dir / MARKER).write_text(MARKER_TEXT, encoding="utf-8")  # written by mir before the marker
    claim_dir(out_dir, what="--out")


def predict(cfg: "Config", *, songs: list[str], out_dir: str | Path = "reports/predictions", html: bool = False,
            hop_s: float = 1.0, progress: bool = True) -> list[dict]:
    """Predict each song's per-second genres with the trained model; write the outputs; return summaries.

    Raises :class:`mir.io.OutputCollision` when ``out_dir`` holds files mir did not write.
    A song that can't be used (see the module docstring) is an ``{"path", "error"}`` summary.
    """
    from mir.audio import AudioError
    from mir.io import check_writable, printable, sweep_folder, utf8_name
    from mir.model.bundle import ModelBundle

    out_dir = Path(out_dir)
    _claim_out_dir(out_dir)  # before the work: a folder of someone's files, or one mir can't write, stops here
    check_writable(out_dir, what="--out")
    sweep_folder(out_dir, depth=0)  # what killed runs left
    bundle = ModelBundle.load(cfg.paths.models)
    engine = bundle.engine(cfg)
    stems = output_stems(list(songs), out_dir)
    out = []
    for song in dict.fromkeys(songs):  # a song given twice is predicted once
        problem = (None if utf8_name(song) else "the file name is not valid UTF-8 (rename it)") or \
            song_problem(song, cfg.audio)
        if problem:
            print(f"predict: {printable(song)}: skipped: {problem}")
            out.append({"path": printable(song), "error": problem})
            continue
        try:
            tl = timeline(song, model=engine, genres=bundle.genres, fp=bundle.features,
                          chunk_frames=bundle.chunk_frames, hop_s=hop_s)
        except (AudioError, OSError) as err:
            print(f"predict: {song}: skipped: {err}")
            out.append({"path": song, "error": str(err)})
            continue
        stem = claim_stem(out_dir, song, stems[song])  # atomic across processes: never another song's outputs
        paths = write_outputs(tl, out_dir, html=html, stem=stem)
        shares = tl.shares()
        best = ", ".join(f"{v:.1%} {g}" for g, v in sorted(shares.items(), key=lambda kv: -kv[1])[:3])
        print(f"predict: {Path(song).name} ({tl.duration_s:.0f} s): {best} → {paths['csv'].parent}/{stem}.*")
        out.append({"path": song, "top": tl.top(), "shares": shares, **{k: str(v) for k, v in paths.items()}})
    return out
