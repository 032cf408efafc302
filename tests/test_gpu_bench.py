"""bench/gpu.py on the CPU: a tiny .npz by mir's featurize, training in float32 and mixed precision, the table,
the saved models, and ``check`` loading them back (and refusing a model whose predictions changed)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, tone, write_audio

BENCH = ROOT / "bench" / "gpu.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def chunks(tmp_path_factory):
    """A 2-genre folder of 4-s tones → ``chunks.npz`` (200 frames per clip) + the musicnn weights file."""
    tmp = tmp_path_factory.mktemp("gpu-bench")
    for genre, freq in (("low", 220.0), ("high", 1760.0)):
        for i in range(3):
            write_audio(tmp / "audio" / genre / f"{i}.wav", tone(4.0, sr=16000, freq=freq * (1 + 0.05 * i), seed=i),
                        sr=16000)
    env = {**os.environ, "MIR_CACHE": str(tmp / "cache")}
    subprocess.run([sys.executable, str(BENCH), "make-npz", "--out", str(tmp / "chunks.npz"), "--audio",
                    str(tmp / "audio"), "--seconds", "4", "--frames", "200", "--weights-out",
                    str(tmp / "musicnn.npz")], check=True, env=env, cwd=ROOT)
    return tmp


def test_make_npz_holds_featurized_float16_clips_and_the_musicnn_weights(chunks):
    with np.load(chunks / "chunks.npz") as z:
        assert z["logmel"].shape == (6, 96, 200) and z["logmel"].dtype == np.float16
        assert list(z["genres"]) == ["high", "low"] and sorted(z["labels"]) == [0, 0, 0, 1, 1, 1]
        assert json.loads(str(z["features"]))["n_mels"] == 96
    with np.load(chunks / "musicnn.npz") as w:
        assert w["conv2d/kernel"].shape == (7, 38, 1, 204)  # musicnn's first timbral filter


@pytest.mark.slow  # trains cnn and the musicnn head × (float32, mixed, float32 seed + 1), 2 tiny epochs each
def test_run_then_check_on_the_cpu(chunks, capsys):
    gpu = _bench()
    out = chunks / "out"
    args = ["run", "--npz", str(chunks / "chunks.npz"), "--out", str(out), "--musicnn-weights",
            str(chunks / "musicnn.npz"), "--archs", "cnn,musicnn", "--examples", "16", "--batch", "8",
            "--epochs", "2", "--in-process"]
    gpu.main(args)
    result = json.loads((out / "results.json").read_text())
    rows = result["rows"]
    assert result["platform"] == "cpu" and result["steps"] == 4
    assert len(rows) == 6 and all(r["status"] == "ok" and r["finite"] for r in rows), rows
    for r in rows:
        assert r["train_ex_s"] > 0 and r["infer_ex_s"] > 0 and r["peak_mem_mb"] is None  # "n/a" on a CPU
    mixed = [r for r in rows if r["precision"] == "mixed_float16"]
    assert all(isinstance(r["agrees"], bool) and r["tolerance"] >= gpu.LOSS_ATOL for r in mixed)
    assert next(r for r in rows if r["arch"] == "musicnn" and r["seed"] == 0)["body_ex_s"] > 0
    md = (out / "results.md").read_text()
    assert "| arch | precision |" in md and md.count("\n| ") == 1 + len(rows) and "n/a" in md
    saved = sorted(p.name for p in out.glob("*.keras"))
    assert saved == sorted(f"{a}-{p}.keras" for a in ("cnn", "musicnn")
                           for p in ("float32", "mixed_float16"))

    assert gpu.main(["check", "--out", str(out)]) == 0
    report = json.loads((out / "check.json").read_text())["models"]
    assert len(report) == 4 and all(m["ok"] for m in report)
    assert "4/4 models predict here" in capsys.readouterr().out

    probe = out / "cnn-float32.probe.npz"  # a model that no longer predicts what it did is caught
    with np.load(probe) as z:
        ref = dict(z)
    np.savez(probe, **{**ref, "embedding": ref["embedding"] * 1.1})
    assert gpu.main(["check", "--out", str(out)]) == 1


@pytest.mark.slow  # one child process (imports TensorFlow): ≈ 10 s
def test_each_run_is_a_child_process_and_a_failure_is_a_row(chunks):
    """The accelerator path: one child per run (its own peak memory); a crash is a row, not the end."""
    out = chunks / "child"
    cmd = [sys.executable, str(BENCH), "run", "--npz", str(chunks / "chunks.npz"), "--out", str(out),
           "--archs", "melgram_cnn,fma_cnn", "--precisions", "mixed_float16", "--no-spread", "--examples", "8",
           "--batch", "8", "--epochs", "1"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1  # fma_cnn needs 640 frames, the npz has 200
    rows = {r["arch"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    assert rows["melgram_cnn"]["status"] == "ok" and (out / "melgram_cnn-mixed_float16.keras").is_file()
    assert "needs 640" in rows["fma_cnn"]["status"]
    assert (out / "rows" / "melgram_cnn-mixed_float16.json").is_file()


def test_the_accelerator_path_imports_no_tensorflow_librosa_or_pydantic():
    """On the GPU machine there is no TensorFlow, librosa or pydantic: bench/gpu.py and the mir modules it
    builds models with must import without them (keras itself is imported by the backend there)."""
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'librosa', 'pydantic', 'pandas', 'soundfile', 'keras'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
sys.path.insert(0, {str(ROOT)!r})
import importlib.util
spec = importlib.util.spec_from_file_location('bench_gpu', {str(BENCH)!r})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
import mir.model.architectures, mir.model.cnn, mir.model.pretrained
print(mod.pick_backend('jax'), sorted(m for m in ('tensorflow', 'librosa', 'pydantic', 'keras') if m in sys.modules))
"""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["jax", "[]"]


