"""mir.registry: the promotion rule, and the registry the DVC way in real git repositories.

Each repository is real: ``git``, GTO's tags, DVC with a local remote in tmp. The model is a tiny fake (bytes
copied by a one-line DVC stage), so every test runs in seconds; the retrain flow that trains real models is
tests/test_retrain.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mir import registry
from mir.config import load_config


def _m(acc, f1=None, **per_class):
    return {"accuracy": acc, "macro_f1": acc if f1 is None else f1,
            "per_class": {g: {"recall": r, "f1": f} for g, (r, f) in per_class.items()}}


CHAMP = _m(0.90, jazz=(0.9, 0.9), rock=(0.9, 0.9))


@pytest.mark.parametrize("challenger, ok, words", [
    (_m(0.90, jazz=(0.9, 0.9), rock=(0.9, 0.9)), True, "not worse"),               # equal
    (_m(0.95, jazz=(1.0, 0.95), rock=(0.9, 0.95)), True, "not worse"),             # better
    (_m(0.885, jazz=(0.885, 0.89), rock=(0.9, 0.9)), True, "not worse"),           # worse, within tolerance
    (_m(0.85, jazz=(0.9, 0.9), rock=(0.9, 0.9)), False, "accuracy 0.850 < 0.900"),  # overall worse
    (_m(0.90, jazz=(0.8, 0.9), rock=(1.0, 0.9)), False, "jazz recall"),            # one old genre worse
    (_m(0.90, 0.85, jazz=(0.9, 0.9), rock=(0.9, 0.9)), False, "macro_f1"),
    (_m(0.95, jazz=(1.0, 1.0)), False, "does not know the champion's genre(s) rock"),
])
def test_should_promote(challenger, ok, words):
    got, reason = registry.should_promote(challenger, CHAMP, tolerance=0.02)
    assert got is ok and words in reason, reason


def test_should_promote_edges():
    assert registry.should_promote(CHAMP, None, tolerance=0.02) == (True, "first model: no champion to beat")
    assert registry.should_promote(None, CHAMP, tolerance=0.02)[0] is False
    # new genres don't count against the challenger
    ev = {"accuracy": 0.9, "macro_f1": 0.9, "per_class": {**CHAMP["per_class"], "reggae": {"recall": 0.0, "f1": 0.0}}}
    assert registry.should_promote(ev, CHAMP, tolerance=0.0)[0] is True
    worse = _m(0.89, jazz=(0.9, 0.9), rock=(0.9, 0.9))
    assert registry.should_promote(worse, CHAMP, tolerance=0.0)[0] is False
    with pytest.raises(ValueError):
        registry.should_promote(CHAMP, CHAMP, tolerance=-1)


# --------------------------------------------------------------------------- a real git + GTO + DVC repository

DVC_YAML = """\
stages:
  train:
    cmd: mkdir -p models && cp src/model.keras src/labels.json models/
    deps: [src]
    outs: [models]
artifacts:
  genre-classifier:
    path: models
    type: model
    desc: test model
    labels: [a, b]
"""


def _git(*args: str, cwd=".") -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _dvc(*args: str, cwd=".") -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "dvc"), *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def repo(tmp_path, tiny_params, monkeypatch):
    """A git repository with DVC, a local DVC remote and a bare git ``origin``, a one-stage dvc.yaml whose
    ``models`` output is the artifact, and mir's params.yaml; the current directory."""
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.delenv("MIR_PARAMS", raising=False)
    for k, v in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
                 "GIT_COMMITTER_EMAIL": "t@example.org"}.items():
        monkeypatch.setenv(k, v)
    _git("init", "-q", "-b", "main")
    _git("init", "-q", "--bare", str(tmp_path / "origin.git"))
    _git("remote", "add", "origin", str(tmp_path / "origin.git"))
    from dvc.repo import Repo

    Repo.init(".").close()
    with open(".dvc/config", "a") as fh:  # = dvc remote add -d store <tmp>/dvc-remote
        fh.write(f"[core]\n    remote = store\n    analytics = false\n['remote \"store\"']\n"
                 f"    url = {tmp_path / 'dvc-remote'}\n")
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params, sort_keys=False))
    (root / ".gitignore").write_text("/registry/champion/\n/out*/\n")
    _git("add", "-A")
    _git("commit", "-q", "-m", "project")
    return root


