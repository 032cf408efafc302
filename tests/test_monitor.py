"""`mir monitor`: OOD scores, new-music folders, bad input, drift + generalisation reports, offline HTML."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, TINY, tiny_pipeline, tone, write_audio
from mir.monitoring import ood
from mir.datasets.new_music import list_new_music
from mir.monitoring.tables import fit_pca, pca_transform, tempo_bpm

BIN = str(Path(sys.executable).parent)
EXTERNAL = re.compile(r"<script[^>]*\ssrc\s*=\s*[\"']?\s*(https?:)?//|<link[^>]*\shref\s*=\s*[\"']?\s*(https?:)?//"
                      r"|@import\s+url\(\s*[\"']?\s*(https?:)?//|@import\s+[\"'](https?:)?//", re.I)


# ------------------------------------------------------------------ OOD (pure)


def test_msp_and_nearest_centroid():
    p = np.array([[0.9, 0.05, 0.05], [1 / 3, 1 / 3, 1 / 3]])
    assert np.allclose(ood.msp(p), [0.1, 2 / 3])
    with pytest.raises(ValueError):
        ood.msp(np.ones(3))
    rng = np.random.default_rng(0)
    centers = np.array([[5.0, 0, 0, 0], [0, 5.0, 0, 0], [0, 0, 5.0, 0]])
    y = np.repeat(np.arange(3), 50)
    emb = centers[y] + rng.normal(0, 0.5, (150, 4))
    emb[:, 3] = 1.0  # a dead unit on training data must not blow distances up
    space = ood.fit_space(emb, y, n_classes=3, shrinkage=0.1)
    probe = np.array([[5.0, 0, 0, 1.0], [0, 0, 5.0, 1.0], [0, 0, 5.0, 3.0], [20.0, 20.0, 20.0, 1.0]])
    dist, nearest = ood.nearest_centroid(space, probe)
    assert nearest[:2].tolist() == [0, 2]
    assert dist[0] < 0.5 and dist[3] > 3 * dist[0] and np.isfinite(dist[2]) and dist[2] > dist[1]
    with pytest.raises(ValueError):
        ood.fit_space(emb, y[:-1], n_classes=3, shrinkage=0.1)
    with pytest.raises(ValueError):
        ood.nearest_centroid(space, probe[:, :3])


def test_layer_spaces_put_every_layer_on_its_own_scale_and_flag_far_songs():
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(3), 40)
    narrow = np.eye(3)[y] * 4 + rng.normal(0, 0.3, (120, 3))  # a 3-wide layer
    wide = np.repeat(np.eye(3)[y], 10, axis=1) * 50 + rng.normal(0, 5, (120, 30))  # 30 wide, 10× the scale
    ls = ood.fit_layer_spaces({"a": narrow, "b": wide}, y, n_classes=3, shrinkage=0.5)
    assert ls.names == ["a", "b"] and len(ls.spaces) == 2
    d_train = ood.layer_distance(ls, {"a": narrow, "b": wide})
    assert abs(float(np.median(d_train))) < 0.3  # each layer centred on its training clips
    near = {"a": narrow[:5] + rng.normal(0, 0.1, (5, 3)), "b": wide[:5] + rng.normal(0, 1, (5, 30))}
    only_b_far = {"a": near["a"], "b": near["b"] + 60.0}  # unlike every class in one layer only
    assert (ood.layer_distance(ls, only_b_far) > ood.layer_distance(ls, near).max() + 1).all()
    with pytest.raises(ValueError, match="missing for layer"):
        ood.layer_distance(ls, {"a": narrow})
    with pytest.raises(ValueError, match="at least one layer"):
        ood.fit_layer_spaces({}, y, n_classes=3, shrinkage=0.5)


def test_an_excess_of_unknown_songs_is_drift_even_when_no_feature_drifts():
    from mir.monitoring.monitor import overall_drift

    assert ood.excess_unknown_p_value(0, 30, rate=0.05) == 1.0
    assert ood.excess_unknown_p_value(2, 30, rate=0.05) > 0.4  # about what in-distribution music gives
    assert ood.excess_unknown_p_value(15, 15, rate=0.05) < 1e-15
    with pytest.raises(ValueError):
        ood.excess_unknown_p_value(5, 3, rate=0.05)
    cal = ood.calibrate(np.linspace(0, 0.5, 40), np.linspace(1, 2, 40), quantile=0.95)
    calm = {"dataset_drift": False}
    v = overall_drift(calm, [True] * 12 + [False] * 3, calibration=cal, alpha=0.001)
    assert v["drift"] and v["unknown_drift"] and not v["dataset_drift"] and v["unknown_expected_share"] == 0.05
    v = overall_drift(calm, [True] + [False] * 29, calibration=cal, alpha=0.001)
    assert not v["drift"] and v["unknown_excess_p"] > 0.5
    assert overall_drift({"dataset_drift": True}, [False] * 5, calibration=cal, alpha=0.001)["drift"]


def test_calibrated_threshold_flags_the_quantile_and_separates_unknowns():
    rng = np.random.default_rng(1)
    m_val, d_val = rng.uniform(0, 0.3, 400), rng.gamma(4, 0.25, 400)
    cal = ood.calibrate(m_val, d_val, quantile=0.9)
    flagged = ood.ood_score(m_val, d_val, cal) > cal.threshold
    assert abs(flagged.mean() - 0.1) < 0.02
    assert json.dumps(cal.to_dict())  # JSON-ready
    # fresh in-distribution data: about 10 % flagged; far-away songs: nearly all
    m_in, d_in = rng.uniform(0, 0.3, 2000), rng.gamma(4, 0.25, 2000)
    assert 0.05 < (ood.ood_score(m_in, d_in, cal) > cal.threshold).mean() < 0.15
    m_out, d_out = rng.uniform(0.3, 0.6, 200), rng.gamma(4, 0.25, 200) + 2.0
    s_in, s_out = ood.ood_score(m_in, d_in, cal), ood.ood_score(m_out, d_out, cal)
    assert (s_out > cal.threshold).mean() > 0.9
    assert ood.auroc(s_in, s_out) > 0.99
    # each component alone is enough when the other is uninformative (weights 0 and 1)
    only_d = ood.calibrate(m_val, d_val, weight_dist=1.0)
    assert np.array_equal(ood.ood_score(m_val, d_val, only_d) > 0, d_val > only_d.dist_median)
    for bad in ({"quantile": 1.0}, {"quantile": 0.0}, {"weight_dist": 1.5}):
        with pytest.raises(ValueError):
            ood.calibrate(m_val, d_val, **bad)
    with pytest.raises(ValueError):
        ood.calibrate(np.array([]), np.array([]))
    const = ood.calibrate(np.zeros(10), np.ones(10))  # constant scores: finite scale, finite threshold
    assert np.isfinite(const.threshold) and const.msp_iqr > 0 and const.dist_iqr > 0


def test_auroc_matches_definition():
    assert ood.auroc([0, 1, 2], [3, 4]) == 1.0
    assert ood.auroc([3, 4], [0, 1, 2]) == 0.0
    assert ood.auroc([1, 1], [1, 1]) == 0.5
    rng = np.random.default_rng(2)
    k, u = rng.normal(size=60), rng.normal(0.7, 1, size=40)
    brute = np.mean([(b > a) + 0.5 * (b == a) for a in k for b in u])
    assert ood.auroc(k, u) == pytest.approx(brute)
    with pytest.raises(ValueError):
        ood.auroc([], [1.0])


def test_pca_and_tempo():
    rng = np.random.default_rng(3)
    e = rng.normal(size=(100, 6)) * np.array([10, 3, 1, 0.1, 0.1, 0.1])
    mean, comps = fit_pca(e, n_components=2)
    assert comps.shape == (2, 6) and abs(abs(comps[0, 0]) - 1) < 0.01
    z = pca_transform(e, mean, comps)
    assert z.shape == (100, 2) and z[:, 0].var() > z[:, 1].var()
    assert fit_pca(e, n_components=0)[1].shape == (0, 6)

    from mir.features.logmel import logmel

    sr, hop = 22050, 512
    for bpm in (90, 128):
        y = np.zeros(sr * 12, dtype=np.float32)
        step = int(round(sr * 60 / bpm))
        for s in range(0, y.size - 2000, step):
            y[s : s + 2000] += np.sin(2 * np.pi * 1000 * np.arange(2000) / sr) * np.exp(-np.arange(2000) / 300)
        S = logmel(y, sr=sr, n_fft=1024, hop_length=hop, n_mels=32)
        assert tempo_bpm(S, sr=sr, hop_length=hop) == pytest.approx(bpm, rel=0.05)
    assert np.isnan(tempo_bpm(S[:, :10], sr=sr, hop_length=hop))


def test_list_new_music_labels_by_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        list_new_music(tmp_path / "nope")
    (tmp_path / "empty" / "rock").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no audio")
    with pytest.raises(ValueError, match="no audio files"):
        list_new_music(tmp_path / "empty")
    d = tmp_path / "new"
    for p in ("song.MP3", "rock/a.wav", "rock/live/b.ogg", "polka/c.flac", ".hidden/x.wav", "rock/.part.wav"):
        (d / p).parent.mkdir(parents=True, exist_ok=True)
        (d / p).write_bytes(b"x")
    got = {(s.song_id, s.label) for s in list_new_music(d)}
    assert got == {("song", None), ("rock/a", "rock"), ("rock/live/b", "rock"), ("polka/c", "polka")}


def test_generalization_page_escapes_and_is_offline():
    import pandas as pd

    from mir.monitoring.generalization import generalization_page

    evil = '<script>alert("x")</script>'
    songs = pd.DataFrame({"song_id": [f"{evil}/s1", "rock/s2", "s3"], "label": [evil, "rock", ""],
                          "predicted": ["rock", "rock", "jazz"], "confidence": [0.5, 0.9, 0.7],
                          "ood_score": [3.0, -0.2, 0.1], "unknown": [True, False, False],
                          "nearest_genre": ["rock", "rock", "jazz"]})
    html = generalization_page(
        songs=songs, genres=["jazz", "rock"], new_metrics=None, test_metrics=None, cm=None,
        rejected=[{"path": f"{evil}.mp3", "reason": "unreadable <audio>"}],
        summary={"new_music": evil, "dataset_drift": True, "n_drifted": 3, "n_columns": 5,
                 "ood_threshold": 1.5, "ood_quantile": 0.95})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Unknown-genre songs" in html and "excluded from accuracy" in html
    assert not EXTERNAL.search(html)


def test_empty_new_music_folder_is_one_clear_line(project):
    (project / "empty").mkdir()
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    r = subprocess.run(["mir", "monitor", "--new", "empty"], cwd=project, env=env, capture_output=True, text=True)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "no audio files" in r.stderr and "empty" in r.stderr
    r = subprocess.run(["mir", "monitor", "--help"], env=env, capture_output=True, text=True, check=True)
    assert "exit" in r.stdout.lower()


def test_new_songs_are_featurised_in_bounded_batches(project, tmp_path):
    """Item 23 of issue 23 (memory flat in the number of songs): the monitor's featuriser yields batches of at
    most ``batch`` songs' log-mels, in song order, with bad files rejected on the way (no model needed)."""
    from mir.config import load_config
    from mir.monitoring.monitor import _featurise

    cfg = load_config()
    new = tmp_path / "new"
    for i in range(7):
        write_audio(new / "rock" / f"s{i}.wav", tone(2.0, freq=200 + 50 * i, seed=i))
    (new / "rock" / "bad.wav").write_text("not audio\n" * 50)
    songs = list_new_music(new)
    rejected: list[dict] = []
    batches = list(_featurise(cfg, songs, rejected, progress=False, batch=3))
    assert [len(X) for _, X in batches] == [3, 3, 1] and [len(r) for r, _ in batches] == [3, 3, 1]
    names = [Path(r["path"]).name for rows, _ in batches for r in rows]
    assert names == [f"s{i}.wav" for i in range(7)] and [Path(r["path"]).name for r in rejected] == ["bad.wav"]
    assert all(X.ndim == 3 and X.shape[1] == cfg.features.n_mels for _, X in batches)