def test_mixed_agrees_with_float32_within_the_stated_tolerance():
    gpu = _bench()
    rows = [{"arch": "cnn", "precision": "float32", "seed": 0, "status": "ok", "loss": 1.0, "finite": True},
            {"arch": "cnn", "precision": "float32", "seed": 1, "status": "ok", "loss": 1.1, "finite": True},
            {"arch": "cnn", "precision": "mixed_float16", "seed": 0, "status": "ok", "loss": 1.24, "finite": True},
            {"arch": "cnn_nan", "precision": "float32", "seed": 0, "status": "ok", "loss": 1.0, "finite": True},
            {"arch": "cnn_nan", "precision": "mixed_float16", "seed": 0, "status": "ok", "loss": 1.0, "finite": False},
            {"arch": "res", "precision": "float32", "seed": 0, "status": "ok", "loss": 0.5, "finite": True},
            {"arch": "res", "precision": "mixed_float16", "seed": 0, "status": "ok", "loss": 1.38, "finite": True}]
    gpu.agreement(rows, seed=0)
    cnn, nan, res = rows[2], rows[4], rows[6]
    assert cnn["tolerance"] == pytest.approx(0.05 + 0.1 + 0.1) and cnn["agrees"]  # + the seed spread
    assert not nan["agrees"]  # non-finite never agrees
    assert res["tolerance"] == pytest.approx(0.1) and not res["agrees"]  # stuck at ln(4) while float32 learned


def test_make_npz_from_a_feature_store_takes_each_genres_first_clips_centre_frames(tmp_path):
    gpu = _bench()
    store = tmp_path / "features"
    store.mkdir()
    X = np.arange(5 * 4 * 30, dtype=np.float16).reshape(5, 4, 30)
    np.save(store / "logmel.npy", X)
    (store / "index.csv").write_text("row,clip_id,genre,split\n0,a,jazz,train\n1,b,rock,train\n2,c,jazz,valid\n"
                                     "3,d,rock,train\n4,e,jazz,test\n")
    (store / "meta.json").write_text(json.dumps({"params": {"n_mels": 4, "sample_rate": 16000}}))
    gpu.main(["make-npz", "--out", str(tmp_path / "c.npz"), "--features", str(store), "--clips-per-genre", "2",
              "--frames", "10"])
    with np.load(tmp_path / "c.npz") as z:
        assert list(z["genres"]) == ["jazz", "rock"] and list(z["labels"]) == [0, 1, 0, 1]
        np.testing.assert_array_equal(z["logmel"], X[[0, 1, 2, 3], :, 10:20])
        assert json.loads(str(z["features"]))["n_mels"] == 4
