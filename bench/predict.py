"""Prediction benchmark: real-time factor of `mir predict` on a 5-minute song, decode included.

    python bench/predict.py [--song FILE] [--model models/model.keras]

The song: the shared whole songs (../shared/data/songs, $MIR_SHARED_DATA) joined into one 5-minute mp3 when
present, else a generated 5-minute mp3. The model: models/model.keras + labels.json when present (after
`make demo`), else an untrained CNN of the default shape (the same cost per window).
Last line: ``realtime_factor=X`` (song seconds per wall-clock second; higher is better).
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
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
    from mir.io import read_json
    from mir.model import keras_backend

    keras_backend()
    import keras

    song, what = (Path(args.song), "given") if args.song else five_minute_song()
    labels = Path(args.model).with_name("labels.json")
    if Path(args.model).exists() and labels.exists():
        info = read_json(labels)
        model = keras.models.load_model(args.model)
        fp = FeatureParams(**{k: v for k, v in info["features"].items() if k in FeatureParams.model_fields})
        genres, chunk, which = info["genres"], info["chunk_frames"], args.model
    else:
        from mir.model.cnn import build_cnn

        fp, genres, chunk, which = FeatureParams(), ["a", "b", "c", "d"], 128, "untrained default CNN"
        model = build_cnn(n_mels=fp.n_mels, n_frames=chunk, n_classes=len(genres))
    timeline(song, model=model, genres=genres, fp=fp, chunk_frames=chunk)  # warm-up (graph tracing)
    t0 = time.perf_counter()
    tl = timeline(song, model=model, genres=genres, fp=fp, chunk_frames=chunk)
    dt = time.perf_counter() - t0
    print(f"song: {song} ({what}); model: {which}; {os.cpu_count()} cores")
    print(f"{len(tl.times)} windows of {chunk} frames, 1-s hop, in {dt:.2f} s")
    print(f"realtime_factor={tl.duration_s / dt:.0f}")


if __name__ == "__main__":
    main()
