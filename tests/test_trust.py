"""Content-addressed trust in the inference cache: a changed export is verified again (or rebuilt), a body-cache
entry is used only when it is this clip's, whole and finite, a cache that can't be written is skipped, and a
writer killed at any point leaves nothing a rerun would use or keep (issue 23, items 5, 6, 7, 17)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_inference import _clips, _model

ROOT = Path(__file__).resolve().parents[1]


def _ref(m, X, rows):
    from mir.model.inference import Engine

    return Engine(m, runtime="keras").clip_outputs(X, rows)


def _same(a, b, *, tol=1e-6):
    for k in ("logp", "embedding"):
        np.testing.assert_allclose(a[k], b[k], rtol=tol, atol=tol, err_msg=k)
    for name, v in b["layer_stats"].items():
        np.testing.assert_allclose(a["layer_stats"][name], v, rtol=max(tol, 1e-3), atol=max(tol, 1e-3), err_msg=name)


def _lines(capsys, word="inference:"):
    return [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(word)]


# ------------------------------------------------------------------------------------------- the export


@pytest.fixture
def exported(tmp_path):
    """A model whose body runs on an ONNX export under tmp_path/cache, its clips and Keras' outputs."""
    pytest.importorskip("onnx")
    from mir.model.inference import Engine

    m = _model()
    X = _clips(3, 32, 70)
    e = Engine(m, runtime="auto", cache_dir=tmp_path / "cache")
    if e.runtime == "keras":
        pytest.skip("no ONNX runtime here")
    (export,) = (tmp_path / "cache/exports").glob("*-stats.onnx")
    return m, X, export, _ref(m, X, range(3))


def test_a_tampered_export_is_verified_again_and_the_predictions_stay_keras(exported, tmp_path, capsys):
    """Item 5: another body's export (valid ONNX, other weights) copied over the export is not trusted."""
    from mir.model.inference import Engine

    m, X, export, ref = exported
    Engine(_model(seed=5), runtime="auto", cache_dir=tmp_path / "other")
    (other,) = (tmp_path / "other/exports").glob("*-stats.onnx")
    export.write_bytes(other.read_bytes())
    capsys.readouterr()
    e = Engine(m, runtime="auto", cache_dir=tmp_path / "cache")
    _same(e.clip_outputs(X, range(3)), ref, tol=1e-4)
    assert e.runtime != "keras" and export.read_bytes() != other.read_bytes(), "the export was rebuilt"
    assert any("exporting it again" in ln for ln in _lines(capsys))
    stamp = json.loads(export.with_suffix(".verified.json").read_text())
    from mir.io import sha256_file

    assert stamp["sha256"] == sha256_file(export), "the verdict names the bytes it was given for"


def test_a_garbage_export_is_rebuilt_not_fallen_back_from_for_ever(exported, tmp_path, capsys):
    """Smaller item: a garbage export made every later run fall back to Keras."""
    from mir.model.inference import Engine

    m, X, export, ref = exported
    export.write_bytes(b"garbage, not an ONNX model")
    capsys.readouterr()
    e = Engine(m, runtime="auto", cache_dir=tmp_path / "cache")
    assert e.runtime in ("openvino", "onnxruntime"), "the export was made again, not abandoned"
    assert len([ln for ln in _lines(capsys) if "exporting it again" in ln]) == 1
    _same(e.clip_outputs(X, range(3)), ref, tol=1e-4)
    capsys.readouterr()
    again = Engine(m, runtime="auto", cache_dir=tmp_path / "cache")
    assert again.runtime == e.runtime and _lines(capsys) == [], "the next run trusts the rebuilt export silently"


def test_outputs_computed_through_an_export_are_cached_under_that_export(exported, tmp_path):
    """Item 6: entries written through an export live under the export's hash, never under Keras' key."""
    from mir.model.inference import Engine

    m, X, export, ref = exported
    e = Engine(m, runtime="auto", cache_dir=tmp_path / "cache")
    e.clip_outputs(X, range(3))
    assert e.export_sha["stats"][:16] in e.cache.dir.name
    k = Engine(m, runtime="keras", cache_dir=tmp_path / "cache")
    assert k.cache.dir != e.cache.dir
    out = k.clip_outputs(X, range(3))
    assert k.body_chunks == 3 * 3, "Keras never reads what an export computed"
    _same(out, ref)


# ------------------------------------------------------------------------------------------- the entries


def _keras_cache(tmp_path, n=4):
    from mir.model.inference import Engine

    m = _model()
    X = _clips(n, 32, 70)  # 3 chunks a clip
    e = Engine(m, runtime="keras", cache_dir=tmp_path)
    ref = e.clip_outputs(X, range(n))
    from mir.model.body_cache import clip_digest

    paths = [e.cache._path(clip_digest(X, i)) for i in range(n)]
    assert all(p.is_file() for p in paths)
    return m, X, ref, paths


def test_swapped_cache_entries_do_not_swap_predictions(tmp_path, capsys):
    from mir.model.inference import Engine

    m, X, ref, paths = _keras_cache(tmp_path)
    a, b = paths[0].read_bytes(), paths[1].read_bytes()
    paths[0].write_bytes(b)
    paths[1].write_bytes(a)
    capsys.readouterr()
    e = Engine(m, runtime="keras", cache_dir=tmp_path)
    _same(e.clip_outputs(X, range(4)), ref)
    assert e.body_chunks == 2 * 3, "the two swapped entries were recomputed, the others read"
    (line,) = _lines(capsys)
    assert "2 body-cache entries" in line and "recomputed" in line