# ------------------------------------------------------------------ one tiny pipeline run, several checks


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny project run through every stage (in this process), cwd = the project."""
    root = tmp_path_factory.mktemp("monitor-project")
    with tiny_pipeline(root) as cfg:
        yield root, cfg


@pytest.mark.slow
def test_labelled_folder_reports(tiny_run):
    root, cfg = tiny_run
    drift = json.loads((root / "metrics/drift.json").read_text())
    genres = sorted(TINY["synth"]["genres"])
    # existing keys (tests and the report page read them) and the new ones
    for k in ("dataset_drift", "share_drifted", "n_drifted", "n_columns", "drifted_columns", "new_music_accuracy",
              "n_labelled_known", "predicted_share", "n_clips", "n_rejected", "rejected",
              "new_music_macro_f1", "n_unknown_flagged", "ood_threshold", "unknown_songs", "n_unknown_genre"):
        assert k in drift, k
    assert drift["n_labelled_known"] == drift["n_clips"] > 0 and drift["new_music_accuracy"] is not None
    assert drift["n_columns"] >= 17 + 1 + 3 + 2  # summary stats, tempo, 3 PCs, confidence + predicted genre
    assert drift["dataset_drift"] is True  # the shifted synth set
    html = (root / "reports/drift.html").read_text()
    for col in ("emb_pc1", "pred_genre", "confidence", "tempo_bpm", "centroid_mel"):
        assert col in html
    gen = (root / "reports/generalization.html").read_text()
    assert "In-dataset test vs new music" in gen and "data:image/png;base64," in gen
    for g in genres:
        assert f"recall: {g}" in gen


@pytest.mark.slow
def test_a_second_monitor_run_passes_no_clip_through_the_body(tiny_run, tmp_path, monkeypatch):
    """The stage embedded the reference, calibration and new clips once; `mir monitor` again reuses them all."""
    from mir.model.inference import Engine
    from mir.monitoring.monitor import monitor

    root, cfg = tiny_run
    before = json.loads((root / "metrics/drift.json").read_text())
    calls: list[int] = []
    real = Engine.run_body
    monkeypatch.setattr(Engine, "run_body", lambda self, x: (calls.append(len(x)), real(self, x))[1])
    again = monitor(cfg, progress=False)
    assert sum(calls) == 0, f"{sum(calls)} chunks went through the body again"
    for k in ("n_drifted", "n_unknown_flagged", "new_music_accuracy", "ood_threshold", "predicted_share"):
        assert again[k] == before[k], k
    # the count is real: with an empty cache every clip goes through the body once
    fresh = cfg.model_copy(update={"inference": cfg.inference.model_copy(update={"cache_dir": str(tmp_path)})})
    monitor(fresh, progress=False)
    assert sum(calls) > 0
    n = len(calls)
    monitor(fresh, progress=False)
    assert len(calls) == n


@pytest.mark.slow
def test_every_report_page_is_offline(tiny_run):
    root, _ = tiny_run
    pages = sorted((root / "reports").rglob("*.html"))
    assert {"drift.html", "generalization.html", "index.html"} <= {p.name for p in pages}
    for p in pages:
        m = EXTERNAL.search(p.read_text(encoding="utf-8", errors="replace"))
        assert m is None, f"{p.relative_to(root)}: external reference {m.group(0)[:80]!r}"


@pytest.mark.slow
def test_unlabelled_folder_with_bad_input(tiny_run, tmp_path):
    import soundfile as sf

    from mir.monitoring.monitor import monitor

    root, cfg = tiny_run
    new = tmp_path / "new"
    new.mkdir()
    src = sorted((root / "data/new").rglob("*.ogg"))
    for i, f in enumerate(src[:3]):
        shutil.copy(f, new / f"song{i}{f.suffix}")  # unlabelled: directly in the folder
    (new / "pol<ka>").mkdir()
    shutil.copy(src[3], new / "pol<ka>" / "dance.ogg")  # labelled with a genre the model lacks
    (new / "corrupt.mp3").write_text("not audio at all\n" * 40)
    full = write_audio(new / "truncated.mp3", tone(3.0)).read_bytes()
    (new / "truncated.mp3").write_bytes(full[: len(full) // 3])
    with sf.SoundFile(new / "three_hours.flac", "w", samplerate=8000, channels=1, format="FLAC",
                      subtype="PCM_16") as f:  # 3 h: rejected from its header, never decoded
        block = np.zeros(8000 * 600, dtype=np.int16)
        for _ in range(18):
            f.write(block)
    before = {p: p.stat().st_mtime_ns for p in new.rglob("*")}

    out = monitor(cfg, new_dir=new, progress=False)
    reasons = {Path(r["path"]).name: r["reason"] for r in out["rejected"]}
    assert set(reasons) == {"corrupt.mp3", "truncated.mp3", "three_hours.flac"}, reasons
    assert "too long" in reasons["three_hours.flac"] and "unreadable" in reasons["corrupt.mp3"]
    assert out["n_clips"] == 4 and out["n_unlabelled"] == 3 and out["n_unknown_genre"] == 1
    assert out["unknown_genres"] == ["pol<ka>"]
    assert out["new_music_accuracy"] is None and out["n_labelled_known"] == 0
    gen = (root / "reports/generalization.html").read_text()
    assert "pol&lt;ka&gt;" in gen and "pol<ka>" not in gen
    assert "three_hours.flac" in gen and "too long" in gen
    assert "can't be measured" in gen and "song0" in gen
    assert (root / "reports/drift.html").stat().st_size > 10_000
    assert {p: p.stat().st_mtime_ns for p in new.rglob("*")} == before  # the user's folder is untouched


@pytest.mark.slow
def test_both_kinds_of_novelty_are_reported(tiny_run):
    root, _ = tiny_run
    drift = json.loads((root / "metrics/drift.json").read_text())
    for k in ("n_new_source_flagged", "n_new_genre_flagged", "new_genre_flagged_share", "new_genre_songs",
              "new_genre_drift", "new_genre_excess_p", "retrain_suggested", "new_genre_threshold"):
        assert k in drift, k
    assert drift["n_new_source_flagged"] == drift["n_unknown_flagged"]
    assert isinstance(drift["retrain_suggested"], bool) and drift["new_genre_calibration"]["split"] == "valid"
    gen = (root / "reports/generalization.html").read_text()
    assert "new-genre score" in gen and "Two kinds of novelty" in gen


@pytest.mark.slow
def test_new_music_streams_through_in_bounded_batches(tiny_run, monkeypatch):
    """Item 23 of issue 23: memory must not grow with the number of songs. No step holds more than one batch
    of songs' log-mels, and the batched analysis equals the one-batch analysis."""
    import pandas as pd

    from mir.model.bundle import ModelBundle
    from mir.model.inference import Engine
    from mir.monitoring import monitor as mon

    root, cfg = tiny_run
    bundle = ModelBundle.load(cfg.paths.models)
    ref = mon.build_reference(cfg, bundle)
    whole, _ = mon.analyse_folder(cfg, bundle, ref, root / "data/new", progress=False)
    assert len(whole) > 4
    seen: list[int] = []
    real = Engine.clip_outputs
    monkeypatch.setattr(Engine, "clip_outputs", lambda self, X, rows, **kw: (seen.append(len(X)),
                                                                              real(self, X, rows, **kw))[1])
    monkeypatch.setattr(mon, "BATCH_SONGS", 2)
    parts, _ = mon.analyse_folder(cfg, bundle, ref, root / "data/new", progress=False)
    assert seen and max(seen) <= 2, f"log-mels of {max(seen)} songs at once"
    pd.testing.assert_frame_equal(parts, whole, check_exact=False, rtol=1e-6)


def test_monitoring_reads_the_model_only_through_one_clip_table_per_clip_set():
    """Issue 22, item 5: the monitor asks the model package for one table per clip set (reference, calibration,
    each batch of new songs) and computes everything from it; it never drives an engine itself."""
    import re

    calls = {}
    for p in sorted((ROOT / "mir/monitoring").glob("*.py")):
        text = p.read_text()
        assert not re.search(r"\.(clip_outputs|clip_body|engine)\(|Engine\b", text), f"{p.name} drives an engine"
        calls[p.name] = len(re.findall(r"\bclip_table\(", text))
    assert calls["reference.py"] == 2 and calls["monitor.py"] == 1, calls
