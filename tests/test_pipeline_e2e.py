"""End to end on a tiny synth set: through DVC (`dvc repro`) and through the Prefect flow."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow

BIN = str(Path(sys.executable).parent)


def _run(*cmd, cwd, check=True):
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    r = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def _check_artifacts(root: Path, genres: list[str]):
    from mir.model import keras_backend

    keras_backend()
    import keras

    info = json.loads((root / "models/labels.json").read_text())
    assert info["genres"] == genres
    model = keras.models.load_model(root / "models/model.keras")
    x = np.load(root / "data/features/logmel.npy", mmap_mode="r")[:2, :, : info["chunk_frames"]]
    p = model.predict(np.asarray(x, dtype=np.float32)[..., None], verbose=0)
    assert p.shape == (2, len(genres)) and np.allclose(p.sum(axis=1), 1, atol=1e-4)

    m = json.loads((root / "metrics/eval.json").read_text())
    assert 0.0 <= m["accuracy"] <= 1.0 and 0.0 <= m["macro_f1"] <= 1.0
    assert set(m["track"]["per_class"]) == set(genres)
    assert 0.0 <= m["baseline"]["accuracy"] <= 1.0 and "svm" in m["baseline"]["kind"]  # reported beside the CNN
    drift = json.loads((root / "metrics/drift.json").read_text())
    assert isinstance(drift["dataset_drift"], bool) and drift["n_clips"] > 0

    for page in ("reports/index.html", "reports/eval/index.html", "reports/drift.html",
                 "reports/validation/manifest/index.html", "reports/validation/features/index.html"):
        assert (root / page).stat().st_size > 500, page
    index = (root / "reports/index.html").read_text()
    ev = (root / "reports/eval/index.html").read_text()
    for g in genres:
        assert g in index and g in ev
    for href in ("validation/manifest/index.html", "validation/features/index.html", "eval/index.html", "drift.html"):
        assert f'href="{href}"' in index
    assert "<script src=\"http" not in index and "<script src=\"http" not in ev
    assert (root / "reports/eval/confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_dvc_repro_end_to_end(project, tiny_params):
    _run("dvc", "init", "--no-scm", "-q", cwd=project)
    _run("dvc", "repro", cwd=project)
    genres = sorted(tiny_params["synth"]["genres"])
    _check_artifacts(project, genres)

    # nothing to do the second time
    st = json.loads(_run("dvc", "status", "--json", cwd=project).stdout or "{}")
    assert st == {}

    # a feature parameter changes featurize and everything downstream, not ingest
    tiny_params["features"]["n_mels"] = 24
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params, sort_keys=False))
    changed = set(json.loads(_run("dvc", "status", "--json", cwd=project).stdout))
    assert "featurize" in changed
    assert not {"data", "ingest", "validate"} & changed
    out = _run("dvc", "repro", cwd=project).stdout
    ran = set(re.findall(r"Running stage '([a-z_]+)'", out))
    assert ran == {"featurize", "validate_features", "train", "evaluate", "monitor", "report"}, out
    assert json.loads((project / "models/labels.json").read_text())["features"]["n_mels"] == 24

    # metrics and plots are readable by DVC
    shown = _run("dvc", "metrics", "show", "--json", cwd=project).stdout
    assert "accuracy" in shown


def test_failed_validation_stops_dvc_repro(project, tiny_params):
    """The same audio filed under two genres (a leak): ingest accepts both, the GE suite fails, DVC stops."""
    import shutil

    from conftest import tone, write_audio

    music = project.parent / "music"
    for k, g in enumerate(("a", "b", "c")):
        for i in range(4):
            write_audio(music / g / f"{g}{i}.wav", tone(2.0, freq=200 + 40 * i + 9 * k, seed=10 * k + i))
    shutil.copy(music / "a" / "a0.wav", music / "b" / "copy_of_a0.wav")
    tiny_params["data"].update({"dataset": "folder", "genres": None})
    tiny_params["folder"]["root"] = str(music)
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params, sort_keys=False))
    _run("dvc", "init", "--no-scm", "-q", cwd=project)
    r = _run("dvc", "repro", cwd=project, check=False)
    assert r.returncode != 0
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("mir validate:")]
    assert len(err) == 1 and "checksum" in err[0], r.stderr
    assert "copy_of_a0" in err[0] or "a/a0" in err[0]
    assert not (project / "data/features").exists()
    assert (project / "reports/validation/manifest/index.html").exists()


def test_nan_features_fail_the_feature_suite_and_stop_dvc_repro(project, tiny_params):
    """A corrupted feature-cache entry (NaN) is packed into the store: the feature gate stops `dvc repro`."""
    import numpy as np

    tiny_params["synth"]["clips_per_genre"] = 5
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params, sort_keys=False))
    _run("dvc", "init", "--no-scm", "-q", cwd=project)
    _run("dvc", "repro", "featurize", cwd=project)
    entry = sorted((project / "data/cache/features").rglob("*.npz"))[0]
    with np.load(entry) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["logmel"][:, :10] = np.nan
    np.savez(entry, **arrays)
    _run("dvc", "repro", "-f", "featurize", cwd=project)  # repacks from the cache
    r = _run("dvc", "repro", cwd=project, check=False)
    assert r.returncode != 0
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("mir validate-features:")]
    assert len(err) == 1 and "n_nonfinite" in err[0], r.stderr[-2000:]
    assert not (project / "models").exists()  # training never started
    assert (project / "reports/validation/features/index.html").exists()


def test_prefect_flow_end_to_end(project, tiny_params, harness):
    from flows.pipeline import pipeline
    from mir.stages import STAGES

    results = pipeline(params=str(project / "params.yaml"))
    assert list(results) == [s.name for s in STAGES]
    _check_artifacts(project, sorted(tiny_params["synth"]["genres"]))


def test_prefect_flow_featurizes_on_dask(project, tiny_params, harness):
    """features.engine: dask in the flow: featurize runs on prefect-dask's DaskTaskRunner (LocalCluster)."""
    from flows.pipeline import pipeline
    from mir.io import read_json

    tiny_params["synth"]["clips_per_genre"] = 4
    tiny_params["features"].update({"engine": "dask", "workers": 2})
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params, sort_keys=False))
    results = pipeline(params=str(project / "params.yaml"), stages=["data", "ingest", "featurize"])
    assert list(results) == ["data", "ingest", "featurize"]
    meta = read_json(project / "data/features/meta.json")
    run = read_json(project / tiny_params["features"]["cache_dir"] / "last_run.json")
    assert meta["n_ok"] == 12 and run["n_computed"] == 12 and "n_computed" not in meta