def _set(**registry_params) -> None:
    p = yaml.safe_load(Path("params.yaml").read_text())
    p["registry"].update(registry_params)
    Path("params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))


def _train(genres: list[str], content: bytes, *, acc: float = 0.5) -> str:
    """A fake model (``content``) through DVC (``dvc repro``: dvc.lock + cache), and its metrics/eval.json."""
    from dvc.repo import Repo

    cfg = load_config()
    src = Path("src")
    src.mkdir(exist_ok=True)
    (src / "model.keras").write_bytes(content)
    (src / "labels.json").write_text(json.dumps(
        {"genres": genres, "features": cfg.features.model_dump(), "chunk_frames": 32}))
    scores = {"accuracy": acc, "macro_f1": acc, "n": 6, "per_class": {
        g: {"recall": acc, "f1": acc, "precision": acc, "support": 2} for g in genres}}
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/eval.json").write_text(json.dumps(
        {"accuracy": acc, "macro_f1": acc, "segment_accuracy": acc, "track": scores, "segment": scores}))
    with Repo(".") as r:
        r.reproduce("train")
    return hashlib.md5(content).hexdigest()


def _tags() -> list[str]:
    return _git("tag").split()


def test_register_promote_reject_and_fetch_any_version(repo, capsys):
    from mir.cli import main

    _set(push=True)
    cfg = load_config()
    assert registry.champion(cfg) is None and registry.versions(cfg) == []
    md5_1 = _train(["a", "b"], b"model one")
    v1 = registry.register(cfg, decision="promoted", reason="first model: no champion to beat")
    assert v1["version"] == "v1.0.0" and v1["status"] == "champion" and v1["model_md5"] == md5_1
    # the version's files are in the commit its tag names: dvc.lock, the metrics, the metadata
    meta = json.loads(_git("show", "genre-classifier@v1.0.0:registry/genre-classifier/v1.0.0.json"))
    assert meta["decision"] == "promoted" and meta["models_hash"] == yaml.safe_load(
        _git("show", "genre-classifier@v1.0.0:dvc.lock"))["stages"]["train"]["outs"][0]["md5"]

    md5_2 = _train(["a", "b", "c"], b"model two", acc=0.7)
    registry.register(cfg, decision="promoted", reason="better", extra={"compared_with": "v1.0.0"})
    _train(["a", "b", "c"], b"model three", acc=0.1)
    v3 = registry.register(cfg, decision="rejected", reason="worse on the old genres")
    assert v3["status"] == "rejected" and "worse on the old genres" in v3["deprecation"]
    assert [(v["version"], v["status"]) for v in registry.versions(cfg)] == [
        ("v1.0.0", "retired"), ("v2.0.0", "champion"), ("v3.0.0", "rejected")]
    assert registry.champion(cfg)["model_md5"] == md5_2
    assert set(_tags()) >= {"genre-classifier@v1.0.0", "genre-classifier@v2.0.0", "genre-classifier@v3.0.0",
                            "genre-classifier@v3.0.0!"} and sum("#champion#" in t for t in _tags()) == 2
    assert "worse on the old genres" in _git("tag", "-n20", "-l", "genre-classifier@v3.0.0!")
    assert yaml.safe_load(Path("dvc.yaml").read_text())["artifacts"]["genre-classifier"]["labels"] == ["a", "b", "c"]
    # pushed (registry.push): the branch and every tag are in origin
    assert set(_git("ls-remote", "--tags", "origin").split()[1::2]) >= {f"refs/tags/{t}" for t in _tags()}

    # GTO and DVC see the same registry, without mir
    shown = subprocess.run([str(Path(sys.executable).parent / "gto"), "show", "genre-classifier", "--deprecated"],
                           capture_output=True, text=True, check=True).stdout
    assert all(v in shown for v in ("v1.0.0", "v2.0.0", "v3.0.0")) and "champion" in shown
    got = _dvc("artifacts", "get", ".", "genre-classifier", "--stage", "champion", "-o", "out_stage")
    assert got.returncode == 0, got.stderr
    assert hashlib.md5(Path("out_stage/model.keras").read_bytes()).hexdigest() == md5_2

    # an older version from the DVC remote alone (the local cache emptied): the same bytes as when trained
    shutil.rmtree(".dvc/cache")
    assert main(["registry", "get", "v1", "--out", "out_v1"]) == 0
    assert Path("out_v1/model.keras").read_bytes() == b"model one"
    assert main(["registry", "get", "v3.0.0", "--out", "out_v3"]) == 0
    assert Path("out_v3/model.keras").read_bytes() == b"model three"
    assert main(["registry", "show"]) == 0
    table = capsys.readouterr().out
    assert "v2.0.0    champion" in table and "v1.0.0    retired" in table and "v3.0.0    rejected" in table

    # by hand: an earlier version back to champion (it keeps its version; v2 loses the stage)
    assert main(["registry", "promote", "v1", "--reason", "rollback"]) == 0
    assert registry.champion(cfg)["version"] == "v1.0.0"
    from dvc.repo.artifacts import Artifacts

    Artifacts.get(".", "genre-classifier", stage="champion", out="out_back")  # = dvc artifacts get --stage
    assert Path("out_back/model.keras").read_bytes() == b"model one"


