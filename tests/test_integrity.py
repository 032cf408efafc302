"""Issue 23: what mir deletes, writes and lists when state is hostile — each test reproduces one defect.

Nothing here trains: tiny files, a fake model where a prediction is needed, and a dead child process
where a killed writer is needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import tone, write_audio


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _cfg(project: Path, params: dict, **sections):
    from mir.config import load_config

    for sec, values in sections.items():
        params.setdefault(sec, {}).update(values)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return load_config()


# ---- data loss -----------------------------------------------------------------------------------------------

def test_cache_clear_deletes_only_what_mir_wrote_there(project, tiny_params, capsys):
    """Item 1: `inference.cache_dir` pointed at a user's folder: `mir cache clear` removed the whole folder."""
    from mir.cli import main

    user = project / "mine"
    (user / "thesis").mkdir(parents=True)
    (user / "thesis/chapter1.tex").write_text("years of work")
    (user / "notes.txt").write_text("keep me")
    (user / "exports").mkdir()
    (user / "exports/body-abc.onnx").write_bytes(b"onnx")
    (user / "body/k/ab").mkdir(parents=True)
    (user / "body/k/ab/ab12.npz").write_bytes(b"npz")
    _cfg(project, tiny_params, inference={"cache_dir": "mine"})
    assert main(["cache", "clear"]) == 0
    assert (user / "thesis/chapter1.tex").read_text() == "years of work"
    assert (user / "notes.txt").exists()
    assert not (user / "exports").exists() and not (user / "body").exists()  # mir's own layout: cleared
    assert "kept 2 entries" in capsys.readouterr().out


