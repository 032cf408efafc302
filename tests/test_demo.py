"""Tests of the mir.demo package: same seed, same audio bytes; temp files through mir.io; import hygiene."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mir import demo, io
from mir.demo import writer
from mir.datasets import synth

#: formats whose bytes depend on the samples only (libsndfile gives every Ogg stream a random serial number)
BYTE_STABLE = ("wav", "flac", "mp3")

_SCRIPT = """
import hashlib, json, sys
from pathlib import Path
from mir import demo
out = Path(sys.argv[1])
y = demo.render_clip("metal", seed=int(sys.argv[2]), seconds=1.0)
files = {}
for fmt in ("wav", "flac", "mp3"):
    for r in demo.generate(out / fmt, genres=["jazz", "country"], clips_per_genre=1, seconds=1.0, fmt=fmt,
                           seed=int(sys.argv[2]), workers=1, progress=False):
        files[str(Path(r["path"]).relative_to(out))] = hashlib.sha256(Path(r["path"]).read_bytes()).hexdigest()
print(json.dumps({"render": hashlib.sha256(y.tobytes()).hexdigest(), "files": files}))
"""


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _digests(out: Path, seed: int) -> dict:
    """What _SCRIPT prints, computed in this process."""
    y = demo.render_clip("metal", seed=seed, seconds=1.0)
    files = {}
    for fmt in BYTE_STABLE:
        for r in demo.generate(out / fmt, genres=["jazz", "country"], clips_per_genre=1, seconds=1.0, fmt=fmt,
                               seed=seed, workers=1, progress=False):
            files[str(Path(r["path"]).relative_to(out))] = _sha(Path(r["path"]).read_bytes())
    return {"render": _sha(y.tobytes()), "files": files}


def _ogg_without_serial(data: bytes) -> bytes:
    """Ogg bytes with every page's stream serial number and CRC zeroed."""
    out, i = bytearray(data), 0
    while i < len(out):
        assert out[i:i + 4] == b"OggS"
        n_seg = out[i + 26]
        out[i + 14:i + 18] = bytes(4)
        out[i + 22:i + 26] = bytes(4)
        i += 27 + n_seg + sum(out[i + 27:i + 27 + n_seg])
    return bytes(out)


# ------------------------------------------------------------------------------------ same seed, same bytes


def test_same_seed_same_bytes_in_process_and_in_a_fresh_process(tmp_path):
    first = _digests(tmp_path / "a", seed=11)
    again = _digests(tmp_path / "b", seed=11)
    assert first == again and len(first["files"]) == 2 * len(BYTE_STABLE)
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "c"), "11"], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == first


def test_a_different_seed_gives_different_bytes(tmp_path):
    a = _digests(tmp_path / "a", seed=11)
    b = _digests(tmp_path / "b", seed=12)
    assert a["render"] != b["render"]
    assert a["files"].keys() == b["files"].keys()
    assert all(a["files"][k] != b["files"][k] for k in a["files"])


def test_ogg_differs_only_in_its_stream_serial_number(tmp_path):
    kw = dict(genres=["reggae"], clips_per_genre=1, seconds=1.0, fmt="ogg", seed=5, workers=1, progress=False)
    a = Path(demo.generate(tmp_path / "a", **kw)[0]["path"]).read_bytes()
    b = Path(demo.generate(tmp_path / "b", **kw)[0]["path"]).read_bytes()
    assert _ogg_without_serial(a) == _ogg_without_serial(b)


def test_parallel_workers_write_the_same_bytes(tmp_path):
    kw = dict(genres=["hiphop", "rock"], clips_per_genre=2, seconds=1.0, fmt="flac", seed=2, progress=False)
    serial = demo.generate(tmp_path / "s", workers=1, **kw)
    parallel = demo.generate(tmp_path / "p", workers=2, **kw)
    assert [Path(r["path"]).read_bytes() for r in serial] == [Path(r["path"]).read_bytes() for r in parallel]


