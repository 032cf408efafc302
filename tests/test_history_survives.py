"""The monitoring history (an Evidently workspace) survives a torn file and concurrent runs (issue 23, items 9, 10)."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from test_new_music import _run_tables, record_runs


def _record(cfg, i: int, origin: str = "test"):
    from mir.monitoring.history import record

    ref, cur, verdict = _run_tables(i, float(i))
    return record(cfg, reference=ref, current=cur, columns=["loud", "centroid"], categorical=["pred_genre"],
                  verdict=verdict, genres=["jazz", "rock"], origin=origin,
                  timestamp=dt.datetime.now() + dt.timedelta(minutes=i))


def _evidently_ui_loads(root) -> int:
    """What ``evidently ui`` does when it starts: load every project and snapshot; the number of snapshots."""
    from evidently.ui.service.storage.local import create_local_project_manager

    state = create_local_project_manager(str(root), False).project_metadata.state
    return sum(len(s) for s in state.snapshots.values())


@pytest.mark.parametrize("damaged", ["snapshot", "dashboard"])
def test_a_torn_workspace_file_is_quarantined_and_the_history_goes_on(damaged, project, capsys):
    """A kill -9 or a full disk mid-write left a truncated JSON file: the next run moves it aside (named in
    the output) and is recorded; the index page's history and Evidently's UI load."""
    from mir.config import load_config
    from mir.monitoring.history import load_history

    cfg = load_config()
    runs = record_runs(cfg, n=2)
    ws = project / "evidently"
    proj = ws / runs[0]["project_id"]
    torn = proj / ("snapshots" if damaged == "snapshot" else "") / (
        f"{runs[1]['snapshot_id']}.json" if damaged == "snapshot" else "dashboard.json")
    data = torn.read_bytes()
    torn.write_bytes(data[: len(data) // 2])
    capsys.readouterr()

    third = _record(cfg, 5)
    out = capsys.readouterr().out
    assert "damaged" in out and torn.name in out
    (moved,) = third["quarantined"]
    assert (project / moved).is_relative_to(ws / "quarantine") and (project / moved).read_bytes() == data[: len(data) // 2]
    if damaged == "snapshot":
        assert not torn.exists()
    else:  # written anew, whole
        assert json.loads(torn.read_text())["panels"]
    hist = load_history(cfg)
    kept = [runs[0]["snapshot_id"]] + ([runs[1]["snapshot_id"]] if damaged == "dashboard" else [])
    assert [h["snapshot_id"] for h in hist] == kept + [third["snapshot_id"]]
    assert _evidently_ui_loads(ws) == len(kept) + 1
    from evidently.ui.workspace import Workspace

    w = Workspace(str(ws))
    (p,) = w.list_projects()
    assert "Predicted-genre shares" in [x.title for x in w.get_dashboard(p.id).panels]


def test_two_runs_at_once_are_both_recorded(project):
    """Run A is paused in the middle of writing its snapshot while run B adds its own: B must neither read
    A's half-written file nor fail; both runs end up in the history."""
    from mir.config import load_config
    from mir.monitoring.history import load_history

    cfg = load_config()
    first = _record(cfg, 0)  # the project and its dashboard exist
    real_dump = json.dump
    paused, b_done = threading.Event(), threading.Event()

    def slow_dump(obj, f, *args, **kwargs):
        if threading.current_thread().name == "A" and isinstance(obj, dict) and "metric_results" in obj:
            text = json.dumps(obj, *args, **kwargs)
            f.write(text[: len(text) // 2])
            f.flush()
            paused.set()
            b_done.wait(timeout=3)  # with a lock, B waits for A: A goes on after the timeout
            f.write(text[len(text) // 2:])
            return None
        return real_dump(obj, f, *args, **kwargs)

    results: dict = {}

    def run(name, i):
        try:
            results[name] = _record(cfg, i, origin=f"run {name}")
        except Exception as err:  # noqa: BLE001 - the assertion below says which
            results[name] = err
        finally:
            if name == "B":
                b_done.set()

    json.dump = slow_dump
    try:
        a = threading.Thread(target=run, args=("A", 1), name="A")
        a.start()
        assert paused.wait(timeout=60), "run A never wrote its snapshot"
        b = threading.Thread(target=run, args=("B", 2), name="B")
        b.start()
        b.join(timeout=120)
        a.join(timeout=120)
    finally:
        json.dump = real_dump
    assert isinstance(results["A"], dict) and isinstance(results["B"], dict), results
    ids = [h["snapshot_id"] for h in load_history(cfg)]
    assert sorted(ids) == sorted([first["snapshot_id"], results["A"]["snapshot_id"], results["B"]["snapshot_id"]])