@pytest.mark.parametrize("key,value", [
    ("inference.cache_dir", ""), ("inference.cache_dir", "."), ("features.cache_dir", ".."),
    ("paths.reports", ""), ("paths.models", "."), ("retrain.labelled_dir", ""), ("monitor.workspace", "~"),
    ("registry.champion_dir", "/"), ("new_music.root", ""),
])
def test_empty_or_root_like_path_keys_are_bad_parameters(project, tiny_params, capsys, key, value):
    """Item 2: `inference.cache_dir: ""` passed validation and `mir cache clear` then removed the project."""
    from mir.cli import main

    sec, name = key.split(".")
    tiny_params.setdefault(sec, {})[name] = value
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params, sort_keys=False))
    assert main(["cache", "clear"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and key in err, err
    assert (project / "params.yaml").exists() and (project / "mir").is_dir()


def test_every_delete_is_guarded(project):
    """Item 1/2: the one guarded delete refuses root-like paths and folders mir did not write."""
    from mir.io import MARKER, NotOwned, claim_dir, remove_owned

    user = project / "user"
    user.mkdir()
    (user / "a.txt").write_text("x")
    for bad in ("", ".", "..", str(Path.home()), "/", str(user), str(user / "a.txt")):
        with pytest.raises(NotOwned):
            remove_owned(bad)
    assert (user / "a.txt").exists() and (project / "params.yaml").exists()
    out = claim_dir(project / "out")
    (out / "f.csv").write_text("1")
    assert remove_owned(out / "f.csv") and not (out / "f.csv").exists()  # inside a marked folder: mir's
    assert (out / MARKER).exists() and remove_owned(out) and not out.exists()


def test_hand_over_never_drops_or_overwrites_a_song(project, tiny_params):
    """Item 3: `<genre>/a/b.wav` and a real `<genre>/a__b.wav` mapped to one copy: one song was lost."""
    from mir.retrain import hand_over

    new = project / "incoming"
    for rel, freq in (("polka/a/b.wav", 300.0), ("polka/a__b.wav", 500.0), ("polka/c.wav", 700.0)):
        write_audio(new / rel, tone(1.5, freq=freq))
    assert (new / "polka/a/b.wav").stat().st_size == (new / "polka/a__b.wav").stat().st_size
    cfg = _cfg(project, tiny_params, retrain={"labelled_dir": "data/labelled"})
    res = hand_over(cfg, new, known=["rock"], run={"id": "r1"})
    copies = sorted((project / "data/labelled/polka").iterdir())
    assert res["handed_over"] == {"polka": 3} and len(copies) == 3
    assert len({p.read_bytes() for p in copies}) == 3  # three different songs, none overwritten
    again = hand_over(cfg, new, known=["rock"], run={"id": "r2"})
    assert again["already"] == ["polka"] and len(list((project / "data/labelled/polka").iterdir())) == 3


class _FakeBundle:
    genres = ["a", "b"]
    features = None
    chunk_frames = 1

    def engine(self, cfg):
        return None


def _fake_predict(monkeypatch, during=None):
    """`predict` without a model: a fixed timeline per song; ``during(song)`` runs inside a song's prediction."""
    from mir.evaluation import predict as pr
    from mir.model.bundle import ModelBundle

    monkeypatch.setattr(ModelBundle, "load", classmethod(lambda cls, d: _FakeBundle()))
    monkeypatch.setattr(pr, "song_problem", lambda song, audio: None)

    def timeline(song, **kw):
        if during is not None:
            during(song)
        return pr.Timeline(path=str(song), genres=["a", "b"], times=np.arange(3.0), probs=np.full((3, 2), 0.5),
                           duration_s=3.0)

    monkeypatch.setattr(pr, "timeline", timeline)
    return pr


def test_two_predict_runs_at_once_never_write_over_each_other(project, tiny_params, monkeypatch):
    """Item 4: two `mir predict` into one --out, same song name from two folders: both chose the same stem."""
    cfg = _cfg(project, tiny_params)
    a, b = project / "one/x.wav", project / "two/x.wav"
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes(b"")
    out = project / "preds"
    started = []

    def other_process(song):  # the second run starts and finishes while the first is predicting
        if song == str(a) and not started:
            started.append(1)
            pr.predict(cfg, songs=[str(b)], out_dir=out, progress=False)

    pr = _fake_predict(monkeypatch, during=other_process)
    pr.predict(cfg, songs=[str(a)], out_dir=out, progress=False)
    sources = {pr._recorded_source(j) for j in out.glob("*.json")}
    assert sources == {os.path.realpath(a), os.path.realpath(b)}, sorted(p.name for p in out.iterdir())


# ---- temp files ----------------------------------------------------------------------------------------------

def _noop(cfg, **kwargs):
    _noop.calls.append(cfg)


_noop.calls = []


def test_stage_start_sweeps_temp_files_killed_writers_left(project, tiny_params, monkeypatch):
    """Item 11: kill -9 during an atomic write left `.<name>.tmp-<host>-<pid>-*` in reports/ and metrics/ for ever."""
    import dataclasses

    from mir import stages
    from mir.io import _host, atomic_path

    cfg = _cfg(project, tiny_params)
    pid = _dead_pid()
    left = [project / f"reports/.drift.html.tmp-{_host()}-{pid}-abcd1234.html",
            project / f"metrics/.drift.json.tmp-{_host()}-{pid}-abcd1234.json",
            project / f"reports/eval/.review.html.tmp-{_host()}-{pid}-abcd1234.html"]
    for p in left:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("half")
    with atomic_path(project / "reports/live.html") as live:  # a live writer's temp file (this process): kept
        live.write_text("x")
        user = project / "reports/.my.tmp-notes"  # not mir's pattern: kept
        user.write_text("mine")
        monkeypatch.setitem(stages.BY_NAME, "monitor",
                            dataclasses.replace(stages.BY_NAME["monitor"], target=f"{__name__}:_noop"))
        stages.run("monitor", cfg)
        assert live.exists() and user.exists()
    assert not [p for p in left if p.exists()]


def test_temp_and_output_names_fit_255_bytes_whatever_the_target(project):
    """Item 13: a 240-byte file name made the atomic writer's temp name exceed 255 bytes (ENAMETOOLONG)."""
    from mir.evaluation.predict import output_stems
    from mir.io import atomic_dir, write_text

    long = "é" * 100 + "x" * 36 + ".ogg"  # 240 bytes in UTF-8
    assert len(long.encode()) == 240
    assert write_text(project / long, "x").read_text() == "x"
    with atomic_dir(project / ("d" * 250)) as tmp:
        (tmp / "f").write_text("1")
    assert (project / ("d" * 250) / "f").exists()
    for n in (235, 251):
        song = str(project / ("s" * n + ".wav"))
        stem = output_stems([song], project)[song]
        assert len(os.fsencode(stem + ".html")) <= 255 and len(os.fsencode(f".{stem}.html.tmp-h-1-12345678.html")) <= 255


# ---- hostile names and trees ---------------------------------------------------------------------------------

def test_new_music_snapshot_copies_no_link_out_of_the_folder(project, tiny_params):
    """Item 12: `passwd.mp3 -> /etc/passwd` in the incoming folder: its content was copied into data/new."""
    import json

    from mir.datasets.prepare import prepare_new_music

    secret = project / "outside/secret.txt"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0")
    inc = project / "data/incoming"
    write_audio(inc / "rock/ok.wav", tone(1.5))
    os.symlink(secret, inc / "passwd.mp3")
    os.symlink(inc / "rock/ok.wav", inc / "rock/alias.wav")  # stays inside the folder: followed
    cfg = _cfg(project, tiny_params, new_music={"source": "folder", "root": "data/incoming"})
    prepare_new_music(cfg, progress=False)
    new = project / "data/new"
    assert not (new / "passwd.mp3").exists()
    assert (new / "rock/ok.wav").exists() and (new / "rock/alias.wav").read_bytes() == (inc / "rock/ok.wav").read_bytes()
    status = json.loads((new / "new_music.json").read_text())
    assert [s["path"].endswith("passwd.mp3") and "outside the folder" in s["reason"] for s in status["skipped"]] == [True]


def test_a_name_that_is_not_utf8_is_skipped_before_any_report(project, tiny_params, monkeypatch, capsys):
    """Item 14: one non-UTF-8 file name failed `mir monitor`/`mir predict` with a codec traceback mid-way."""
    from mir.datasets.new_music import list_new_music

    folder = project / "new"
    write_audio(folder / "rock/fine.wav", tone(1.5))
    bad = os.fsdecode(os.fsencode(str(folder / "rock")) + b"/caf\xe9.wav")  # Latin-1 name
    os.rename(write_audio(folder / "cafe.wav", tone(1.5)), os.fsencode(bad))
    cfg = _cfg(project, tiny_params)
    pr = _fake_predict(monkeypatch)
    res = pr.predict(cfg, songs=[bad, str(folder / "rock/fine.wav")], out_dir=project / "preds", html=True,
                     progress=False)
    assert "UTF-8" in res[0]["error"] and "top" in res[1]
    skipped: list[dict] = []
    songs = list_new_music(folder, skipped=skipped)
    assert [s.song_id for s in songs] == ["rock/fine"]
    assert len(skipped) == 1 and "UTF-8" in skipped[0]["reason"] and "\\xe9" in skipped[0]["path"]
    skipped[0]["path"].encode("utf-8")  # printable
    assert "skipped" in capsys.readouterr().out


def test_songs_in_a_symlinked_genre_folder_are_listed_and_a_loop_is_skipped(tmp_path):
    """Item 15: songs under `DIR/jazz -> /music/jazz` were neither analysed nor listed as skipped."""
    from mir.datasets.new_music import list_new_music

    music, folder = tmp_path / "music", tmp_path / "new"
    write_audio(music / "jazz/take5.wav", tone(1.5))
    write_audio(folder / "rock/a.wav", tone(1.5))
    os.symlink(music / "jazz", folder / "jazz")
    assert {(s.song_id, s.label) for s in list_new_music(folder)} == {("jazz/take5", "jazz"), ("rock/a", "rock")}
    os.symlink(folder, folder / "rock/again")  # a loop
    skipped: list[dict] = []
    songs = list_new_music(folder, skipped=skipped)
    assert {(s.song_id, s.label) for s in songs} == {("jazz/take5", "jazz"), ("rock/a", "rock")}
    assert [("again" in s["path"], "loop" in s["reason"]) for s in skipped] == [(True, True)]


def _flatten(parent: Path) -> None:
    """Remove ``parent/d/d/…`` one level at a time (shutil.rmtree recurses)."""
    while (parent / "d").is_dir():
        if (parent / "d/d").is_dir():
            os.rename(parent / "d/d", parent / "up")
            os.rmdir(parent / "d")
            os.rename(parent / "up", parent / "d")
        else:
            os.rmdir(parent / "d")


def test_a_deep_tree_is_a_skipped_entry_not_a_recursion_error(tmp_path, request):
    """Item 18: a ~1 400-level deep sub-tree: RecursionError traceback."""
    from mir.datasets import new_music

    folder = tmp_path / "new"
    write_audio(folder / "rock/a.wav", tone(1.5))
    fd = os.open(folder / "rock", os.O_RDONLY)
    for _ in range(1200):  # relative to the parent's fd: linear time (os.makedirs itself recurses)
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    os.close(fd)
    request.addfinalizer(lambda: _flatten(folder / "rock"))
    assert [s.song_id for s in new_music.list_new_music(folder)] == ["rock/a"]
    skipped: list[dict] = []
    songs = new_music.list_new_music(folder, skipped=skipped)
    assert [s.song_id for s in songs] == ["rock/a"]
    assert len(skipped) == 1 and f"{new_music.MAX_DEPTH} levels" in skipped[0]["reason"]


# ---- fail before the work ------------------------------------------------------------------------------------

def test_resumed_training_replays_only_the_epochs_before_the_resume(tmp_path):
    """Item 16: after a kill while the model was saved, the rerun replayed 17 epochs then trained 17 again."""
    import json
    from types import SimpleNamespace

    import pandas as pd

    from mir.model.callbacks import LiveLogger

    done = pd.DataFrame({"epoch": [1, 2, 3], "loss": [1.0, 0.9, 0.8], "accuracy": [0.3, 0.4, 0.5],
                         "val_loss": [1.1, 1.0, 0.9], "val_accuracy": [0.3, 0.4, 0.4]})

    def run(first_epoch: int, epochs: int, d: Path) -> list[float]:
        cb = LiveLogger(d, previous=done)
        cb.set_model(SimpleNamespace(optimizer=None))
        cb.on_train_begin()
        for e in range(first_epoch, epochs):
            cb.on_epoch_begin(e)
            cb.on_epoch_end(e, {"loss": 0.5 - e / 100, "accuracy": 0.6, "val_loss": 0.7, "val_accuracy": 0.6})
        cb.on_train_end()
        assert json.loads((d / "metrics.json").read_text())["step"] == epochs - 1
        return pd.read_csv(d / "plots/metrics/train/loss.tsv", sep="\t")["loss"].tolist()

    # the backup was deleted when training ended: Keras starts again at epoch 0, the log is replaced
    assert run(0, 3, tmp_path / "restart") == [0.5, 0.49, 0.48]
    # a real resume after epoch 2 (the backup holds epoch 2): epochs 1-2 replayed, 3 and 4 trained
    assert run(2, 4, tmp_path / "resume") == [1.0, 0.9, 0.48, 0.47]


@pytest.mark.parametrize("section,values,key", [
    ("inference", {"cache_max_mb": float("inf")}, "inference.cache_max_mb"),
    ("validate", {"db_min": float("nan")}, "validate.db_min"),
    ("validate", {"db_min": 90.0, "db_max": 80.0}, "validate.db_min"),
    ("audio", {"silence_db": float("-inf")}, "audio.silence_db"),
    ("new_music", {"shift": {"gain_db": float("-inf")}}, "new_music.shift.gain_db"),
    ("retrain", {"labelled_dir": ""}, "retrain.labelled_dir"),
])
def test_non_finite_or_inconsistent_numbers_are_bad_parameters(tiny_params, section, values, key):
    """Items 19 and smaller: `.inf`, `.nan` and `db_min > db_max` passed validation and failed stages later."""
    from mir.config import ConfigError, parse_config

    tiny_params[section] = {**tiny_params[section], **values}
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_config(tiny_params)


def test_an_output_folder_that_cannot_be_written_stops_a_stage_before_its_work(project, tiny_params, monkeypatch,
                                                                                capsys):
    """Item 20: `reports/` not writable: `mir monitor` did all its work, then died at the first write."""
    import dataclasses

    from mir import stages
    from mir.cli import main

    (project / "blocked").write_text("a file, so nothing can be created under it")
    _cfg(project, tiny_params, paths={"reports": "blocked/reports"})
    monkeypatch.setitem(stages.BY_NAME, "monitor",
                        dataclasses.replace(stages.BY_NAME["monitor"], target=f"{__name__}:_noop"))
    _noop.calls.clear()
    assert main(["monitor"]) == 2
    assert _noop.calls == []  # the stage's work never started
    assert "paths.reports" in capsys.readouterr().err


# ---- markup and smaller --------------------------------------------------------------------------------------

def test_the_prefect_markdown_artifact_escapes_folder_names():
    """Item 21: a genre folder named `[click me](javascript:…)` became a javascript: link in the Prefect UI."""
    from markdown_it import MarkdownIt

    from flows.monitor import verdict_markdown

    evil = "[click me](javascript:alert(1))"
    v = {"drift": True, "n_clips": 3, "unknown_genres": [evil, "<img src=x onerror=alert(1)>"],
         "predicted_share": {evil: 0.5, "rock": 0.5}, "history": {"model_version": "![x](http://e/x.png)"}}
    md = verdict_markdown(v, new_dir=f"data/{evil}\n# heading", run_id="r")
    html = MarkdownIt("commonmark").render(md)
    assert "<a " not in html and "<img" not in html and "<h1>heading" not in html
    assert "click me" in html and "javascript:alert(1)" in html  # shown as text


def test_a_garbage_model_file_is_named_as_such_not_file_not_found(tmp_path):
    """Smaller: a garbage `model.keras` was reported as "File not found"."""
    from mir.config import FeatureParams
    from mir.model.bundle import ModelBundle, ModelCard, model_files

    model, card = model_files(tmp_path)
    card.write_text(ModelCard(genres=["a", "b"], features=FeatureParams(), chunk_frames=8,
                              arch="cnn").model_dump_json())
    model.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError) as err:
        ModelBundle.load(tmp_path)
    assert "File not found" not in str(err.value) and "not a Keras model" in str(err.value)


def test_junk_mp3_files_print_no_decoder_noise(tmp_path):
    """Smaller: 10 000 junk .mp3 files printed 28 758 lines of decoder noise on stderr (here: a handful)."""
    rng = np.random.default_rng(0)
    for i in range(5):
        (tmp_path / f"junk{i}.mp3").write_bytes(b"\xff\xfb\x90\x00" + rng.bytes(20000))
    code = ("import sys\nfrom pathlib import Path\nfrom mir.audio import AudioError, load, probe\n"
            "for p in sorted(Path(sys.argv[1]).glob('*.mp3')):\n"
            "    try:\n        probe(p); load(p, sr=16000)\n    except AudioError as e:\n        print(p.name, e)\n"
            "print('done', file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "done", r.stderr[:500]
