"""The per-clip feature cache: incremental work, parameter changes, and kill -9 at any point."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from conftest import tone, write_audio


def _setup(project, tiny_params, n_per_genre, *, seconds=4.0, first=0):
    music = project / "music"
    for k, g in enumerate(("a", "b")):
        for i in range(first, first + n_per_genre):
            write_audio(music / g / f"{g}{i:03d}.wav", tone(seconds, freq=180 + 37 * i + 11 * k, seed=100 * k + i))
    tiny_params["data"].update({"dataset": "folder", "genres": None, "snapshot": False})
    tiny_params["folder"]["root"] = str(music)
    tiny_params["features"].update({"clip_seconds": seconds, "workers": 1})
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params))
    return music


def _table(project):
    from mir.datasets import folder

    rows = [{"clip_id": c.clip_id, "path": str(c.path), "genre": c.genre, "split": None, "group": None,
             "source": None} for c in folder.list_clips(project / "music")]
    (project / "data/raw").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(project / "data/raw/clips.csv", index=False)


def _run(project):
    from mir import stages
    from mir.config import load_config
    from mir.io import read_json

    cfg = load_config(project / "params.yaml")
    _table(project)
    stages.run("ingest", cfg, progress=False)
    stages.run("featurize", cfg, progress=False)
    # the run's counts live beside the cache, not in the DVC output
    return {**read_json(project / "data/features/meta.json"),
            **read_json(project / cfg.features.cache_dir / "last_run.json")}


def test_adding_clips_computes_only_those_and_param_change_recomputes(project, tiny_params):
    _setup(project, tiny_params, 4)
    meta = _run(project)
    assert meta["n_computed"] == 8 and meta["n_cached"] == 0
    first = np.load(project / "data/features/logmel.npy")
    first_ids = pd.read_csv(project / "data/features/index.csv")["clip_id"].tolist()

    meta = _run(project)  # nothing new
    assert meta["n_computed"] == 0

    _setup(project, tiny_params, 3, first=4)  # 6 more clips
    meta = _run(project)
    assert meta["n_computed"] == 6 and meta["n_cached"] == 8
    idx = pd.read_csv(project / "data/features/index.csv")
    X = np.load(project / "data/features/logmel.npy")
    for cid, row in zip(first_ids, range(len(first_ids))):
        np.testing.assert_array_equal(X[idx.set_index("clip_id").loc[cid, "row"]], first[row])

    tiny_params["features"]["n_mels"] = 24  # a feature parameter: everything is recomputed
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params))
    meta = _run(project)
    assert meta["n_computed"] == 14 and meta["shape"][1] == 24


def test_mfcc_are_stored_when_asked(project, tiny_params):
    _setup(project, tiny_params, 2)
    tiny_params["features"]["n_mfcc"] = 13
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params))
    _run(project)
    m = np.load(project / "data/features/mfcc.npy")
    assert m.shape[:2] == (4, 13) and np.isfinite(m).all()


def _featurize_cmd(project):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    return subprocess.Popen([sys.executable, "-m", "mir.cli", "-q", "featurize"], cwd=project, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_kill_9_at_any_point_then_resume_gives_identical_results(project, tiny_params, tmp_path_factory):
    _setup(project, tiny_params, 10, seconds=6.0)
    from mir import stages
    from mir.config import load_config

    _table(project)
    stages.run("ingest", load_config(project / "params.yaml"), progress=False)
    reference = tmp_path_factory.mktemp("ref")
    shutil.copytree(project, reference, dirs_exist_ok=True)

    cache = project / tiny_params["features"]["cache_dir"]
    for kill_after in (3, 11):  # two kills at different points of the run
        proc = _featurize_cmd(project)
        deadline = time.time() + 120
        while time.time() < deadline and len(list(cache.rglob("*.npz"))) < kill_after and proc.poll() is None:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (project / "data/features").exists() or (project / "data/features/meta.json").exists()
    finals = [p for p in cache.rglob("*.npz") if not p.name.startswith(".")]
    assert finals  # the kills left work behind to reuse...
    for p in finals:  # ...and every entry under a final name is complete (temp files are hidden, never read)
        with np.load(p) as z:
            assert z["logmel"].shape[0] == tiny_params["features"]["n_mels"]
    assert _featurize_cmd(project).wait() == 0  # resume
    assert _featurize_cmd(reference).wait() == 0  # uninterrupted

    a, b = project / "data/features", reference / "data/features"
    np.testing.assert_array_equal(np.load(a / "logmel.npy"), np.load(b / "logmel.npy"))
    for name in ("index.csv", "stats.csv", "rejected.csv"):
        assert (a / name).read_text() == (b / name).read_text()


def test_dask_engine_matches_process_engine(project, tiny_params, tmp_path_factory):
    """features.engine: dask — through the CLI's stage function (a local cluster) gives the same store."""
    _setup(project, tiny_params, 3)
    ref = tmp_path_factory.mktemp("ref")
    _run(project)
    shutil.copytree(project / "data/features", ref / "features")
    tiny_params["features"].update({"engine": "dask", "workers": 2, "cache_dir": "data/cache2"})
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params))
    meta = _run(project)
    assert meta["n_computed"] == 6
    np.testing.assert_array_equal(np.load(project / "data/features/logmel.npy"), np.load(ref / "features/logmel.npy"))