def _rewrite(path, **change):
    with np.load(path) as z:
        d = {k: z[k] for k in z.files}
    for k, v in change.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v(d[k]) if callable(v) else v
    with open(path, "wb") as f:
        np.savez(f, **d)


BAD = {
    "nan": {"features": lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, np.nan, a).astype(a.dtype)},
    "inf in the statistics": {"var": lambda a: np.full_like(a, np.inf)},
    "missing key": {"m1": None},
    "wrong width": {"features": lambda a: np.concatenate([a, a[:, :1]], axis=1)},
    "wrong chunk count": {"features": lambda a: a[:1], "m1": lambda a: a[:1], "var": lambda a: a[:1]},
    "integers": {"features": lambda a: a.astype(np.int32)},
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_cache_entry_is_recomputed_with_one_warning(case, tmp_path, capsys):
    from mir.model.inference import Engine

    m, X, ref, paths = _keras_cache(tmp_path)
    _rewrite(paths[2], **BAD[case])
    capsys.readouterr()
    e = Engine(m, runtime="keras", cache_dir=tmp_path)
    _same(e.clip_outputs(X, range(4)), ref)
    assert e.body_chunks == 3
    (line,) = _lines(capsys)
    assert "1 body-cache entry" in line and paths[2].name in line
    capsys.readouterr()
    e2 = Engine(m, runtime="keras", cache_dir=tmp_path)
    e2.clip_outputs(X, range(4))
    assert e2.body_chunks == 0 and _lines(capsys) == [], "the recomputed entry replaced the bad one"


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS])
def test_a_cache_that_cannot_be_written_is_skipped_with_one_warning(err, tmp_path, capsys, monkeypatch):
    """Item 17: a full disk (or a read-only folder) under inference.cache_dir: the result, uncached."""
    from mir.model.inference import Engine

    m = _model()
    X = _clips(5, 32, 70)
    ref = _ref(m, X, range(5))
    calls = []

    def full(*a, **k):
        calls.append(1)
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(np, "savez", full)
    capsys.readouterr()
    e = Engine(m, runtime="keras", cache_dir=tmp_path)
    _same(e.clip_outputs(X, range(5), batch_clips=2), ref)
    _same(e.clip_outputs(X, range(5), batch_clips=2), ref)
    (line,) = _lines(capsys)
    assert os.strerror(err) in line and "without caching" in line
    assert len(calls) == 1, "one failed write turns the writes off for the run"
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "no debris"


# ------------------------------------------------------------------------------------------- kill points

CHILD = r"""
import os, signal, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from mir.model import body_cache
from mir.model.body_cache import BodyCache

root, key, data, point = sys.argv[2:6]
entries = np.load(data)
shas = [str(s) for s in entries["shas"]]
puts = [0]
real_savez, real_replace = np.savez, os.replace

def savez(f, **arrays):
    if puts[0] == 2 and point == "mid-write":
        f.write(b"PK\x03\x04 half an npz"); f.flush(); os.kill(os.getpid(), signal.SIGKILL)
    if puts[0] == 2 and point == "before-write":
        os.kill(os.getpid(), signal.SIGKILL)
    real_savez(f, **arrays)

def replace(a, b):
    if puts[0] == 2 and point == "before-rename":
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(a, b)
    if puts[0] == 2 and point == "after-rename":
        os.kill(os.getpid(), signal.SIGKILL)

np.savez, os.replace = savez, replace
cache = BodyCache(root, key)
for i, sha in enumerate(shas):
    cache.put(sha, {k: entries[f"{k}{i}"] for k in ("features", "m1", "var")})
    puts[0] += 1
"""


@pytest.mark.parametrize("point", ["before-write", "mid-write", "before-rename", "after-rename"])
def test_a_cache_writer_killed_at_any_point_leaves_nothing_a_rerun_uses_or_keeps(point, tmp_path):
    """SIGKILL inside the body-cache writer (its third entry), then a rerun: the same outputs as Keras, the
    entries the writer finished reused, no temporary file left."""
    from mir.model.body_cache import clip_digest
    from mir.model.inference import Engine

    m = _model()
    X = _clips(4, 32, 70)
    donor = Engine(m, runtime="keras", cache_dir=tmp_path / "donor")
    ref = donor.clip_outputs(X, range(4))
    shas = [clip_digest(X, i) for i in range(4)]
    entries = {f"{k}{i}": donor.clip_body(X, [i])[0][k] for i in range(4) for k in ("features", "m1", "var")}
    np.savez(tmp_path / "entries.npz", shas=np.array(shas), **entries)
    cache = tmp_path / "cache"
    key = donor.cache.dir.name
    r = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(cache), key, str(tmp_path / "entries.npz"), point],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr[-2000:]
    assert [p for p in cache.rglob(".*") if p.is_file()] or point == "after-rename", "the kill left a temp file"

    e = Engine(m, runtime="keras", cache_dir=cache)
    _same(e.clip_outputs(X, range(4)), ref)
    done = 3 if point == "after-rename" else 2
    assert e.body_chunks == (4 - done) * 3, "the finished entries were reused, the rest recomputed"
    assert not [p for p in cache.rglob(".*") if p.is_file()], "no debris after the rerun"
