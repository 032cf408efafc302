import numpy as np
import pytest

from mir.model import keras_backend


def test_cnn_shapes_embedding_and_save_load_roundtrip(tmp_path):
    keras_backend()
    import keras

    from mir.model.cnn import band_stats, build_cnn

    x = np.random.default_rng(0).normal(-20, 15, size=(6, 32, 48, 1)).astype(np.float32)
    mean, var = band_stats(x)
    assert mean.shape == (32,) and (var > 0).all()
    m = build_cnn(n_mels=32, n_frames=48, n_classes=3, filters=(8, 16), band_mean=mean, band_var=var)
    assert m.output_shape == (None, 3)
    assert m.get_layer("embedding").output.shape[-1] == 64
    p = m.predict(x, verbose=0)
    assert np.allclose(p.sum(axis=1), 1, atol=1e-5)
    path = tmp_path / "m.keras"
    m.save(path)
    again = keras.models.load_model(path)  # safe_mode: no lambdas or custom objects
    np.testing.assert_allclose(again.predict(x, verbose=0), p, atol=1e-5)


def test_cnn_rejects_impossible_shapes():
    from mir.model.cnn import build_cnn

    with pytest.raises(ValueError, match="n_classes"):
        build_cnn(n_mels=32, n_frames=32, n_classes=1)
    with pytest.raises(ValueError, match="too small"):
        build_cnn(n_mels=8, n_frames=32, n_classes=2, filters=(8, 16, 32))


def test_random_crops_cover_labels_and_change_every_epoch():
    from mir.model.data import chunk_starts, make_crops, segments

    X = np.arange(4 * 2 * 50, dtype=np.float16).reshape(4, 2, 50)
    ds = make_crops(X, np.array([0, 2, 3]), np.array([0, 1, 2]), chunk=10, crops_per_clip=3, batch_size=4, seed=0)
    assert len(ds) == 3  # 9 crops / batch 4
    xs, ys = zip(*(ds[i] for i in range(len(ds))))
    assert np.concatenate(xs).shape == (9, 2, 10, 1)
    assert sorted(np.concatenate(ys).tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    before = ds.starts.copy()
    ds.on_epoch_end()
    assert not np.array_equal(before, ds.starts)
    assert chunk_starts(50, 10).tolist() == [0, 10, 20, 30, 40]
    assert chunk_starts(45, 10).tolist() == [0, 10, 20, 30, 35]
    x, owner = segments(X, [1, 2], 20)
    assert x.shape == (6, 2, 20, 1) and owner.tolist() == [0, 0, 0, 1, 1, 1]


def test_training_killed_mid_run_resumes_from_its_last_epoch(project, tiny_params):
    """kill -9 during `mir train`, run it again: it resumes (not restarts) and the history has every epoch once."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import pandas as pd
    import yaml

    from mir import stages
    from mir.config import load_config

    tiny_params["synth"]["clips_per_genre"] = 4
    tiny_params["train"].update({"epochs": 8, "patience": 100})
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params))
    cfg = load_config()
    for s in ("data", "ingest", "featurize"):
        stages.run(s, cfg, progress=False)
    runs = project / "data/cache/train-runs"
    proc = subprocess.Popen([sys.executable, "-m", "mir.cli", "-q", "train"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        logs = [p for p in runs.glob("*/history.csv") if p.stat().st_size > 0]
        if logs and len(logs[0].read_text().splitlines()) >= 4 and list(runs.glob("*/backup/*")):
            break  # three epochs logged and backed up
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = subprocess.run([sys.executable, "-m", "mir.cli", "-q", "train"], cwd=project, capture_output=True, text=True,
                       env={**os.environ})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resuming after epoch" in r.stdout
    h = pd.read_csv(project / "plots/train_history.csv")
    assert h["epoch"].tolist() == list(range(1, 9))
    assert not list(runs.glob("*"))  # a finished run leaves no backup behind
    assert (project / "models/model.keras").exists()


def test_backup_and_best_checkpoint_survive_a_crash_mid_write(tmp_path, monkeypatch):
    import json

    from mir.model.callbacks import AtomicBackupAndRestore, BestCheckpoint
    from mir.model.cnn import build_cnn

    model = build_cnn(n_mels=16, n_frames=16, n_classes=2, filters=(4,))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    cb = AtomicBackupAndRestore(str(tmp_path / "b"))
    cb.set_model(model)
    cb._current_epoch = 1
    cb._save_model()
    good = (tmp_path / "b/latest.weights.h5").read_bytes()
    best = BestCheckpoint(tmp_path / "best.keras")
    best.set_model(model)
    best.on_epoch_end(0, {"val_loss": 1.0})
    good_best = (tmp_path / "best.keras").read_bytes()

    def crash(filepath, **kw):  # half a file, then the process "dies"
        with open(filepath, "wb") as f:
            f.write(b"\x89HDF\r\n half")
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "save_weights", crash)
    monkeypatch.setattr(model, "save", crash)
    cb._current_epoch = 2
    with pytest.raises(KeyboardInterrupt):
        cb._save_model()
    with pytest.raises(KeyboardInterrupt):
        best.on_epoch_end(1, {"val_loss": 0.5})
    assert (tmp_path / "b/latest.weights.h5").read_bytes() == good  # the last complete backup is intact
    assert json.loads((tmp_path / "b/training_metadata.json").read_text())["epoch"] == 1
    assert (tmp_path / "best.keras").read_bytes() == good_best
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]  # the torn temp files were removed