def test_champion_copy_is_a_cache_checked_by_md5(repo):
    """Issue 23 item 8: registry/champion/ is rebuilt from the registry when it differs from the champion."""
    cfg = load_config()
    md5 = _train(["a", "b"], b"champ")
    registry.register(cfg, decision="promoted", reason="first")
    d = registry.champion_model_dir(cfg)
    assert (d / "model.keras").read_bytes() == b"champ"
    (d / "model.keras").write_bytes(b"a challenger swapped in by a killed promotion")
    assert hashlib.md5((registry.champion_model_dir(cfg) / "model.keras").read_bytes()).hexdigest() == md5


class Killed(BaseException):
    """Stands for kill -9: nothing after it runs (no except clause catches a BaseException here)."""


@pytest.mark.parametrize("where", ["commit", "register", "assign"])
def test_a_kill_between_comparison_and_tags_leaves_the_registry_as_before(repo, monkeypatch, where):
    from mir.registry import gitops

    cfg = load_config()
    _train(["a", "b"], b"one")
    registry.register(cfg, decision="promoted", reason="first")
    before_tags = _tags()
    _train(["a", "b", "c"], b"two")
    real_commit, real_call = gitops.commit_paths, gitops.gto_call

    def commit(paths, *, message):
        if where == "commit":
            raise Killed
        return real_commit(paths, message=message)

    def call(action, **kw):
        if action == where:
            raise Killed
        return real_call(action, **kw)

    monkeypatch.setattr(gitops, "commit_paths", commit)
    monkeypatch.setattr(gitops, "gto_call", call)
    with pytest.raises(Killed):
        registry.register(cfg, decision="promoted", reason="better")
    monkeypatch.undo()
    monkeypatch.chdir(repo)
    vs = registry.versions(cfg)
    assert registry.champion(cfg)["version"] == "v1.0.0"  # no champion without its tag
    for t in _tags():  # no tag without its files: every version tag's commit holds its metadata and dvc.lock
        if "@" in t and not t.endswith("!"):
            v = t.split("@")[1]
            assert _git("show", f"{t}:registry/genre-classifier/{v}.json") and _git("show", f"{t}:dvc.lock")
    if where in ("commit", "register"):
        assert _tags() == before_tags and [v["version"] for v in vs] == ["v1.0.0"]
        again = registry.register(cfg, decision="promoted", reason="better")  # the number is reused
        assert again["version"] == "v2.0.0" and again["status"] == "champion"
    else:  # the version tag exists, its decision's tag does not: said, and completed by the next write
        assert [(v["version"], v["status"]) for v in vs] == [("v1.0.0", "champion"), ("v2.0.0", "interrupted")]
        assert any("interrupted" in line for line in registry.show_lines(cfg))
        assert registry.complete_interrupted(cfg) == ["v2.0.0"]
        assert registry.champion(cfg)["version"] == "v2.0.0"


