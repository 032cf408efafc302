"""The retrain flow end to end in the Prefect test harness, on a tiny synth project run through DVC.

One module-scoped project, three pipeline runs in all (``dvc repro evaluate``: the
stages a decision needs): the first champion, a new genre (promoted), and a
challenger that is worse on the old genres (not promoted).

The tiny CNN is close to chance on a few test clips, so a "slightly better or
slightly worse" outcome would be a coin toss. The promotion test therefore
accepts any drop (``registry.tolerance: 1.0`` — the challenger still has to know
every old genre), and the rejection test uses a challenger that is worse by
construction: one of the champion's genres was dropped from the source, so it
cannot recognise it at all. The rule's thresholds are covered by
tests/test_registry.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, TINY, _merge, git_repo, project_folders

pytestmark = pytest.mark.slow
TARGETS = ["evaluate"]


@pytest.fixture(scope="module")
def proj(tmp_path_factory, harness):
    root = tmp_path_factory.mktemp("retrain")
    project_folders(root)
    shutil.copy(ROOT / "dvc.yaml", root / "dvc.yaml")
    shutil.copytree(ROOT / "mir", root / "mir", ignore=shutil.ignore_patterns("__pycache__"))
    params = _merge(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY)
    params["evaluate"]["baseline"] = "none"
    params["registry"]["tolerance"] = 1.0
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git_repo(root)  # a clone: git + DVC, one commit (the registry's versions are GTO tags on commits)
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.delenv("MIR_PARAMS", raising=False)
    yield root, params
    mp.undo()


def _set(root: Path, params: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _registry(root: Path) -> list[dict]:
    from mir.config import load_config
    from mir.registry import versions

    return versions(load_config())


def test_deployments_register_with_cron_schedules(harness):
    from prefect.client.orchestration import get_client

    from flows.deploy import deployments

    deps = deployments()  # built outside the event loop (to_deployment dispatches to async inside one)

    async def go():
        ids = [await d.apply() for d in deps]
        async with get_client() as client:
            return [await client.read_deployment(i) for i in ids]

    got = {d.name: d for d in asyncio.run(go())}
    assert set(got) == {"mir-pipeline-nightly", "mir-retrain-on-new-genres", "mir-monitor"}
    for d in got.values():
        assert d.schedules and d.schedules[0].schedule.cron


def test_new_genre_is_trained_and_promoted(proj):
    from flows.retrain import retrain_on_new_genres

    root, params = proj
    first = retrain_on_new_genres(targets=TARGETS)  # no champion yet: every genre is new
    assert first["decision"]["promoted"] and first["decision"]["version"] == "v1.0.0"
    assert retrain_on_new_genres(targets=TARGETS)["action"] == "nothing new"  # nothing changed: nothing runs

    params["synth"]["genres"] = [*params["synth"]["genres"], "jazz"]
    _set(root, params)
    res = retrain_on_new_genres(targets=TARGETS)
    assert res["found"]["new"] == ["jazz"] and res["action"] == "retrained"
    cmp_ = res["comparison"]
    assert cmp_["basis"].startswith("same test clips") and cmp_["genres"] == ["classical", "electronic", "rock"]
    assert res["decision"]["promoted"], res["decision"]["reason"]

    champ = next(v for v in _registry(root) if v["status"] == "champion")
    assert champ["version"] == "v2.0.0" and "jazz" in champ["genres"] and champ["new_genres"] == ["jazz"]
    assert champ["compared_with"] == "v1.0.0" and champ["data_hash"]["data/raw"].endswith(".dir")
    assert champ["params"]["synth"]["genres"][-1] == "jazz" and champ["run_page"] == res["summary"]
    assert [v["status"] for v in _registry(root)] == ["retired", "champion"]
    # the version is a commit (dvc.lock, params, metrics, its metadata) with GTO's tags, readable without mir
    tags = subprocess.run(["git", "tag"], capture_output=True, text=True, check=True).stdout.split()
    assert {"genre-classifier@v1.0.0", "genre-classifier@v2.0.0"} <= set(tags)
    assert sum(t.startswith("genre-classifier#champion#") for t in tags) == 2
    got = subprocess.run([str(Path(sys.executable).parent / "dvc"), "artifacts", "get", ".", "genre-classifier",
                          "--stage", "champion", "-o", "fetched"], capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    from mir.io import file_digest

    assert file_digest(root / "fetched/model.keras", algorithm="md5") == champ["model_md5"]
    assert "jazz" in json.loads((root / "fetched/labels.json").read_text())["genres"]
    page = Path(res["summary"]).read_text()
    assert "jazz" in page and "promoted to champion" in page and "http" not in page.replace('href="../', "")


def test_worse_challenger_is_not_promoted(proj):
    from flows.retrain import retrain_on_new_genres
    from mir.config import load_config
    from mir.registry import champion_model_dir

    root, params = proj
    before = next(v for v in _registry(root) if v["status"] == "champion")
    params["synth"]["genres"] = [g for g in params["synth"]["genres"] if g != "rock"]  # a source lost a genre
    _set(root, params)
    assert retrain_on_new_genres(targets=TARGETS)["action"] == "nothing new"  # nothing new: no run
    res = retrain_on_new_genres(force=True, targets=TARGETS)  # forced
    assert res["found"]["dropped"] == ["rock"] and res["action"] == "retrained"
    assert res["comparison"]["basis"].startswith("same test clips")
    assert not res["decision"]["promoted"], res["decision"]
    assert "does not know the champion's genre(s) rock" in res["decision"]["reason"]
    versions = _registry(root)
    assert [v["status"] for v in versions] == ["retired", "champion", "rejected"]
    assert versions[1]["version"] == before["version"]
    assert "does not know the champion's genre(s) rock" in versions[2]["deprecation"]  # the deregistration tag
    from mir.io import file_digest

    champ_dir = champion_model_dir(load_config())  # the cache of the champion's files, checked by MD5
    assert file_digest(champ_dir / "model.keras", algorithm="md5") == before["model_md5"]
