"""Typed records between stages: the model bundle (model + card), eval.json, and the dataset registry."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from pydantic import ValidationError

from mir.config import FeatureParams, load_config
from mir.datasets import registry
from mir.model.bundle import ModelBundle, ModelCard, read_card
from mir.records.evaluation import EvalRecord

SCORES = {"accuracy": 0.75, "macro_f1": 0.7, "n": 4, "per_class": {
    "a": {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2},
    "b": {"precision": 0.6667, "recall": 1.0, "f1": 0.8, "support": 2}}}


def test_model_bundle_round_trip(tmp_path):
    from mir.model.cnn import build_cnn

    fp = FeatureParams(n_mels=16, sample_rate=8000, n_fft=256, hop_length=128)
    model = build_cnn(n_mels=16, n_frames=24, n_classes=2, filters=(4, 8))
    ModelBundle(model=model, genres=["a", "b"], features=fp, chunk_frames=24, arch="cnn").save(tmp_path / "m")
    card = json.loads((tmp_path / "m/labels.json").read_text())
    assert card == {"genres": ["a", "b"], "features": fp.model_dump(mode="json"), "chunk_frames": 24, "arch": "cnn"}
    back = ModelBundle.load(tmp_path / "m")
    assert (back.genres, back.chunk_frames, back.arch, back.features) == (["a", "b"], 24, "cnn", fp)
    x = np.random.default_rng(0).normal(size=(3, 16, 24, 1)).astype("float32")
    np.testing.assert_allclose(back.model.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert [p.name for p in (tmp_path / "m").iterdir() if ".tmp" in p.name] == []  # atomic: no temporaries


def test_model_card_is_checked(tmp_path):
    # a card from another mir version may carry feature keys this one doesn't know: they are dropped
    card = ModelCard.model_validate({"genres": ["a"], "chunk_frames": 8, "features": {"n_mels": 16, "old_key": 1}})
    assert card.features.n_mels == 16 and card.arch is None
    with pytest.raises(ValidationError, match="chunk_frames"):
        ModelCard.model_validate({"genres": ["a"], "chunk_frames": 0, "features": {}})
    with pytest.raises(FileNotFoundError, match="no model card"):
        read_card(tmp_path)


def test_eval_record_round_trip():
    rec = EvalRecord.from_scores(arch="cnn", track=SCORES, segment={**SCORES, "n": 40},
                                 baseline={"kind": "mfcc20-stats + svm", "accuracy": 0.5, "macro_f1": 0.5, "n": 4})
    d = rec.dump()
    assert d["accuracy"] == 0.75 and d["segment"]["n"] == 40 and d["baseline"]["kind"].startswith("mfcc")
    assert EvalRecord.model_validate(d).dump() == d
    assert "baseline" not in EvalRecord.from_scores(arch=None, track=SCORES, segment=SCORES).dump()
    skipped = EvalRecord.from_scores(arch=None, track=SCORES, segment=SCORES,
                                     baseline={"kind": "svm", "skipped": "needs 2 genres"}).dump()
    assert skipped["baseline"] == {"kind": "svm", "skipped": "needs 2 genres"}
    with pytest.raises(ValidationError, match="track.accuracy"):
        EvalRecord.model_validate({**d, "track": {**SCORES, "accuracy": "high"}})


@pytest.mark.parametrize("name", registry.NAMES)
def test_every_dataset_module_exports_the_interface(name):
    module = registry.get(name)
    assert module.NAME == name
    assert callable(module.genres) and callable(module.clips)
    # its parameters are the params.yaml section of its name
    from mir.config import Config

    assert Config.model_fields[name].annotation is module.Params


def test_registry_lookups(project):
    cfg = load_config()
    assert registry.is_rendered(registry.configured(cfg))  # the demo is generated
    assert not registry.is_rendered(registry.get("gtzan"))
    assert cfg.available_genres() == list(cfg.synth.genres)
    assert registry.get("gtzan").genres(cfg)[0] == "blues" and registry.get("folder").genres(cfg) is None
    with pytest.raises(ValueError, match="unknown dataset 'nope'; known: synth, folder, gtzan, fma"):
        registry.get("nope")


def test_loading_the_config_imports_nothing_heavy():
    code = ("import sys; from mir.config import load_config; load_config('params.yaml'); "
            "print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'soundfile', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=__import__("pathlib").Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
