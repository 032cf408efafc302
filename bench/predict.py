"""Prediction benchmark: real-time factor of `mir predict` on a 5-minute song, decode included.

    python bench/predict.py [--song FILE] [--model models/model.keras]

The song: the shared whole songs (../shared/data/songs, $MIR_SHARED_DATA) joined into one 5-minute mp3 when
present, else a generated 5-minute mp3. The model: models/model.keras + labels.json when present (after
`make demo`), else the default musicnn (pretrained body, untrained head: the same cost per window).
Also times the previous path (Keras, window by window) on the same song and prints the largest difference of
the per-window probabilities between the two.
Last line: ``realtime_factor=X`` (song seconds per wall-clock second, decode included; higher is better).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mir.env import quiet  # noqa: E402

quiet()  # telemetry off, TensorFlow quiet (before it is imported)


def five_minute_song() -> tuple[Path, str]:
    import numpy as np
    import soundfile as sf

    from mir.audio import load

    out = Path(tempfile.mkdtemp(prefix="mir-bench-song-")) / "five_minutes.mp3"
    shared = Path(os.environ.get("MIR_SHARED_DATA", ROOT.parent / "shared" / "data")) / "songs"
    parts, total, sr = [], 0.0, 44100
    for f in sorted(shared.glob("*.mp3")) if shared.is_dir() else []:
        y = load(f, sr=sr)
        parts.append(y)
        total += len(y) / sr
        if total >= 300:
            break
    what = f"{len(parts)} shared songs joined"
    if total < 300:
        t = np.arange(int(300 * sr)) / sr
        parts = [(0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)]
        what = "generated"
    y = np.concatenate(parts)[: int(300 * sr)]
    sf.write(out, np.stack([y, y], axis=1), sr, format="MP3")  # stereo 44.1 kHz, as users' files are
    return out, f"{what}, 300 s, 44.1 kHz stereo mp3"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--song")
    ap.add_argument("--model", default=str(ROOT / "models" / "model.keras"))
    args = ap.parse_args()
    from mir.config import FeatureParams
    from mir.evaluation.predict import timeline
    from mir.model.bundle import ModelBundle, model_files

    song, what = (Path(args.song), "given") if args.song else five_minute_song()
    model_dir = Path(args.model).parent
    if all(p.exists() for p in model_files(model_dir)):
        b = ModelBundle.load(model_dir)
        model, fp, genres, chunk, which = b.model, b.features, b.genres, b.chunk_frames, args.model
    else:
        from mir.model.architectures import build_model

        fp, genres, chunk = FeatureParams(), ["a", "b", "c", "d"], 187
        which = "musicnn (pretrained body, untrained head)"
        model = build_model("musicnn", n_mels=fp.n_mels, n_frames=chunk, n_classes=len(genres))
    from mir.model.inference import Engine

    class WindowByWindow(Engine):  # the previous path: Keras, every window through the whole model
        def window_probs(self, S, starts, *, shared=None):
            return super().window_probs(S, starts, shared=False)

    rates = {}
    for name, engine in (("previous (Keras, window by window)", WindowByWindow(model, runtime="keras")),
                         ("mir engine", Engine.for_model(model))):
        timeline(song, model=engine, genres=genres, fp=fp, chunk_frames=chunk)  # warm-up (tracing, compiling)
        t0 = time.perf_counter()
        tl = timeline(song, model=engine, genres=genres, fp=fp, chunk_frames=chunk)
        dt = time.perf_counter() - t0
        rates[name] = (tl, dt, engine)
    (old, old_dt, _), (tl, dt, engine) = rates.values()
    print(f"song: {song} ({what}); model: {which}; {os.cpu_count()} cores")
    print(f"{len(tl.times)} windows of {chunk} frames, 1-s hop")
    print(f"previous path (Keras, window by window): {old_dt:.2f} s, realtime factor {old.duration_s / old_dt:.0f}")
    print(f"mir engine ({engine.describe()}): {dt:.2f} s; max abs difference of the per-window probabilities "
          f"{float(abs(tl.probs - old.probs).max()):.1e}")
    print(f"realtime_factor={tl.duration_s / dt:.0f}")


if __name__ == "__main__":
    main()