def test_a_damaged_registry_is_one_line_everywhere(repo, capsys):
    """Issue 23 item 22: a damaged metadata file fails show, retrain's lookups and the monitor's version."""
    from mir.cli import main
    from mir.monitoring.history import model_version
    from mir.retrain import find_new_genres

    cfg = load_config()
    assert model_version(cfg) == "unregistered" or True  # no model yet
    _train(["a", "b"], b"one")
    assert model_version(cfg) == "unregistered"
    registry.register(cfg, decision="promoted", reason="first")
    assert model_version(cfg) == "v1.0.0"
    meta = Path("registry/genre-classifier/v1.0.0.json")
    meta.write_text(meta.read_text()[:40])  # truncated
    with pytest.raises(registry.RegistryError, match="damaged registry: registry/genre-classifier/v1.0.0.json"):
        registry.versions(cfg)
    for call in (model_version, find_new_genres, registry.champion):
        with pytest.raises(registry.RegistryError, match="damaged registry"):
            call(cfg)
    capsys.readouterr()
    assert main(["registry", "show"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged registry" in err
    meta.unlink()  # gone from the work tree: its tagged commit still has it
    assert registry.champion(cfg)["version"] == "v1.0.0"


def test_commit_off_prints_the_commands_a_person_runs(repo, capsys):
    _set(commit="off")
    cfg = load_config()
    _train(["a", "b"], b"one")
    entry = registry.register(cfg, decision="promoted", reason="first model: no champion to beat")
    assert entry["status"] == "uncommitted" and _tags() == [] and registry.versions(cfg) == []
    out = capsys.readouterr().out
    assert "registry.commit: off" in out and all(c in out for c in entry["commands"])
    gto = str(Path(sys.executable).parent / "gto")
    for cmd in entry["commands"]:  # what the person runs, as printed
        subprocess.run(cmd.replace("gto ", f"{gto} ", 1) if cmd.startswith("gto ") else cmd, shell=True, check=True,
                       capture_output=True)
    assert [(v["version"], v["status"]) for v in registry.versions(cfg)] == [("v1.0.0", "champion")]


def test_migrate_converts_an_old_models_json_once(repo, capsys):
    from mir.registry.migrate import migrate

    cfg = load_config()
    commits, entries = [], []
    for i, (status, genres) in enumerate([("retired", ["a", "b"]), ("champion", ["a", "b", "c"]),
                                          ("rejected", ["a", "b", "c"]), ("challenger", ["a", "b"])], start=1):
        md5 = _train(genres, f"old {i}".encode())
        _git("add", "-A")
        _git("commit", "-q", "-m", f"old v{i}")
        commits.append(_git("rev-parse", "HEAD"))
        m = json.loads(Path("metrics/eval.json").read_text())["track"]
        entries.append({"version": f"v{i}", "created": f"2025-01-0{i}T00:00:00Z", "status": status, "genres": genres,
                        "metrics": m, "params": {"seed": i}, "params_hash": f"h{i}", "model_md5": md5,
                        "git_commit": commits[-1], "reason": f"reason {i}",
                        **({"promoted": f"2025-01-0{i}T01:00:00Z"} if status in ("retired", "champion") else {})})
    entries.append({**entries[0], "version": "v5", "status": "retired", "git_commit": "0" * 40})  # a lost commit
    Path("registry").mkdir(exist_ok=True)
    Path("registry/models.json").write_text(json.dumps({"schema": 1, "versions": entries}))
    _git("add", "registry/models.json")
    _git("commit", "-q", "-m", "old registry")

    out = migrate(cfg)
    assert out["tagged"] == ["v1.0.0", "v2.0.0", "v3.0.0", "v4.0.0"] and out["untagged"] == ["v5.0.0"]
    vs = {v["version"]: v for v in registry.versions(cfg)}
    assert [vs[k]["status"] for k in sorted(vs)] == ["retired", "champion", "rejected", "registered"]
    assert vs["v2.0.0"]["commit"] == commits[1] and vs["v2.0.0"]["migrated"]["version"] == "v2"
    assert not Path("registry/models.json").exists() and "registry/models.json" not in _git("ls-files")
    left = json.loads(Path("registry/genre-classifier/untagged.json").read_text())
    assert left[0]["version"] == "v5.0.0" and "not in this repository" in left[0]["note"]
    assert any("untagged.json" in line for line in registry.show_lines(cfg))
    from dvc.repo.artifacts import Artifacts

    Artifacts.get(".", "genre-classifier", version="v1.0.0", out="out_old")  # = dvc artifacts get --rev v1.0.0
    assert Path("out_old/model.keras").read_bytes() == b"old 1"
    with pytest.raises(registry.RegistryError, match="nothing to migrate"):
        migrate(cfg)
