"""mir.registry: the promotion rule, and a registry that round-trips and is written atomically."""

from __future__ import annotations

import json
import os

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


@pytest.fixture
def cfg(project):
    return load_config()


def _fake_model(cfg, genres, content: bytes):
    d = cfg.paths.models
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/model.keras", "wb") as fh:
        fh.write(content)
    with open(f"{d}/labels.json", "w") as fh:
        json.dump({"genres": genres, "features": cfg.features.model_dump(), "chunk_frames": 32}, fh)
    os.makedirs(cfg.paths.metrics, exist_ok=True)
    with open(f"{cfg.paths.metrics}/eval.json", "w") as fh:
        scores = {"accuracy": 0.5, "macro_f1": 0.4, "n": 6, "per_class": {
            g: {"recall": 0.5, "f1": 0.4, "precision": 0.3, "support": 2} for g in genres}}
        json.dump({"accuracy": 0.5, "macro_f1": 0.4, "segment_accuracy": 0.5, "track": scores, "segment": scores}, fh)


def test_register_promote_round_trip(cfg, project):
    assert registry.load_registry(cfg.registry.path) == [] and registry.champion(cfg) is None
    with pytest.raises(registry.RegistryError, match="no trained model"):
        registry.register(cfg)
    (project / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        "data": {"outs": [{"path": "data/raw", "md5": "abc.dir"}]},
        "train": {"outs": [{"path": "models", "md5": "def.dir"}]}}}))

    _fake_model(cfg, ["a", "b"], b"model one")
    v1 = registry.register(cfg, reason="first")
    assert v1["version"] == "v1" and v1["status"] == "challenger" and v1["genres"] == ["a", "b"]
    assert v1["params"]["synth"]["genres"] == cfg.synth.genres and v1["params"]["validate"]
    assert v1["data_hash"] == {"data/raw": "abc.dir"} and v1["models_hash"] == "def.dir"
    assert v1["metrics"]["accuracy"] == 0.5 and v1["metrics"]["per_class"]["a"]["recall"] == 0.5
    registry.promote(cfg, "v1")
    assert registry.champion(cfg)["version"] == "v1"
    champ_dir = project / cfg.registry.champion_dir
    assert (champ_dir / "model.keras").read_bytes() == b"model one"

    _fake_model(cfg, ["a", "b", "c"], b"model two")
    v2 = registry.register(cfg, reason="second")
    with pytest.raises(registry.RegistryError, match="not version v1"):
        registry.promote(cfg, "v1")  # models/ now holds v2's model
    registry.promote(cfg, v2["version"], reason="better")
    v3 = registry.register(cfg)
    registry.set_status(cfg, v3["version"], "rejected", reason="worse")

    versions = registry.load_registry(cfg.registry.path)
    assert [(v["version"], v["status"]) for v in versions] == [("v1", "retired"), ("v2", "champion"),
                                                                ("v3", "rejected")]
    champ = registry.champion(cfg)
    assert champ["genres"] == ["a", "b", "c"] and champ["reason"] == "better"
    assert champ["params_hash"] == registry.params_hash(champ["params"])
    assert (champ_dir / "model.keras").read_bytes() == b"model two"
    assert json.loads((champ_dir / "labels.json").read_text())["genres"] == ["a", "b", "c"]
    doc = json.loads((project / cfg.registry.path).read_text())
    assert doc["schema"] == registry.SCHEMA


def test_registry_writes_are_atomic(cfg, project, monkeypatch):
    path = project / cfg.registry.path
    registry.save_registry(path, [{"version": "v1", "status": "champion"}])
    before = path.read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        registry.save_registry(path, [{"version": "v1", "status": "retired"}, {"version": "v2", "status": "champion"}])
    monkeypatch.undo()
    assert path.read_text() == before  # the old file is intact
    assert [p.name for p in path.parent.iterdir() if ".tmp-" in p.name] == []  # and no temporary left behind
    with pytest.raises(registry.RegistryError, match="more than one champion"):
        registry.save_registry(path, [{"version": "v1", "status": "champion"}, {"version": "v2", "status": "champion"}])
    with pytest.raises(registry.RegistryError, match="status must be"):
        registry.save_registry(path, [{"version": "v1", "status": "great"}])
    path.write_text("{not json")
    with pytest.raises(registry.RegistryError, match="not valid JSON"):
        registry.load_registry(path)


def test_registry_entries_are_typed(cfg, project):
    """A registry file whose entry breaks the schema (mir.records.registry) is refused with one line naming it."""
    _fake_model(cfg, ["a", "b"], b"model one")
    registry.register(cfg, reason="first")
    path = project / cfg.registry.path
    doc = json.loads(path.read_text())
    assert registry.load_registry(path)[0] == doc["versions"][0]  # what is read is what was written
    doc["versions"][0]["metrics"]["accuracy"] = "high"
    path.write_text(json.dumps(doc))
    with pytest.raises(registry.RegistryError, match=r"versions\.0\.metrics\.accuracy"):
        registry.load_registry(path)
    with pytest.raises(registry.RegistryError, match="metrics"):
        registry.register(cfg, metrics={"accuracy": 2.0, "macro_f1": 0.5})
