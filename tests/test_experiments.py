"""`dvc exp run -S train.arch=…` trains every architecture through the same pipeline, with DVCLive curves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

BIN = str(Path(sys.executable).parent)
GIT = ["git", "-c", "user.name=mir test", "-c", "user.email=mir@example.invalid", "-c", "init.defaultBranch=main",
       "-c", "commit.gpgsign=false"]


def _run(*cmd, cwd):
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", ""),
           "GIT_AUTHOR_NAME": "mir test", "GIT_AUTHOR_EMAIL": "mir@example.invalid",
           "GIT_COMMITTER_NAME": "mir test", "GIT_COMMITTER_EMAIL": "mir@example.invalid"}
    r = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout


def test_dvc_exp_run_switches_every_architecture(project, tiny_params):
    from mir.model.architectures import ARCHS

    tiny_params["train"].update({"epochs": 2, "filters": None})  # each architecture's own widths
    tiny_params["evaluate"]["baseline"] = "none"
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params, sort_keys=False))
    _run(*GIT, "init", "-q", cwd=project)
    _run("dvc", "init", "-q", cwd=project)
    (project / ".gitignore").write_text("__pycache__/\n")
    _run(*GIT, "add", "-A", cwd=project)
    _run(*GIT, "commit", "-qm", "tiny mir project", cwd=project)
    for arch in ARCHS:
        # up to `train`, the stage the architecture changes (the later stages are tested elsewhere)
        # musicnn's pretrained body needs its own features: 16 kHz, n_fft 512, hop 256, 96 mels
        feats = ["-S", "features.sample_rate=16000", "-S", "features.n_fft=512", "-S", "features.hop_length=256",
                 "-S", "features.n_mels=96", "-S", "train.chunk_frames=null"] if arch == "musicnn" else []
        _run("dvc", "exp", "run", "-q", "-S", f"train.arch={arch}", *feats, "-n", f"arch-{arch}", "train",
             cwd=project)
        train = json.loads((project / "metrics/train.json").read_text())
        assert train["arch"] == arch and train["epochs_run"] == 2
        assert json.loads((project / "models/labels.json").read_text())["arch"] == arch
        live = json.loads((project / "dvclive/metrics.json").read_text())
        assert {"train", "eval"} <= set(live) and live["step"] == 1  # two epochs logged
        assert len((project / "dvclive/plots/metrics/eval/loss.tsv").read_text().splitlines()) == 3  # header + 2
    shown = json.loads(_run("dvc", "exp", "show", "--json", cwd=project))
    names = {e.get("name") for rev in shown for e in (rev.get("experiments") or [])
             for e in (e.get("revs") or [])}
    assert {f"arch-{a}" for a in ARCHS} <= names, names
