"""Params switch the whole pipeline between datasets; `dvc repro` runs with each (tiny fixtures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import tone, write_audio

pytestmark = pytest.mark.slow
BIN = str(Path(sys.executable).parent)


def _dvc(*args, cwd):
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    r = subprocess.run(["dvc", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, f"dvc {' '.join(args)}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def _folder_fixture(root: Path) -> dict:
    for k, g in enumerate(("ambient", "punk", "salsa")):
        for i in range(6):
            write_audio(root / g / f"{g}_{i}.mp3", tone(3.0, freq=150 + 60 * i + 17 * k, seed=100 * k + i))
    return {"data": {"dataset": "folder", "genres": None}, "folder": {"root": str(root), "split": "random"}}


def _gtzan_fixture(root: Path) -> dict:
    from mir.datasets.gtzan import split_lists

    lists = split_lists()
    n = 0
    for g in ("blues", "jazz", "rock"):
        for split, count in (("train", 4), ("valid", 2), ("test", 2)):
            for cid in [c for c in lists[split] if c.startswith(g + "/")][:count]:
                n += 1
                write_audio(root / "genres" / f"{cid}.wav", tone(3.0, freq=150 + 23 * n, seed=n))
    listed = {c for ids in lists.values() for c in ids}
    unlisted = next(f"{g}/{g}.{i:05d}" for g in ("jazz", "rock", "blues") for i in range(100)
                    if f"{g}/{g}.{i:05d}" not in listed)
    write_audio(root / "genres" / f"{unlisted}.wav", tone(3.0, freq=97))  # a filtered-out clip: dropped
    (root / "UNLISTED").write_text(unlisted)
    return {"data": {"dataset": "gtzan", "genres": ["blues", "jazz", "rock"]},
            "gtzan": {"root": str(root), "split": "artist_filtered"}}


def _fma_fixture(root: Path) -> dict:
    from fma_fixture import make_fma_fixture

    make_fma_fixture(root)
    return {"data": {"dataset": "fma", "genres": None, "max_reject_fraction": 0.2},
            "fma": {"root": str(root), "subset": "small"}, "audio": {"min_duration_s": 2.0}}


@pytest.mark.parametrize("make", [_folder_fixture, _gtzan_fixture, _fma_fixture], ids=["folder", "gtzan", "fma"])
def test_dvc_repro_with_each_dataset(project, tiny_params, make, tmp_path_factory):
    over = make(tmp_path_factory.mktemp("source"))
    for section, values in over.items():
        tiny_params[section].update(values)
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params, sort_keys=False))
    _dvc("init", "--no-scm", "-q", cwd=project)
    _dvc("repro", cwd=project)

    manifest = pd.read_csv(project / "data/manifest.csv")
    labels = json.loads((project / "models/labels.json").read_text())["genres"]
    assert labels == sorted(manifest["genre"].unique())
    assert 0 <= json.loads((project / "metrics/eval.json").read_text())["accuracy"] <= 1
    assert (project / "reports/index.html").exists()
    # no new-music folder configured: no unrelated synth music is rendered, nothing fails, the page says so
    assert sorted(p.name for p in (project / "data/new").iterdir()) == [".mir-output", "new_music.json"]
    assert json.loads((project / "metrics/drift.json").read_text())["configured"] is False
    assert "no new music is configured" in (project / "reports/index.html").read_text()
    rejected = pd.read_csv(project / "data/rejected.csv", dtype=str)
    ds = tiny_params["data"]["dataset"]
    if ds == "gtzan":
        assert labels == ["blues", "jazz", "rock"]
        assert len(manifest) == 24
        from mir.datasets.gtzan import split_lists

        want = {c: s for s, ids in split_lists().items() for c in ids}
        assert all(want[c] == s for c, s in zip(manifest["clip_id"], manifest["split"]))
    if ds == "fma":
        # the known-broken clips are caught by checks, not by a list: no audio, and far too short
        reasons = dict(zip(rejected["clip_id"], rejected["reason"]))
        assert "099/099134" in reasons and "098/098565" in reasons, reasons
        assert "too short" in reasons["098/098565"]
        splits = manifest.set_index("clip_id")["split"]
        assert splits["000/000002"] == "train" and splits["001/001482"] == "valid" and splits["002/002010"] == "test"
    # the source folder is untouched: the data stage copied what it needed into data/raw
    assert (project / "data/raw" / ds).is_dir()
