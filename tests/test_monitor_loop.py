"""Your own music end to end: a folder dataset, a folder of new music, two monitor runs in the Evidently
workspace, and the mir-monitor flow handing a newly labelled genre to the retrain flow.

One module-scoped project (DVC for real, Prefect's test harness, no network), generated songs:
training folder with two genres; a new-music folder with songs of those two genres and unlabelled songs;
then songs of a third, labelled genre arrive in it. ``registry.tolerance: 1.0`` as in tests/test_retrain.py
(the tiny CNN's scores on a handful of test clips are a coin toss; the rule is tested in test_registry.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, TINY, _merge, git_repo, project_folders, tone, write_audio

pytestmark = pytest.mark.slow
BIN = str(Path(sys.executable).parent)
FREQ = {"drone": 180.0, "chime": 1400.0, "buzz": 3500.0}  # "buzz" is the genre that arrives later


def _run(*cmd, cwd):
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    r = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def _song(path: Path, genre: str, i: int) -> None:
    y = tone(4.0, freq=FREQ[genre] * (1 + 0.03 * i), amp=0.25, seed=hash((genre, i)) % 1000)
    y = y + tone(4.0, freq=FREQ[genre] * 2.01, amp=0.1, seed=i)
    write_audio(path, y)


def _mtimes(root: Path) -> dict:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def proj(tmp_path_factory, harness):
    root = tmp_path_factory.mktemp("own-music")
    music, incoming = root.parent / f"{root.name}-music", root.parent / f"{root.name}-incoming"
    for g in ("drone", "chime"):
        for i in range(6):
            _song(music / g / f"{g}{i}.wav", g, i)
        for i in range(2):
            _song(incoming / g / f"new_{g}{i}.ogg", g, 10 + i)
    _song(incoming / "untitled0.ogg", "drone", 20)
    _song(incoming / "untitled1.ogg", "chime", 21)
    project_folders(root)
    shutil.copy(ROOT / "dvc.yaml", root / "dvc.yaml")
    shutil.copytree(ROOT / "mir", root / "mir", ignore=shutil.ignore_patterns("__pycache__"))
    params = _merge(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY)
    params["data"].update({"dataset": "folder", "genres": None})
    params["folder"]["root"] = str(music)
    params["new_music"].update({"source": "folder", "root": str(incoming)})
    params["evaluate"]["baseline"] = "none"
    params["registry"]["tolerance"] = 1.0
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git_repo(root)  # a clone: git + DVC (the registry's versions are GTO tags on commits)
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.delenv("MIR_PARAMS", raising=False)
    yield root, music, incoming
    mp.undo()


def test_own_music_is_versioned_monitored_twice_and_a_new_genre_is_retrained(proj):
    from flows.monitor import monitor_new_music
    from flows.retrain import retrain_on_new_genres
    from mir.config import load_config
    from mir.monitoring.history import load_history
    from mir.registry import versions
    from mir.reports.site import build_report

    root, music, incoming = proj
    untouched = {**_mtimes(music), **_mtimes(incoming)}

    # 1. dvc repro with new_music.source: folder — the folder is a dependency, its snapshot an output
    _run("dvc", "repro", cwd=root)
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    dep = next(d for d in lock["new_music"]["deps"] if d["path"] == str(incoming))
    assert dep["md5"].endswith(".dir") and dep["nfiles"] == 6
    out = next(o for o in lock["new_music"]["outs"] if o["path"] == "data/new")
    assert out["nfiles"] == 8  # the 6 songs + new_music.json + .mir-output
    assert (root / "data/new/drone/new_drone0.ogg").read_bytes() == (incoming / "drone/new_drone0.ogg").read_bytes()
    drift = json.loads((root / "metrics/drift.json").read_text())
    assert drift["n_clips"] == 6 and drift["n_labelled_known"] == 4 and drift["history"]["snapshot_id"]
    assert json.loads(_run("dvc", "status", "--json", cwd=root) or "{}") == {}  # nothing changed: a no-op

    first = retrain_on_new_genres(targets=["evaluate"])  # registers the first model as champion v1
    assert first["decision"]["version"] == "v1.0.0" and first["decision"]["promoted"]

    # 2. songs of a genre the champion does not know arrive, labelled; the scheduled flow runs
    for i in range(6):
        _song(incoming / "buzz" / f"buzz{i}.ogg", "buzz", i)
    untouched.update(_mtimes(incoming))
    res = monitor_new_music(targets=["evaluate"])
    flow_run = res["run_id"]
    assert res["verdict"]["n_clips"] == 12 and res["verdict"]["unknown_genres"] == ["buzz"]
    assert res["handover"]["handed_over"] == {"buzz": 6}
    assert sorted(p.name for p in (root / "data/labelled/buzz").iterdir()) == [f"buzz{i}.ogg" for i in range(6)]

    # two monitor runs: two snapshots in the workspace, two points on the index page
    cfg = load_config()
    hist = load_history(cfg)
    assert len(hist) == 2 and [h["origin"] for h in hist] == ["stage", f"flow {flow_run}"]
    assert hist[0]["model_version"] == "unregistered" and hist[1]["model_version"] == "v1.0.0"
    assert hist[1]["mir_n_songs"] == 12 and hist[0]["mir_n_songs"] == 6
    index = build_report(cfg, progress=False).read_text()
    assert "2 monitor run(s)" in index and index.count('class="dvc-plot"') == 4

    # the retrain flow ran on the new genre through DVC and decided, naming the monitoring run
    rt = res["retrain"]
    assert rt["found"]["new"] == ["buzz"] and rt["action"] == "retrained"
    assert rt["comparison"]["basis"].startswith("same test clips") and rt["comparison"]["genres"] == ["chime", "drone"]
    entry = versions(cfg)[-1]
    assert entry["version"] == "v2.0.0" and entry["genres"] == ["buzz", "chime", "drone"]
    assert entry["status"] in ("champion", "rejected") and entry["reason"]
    assert entry["new_music_run"]["monitor_flow_run"] == flow_run and entry["new_music_run"]["genres"] == ["buzz"]
    assert entry["new_music_run"]["snapshot_id"] == hist[1]["snapshot_id"]
    assert entry["status"] == "champion", entry["reason"]  # tolerance 1.0: it knows every old genre
    assert json.loads((root / "models/labels.json").read_text())["genres"] == ["buzz", "chime", "drone"]
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    assert next(d for d in lock["data"]["deps"] if d["path"] == "data/labelled")["nfiles"] == 8  # + README, log
    clips = (root / "data/raw/clips.csv").read_text()
    assert "labelled/buzz/buzz0" in clips

    # the verdict is published as Prefect artifacts
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def artifacts():
        async with get_client() as client:
            return {k: await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[k])))
                    for k in ("mir-monitor-verdict", "mir-unknown-songs")}

    arts = asyncio.run(artifacts())
    assert "12 songs analysed" in arts["mir-monitor-verdict"][0].data and arts["mir-unknown-songs"][0].type == "table"

    # the user's folders were only read
    assert {**_mtimes(music), **_mtimes(incoming)} == untouched


def test_monitor_flow_fails_loudly_without_its_folder(proj):
    from flows.monitor import monitor_new_music

    root, _, incoming = proj
    state = monitor_new_music(new_dir=str(root / "no-such-folder"), return_state=True)
    assert state.is_failed() and "does not exist" in state.message
