"""Tests of the synthetic demo dataset (mir.demo, re-exported by mir.datasets.synth): fast, short clips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mir import demo
from mir.demo import Shift, writer

SR = 22050


def _rms_db(y: np.ndarray) -> float:
    return 10.0 * np.log10(np.mean(np.asarray(y, dtype=np.float64) ** 2))


def _band_energy(y: np.ndarray, sr: int, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(np.asarray(y, dtype=np.float64))) ** 2
    f = np.fft.rfftfreq(len(y), 1.0 / sr)
    return float(spec[(f >= lo) & (f < hi)].sum())


def _centroid(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(np.asarray(y, dtype=np.float64))) ** 2
    f = np.fft.rfftfreq(len(y), 1.0 / sr)
    return float((spec * f).sum() / spec.sum())


@pytest.fixture(scope="module")
def jazz_clip() -> np.ndarray:
    """A jazz clip with a full-band recording (an artist who doesn't band-limit: the shift tests filter it)."""
    from mir.demo.artists import make_artist

    artist = next(a for k in range(50) if (a := make_artist(seed=0, genre="jazz", index=k)).bandlimit_hz is None)
    return demo.render_clip("jazz", seed=123, seconds=3.0, artist=artist)


# ------------------------------------------------------------------------------------ constants


def test_genre_constants():
    assert demo.BASE_GENRES == ("classical", "electronic", "jazz", "rock")
    assert {"hiphop", "reggae"} <= set(demo.EXTRA_GENRES)
    assert demo.GENRES == demo.BASE_GENRES + demo.EXTRA_GENRES
    assert len(set(demo.GENRES)) == len(demo.GENRES)
    assert demo.FORMATS == ("wav", "flac", "ogg", "mp3")


# ------------------------------------------------------------------------------------ seeds


def test_clip_seed_is_stable_and_specific():
    s = demo.clip_seed(seed=0, genre="rock", index=0)
    # a literal: changing the seed derivation silently changes every cached clip
    assert s == demo.clip_seed(seed=0, genre="rock", index=0) == 5835693364402954534
    assert 0 <= s < 2**63
    others = {
        demo.clip_seed(seed=1, genre="rock", index=0),
        demo.clip_seed(seed=0, genre="jazz", index=0),
        demo.clip_seed(seed=0, genre="rock", index=1),
    }
    assert s not in others and len(others) == 3


def test_clip_seed_same_in_another_process():
    code = "from mir import demo; print(demo.clip_seed(seed=7, genre='reggae', index=3))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert int(out) == demo.clip_seed(seed=7, genre="reggae", index=3)


# ------------------------------------------------------------------------------------ rendering


@pytest.mark.parametrize("genre", demo.GENRES)
def test_every_genre_renders_valid_audio(genre):
    y = demo.render_clip(genre, seed=5, seconds=2.0)
    assert y.dtype == np.float32
    assert y.shape == (2 * SR,)
    assert np.isfinite(y).all()
    assert np.abs(y).max() <= 1.0
    assert _rms_db(y) > -40.0  # not silent


def test_render_is_deterministic():
    clip = demo.render_clip("jazz", seed=123, seconds=3.0)
    again = demo.render_clip("jazz", seed=123, seconds=3.0)
    np.testing.assert_array_equal(clip, again)
    other = demo.render_clip("jazz", seed=124, seconds=3.0)
    assert not np.allclose(clip, other)


def test_render_other_sample_rate():
    y = demo.render_clip("rock", seed=1, seconds=1.5, sr=16000)
    assert y.shape == (24000,) and np.abs(y).max() <= 1.0 and _rms_db(y) > -40


def test_unknown_genre_names_allowed_genres():
    with pytest.raises(ValueError, match="unknown genre 'polka'.*classical.*electronic.*jazz.*rock"):
        demo.render_clip("polka", seed=0, seconds=1.0)


@pytest.mark.parametrize("kwargs", [{"seconds": 0.0}, {"seconds": -1.0}, {"sr": 1000}])
def test_render_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        demo.render_clip("rock", seed=0, **kwargs)


def test_classes_differ_but_not_trivially():
    """Per-class means of simple spectral features differ; loudness alone separates nothing."""
    feats: dict[str, list[np.ndarray]] = {}
    rms: dict[str, list[float]] = {}
    edges = [20, 150, 400, 1000, 2500, 6000, 11000]
    for g in demo.BASE_GENRES:
        for i in range(4):
            y = demo.render_clip(g, seed=demo.clip_seed(seed=0, genre=g, index=i), seconds=3.0)
            bands = np.array([_band_energy(y, SR, lo, hi) for lo, hi in zip(edges[:-1], edges[1:])])
            feats.setdefault(g, []).append(np.log10(bands / bands.sum() + 1e-12))
            rms.setdefault(g, []).append(_rms_db(y))
    means = {g: np.mean(v, axis=0) for g, v in feats.items()}
    gs = list(means)
    for i, a in enumerate(gs):
        for b in gs[i + 1:]:
            assert np.abs(means[a] - means[b]).max() > 0.1, (a, b)
    # nearest class mean (leave-one-out) is well above chance (0.25)
    X = np.array([x for g in gs for x in feats[g]])
    y = np.array([g for g in gs for _ in feats[g]])
    correct = 0
    for k in range(len(X)):
        mask = np.arange(len(X)) != k
        centers = {g: X[mask & (y == g)].mean(axis=0) for g in gs}
        correct += min(centers, key=lambda g: np.sum((X[k] - centers[g]) ** 2)) == y[k]
    assert correct / len(X) >= 0.5
    # loudness is randomised per clip: every class's RMS range overlaps another's
    for g in gs:
        lo, hi = min(rms[g]), max(rms[g])
        assert any(min(rms[o]) <= hi and lo <= max(rms[o]) for o in gs if o != g), g


# ------------------------------------------------------------------------------------ shifts


def test_shift_identity_and_validation(jazz_clip):
    assert Shift().is_identity()
    assert not Shift(gain_db=-1).is_identity()
    assert not Shift(sample_rate=16000).is_identity()
    y, sr = demo.apply_shift(jazz_clip, sr=SR, shift=Shift(), seed=0)
    assert sr == SR and y.dtype == np.float32
    np.testing.assert_array_equal(y, jazz_clip)
    for bad in ({"lowpass_hz": 0}, {"sample_rate": -8000}, {"gain_db": float("nan")}, {"snr_db": float("inf")}):
        with pytest.raises(ValueError):
            Shift(**bad)


def test_shift_gain_lowers_rms(jazz_clip):
    y, sr = demo.apply_shift(jazz_clip, sr=SR, shift=Shift(gain_db=-12.0), seed=0)
    assert sr == SR
    assert _rms_db(y) - _rms_db(jazz_clip) == pytest.approx(-12.0, abs=0.05)


def test_shift_gain_up_stays_within_one(jazz_clip):
    y, _ = demo.apply_shift(jazz_clip, sr=SR, shift=Shift(gain_db=30.0), seed=0)
    assert np.abs(y).max() <= 1.0 and y.dtype == np.float32


def test_shift_resamples(jazz_clip):
    y, sr = demo.apply_shift(jazz_clip, sr=SR, shift=Shift(sample_rate=16000), seed=0)
    assert sr == 16000
    assert len(y) == pytest.approx(len(jazz_clip) * 16000 / SR, abs=2)
    assert _rms_db(y) == pytest.approx(_rms_db(jazz_clip), abs=1.0)


def test_shift_lowpass_removes_high_band(jazz_clip):
    y, _ = demo.apply_shift(jazz_clip, sr=SR, shift=Shift(lowpass_hz=2000.0), seed=0)
    before = _band_energy(jazz_clip, SR, 4000, SR / 2)
    after = _band_energy(y, SR, 4000, SR / 2)
    assert 10 * np.log10(after / before) < -40.0
    # the pass band is kept
    assert _band_energy(y, SR, 100, 1000) == pytest.approx(_band_energy(jazz_clip, SR, 100, 1000), rel=0.1)


def test_shift_tilt_darkens_and_keeps_rms(jazz_clip):
    y, _ = demo.apply_shift(jazz_clip, sr=SR, shift=Shift(tilt_db_per_octave=-3.0), seed=0)
    assert _centroid(y, SR) < 0.8 * _centroid(jazz_clip, SR)
    assert _rms_db(y) == pytest.approx(_rms_db(jazz_clip), abs=0.2)


def test_shift_noise_at_snr(jazz_clip):
    clean = 0.3 * jazz_clip  # headroom so that nothing clips
    y, _ = demo.apply_shift(clean, sr=SR, shift=Shift(snr_db=10.0), seed=42)
    noise = y.astype(np.float64) - clean
    assert _rms_db(clean) - _rms_db(noise) == pytest.approx(10.0, abs=0.3)
    y2, _ = demo.apply_shift(clean, sr=SR, shift=Shift(snr_db=10.0), seed=42)
    y3, _ = demo.apply_shift(clean, sr=SR, shift=Shift(snr_db=10.0), seed=43)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(y, y3)


def test_apply_shift_rejects_stereo():
    with pytest.raises(ValueError, match="mono"):
        demo.apply_shift(np.zeros((2, 100), np.float32), sr=SR, shift=Shift(gain_db=-1), seed=0)


# ------------------------------------------------------------------------------------ generate


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("fmt", demo.FORMATS)
def test_generate_writes_readable_files(tmp_path, fmt):
    out = tmp_path / "raw"
    recs = demo.generate(out, genres=["rock", "jazz"], clips_per_genre=2, seconds=2.0, fmt=fmt, seed=3,
                         workers=1, progress=False)
    assert [(r["genre"], r["index"]) for r in recs] == [("rock", 0), ("rock", 1), ("jazz", 0), ("jazz", 1)]
    for r in recs:
        assert r["seed"] == demo.clip_seed(seed=3, genre=r["genre"], index=r["index"])
        p = Path(r["path"])
        assert p == out / r["genre"] / f"{r['genre']}.{r['index']:05d}.{fmt}"
        info = sf.info(str(p))
        assert info.samplerate == SR and info.channels == 1
        assert info.duration == pytest.approx(2.0, abs=0.1)
        y, _ = sf.read(str(p), dtype="float32")
        assert _rms_db(y) > -40
    assert _files(out) == sorted(
        ["synth.json"] + [f"{g}/{g}.{i:05d}.{fmt}" for g in ("rock", "jazz") for i in range(2)]
    )  # no temporary files left
    meta = json.loads((out / "synth.json").read_text())
    assert meta["genres"] == ["rock", "jazz"] and meta["clips_per_genre"] == 2 and meta["fmt"] == fmt
    assert meta["seed"] == 3 and meta["seconds"] == 2.0 and meta["sample_rate"] == SR and meta["shift"] is None


def test_generate_wav_matches_render_clip(tmp_path):
    recs = demo.generate(tmp_path, genres=["reggae"], clips_per_genre=1, seconds=1.5, fmt="wav", seed=9,
                         workers=1, progress=False)
    y, sr = sf.read(recs[0]["path"], dtype="float32")
    from mir.demo.artists import make_artist

    ref = demo.render_clip("reggae", seed=recs[0]["seed"], seconds=1.5,
                           artist=make_artist(seed=9, genre="reggae", index=0))
    assert sr == SR
    np.testing.assert_allclose(y, ref, atol=1.5 / 32768)  # 16-bit PCM


def test_generate_resumes_without_rerendering(tmp_path, monkeypatch):
    kw = dict(genres=["classical"], clips_per_genre=3, seconds=1.0, fmt="flac", workers=1, progress=False)
    demo.generate(tmp_path, **kw)
    files = sorted((tmp_path / "classical").iterdir())
    mtimes = {f.name: f.stat().st_mtime_ns for f in files}
    files[1].unlink()
    calls = []
    real = demo.render_clip
    monkeypatch.setattr(writer, "render_clip", lambda *a, **k: calls.append(a) or real(*a, **k))
    recs = demo.generate(tmp_path, **kw)
    assert len(calls) == 1 and len(recs) == 3
    for f in files:
        assert f.exists()
        if f != files[1]:
            assert f.stat().st_mtime_ns == mtimes[f.name]


def test_adding_a_genre_or_clips_keeps_existing_clips(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    demo.generate(a, genres=["rock"], clips_per_genre=2, seconds=1.0, fmt="wav", workers=1, progress=False)
    demo.generate(b, genres=["hiphop", "rock"], clips_per_genre=3, seconds=1.0, fmt="wav", workers=1,
                  progress=False)
    for i in range(2):
        name = f"rock/rock.{i:05d}.wav"
        np.testing.assert_array_equal(sf.read(str(a / name))[0], sf.read(str(b / name))[0])
        assert (a / name).read_bytes() == (b / name).read_bytes()
    # growing the same folder renders only the new clips and keeps the old ones
    before = (a / "rock/rock.00000.wav").stat().st_mtime_ns
    demo.generate(a, genres=["rock", "reggae"], clips_per_genre=3, seconds=1.0, fmt="wav", workers=1,
                  progress=False)
    assert (a / "rock/rock.00000.wav").stat().st_mtime_ns == before
    assert (a / "reggae/reggae.00002.wav").exists()
    assert json.loads((a / "synth.json").read_text())["genres"] == ["rock", "reggae"]


def test_parallel_generation_matches_serial(tmp_path):
    kw = dict(genres=["electronic", "country"], clips_per_genre=2, seconds=1.0, fmt="wav", progress=False)
    serial = demo.generate(tmp_path / "s", workers=1, **kw)
    parallel = demo.generate(tmp_path / "p", workers=2, **kw)
    for rs, rp in zip(serial, parallel, strict=True):
        assert Path(rs["path"]).read_bytes() == Path(rp["path"]).read_bytes()


def test_generate_with_shift(tmp_path):
    shift = Shift(gain_db=-6.0, lowpass_hz=5000.0, snr_db=30.0, sample_rate=16000)
    recs = demo.generate(tmp_path, genres=["jazz"], clips_per_genre=2, seconds=2.0, fmt="ogg", shift=shift,
                         workers=1, progress=False)
    for r in recs:
        info = sf.info(r["path"])
        assert info.samplerate == 16000 and info.duration == pytest.approx(2.0, abs=0.1)
    meta = json.loads((tmp_path / "synth.json").read_text())
    assert Shift(**meta["shift"]) == shift


def test_generate_validates_arguments(tmp_path):
    ok = dict(genres=["rock"], clips_per_genre=1, seconds=1.0, fmt="wav", workers=1, progress=False)
    bad = [
        ({"genres": ["rock", "polka"]}, "unknown genre 'polka'.*allowed genres: classical"),
        ({"fmt": "aac"}, "unknown format 'aac'.*wav, flac, ogg, mp3"),
        ({"clips_per_genre": 0}, "clips_per_genre"),
        ({"seconds": 0}, "seconds"),
        ({"fmt": "mp3", "shift": Shift(sample_rate=17000)}, "MP3 can't store 17000"),
    ]
    for change, msg in bad:
        with pytest.raises(ValueError, match=msg):
            demo.generate(tmp_path / "x", **{**ok, **change})
    assert not list((tmp_path / "x").rglob("*.wav"))


def test_generate_refuses_folder_with_other_parameters(tmp_path):
    ok = dict(genres=["rock"], clips_per_genre=1, seconds=1.0, fmt="wav", workers=1, progress=False)
    demo.generate(tmp_path, **ok)
    with pytest.raises(ValueError, match="seed"):
        demo.generate(tmp_path, **{**ok, "seed": 1})


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    def broken_write(file, data, samplerate, **kw):
        Path(file).write_bytes(b"partial")
        raise KeyboardInterrupt  # as if the run were killed mid-write

    monkeypatch.setattr(sf, "write", broken_write)
    with pytest.raises(KeyboardInterrupt):
        demo.generate(tmp_path, genres=["rock"], clips_per_genre=1, seconds=1.0, fmt="wav", workers=1,
                      progress=False)
    assert list((tmp_path / "rock").iterdir()) == []


def test_stale_temporary_files_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gdir = tmp_path / "rock"
    gdir.mkdir()
    stale = gdir / f".rock.00000.tmp.{dead.pid}.wav"
    stale.write_bytes(b"half")
    alive = gdir / f".rock.00001.tmp.{os.getppid()}.wav"  # a live process: maybe still writing
    alive.write_bytes(b"busy")
    demo.generate(tmp_path, genres=["rock"], clips_per_genre=1, seconds=1.0, fmt="wav", workers=1,
                  progress=False)
    assert not stale.exists() and alive.exists()
    assert (gdir / "rock.00000.wav").exists()
