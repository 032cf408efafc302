"""``mir predict SONG…``: a whole song, any length, labelled second by second.

The song is decoded in segments of ``SEGMENT_S`` seconds (plus one model window
of overlap), so memory is bounded whatever its length. Each segment's log-mel
is computed once; the model sees one window (``chunk_frames``, ≈ 3 s) every
``hop_s`` seconds, all windows of a segment in one batch. Outputs per song:
``<stem>.csv`` (time, per-genre probabilities, top genre), ``<stem>.json``
(shares, top genre, per-second rows), ``<stem>.png`` (timeline) and, with
``--html``, ``<stem>.html`` (timeline, shares, an audio player; self-contained).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mir.config import Config

#: Seconds decoded at a time.
SEGMENT_S = 60.0


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

    from mir.audio import AudioError, load
    from mir.features.logmel import logmel
    from mir.model.inference import Engine

    engine = model if isinstance(model, Engine) else Engine.for_model(model)

    try:
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


def write_outputs(tl: Timeline, out_dir: Path, *, html: bool = False) -> dict[str, Path]:
    """Write CSV, JSON, PNG (and HTML) for one song; return their paths."""
    import pandas as pd

    from mir.io import atomic_path, write_csv, write_json, write_text

    stem = Path(tl.path).stem
    out_dir.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(tl.probs, columns=tl.genres).round(4)
    df.insert(0, "time_s", np.round(tl.times, 2))
    df["top"] = [tl.genres[i] for i in tl.probs.argmax(axis=1)] if len(tl.probs) else []
    paths = {"csv": write_csv(out_dir / f"{stem}.csv", df)}
    shares = tl.shares()
    paths["json"] = write_json(out_dir / f"{stem}.json", {
        "path": tl.path, "duration_s": round(tl.duration_s, 2), "top": tl.top(),
        "shares": {g: round(v, 4) for g, v in shares.items()},
        "seconds": df.to_dict(orient="records")})
    png = timeline_png(tl)
    with atomic_path(out_dir / f"{stem}.png") as tmp:
        tmp.write_bytes(png)
    paths["png"] = out_dir / f"{stem}.png"
    if html:
        from mir.reports.html import audio_excerpt, esc, img, page, table

        body = (f"<p>{esc(Path(tl.path).name)} · {tl.duration_s:.0f} s · mostly <b>{esc(tl.top())}</b></p>"
                + audio_excerpt(tl.path, seconds=tl.duration_s, sr=16000)
                + "<h2>Timeline</h2>" + img(png, "genre timeline")
                + "<h2>Genre shares</h2>"
                + table(["genre", "share"], sorted(((g, f"{v:.1%}") for g, v in shares.items()),
                                                   key=lambda r: -float(r[1][:-1]))))
        paths["html"] = write_text(out_dir / f"{stem}.html", page(f"mir — {Path(tl.path).name}", body))
    return paths


def predict(cfg: "Config", *, songs: list[str], out_dir: str | Path = "reports/predictions", html: bool = False,
            hop_s: float = 1.0, progress: bool = True) -> list[dict]:
    """Predict each song's per-second genres with the trained model; write the outputs; return summaries."""
    from mir.audio import AudioError
    from mir.config import FeatureParams
    from mir.model.inference import Engine, load_model

    model, info = load_model(cfg.paths.models)
    model = Engine.for_model(model, cfg)
    fp = FeatureParams(**{k: v for k, v in info["features"].items() if k in FeatureParams.model_fields})
    out = []
    for song in songs:
        try:
            tl = timeline(song, model=model, genres=info["genres"], fp=fp, chunk_frames=info["chunk_frames"],
                          hop_s=hop_s)
        except (AudioError, OSError) as err:
            print(f"predict: {song}: skipped: {err}")
            out.append({"path": song, "error": str(err)})
            continue
        paths = write_outputs(tl, Path(out_dir), html=html)
        shares = tl.shares()
        best = ", ".join(f"{v:.1%} {g}" for g, v in sorted(shares.items(), key=lambda kv: -kv[1])[:3])
        print(f"predict: {Path(song).name} ({tl.duration_s:.0f} s): {best} → {paths['csv'].parent}")
        out.append({"path": song, "top": tl.top(), "shares": shares, **{k: str(v) for k, v in paths.items()}})
    return out
