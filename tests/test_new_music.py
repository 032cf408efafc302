"""New music as a configured source (new_music.source: folder), the "not configured" path, the monitoring
history in an Evidently workspace, the index page's drift-over-time section and the hand-over to retraining."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import tone, write_audio
from test_records_drift import sample_record


def _write(project: Path, params: dict) -> None:
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _songs(root: Path, layout: dict[str, int], *, seconds: float = 2.0) -> Path:
    for k, (label, n) in enumerate(layout.items()):
        for i in range(n):
            sub = root / label if label else root
            write_audio(sub / f"song{i}.ogg" if label else root / f"loose{i}.wav",
                        tone(seconds, freq=220 + 60 * k + 7 * i, seed=k * 10 + i))
    return root


def _mtimes(root: Path) -> dict:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}


def test_folder_source_needs_a_root():
    from mir.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="new_music.root: required"):
        parse_config({"new_music": {"source": "folder"}})
    assert parse_config({"new_music": {"source": "folder", "root": "x"}}).new_music.snapshot is True


def test_folder_new_music_is_snapshotted_and_the_source_never_modified(project, tiny_params, tmp_path):
    from mir.config import load_config
    from mir.datasets.prepare import prepare_new_music
    from mir.monitoring.monitor import resolve_new_music
    from mir.datasets.new_music import list_new_music

    src = _songs(tmp_path / "mine", {"rock": 2, "polka": 1, "": 1})
    before = _mtimes(src)
    tiny_params["new_music"].update({"source": "folder", "root": str(src)})
    _write(project, tiny_params)
    cfg = load_config()
    out = prepare_new_music(cfg, progress=False)
    copied = {s.song_id: s.label for s in list_new_music(out)}
    assert copied == {s.song_id: s.label for s in list_new_music(src)} == {
        "rock/song0": "rock", "rock/song1": "rock", "polka/song0": "polka", "loose0": None}
    assert (out / "rock/song0.ogg").read_bytes() == (src / "rock/song0.ogg").read_bytes()
    status = json.loads((out / "new_music.json").read_text())
    assert status["configured"] and status["n_files"] == 4 and status["snapshot"]
    assert resolve_new_music(cfg) == (out, None)
    assert _mtimes(src) == before  # only read

    tiny_params["new_music"]["snapshot"] = False  # read in place
    _write(project, tiny_params)
    cfg = load_config()
    prepare_new_music(cfg, progress=False)  # the previous snapshot is replaced
    assert sorted(p.name for p in out.iterdir()) == [".mir-output", "new_music.json"]
    assert resolve_new_music(cfg) == (src, None)

    empty = tmp_path / "empty"
    empty.mkdir()
    tiny_params["new_music"]["root"] = str(empty)
    _write(project, tiny_params)
    prepare_new_music(load_config(), progress=False)
    folder, why = resolve_new_music(load_config())
    assert folder is None and "holds no audio yet" in why

    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("someone's")
    tiny_params["paths"] = {"new_music": str(tmp_path / "theirs")}  # an output path at someone's folder: refused
    _write(project, tiny_params)
    from mir.io import OutputCollision

    with pytest.raises(OutputCollision):
        prepare_new_music(load_config(), progress=False)
    assert (tmp_path / "theirs" / "notes.txt").read_text() == "someone's"
    del tiny_params["paths"]
    tiny_params["new_music"]["root"] = str(tmp_path / "missing")
    _write(project, tiny_params)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        prepare_new_music(load_config(), progress=False)


def test_no_new_music_configured_is_said_plainly(project, tiny_params):
    """Another dataset with the default synth source: no unrelated synth music, no failure, a clear note."""
    from mir.config import load_config
    from mir.datasets.prepare import prepare_new_music
    from mir.monitoring.monitor import monitor
    from mir.reports.site import build_report

    tiny_params["data"].update({"dataset": "gtzan", "genres": ["blues", "jazz"]})
    _write(project, tiny_params)
    cfg = load_config()
    out = prepare_new_music(cfg, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [".mir-output", "new_music.json"]  # nothing rendered
    v = monitor(cfg, progress=False)  # no model needed: nothing to analyse
    assert v["configured"] is False and "new_music.source: folder" in v["message"]
    assert json.loads((project / "metrics/drift.json").read_text())["configured"] is False
    assert "No new music to monitor" in (project / "reports/drift.html").read_text()
    index = build_report(cfg, progress=False).read_text()
    assert "no new music is configured" in index and "new_music.root" in index


def _run_tables(seed: int, shift: float):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"loud": rng.normal(0, 1, 60), "centroid": rng.normal(5, 1, 60),
                        "pred_genre": rng.choice(["jazz", "rock"], 60)})
    cur = pd.DataFrame({"loud": rng.normal(shift, 1, 20), "centroid": rng.normal(5, 1, 20),
                        "pred_genre": rng.choice(["jazz", "rock"], 20)})
    verdict = sample_record(share_drifted=0.5 * (shift > 0), unknown_flagged_share=0.1 + 0.2 * shift,
                            unknown_expected_share=0.05, new_music_accuracy=0.8 - 0.1 * shift, new_music_macro_f1=0.7,
                            drift=shift > 0, n_clips=20, predicted_share={"jazz": 0.4, "rock": 0.6}, new_music="x")
    return ref, cur, verdict


def record_runs(cfg, n: int = 2) -> list[dict]:
    """``n`` monitor runs recorded from small synthetic tables (no model); returns their workspace entries."""
    import datetime as dt

    from mir.monitoring.history import record

    out = []
    for i in range(n):
        ref, cur, verdict = _run_tables(i, float(i))
        out.append(record(cfg, reference=ref, current=cur, columns=["loud", "centroid"], categorical=["pred_genre"],
                          verdict=verdict, genres=["jazz", "rock"], origin="test",
                          timestamp=dt.datetime.now() - dt.timedelta(minutes=10 * (n - i))))
    return out


def test_each_run_is_a_snapshot_in_the_evidently_workspace_and_on_the_index_page(project, monkeypatch):
    from mir.config import load_config
    from mir.monitoring.history import load_history
    from mir.reports.site import build_report

    cfg = load_config()
    runs = record_runs(cfg)
    assert len({r["snapshot_id"] for r in runs}) == 2 and runs[0]["model_version"] == "unregistered"
    hist = load_history(cfg)
    assert [h["snapshot_id"] for h in hist] == [r["snapshot_id"] for r in runs]
    assert hist[1]["mir_unknown_share"] == pytest.approx(0.3) and hist[0]["mir_accuracy"] == pytest.approx(0.8)
    assert hist[1]["mir_pred_share_rock"] == pytest.approx(0.6) and hist[0]["origin"] == "test"

    from evidently.ui.workspace import Workspace

    ws = Workspace(str(project / "evidently"))
    (proj,) = ws.list_projects()
    assert proj.name == cfg.monitor.project and len(ws.list_runs(proj.id)) == 2
    titles = [p.title for p in ws.get_dashboard(proj.id).panels]
    for t in ("Share of drifted columns", "Songs flagged unknown", "Accuracy and macro-F1 on labelled new music",
              "Predicted-genre shares", "Model version (registry) per run"):
        assert t in titles

    monkeypatch.setenv("MIR_RUN_ID", "history-test")
    index = build_report(cfg, progress=False).read_text()
    assert "Monitoring over time" in index and "2 monitor run(s)" in index
    assert index.count('class="dvc-plot"') == 1 and "share flagged unknown" in index
    assert "<script src=\"http" not in index


def test_hand_over_copies_only_unknown_genres_with_enough_songs(project, tiny_params, tmp_path):
    from mir.config import load_config
    from mir.datasets.clips import labelled_clips
    from mir.retrain import hand_over

    src = _songs(tmp_path / "mine", {"rock": 3, "polka": 3, "ska": 2, "": 2})
    before = _mtimes(src)
    cfg = load_config()
    res = hand_over(cfg, src, known=["classical", "rock"], run={"monitor_flow_run": "r1"})
    assert res["handed_over"] == {"polka": 3} and res["too_few"] == {"ska": 2}
    assert sorted(c.clip_id for c in labelled_clips(cfg)) == [f"labelled/polka/song{i}" for i in range(3)]
    assert "polka" in cfg.genres
    log = json.loads((project / "data/labelled/handover.json").read_text())
    assert log["polka"][0]["run"] == {"monitor_flow_run": "r1"}
    again = hand_over(cfg, src, known=["classical", "rock"], run={"monitor_flow_run": "r2"})
    assert again["handed_over"] == {} and again["already"] == ["polka"]
    assert _mtimes(src) == before  # the user's files are only read


def test_mir_monitor_ui_serves_the_workspace_on_loopback(project):
    from mir.config import load_config
    from mir.monitoring.history import ui_command

    cmd = ui_command(load_config(), port=8123)
    assert cmd[1:] == ["ui", "--workspace", "evidently", "--host", "127.0.0.1", "--port", "8123"]
    assert Path(cmd[0]).name == "evidently"
