"""kill -9 at points of ``mir monitor`` and ``mir train``, then a rerun: no debris, no inconsistent record.

Issue 23 ("a kill -9 at random points ..., followed by a rerun, leaves no debris and no inconsistent
record"). The kill points are the moments a file is moved into place: the child process counts every
``os.replace``/``os.rename`` (mir's atomic writers, Evidently's snapshot, Keras's and DVCLive's files all
go through them) and kills itself just before or just after the k-th one; k=0 is a count-only run. The
points are drawn from a seeded generator, so a failure names a point that can be replayed
(``MIR_KILL_POINTS="before:7 after:12"`` replays given points). The body-cache writer and the promotion
have their own kill-point tests (tests/test_trust.py, tests/test_registry.py).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, tiny_pipeline

CHILD = r"""
import os, signal, sys
when, k, count_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n = [0]
real = {"replace": os.replace, "rename": os.rename}

def patched(name):
    def move(a, b, *args, **kwargs):
        n[0] += 1
        if n[0] == k and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        out = real[name](a, b, *args, **kwargs)
        if n[0] == k and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    return move

os.replace, os.rename = patched("replace"), patched("rename")
from mir.cli import main
code = main(sys.argv[4:])
with open(count_file, "w") as f:
    f.write(str(n[0]))
sys.exit(code)
"""

#: The temporary names of mir's writers (:data:`mir.io._TEMP_NAME`) and of the libraries it drives.
DEBRIS = re.compile(r"^\..+\.(tmp|old)[-.]|\.tmp$|^tmp[a-z0-9_]{6,}$")


def _mir(root: Path, *args: str, when: str = "count", k: int = 0) -> subprocess.CompletedProcess:
    count = root / ".." / f"{root.name}.count"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", CHILD, when, str(k), str(count), *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


def _cold(root: Path) -> None:
    """Empty the caches a monitor run fills (exports, body outputs, new songs' features): the kill then lands
    among their writes too, and the rerun must find what it can use and sweep the rest."""
    for d in ("data/cache/inference", "data/cache/features"):
        shutil.rmtree(root / d, ignore_errors=True)


def _moves(root: Path, *args: str) -> int:
    """Run ``mir <args>`` to the end, counting the files it moves into place."""
    r = _mir(root, *args)
    assert r.returncode == 0, r.stderr[-3000:]
    return int((root / ".." / f"{root.name}.count").read_text())


def _points(n: int, how_many: int, seed: int) -> list[tuple[str, int]]:
    given = os.environ.get("MIR_KILL_POINTS")
    if given:
        return [(w, int(k)) for w, k in (p.split(":") for p in given.split())]
    rng = random.Random(seed)
    ks = sorted(rng.sample(range(1, n + 1), min(how_many, n)))
    return [("before" if i % 2 == 0 else "after", k) for i, k in enumerate(ks)]


def _debris(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if DEBRIS.search(p.name) and "mir" != p.relative_to(root).parts[0])


def _kill_then_rerun(root: Path, command: str, *, when: str, k: int, point: str) -> None:
    """``mir <command>`` killed at ``when:k``, then run again to the end: no debris, every record parses."""
    r = _mir(root, "-q", command, when=when, k=k)
    assert r.returncode == -signal.SIGKILL, f"{point}: {r.stderr[-2000:]}"
    again = _mir(root, "-q", command)
    assert again.returncode == 0, f"{point}: {again.stderr[-3000:]}"
    assert not _debris(root), f"{point}: debris {_debris(root)}"
    _json_files_parse(root)


def _json_files_parse(root: Path) -> None:
    for p in [*root.glob("metrics/*.json"), *root.glob("dvclive/*.json"), *root.glob("registry/**/*.json"),
              *Path(root / "evidently").rglob("*.json")]:
        json.loads(p.read_text(encoding="utf-8"))  # a torn record raises here, naming nothing: say which
    return None


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny project through every stage, in this process (4 epochs, no early stop)."""
    root = tmp_path_factory.mktemp("kill-loop") / "project"
    root.mkdir()
    with tiny_pipeline(root, epochs=4, patience=100):
        pass
    return root


@pytest.mark.slow
def test_monitor_killed_at_random_points_then_rerun_leaves_one_consistent_record(trained):
    root = trained
    baseline = json.loads((root / "metrics/drift.json").read_text())
    _cold(root)
    n = _moves(root, "-q", "monitor")
    assert n >= 8, f"mir monitor moved only {n} files into place: the kill points would test nothing"
    snapshots = len(_history(root))
    for when, k in _points(n, 3, seed=23):
        point = f"{when}:{k} of {n}"
        _cold(root)
        _kill_then_rerun(root, "monitor", when=when, k=k, point=point)
        drift = json.loads((root / "metrics/drift.json").read_text())
        history = _history(root)
        assert not (root / "evidently/quarantine").exists(), f"{point}: a torn snapshot was quarantined"
        assert drift["history"]["snapshot_id"] == history[-1]["snapshot_id"], point  # the record names the last run
        assert snapshots + 1 <= len(history) <= snapshots + 2, point  # the rerun's run, and the killed one's or not
        snapshots = len(history)
        for key in ("n_drifted", "n_unknown_flagged", "n_unknown_genre", "new_music_accuracy", "predicted_share"):
            assert drift[key] == baseline[key], f"{point}: {key} {drift[key]} != {baseline[key]} (a poisoned cache?)"
        for page in ("drift.html", "generalization.html", "index.html"):
            assert (root / "reports" / page).stat().st_size > 0, f"{point}: {page}"


def _history(root: Path) -> list[dict]:
    from mir.config import load_config
    from mir.monitoring.history import load_history

    cwd = os.getcwd()
    os.chdir(root)
    try:
        return load_history(load_config())
    finally:
        os.chdir(cwd)


@pytest.mark.slow
def test_train_killed_at_random_points_then_rerun_keeps_one_history(trained):
    root = trained
    epochs = yaml.safe_load((root / "params.yaml").read_text())["train"]["epochs"]
    n = _moves(root, "-q", "train")
    assert n >= 2 * epochs, f"mir train moved only {n} files into place"
    for when, k in _points(n, 3, seed=230):
        point = f"{when}:{k} of {n}"
        _kill_then_rerun(root, "train", when=when, k=k, point=point)
        history = pd.read_csv(root / "plots/train_history.csv")
        assert history["epoch"].tolist() == list(range(1, epochs + 1)), f"{point}: {history['epoch'].tolist()}"
        train = json.loads((root / "metrics/train.json").read_text())
        live = json.loads((root / "dvclive/metrics.json").read_text())
        assert live["step"] == epochs - 1, f"{point}: DVCLive's last step {live['step']}, {epochs} epochs trained"
        for tsv in (root / "dvclive/plots/metrics").rglob("*.tsv"):
            steps = pd.read_csv(tsv, sep="\t")["step"].tolist()
            assert steps == list(range(epochs)), f"{point}: {tsv.relative_to(root)} steps {steps}"
        assert train["epochs_run"] == epochs, f"{point}: {train}"
        assert not list((root / "data/cache/train-runs").glob("*")), f"{point}: a finished run left its backup"
        import keras

        keras.models.load_model(root / "models/model.keras", compile=False)  # whole, not torn
