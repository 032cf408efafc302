"""`mir predict`: whole songs second by second, bounded memory, clear failures."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from conftest import tone, write_audio
from mir.config import FeatureParams

GENRES = ["classical", "electronic", "rock"]


def _model(n_mels=32, chunk=32):
    from mir.model.cnn import build_cnn

    return build_cnn(n_mels=n_mels, n_frames=chunk, n_classes=len(GENRES), filters=(8, 16))


def test_ten_minute_song_streams_with_bounded_memory(tmp_path):
    from mir.evaluation.predict import timeline

    sr, seconds = 22050, 600
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
        for k in range(seconds // 10):  # written in 10-s blocks: the test itself stays small too
            f.write(tone(10.0, freq=200 + 10 * (k % 30), seed=k))
    fp = FeatureParams(sample_rate=sr, n_mels=32, n_fft=1024, hop_length=512)
    model = _model()
    tracemalloc.start()
    tl = timeline(path, model=model, genres=GENRES, fp=fp, chunk_frames=32, hop_s=1.0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    whole_song_decoded = seconds * sr * 4  # float32 samples of the whole song: 53 MB
    assert peak < 0.5 * whole_song_decoded, f"peak {peak / 2**20:.0f} MiB"
    win_s = 32 * 512 / sr
    assert len(tl.times) == int((seconds - win_s) // 1.0) + 1  # one window per second that fits
    assert np.allclose(np.diff(tl.times), 1.0)
    assert np.allclose(tl.probs.sum(axis=1), 1, atol=1e-4)
    assert sum(tl.shares().values()) == pytest.approx(1.0)


def test_short_song_and_outputs(tmp_path):
    from mir.evaluation.predict import timeline, write_outputs

    p = write_audio(tmp_path / 'tiny <script>alert("x")<script>.ogg', tone(1.0))  # shorter than a window; nasty name
    tl = timeline(p, model=_model(chunk=64), genres=GENRES, fp=FeatureParams(n_mels=32, n_fft=1024), chunk_frames=64)
    assert len(tl.times) == 1
    paths = write_outputs(tl, tmp_path / "out", html=True)
    data = json.loads(paths["json"].read_text())
    assert data["top"] in GENRES and len(data["seconds"]) == 1
    html = paths["html"].read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)" in html
    assert "<audio" in html and 'src="http' not in html
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"


def test_cli_predicts_good_songs_and_names_the_bad_one(project, tiny_params):
    from mir.io import write_json

    model = _model()
    (project / "models").mkdir()
    model.save(project / "models/model.keras")
    write_json(project / "models/labels.json", {"genres": GENRES, "chunk_frames": 32, "arch": "cnn",
                                               "features": {**tiny_params["features"], "n_mels": 32}})
    good = write_audio(project / "good.mp3", tone(5.0))
    bad = project / "bad.mp3"
    bad.write_text("not audio")
    r = subprocess.run([sys.executable, "-m", "mir.cli", "-q", "predict", str(good), str(bad), "--out", "pred"],
                       cwd=project, capture_output=True, text=True)
    assert r.returncode == 1  # something failed...
    assert "bad.mp3: skipped: unreadable audio" in r.stdout
    assert (project / "pred/good.csv").exists() and (project / "pred/good.png").exists()  # ...the rest was done
