"""Issue 15: a careless or hostile user's inputs — no crash, no data loss, no sticky failure, no silent drop.

Every input is generated here (no network, no ../shared). The bad-input corpus runs each bad file through
every entry point (data → ingest → featurize, monitor, predict) and checks the exit code, the named reason
and that nothing else was lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from conftest import tone, write_audio

GENRES = ["a", "b"]


# ------------------------------------------------------------------ helpers


def _write_params(project, params):
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _folder_project(project, tiny_params, music, **data):
    tiny_params["data"].update({"dataset": "folder", "genres": None, "max_reject_fraction": 1.0, **data})
    tiny_params["folder"]["root"] = str(music)
    tiny_params["features"].update({"clip_seconds": 6.0, "workers": 1})
    tiny_params["audio"].update({"min_duration_s": 5.0, "min_sample_rate": 16000, "max_sample_rate": 48000})
    _write_params(project, tiny_params)


def _good_clips(music, n_per_genre=6, seconds=6.0):
    out = []
    for k, g in enumerate(GENRES):
        for i in range(n_per_genre):
            out.append(write_audio(music / g / f"good{i}.wav", tone(seconds, freq=180 + 37 * i + 11 * k,
                                                                    seed=100 * k + i)))
    return out


def _run_stages(*names: str) -> None:
    """Run the named stages in order, each with the config as it is now (params.yaml may have changed)."""
    from mir import stages
    from mir.config import load_config

    for name in names:
        stages.run(name, load_config(), progress=False)


def _featurized_folder(project, tiny_params, *, n_per_genre=3) -> None:
    """A folder dataset of good clips, read in place, through data → ingest → featurize."""
    _good_clips(project / "music", n_per_genre=n_per_genre)
    _folder_project(project, tiny_params, project / "music", snapshot=False)
    _run_stages("data", "ingest", "featurize")


def _save_model(project, tiny_params, genres=GENRES, chunk=32):
    """A tiny untrained CNN in paths.models, as `mir train` would leave it."""
    from mir.io import write_json
    from mir.model.cnn import build_cnn

    n_mels = tiny_params["features"]["n_mels"]
    model = build_cnn(n_mels=n_mels, n_frames=chunk, n_classes=len(genres), filters=(8, 16))
    (project / "models").mkdir(exist_ok=True)
    model.save(project / "models/model.keras")
    write_json(project / "models/labels.json", {"genres": list(genres), "chunk_frames": chunk, "arch": "cnn",
                                               "features": dict(tiny_params["features"])})


def _mir(*args, cwd):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run([sys.executable, "-m", "mir.cli", "-q", *args], cwd=cwd, env=env, capture_output=True,
                          text=True)


def _tree_digest(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def _snapshot_bytes(root: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[str(p)] = "-> " + os.readlink(p)
        elif p.is_file():
            out[str(p)] = p.read_bytes()
        elif p.is_dir():
            out[str(p)] = "dir"
    return out


# ------------------------------------------------------------------ the bad-input corpus


def _corpus(music: Path) -> dict[str, dict[str, str]]:
    """Bad files under ``music/<genre>/``: ``{relative path: {stage: expected reason fragment}}``.

    ``ingest``/``featurize``: which pipeline stage rejects it (and with what); ``predict`` and ``monitor``:
    the reason those entry points give (the same probe messages).
    """
    cases: dict[str, dict[str, str]] = {}

    def case(rel, *, stage, reason, predict=None, monitor=None):
        cases[rel] = {"stage": stage, "reason": reason, "predict": predict or reason, "monitor": monitor or reason}
        return music / rel

    full = write_audio(music / "a" / ".full.mp3", tone(8.0, freq=300))  # hidden: not part of the dataset
    case("a/truncated.mp3", stage="featurize", reason="truncated").write_bytes(
        full.read_bytes()[: full.stat().st_size // 2])
    case("b/corrupt.mp3", stage="ingest", reason="unreadable audio").write_bytes(full.read_bytes()[:300])
    case("a/zero.mp3", stage="ingest", reason="empty file (0 bytes)").write_bytes(b"")
    case("b/notes.mp3", stage="ingest", reason="unreadable audio: unrecognised format").write_text(
        "these are my liner notes, not audio\n" * 50)
    write_audio(case("a/silence.wav", stage="featurize", reason="silent"), np.zeros(22050 * 6, dtype=np.float32))
    write_audio(case("b/one_second.wav", stage="ingest", reason="too short"), tone(1.0))
    write_audio(case("a/lofi.wav", stage="ingest", reason="sample rate 8000"), tone(6.0, sr=8000), sr=8000)
    write_audio(case("b/hires.wav", stage="ingest", reason="sample rate 96000"), tone(6.0, sr=96000), sr=96000)
    write_audio(case("a/surround.wav", stage="ingest", reason="6 channels"), tone(6.0, channels=6))
    y = tone(6.0)
    y[5000:5100] = np.nan
    y[9000] = np.inf
    sf.write(case("b/nan.wav", stage="featurize", reason="non-finite"), y, 22050, subtype="FLOAT")
    os.symlink(music / "nowhere.mp3", case("a/broken_link.mp3", stage="ingest", reason="broken symbolic link"))
    case("b/folder.mp3", stage="ingest", reason="a folder, not an audio file").mkdir(parents=True)
    return cases


def test_bad_input_corpus_through_every_entry_point(project, tiny_params, capsys):
    """data/ingest/featurize, monitor and predict on the same bad files: exit code, named reason, nothing lost."""
    from mir.cli import main
    from mir.io import read_table

    music = project / "music"
    good = _good_clips(music)
    cases = _corpus(music)
    _folder_project(project, tiny_params, music)
    before = _snapshot_bytes(music)

    # the pipeline: every bad path is rejected by exactly one stage, with its reason; every good clip goes through
    assert main(["-q", "data", "prepare"]) == 0
    assert main(["-q", "ingest"]) == 0
    assert main(["-q", "featurize"]) == 0
    rej = pd.concat([read_table(project / "data/rejected.csv"), read_table(project / "data/features/rejected.csv")])
    got = {cid: (st, r) for cid, st, r in zip(rej["clip_id"], rej["stage"], rej["reason"])}
    for rel, exp in cases.items():
        cid = rel.rsplit(".", 1)[0]
        assert cid in got, f"{rel} vanished: in no rejected table"
        assert got[cid][0] == exp["stage"] and exp["reason"] in got[cid][1], (rel, got[cid])
    index = read_table(project / "data/features/index.csv")
    assert sorted(index["clip_id"]) == sorted(f"{p.parent.name}/{p.stem}" for p in good)
    assert len(rej) == len(cases)  # nothing rejected that is not bad

    # monitor: every listed path is analysed or skipped with a reason (exit 0: the reports use the rest)
    _save_model(project, tiny_params)
    capsys.readouterr()
    assert main(["-q", "monitor", "--new", str(music)]) == 0
    drift = json.loads((project / "metrics/drift.json").read_text())
    skipped = {str(Path(r["path"]).relative_to(music)): r["reason"] for r in drift["rejected"]}
    assert set(skipped) == set(cases), set(cases) ^ set(skipped)
    for rel, exp in cases.items():
        assert exp["monitor"] in skipped[rel], (rel, skipped[rel])
    assert drift["n_clips"] == len(good)

    # predict: each bad song named with the same reason; every good one written; exit 1 (something failed)
    capsys.readouterr()
    songs = [str(p) for p in good[:2]] + [str(music / rel) for rel in cases]
    assert main(["-q", "predict", *songs, "--out", "pred"]) == 1
    out = capsys.readouterr().out
    for rel, exp in cases.items():
        line = next((ln for ln in out.splitlines() if ln.startswith(f"predict: {music / rel}: skipped: ")), None)
        assert line is not None and exp["predict"] in line, (rel, out)
    assert "File does not exist or is not a regular file" not in out
    assert len(list((project / "pred").glob("*.json"))) == 2
    assert _snapshot_bytes(music) == before  # the user's folder is untouched


def test_listing_keeps_broken_links_and_folders_named_like_audio(tmp_path):
    from mir.datasets.folder import list_clips
    from mir.datasets.new_music import list_new_music

    d = tmp_path / "m"
    write_audio(d / "rock" / "ok.wav", tone(1.0))
    os.symlink(d / "gone.mp3", d / "rock" / "dangling.mp3")
    (d / "rock" / "album.mp3").mkdir()
    os.symlink(d / "gone.ogg", d / "loose.ogg")
    assert {c.clip_id for c in list_clips(d)} == {"rock/ok", "rock/dangling", "rock/album"}
    assert {s.song_id for s in list_new_music(d)} == {"rock/ok", "rock/dangling", "rock/album", "loose"}


# ------------------------------------------------------------------ 1. the HTML player of a long song


def test_predict_html_on_a_long_song_does_not_crash(project, tiny_params):
    """> 2 097 152 samples used to segfault libvorbis in one soundfile.write (exit 139, no page)."""
    _save_model(project, tiny_params)
    song = project / "noise.wav"
    with sf.SoundFile(song, "w", samplerate=22050, channels=1, subtype="PCM_16") as f:
        rng = np.random.default_rng(0)
        for _ in range(15):  # 150 s: 2.4 M samples at the player's 16 kHz
            f.write((0.1 * rng.standard_normal(22050 * 10)).astype(np.float32))
    r = _mir("predict", str(song), "--html", "--out", "pred", cwd=project)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    page = (project / "pred/noise.html").read_text()
    assert '<audio controls preload="none" src="data:audio/ogg;base64,' in page
    assert {p.name for p in (project / "pred").iterdir()} >= {"noise.csv", "noise.json", "noise.png", "noise.html"}


def test_player_is_bounded_and_encodes_in_blocks(tmp_path, monkeypatch):
    import io

    from mir.audio import VORBIS_BLOCK, ogg_vorbis_bytes
    from mir.evaluation import predict

    data = ogg_vorbis_bytes([np.zeros(3 * VORBIS_BLOCK + 5, dtype=np.float32) + 0.01], 16000)
    assert sf.info(io.BytesIO(data)).frames == 3 * VORBIS_BLOCK + 5
    song = write_audio(tmp_path / "s.wav", tone(20.0))
    monkeypatch.setattr(predict, "PLAYER_MAX_S", 5.0)
    html = predict._player(str(song), 20.0)
    assert "the first 0:05 of 0:20; the timeline covers the whole song" in html
    b64 = html.split("base64,", 1)[1].split('"', 1)[0]
    import base64

    assert sf.info(io.BytesIO(base64.b64decode(b64))).duration == pytest.approx(5.0, abs=0.05)


# ------------------------------------------------------------------ 2. a path parameter that points at user data


def test_output_path_colliding_with_user_data_is_refused(project, tiny_params):
    music = project / "music"
    _good_clips(music, n_per_genre=3)
    _folder_project(project, tiny_params, music, snapshot=False)
    mine = project / "my_documents"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    (mine / "photos").mkdir()
    (mine / "photos" / "cat.jpg").write_bytes(b"\xff\xd8 cat")
    before_docs, before_data = _snapshot_bytes(mine), None

    from mir import stages
    from mir.config import load_config

    stages.run("data", load_config(), progress=False)
    stages.run("ingest", load_config(), progress=False)
    before_data = _snapshot_bytes(project / "data")
    for target in (str(mine), "data"):  # someone's folder; the data folder itself (raw audio, manifest, cache)
        tiny_params["paths"] = {"features": target}
        _write_params(project, tiny_params)
        r = _mir("featurize", cwd=project)
        assert r.returncode == 2, (target, r.returncode, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "did not write" in r.stderr, r.stderr
        assert "paths.features" in r.stderr
    assert _snapshot_bytes(mine) == before_docs
    assert _snapshot_bytes(project / "data") == before_data

    # an empty folder, or mir's own, is fine (and marked as mir's)
    tiny_params["paths"] = {"features": "feats"}
    _write_params(project, tiny_params)
    (project / "feats").mkdir()
    assert _mir("featurize", cwd=project).returncode == 0
    assert _mir("featurize", cwd=project).returncode == 0
    assert (project / "feats/.mir-output").is_file() and (project / "feats/logmel.npy").is_file()

    # predict --out and paths.raw obey the same rule
    _save_model(project, tiny_params)
    r = _mir("predict", str(music / "a/good0.wav"), "--out", str(mine), cwd=project)
    assert r.returncode == 2 and "--out" in r.stderr and "did not write" in r.stderr, r.stderr
    tiny_params["paths"] = {"raw": str(mine)}
    _write_params(project, tiny_params)
    r = _mir("data", "prepare", cwd=project)
    assert r.returncode == 2 and "paths.raw" in r.stderr, r.stderr
    assert _snapshot_bytes(mine) == before_docs


def test_atomic_dir_refuses_and_marks(tmp_path):
    from mir.io import MARKER, OutputCollision, atomic_dir

    user = tmp_path / "user"
    user.mkdir()
    (user / "keep.txt").write_text("mine")
    with pytest.raises(OutputCollision, match="did not write"):
        with atomic_dir(user) as tmp:
            (tmp / "x").write_text("x")
    assert (user / "keep.txt").read_text() == "mine" and not list(tmp_path.glob(".user.*"))
    (tmp_path / "afile").write_text("f")
    with pytest.raises(OutputCollision, match="is a file"):
        with atomic_dir(tmp_path / "afile"):
            pass
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "a").write_text("1")
    with atomic_dir(tmp_path / "out") as tmp:  # mir's own: replaced
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([MARKER, "b"])
    legacy = tmp_path / "old_store"
    legacy.mkdir()
    (legacy / "meta.json").write_text("{}")
    with atomic_dir(legacy, legacy={"meta.json", "index.csv"}) as tmp:  # an older mir's store: still mir's
        (tmp / "index.csv").write_text("row\n")
    assert (legacy / MARKER).exists()


# ------------------------------------------------------------------ 3. no sticky failures


def _cache_run(project):
    from mir import stages
    from mir.config import load_config
    from mir.io import read_json, read_table

    cfg = load_config()
    stages.run("data", cfg, progress=False)
    stages.run("ingest", cfg, progress=False)
    stages.run("featurize", cfg, progress=False)
    return (read_json(Path(cfg.features.cache_dir) / "last_run.json"),
            read_table(project / "data/features/rejected.csv"))


def test_a_failure_is_not_cached_under_the_good_files_checksum(project, tiny_params):
    music = project / "music"
    good = _good_clips(music, n_per_genre=3)
    mp3 = write_audio(music / "a" / "song.mp3", tone(7.0, freq=250))
    _folder_project(project, tiny_params, music, snapshot=False)
    original = mp3.read_bytes()
    from mir import stages
    from mir.config import load_config

    stages.run("data", load_config(), progress=False)
    stages.run("ingest", load_config(), progress=False)
    mp3.write_bytes(original[: len(original) // 2])  # truncated after ingest
    stages.run("featurize", load_config(), progress=False)
    from mir.io import read_json, read_table

    rej = read_table(project / "data/features/rejected.csv")
    assert rej["clip_id"].tolist() == ["a/song"] and "changed since ingest" in rej["reason"].iloc[0]
    mp3.write_bytes(original)  # the same bytes (and checksum) as ingest saw
    stages.run("featurize", load_config(), progress=False)
    run = read_json(project / tiny_params["features"]["cache_dir"] / "last_run.json")
    assert run["n_rejected"] == 0 and run["n_computed"] == 1, run
    assert len(read_table(project / "data/features/index.csv")) == len(good) + 1


def test_a_transient_error_is_reported_but_never_cached(project, tiny_params, monkeypatch):
    from mir.features import extract

    music = project / "music"
    _good_clips(music, n_per_genre=3)
    _folder_project(project, tiny_params, music, snapshot=False)
    real = extract.featurize_file
    calls = {"n": 0}

    def flaky(src, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(5, "Input/output error")
        return real(src, **kw)

    monkeypatch.setattr(extract, "featurize_file", flaky)
    run, rej = _cache_run(project)
    assert run["n_rejected"] == 1 and "Input/output error" in rej["reason"].iloc[0]
    cache = project / tiny_params["features"]["cache_dir"]
    assert not list(cache.rglob("*.err"))
    run, rej = _cache_run(project)
    assert run["n_rejected"] == 0 and run["n_computed"] == 1 and rej.empty


def test_a_real_failure_is_cached_by_the_bytes_read_and_old_entries_are_recomputed(project, tiny_params):
    music = project / "music"
    _good_clips(music, n_per_genre=3)
    write_audio(music / "b" / "silent.wav", np.zeros(22050 * 6, dtype=np.float32))
    _folder_project(project, tiny_params, music, snapshot=False)
    run, rej = _cache_run(project)
    assert run["n_rejected"] == 1 and "silent" in rej["reason"].iloc[0]
    cache = project / tiny_params["features"]["cache_dir"]
    (err,) = cache.rglob("*.err")
    digest = hashlib.sha256((music / "b/silent.wav").read_bytes()).hexdigest()
    assert err.stem == digest and json.loads(err.read_text())["checksum"] == digest
    run, _ = _cache_run(project)
    assert run["n_computed"] == 0 and run["n_rejected"] == 1  # cached: the same bytes fail the same way
    err.write_text("Errno 13 Permission denied")  # an older mir's plain-text entry: not trusted, recomputed
    run, _ = _cache_run(project)
    assert run["n_computed"] == 1


# ------------------------------------------------------------------ 4. killed during pack


def test_kill_during_pack_leaves_no_temp_folder_behind(project, tiny_params):
    _featurized_folder(project, tiny_params)
    reference = _tree_digest(project / "data/features")
    script = ("import os, signal\n"
              "from mir.features import extract\n"
              "def die(*a, **k):\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n"
              "extract._read_entry = die\n"
              "from mir import stages\nfrom mir.config import load_config\n"
              "stages.run('featurize', load_config(), progress=False)\n")
    r = subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    leftovers = list((project / "data").glob(".features.tmp-*"))
    assert leftovers and any((d / "logmel.npy").exists() for d in leftovers)  # killed mid-pack: a temp copy
    assert _tree_digest(project / "data/features") == reference  # the old store is intact
    _run_stages("featurize")
    assert not list((project / "data").glob(".features.*")), list((project / "data").iterdir())
    assert _tree_digest(project / "data/features") == reference


def test_stale_sweep_keeps_live_and_foreign_temp_folders(tmp_path):
    from mir.io import _host, sweep_stale

    final = tmp_path / "features"
    live = tmp_path / f".features.tmp-{_host()}-{os.getpid()}-abc"
    other_host = tmp_path / ".features.tmp-elsewhere-1-abc"
    dead = tmp_path / f".features.tmp-{_host()}-999999999-abc"
    unrelated = tmp_path / ".cache"
    for d in (live, other_host, dead, unrelated):
        d.mkdir()
    assert sweep_stale(final) == [dead]
    assert live.exists() and other_host.exists() and unrelated.exists()


# ------------------------------------------------------------------ 5. songs with the same file name


def test_songs_with_the_same_name_get_their_own_outputs(project, tiny_params):
    from mir.config import load_config
    from mir.evaluation.predict import predict

    _save_model(project, tiny_params)
    a = write_audio(project / "a" / "x.mp3", tone(6.0, freq=200))
    b = write_audio(project / "b" / "x.mp3", tone(6.0, freq=900))
    c = write_audio(project / "b" / "x.wav", tone(6.0, freq=500))
    res = predict(load_config(), songs=[str(a), str(b), str(c)], out_dir="pred", progress=False)
    jsons = sorted((project / "pred").glob("*.json"))
    assert len(jsons) == 3 and len({r["json"] for r in res}) == 3
    assert {json.loads(p.read_text())["source"] for p in jsons} == {os.path.realpath(p) for p in (a, b, c)}
    # a later run for another x.mp3 does not overwrite either; the same song again keeps its name
    res2 = predict(load_config(), songs=[str(a)], out_dir="pred", progress=False)
    assert res2[0]["json"] in {r["json"] for r in res}
    d = write_audio(project / "d" / "x.mp3", tone(6.0, freq=300))
    predict(load_config(), songs=[str(d)], out_dir="pred", progress=False)
    assert len(list((project / "pred").glob("*.json"))) == 4


# ------------------------------------------------------------------ 6 + 7. reject budget, deterministic store


def test_the_reject_budget_covers_ingest_and_featurize_and_is_checked_before_the_swap(project, tiny_params):
    from mir import stages
    from mir.config import load_config

    music = project / "music"
    _good_clips(music, n_per_genre=5)  # 10 good
    write_audio(music / "a" / "short.wav", tone(1.0))  # ingest rejects 1
    write_audio(music / "b" / "quiet.wav", np.zeros(22050 * 6, dtype=np.float32))  # featurize rejects 1
    _folder_project(project, tiny_params, music, snapshot=False, max_reject_fraction=0.1)
    stages.run("data", load_config(), progress=False)
    stages.run("ingest", load_config(), progress=False)  # 1 of 12 = 8 %: within the budget on its own
    (project / "data/features").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"2 of 12 clips rejected \(17%: 1 by ingest, 1 by featurize\)"):
        stages.run("featurize", load_config(), progress=False)  # 1 of 11 = 9 % alone, 17 % for the pipeline
    assert list((project / "data/features").iterdir()) == []  # nothing swapped in
    tiny_params["data"]["max_reject_fraction"] = 0.2
    _write_params(project, tiny_params)
    stages.run("featurize", load_config(), progress=False)
    store = _tree_digest(project / "data/features")
    tiny_params["data"]["max_reject_fraction"] = 0.1
    _write_params(project, tiny_params)
    with pytest.raises(ValueError, match="left unchanged"):
        stages.run("featurize", load_config(), progress=False)
    assert _tree_digest(project / "data/features") == store  # the previous store stays


def test_the_feature_store_does_not_depend_on_the_cache_state(project, tiny_params):
    from mir import stages
    from mir.config import load_config
    from mir.io import read_json

    _featurized_folder(project, tiny_params)  # everything computed
    first = _tree_digest(project / "data/features")
    stages.run("featurize", load_config(), progress=False)  # everything from the cache
    assert _tree_digest(project / "data/features") == first
    meta = read_json(project / "data/features/meta.json")
    assert "n_computed" not in meta and "n_cached" not in meta


# ------------------------------------------------------------------ 9. messages and exit codes


def test_predict_names_unusable_songs_like_ingest(project, tiny_params, capsys):
    from mir.config import load_config
    from mir.datasets.ingest import check_clip
    from mir.evaluation.predict import predict

    _save_model(project, tiny_params)
    cfg = load_config()
    zero = project / "zero.mp3"
    zero.write_bytes(b"")
    text = project / "text.mp3"
    text.write_text("hello\n" * 100)
    silent = write_audio(project / "silent.wav", np.zeros(22050 * 8, dtype=np.float32))
    quiet = (1e-4 * np.sin(2 * np.pi * 440 * np.arange(22050 * 8) / 22050)).astype(np.float32)  # -83 dBFS
    hushed = project / "hushed.wav"
    sf.write(hushed, quiet, 22050, subtype="FLOAT")
    res = {Path(r["path"]).name: r for r in predict(cfg, songs=[str(p) for p in (zero, text, silent, hushed)],
                                                    out_dir="pred", progress=False)}
    assert res["zero.mp3"]["error"] == check_clip(zero, audio=cfg.audio)["reason"] == "empty file (0 bytes)"
    assert res["text.mp3"]["error"] == check_clip(text, audio=cfg.audio)["reason"]
    assert "unrecognised format" in res["text.mp3"]["error"]
    assert "silent" in res["silent.wav"]["error"] and "silent" in res["hushed.wav"]["error"]
    out = capsys.readouterr().out
    assert "possibly a pipe" not in out and "classical" not in out
    # one loud second in a quiet song is music, not silence
    y = quiet.copy()
    y[22050 * 6 : 22050 * 7] = tone(1.0)
    song = project / "one_loud_second.wav"
    sf.write(song, y, 22050, subtype="FLOAT")
    (ok,) = predict(cfg, songs=[str(song)], out_dir="pred", progress=False)
    assert "error" not in ok


def test_folder_parameters_are_bad_parameters(project, tiny_params):
    music = project / "music"
    _good_clips(music, n_per_genre=1)
    _folder_project(project, tiny_params, music)
    tiny_params["data"]["genres"] = ["nonexistent"]
    _write_params(project, tiny_params)
    r = _mir("data", "prepare", cwd=project)
    assert r.returncode == 2 and "'nonexistent' not in dataset 'folder'" in r.stderr, r.stderr
    assert "at least 2 genres" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    tiny_params["data"]["genres"] = ["a"]
    _write_params(project, tiny_params)
    r = _mir("data", "prepare", cwd=project)
    assert r.returncode == 2 and "at least 2 genres" in r.stderr, r.stderr
    tiny_params["data"]["genres"] = None
    for root, msg in ((project / "missing", "does not exist"), (music / "a" / "good0.wav", "is a file")):
        tiny_params["folder"]["root"] = str(root)
        _write_params(project, tiny_params)
        r = _mir("data", "prepare", cwd=project)
        assert r.returncode == 2 and f"folder.root: {root} {msg}" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_duplicate_yaml_keys_are_an_error(project):
    text = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(text + "\nseed: 3\n")
    r = _mir("config", cwd=project)
    assert r.returncode == 2 and "duplicate key 'seed'" in r.stderr, r.stderr
    (project / "params.yaml").write_text(text.replace("  n_mels: 32\n", "  n_mels: 32\n  n_mels: 64\n"))
    r = _mir("config", cwd=project)
    assert r.returncode == 2 and "duplicate key 'n_mels'" in r.stderr, r.stderr


# ------------------------------------------------------------------ 10. Data Docs escape once


def test_data_docs_show_r_and_b_once_escaped(tmp_path):
    from mir.validation.manifest import validate_manifest

    evil = '<script>alert("x")</script>'
    m = pd.DataFrame({"clip_id": ["a/1", "b/2", f"{evil}/3"], "path": ["p1", "p2", "p3"],
                      "genre": ["R&B", "jazz", evil], "split": ["train", "test", "valid"],
                      "duration_s": [30.0] * 3, "sample_rate": [22050] * 3, "channels": [1] * 3,
                      "checksum": ["a" * 64, "b" * 64, "c" * 64], "n_bytes": [10] * 3})
    res = validate_manifest(m, genres=["R&B", "jazz"], min_duration_s=1, max_duration_s=100,
                            docs_dir=tmp_path / "docs")
    assert not res.success and any(evil in f for f in res.failures)
    pages = "".join(p.read_text() for p in (tmp_path / "docs").rglob("*.html"))
    assert "R&amp;B" in pages and "&amp;amp;" not in pages
    assert "<script>alert" not in pages and "&lt;script&gt;alert" in pages