# ------------------------------------------------------------------------------------ writes through mir.io


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_atomic_path_names_its_writer(tmp_path):
    with io.atomic_path(tmp_path / "a.wav") as tmp:
        assert tmp.name.startswith(f".a.wav.tmp-{io._host()}-{os.getpid()}-") and tmp.suffix == ".wav"
        tmp.write_bytes(b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


def test_sweep_stale_files_removes_only_dead_writers_leftovers(tmp_path):
    dead, host = _dead_pid(), io._host()
    stale = [tmp_path / f".a.wav.tmp-{host}-{dead}-abc123.wav",  # atomic_path, killed
             tmp_path / f".b.00000.tmp.{dead}.mp3"]  # the demo writer of an older mir, killed
    kept = [tmp_path / f".c.wav.tmp-{host}-{os.getppid()}-abc123.wav",  # a live process: maybe still writing
            tmp_path / f".d.wav.tmp-{host}-{os.getpid()}-abc123.wav",  # this process
            tmp_path / f".e.wav.tmp-otherhost-{dead}-abc123.wav",  # another machine's (a shared folder)
            tmp_path / "f.wav", tmp_path / ".hidden"]
    for p in stale + kept:
        p.write_bytes(b"x")
    (tmp_path / f".g.tmp-{host}-{dead}-dir").mkdir()  # folders are atomic_dir's (sweep_stale)
    assert sorted(io.sweep_stale_files(tmp_path)) == sorted(stale)
    assert all(p.exists() for p in kept) and (tmp_path / f".g.tmp-{host}-{dead}-dir").is_dir()
    assert io.sweep_stale_files(tmp_path / "missing") == []


def test_a_killed_run_resumes(tmp_path, monkeypatch):
    kw = dict(genres=["jazz"], clips_per_genre=3, seconds=1.0, fmt="wav", seed=4, workers=1, progress=False)
    ref = demo.generate(tmp_path / "ref", **kw)
    out = tmp_path / "out"
    done = demo.generate(out, **{**kw, "clips_per_genre": 1})  # the run got one clip written, then was killed
    leftover = out / "jazz" / f".jazz.00001.wav.tmp-{io._host()}-{_dead_pid()}-k1ll3d.wav"
    leftover.write_bytes(b"half")
    before = Path(done[0]["path"]).stat().st_mtime_ns
    rendered = []
    real = writer.render_clip
    monkeypatch.setattr(writer, "render_clip", lambda *a, **k: rendered.append(a) or real(*a, **k))
    recs = demo.generate(out, **kw)
    assert len(rendered) == 2 and not leftover.exists()
    assert Path(recs[0]["path"]).stat().st_mtime_ns == before  # the existing clip is not rewritten
    assert [Path(r["path"]).read_bytes() for r in recs] == [Path(r["path"]).read_bytes() for r in ref]
    assert sorted(p.name for p in out.rglob("*")) == ["jazz", "jazz.00000.wav", "jazz.00001.wav",
                                                       "jazz.00002.wav", "synth.json"]


# ------------------------------------------------------------------------------------ the package


def test_the_synth_dataset_is_the_demo():
    """mir.datasets.synth is the demo's registry entry: its genres are the generator's, and it is rendered."""
    assert synth.GENRES is demo.GENRES and synth.NAME == "synth"
    with pytest.raises(ValueError, match="rendered by the data stage"):
        synth.clips(None)


def test_demo_imports_neither_config_nor_datasets_and_names_are_light():
    code = ("import sys; from mir.demo import GENRES, clip_seed; light = 'numpy' not in sys.modules; "
            "import mir.demo.writer; "
            "print(light, sorted(m for m in sys.modules if m.startswith(('mir.config', 'mir.datasets'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "[]"]


# ------------------------------------------------------------------------------------ artists


def test_clips_come_in_runs_by_one_artist_with_stable_names(tmp_path):
    """Clip i is by artist i // CLIPS_PER_ARTIST of its genre; the name depends on (seed, genre, artist) only."""
    from mir.demo.artists import CLIPS_PER_ARTIST, make_artist

    n = CLIPS_PER_ARTIST + 1
    recs = demo.generate(tmp_path / "a", genres=["jazz", "rock"], clips_per_genre=n, seconds=0.3, fmt="wav",
                         workers=1, progress=False)
    jazz = [r["artist"] for r in recs if r["genre"] == "jazz"]
    assert jazz[:CLIPS_PER_ARTIST] == [jazz[0]] * CLIPS_PER_ARTIST and jazz[-1] != jazz[0]
    assert not set(jazz) & {r["artist"] for r in recs if r["genre"] == "rock"}
    assert jazz[0] == make_artist(seed=0, genre="jazz", index=0).name
    assert make_artist(seed=1, genre="jazz", index=0).name != jazz[0]  # another dataset seed: other artists


def test_an_artist_shapes_its_songs_and_the_further_genres_never_cross_over():
    """Two artists render the same clip seed differently; picks follow the artist's preferences and
    tempos stay inside the genre's range; only base-genre artists borrow parts from other genres."""
    import numpy as np

    from mir.demo import artists
    from mir.demo.song import pick, tempo

    a, b = (artists.make_artist(seed=0, genre="jazz", index=k) for k in (0, 1))
    assert not np.array_equal(demo.render_clip("jazz", seed=5, seconds=0.5, artist=a),
                              demo.render_clip("jazz", seed=5, seconds=0.5, artist=b))
    options = ["piano", "organ", "pluck", "epiano"]
    rng = np.random.default_rng(0)
    with artists.playing(a):
        drawn = [pick(rng, options) for _ in range(400)]
        bpms = [tempo(rng, 90.0, 120.0) for _ in range(200)]
    favourite = options[int(np.argmax(a.weights(options)))]
    assert drawn.count(favourite) > 100  # uniform would give ~100
    assert 90.0 <= min(bpms) and max(bpms) <= 120.0 and max(bpms) - min(bpms) < 30.0 * 0.45
    assert all(artists.make_artist(seed=0, genre="metal", index=k).crossover is None for k in range(30))
    assert any(artists.make_artist(seed=0, genre="rock", index=k).crossover for k in range(30))


def test_the_demo_split_is_artist_disjoint_and_every_genre_is_tested(tmp_path):
    """synth.render gives every clip its artist as group and a split by artist, stratified per genre."""
    from mir.config import parse_config

    cfg = parse_config({"synth": {"genres": ["jazz", "rock"], "clips_per_genre": 40, "seconds": 0.2,
                                  "format": "wav"}, "features": {"workers": 1}})
    clips = synth.render(cfg, tmp_path / "raw", progress=False)
    split_of: dict = {}
    for c in clips:
        assert c.group is not None and split_of.setdefault(c.group, c.split) == c.split
    for g in ("jazz", "rock"):
        assert {c.split for c in clips if c.genre == g} == {"train", "valid", "test"}
    tiny = parse_config({"synth": {"genres": ["jazz"], "clips_per_genre": 8, "seconds": 0.2, "format": "wav"},
                         "features": {"workers": 1}})  # two artists: ingest splits the clips, ungrouped
    assert {(c.split, c.group) for c in synth.render(tiny, tmp_path / "tiny", progress=False)} == {(None, None)}


def test_new_music_new_genres_must_be_synth_genres():
    from mir.config import ConfigError, parse_config

    assert parse_config({}).new_music.new_genres == ["metal"]
    assert parse_config({"new_music": {"new_genres": ["hiphop"]}}).new_music.new_genres == ["hiphop"]
    with pytest.raises(ConfigError, match="unknown synth genre 'polka'"):
        parse_config({"new_music": {"new_genres": ["polka"]}})
