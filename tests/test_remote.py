"""The DVC remote: `dvc push`, then `dvc pull` in a fresh `git clone` restores everything `dvc repro` needs.

One pipeline run on a tiny synth set in a git + DVC project that uses the repository's own ``.dvc/config``
(the default remote ``local``, re-pointed at a temporary folder the way a user points it at shared storage).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.slow

BIN = str(Path(sys.executable).parent)
GIT = ["git", "-c", "user.name=mir test", "-c", "user.email=mir@example.invalid", "-c", "init.defaultBranch=main",
       "-c", "commit.gpgsign=false"]


def _run(*cmd, cwd):
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    r = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout


def _digests(root: Path, rel: str) -> dict[str, str]:
    """SHA-256 of every file under ``root/rel`` (or of that one file)."""
    base = root / rel
    files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_push_then_pull_in_a_fresh_clone_restores_everything(project, tiny_params, tmp_path_factory):
    tiny_params["train"]["epochs"] = 1  # the model's quality is not the point here
    tiny_params["evaluate"]["baseline"] = "none"
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params, sort_keys=False))
    remote = tmp_path_factory.mktemp("dvc-remote")
    for name in (".dvcignore", ".gitignore"):
        shutil.copy(ROOT / name, project / name)
    _run(*GIT, "init", "-q", cwd=project)
    _run("dvc", "init", "-q", cwd=project)
    shutil.copy(ROOT / ".dvc/config", project / ".dvc/config")  # the repository's remote settings

    # the committed default: remote `local`, a folder beside the repository, outside it
    listed = _run("dvc", "remote", "list", cwd=project).split()
    assert listed[0] == "local" and "(default)" in listed
    assert Path(listed[1]).resolve() == (project.parent / "mir-dvc-remote").resolve()
    _run("dvc", "remote", "modify", "local", "url", str(remote), cwd=project)  # as one points it at storage
    _run(*GIT, "add", "-A", cwd=project)
    _run(*GIT, "commit", "-q", "-m", "sources", cwd=project)

    _run("dvc", "repro", cwd=project)
    _run(*GIT, "add", "-A", cwd=project)
    _run(*GIT, "commit", "-q", "-m", "tiny run", cwd=project)
    _run("dvc", "push", cwd=project)
    assert any(remote.rglob("*")), "nothing was pushed"
    cloud = json.loads(_run("dvc", "status", "--cloud", "--json", cwd=project) or "{}")
    assert cloud == {}, cloud

    clone = tmp_path_factory.mktemp("clone") / "mir"
    _run(*GIT, "clone", "-q", str(project), str(clone), cwd=project.parent)
    restored = ("data/raw", "data/new", "data/manifest.csv", "data/features", "models", "reports/index.html")
    assert not any((clone / rel).exists() for rel in restored)  # git alone has none of them
    _run("dvc", "pull", cwd=clone)

    for rel in restored:
        want, got = _digests(project, rel), _digests(clone, rel)
        assert want and got == want, rel
    assert (clone / "models/model.keras").stat().st_size > 1000
    assert any(p.suffix == ".mp3" for p in (clone / "data/raw").rglob("*"))  # the raw audio itself

    status = json.loads(_run("dvc", "status", "--json", cwd=clone) or "{}")
    assert status == {}, status
    out = _run("dvc", "repro", cwd=clone)
    assert "Running stage" not in out, out
