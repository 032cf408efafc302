"""Scheduled monitoring of the new-music folder, and the loop back to retraining.

Runs locally without a server (Prefect starts a temporary one)::

    mir flow monitor              # or: python -m flows.monitor

Served on its cron schedule by ``mir flow serve`` (the ``mir-monitor`` deployment of
``prefect.yaml``). One run:

1. checks the folder (``new_music.root``, or ``new_dir``): a missing folder ends the run in a
   **Failed** state with the reason (not a crash);
2. monitors it through DVC (``dvc repro monitor``: the ``new_music`` stage snapshots the folder into
   ``data/new/``, so ``dvc.lock`` versions it; the monitor stage adds the run's snapshot to the
   Evidently workspace, tagged with this flow run) — or, for another folder than the configured one,
   calls the monitor directly;
3. publishes the verdict as Prefect artifacts: a markdown summary and a table of the songs flagged
   unknown (visible in the Prefect UI under the flow run's Artifacts);
4. when the folder holds at least ``retrain.min_clips_per_genre`` labelled songs of a genre the champion
   does not know, copies them into ``retrain.labelled_dir`` (:func:`mir.retrain.hand_over`; the user's
   files are only read) and runs the retrain flow as a subflow: ``dvc repro``, compare on the old genres,
   promote or reject; the version's registry metadata names this monitoring run (``new_music_run``).

The steps are functions in :mod:`mir.monitoring` and :mod:`mir.retrain`; this file wires them.
"""

from __future__ import annotations

from pathlib import Path

from mir.env import quiet

quiet()  # before Prefect is imported: no telemetry

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from mir import provenance  # noqa: E402
from mir import repro as _repro  # noqa: E402
from mir import retrain as _r  # noqa: E402
from mir.config import load_config  # noqa: E402


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def monitor_folder(new_dir: str, origin: str, through_dvc: bool) -> dict:
    """The monitor on the folder: through ``dvc repro monitor`` (the configured folder) or directly."""
    from mir import stages
    from mir.io import read_json

    cfg = load_config()
    if through_dvc:
        out = _repro.dvc_repro(targets=["monitor"], extra_env={"MIR_MONITOR_ORIGIN": origin})
        print(out[-2000:])
        return read_json(Path(cfg.paths.metrics) / "drift.json")
    # through the stage table: output folders checked writable and swept before the work
    return stages.run("monitor", cfg, new_dir=new_dir, progress=False, origin=origin)


def verdict_markdown(v: dict, *, new_dir: str, run_id: str) -> str:
    """The verdict as a short markdown summary (the ``mir-monitor-verdict`` artifact).

    Every data-derived string (folder, genre names, model version, ids) goes through
    :func:`mir.reports.html.md_esc`: a genre folder named ``[x](javascript:…)`` stays text, not a link.
    """
    from mir.reports.html import md_esc as e

    if v.get("configured") is False:
        return f"# mir monitor\n\n{e(v.get('message'))}\n"
    acc = v.get("new_music_accuracy")
    h = v.get("history") or {}
    lines = [
        "# mir monitor: " + ("**drift detected**" if v.get("drift") else "no drift"),
        "",
        f"- folder: {e(new_dir)} — {e(v.get('n_clips'))} songs analysed, {e(v.get('n_rejected', 0))} skipped",
        f"- drifted columns: {e(v.get('n_drifted'))} of {e(v.get('n_columns'))} (share {e(v.get('share_drifted'))}; "
        f"dataset drift: {e(v.get('dataset_drift'))})",
        f"- flagged unknown: {e(v.get('n_unknown_flagged'))} ({e(v.get('unknown_flagged_share'))}; expected "
        f"{e(v.get('unknown_expected_share'))}, p = {e(v.get('unknown_excess_p'))})",
        f"- accuracy on labelled new music: {'n/a' if acc is None else e(acc)} "
        f"(macro-F1 {e(v.get('new_music_macro_f1')) if acc is not None else 'n/a'}; "
        f"{e(v.get('n_labelled_known'))} songs)",
        f"- labelled with a genre the model does not know: "
        f"{', '.join(e(g) for g in v.get('unknown_genres') or []) or 'none'}",
        "- predicted genres: "
        + ", ".join(f"{e(g)} {e(s)}" for g, s in sorted((v.get("predicted_share") or {}).items())),
        f"- model: {e(h.get('model_version', '?'))}; Evidently snapshot {e(h.get('snapshot_id', '?'))} "
        f"(`mir monitor ui`)",
        f"- monitoring run: {e(run_id)}",
    ]
    return "\n".join(lines) + "\n"


@task(cache_policy=NO_CACHE)
def publish(verdict: dict, new_dir: str, run_id: str) -> None:
    """The verdict as Prefect artifacts: a markdown summary and a table of the songs flagged unknown."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_markdown_artifact(key="mir-monitor-verdict", markdown=verdict_markdown(verdict, new_dir=new_dir,
                                                                                  run_id=run_id),
                             description="mir monitor: the verdict on the new-music folder")
    rows = verdict.get("unknown_detail") or [{"song_id": s} for s in verdict.get("unknown_songs") or []]
    create_table_artifact(key="mir-unknown-songs",
                          table=rows or [{"song_id": "(none flagged)", "label": "", "predicted": "",
                                          "nearest_genre": "", "ood_score": ""}],
                          description="songs flagged unknown (OOD score above the threshold)")


@task(cache_policy=NO_CACHE)
def hand_over(new_dir: str, run: dict) -> dict:
    """Copy labelled songs of genres the champion does not know into retrain.labelled_dir."""
    cfg = load_config()
    return _r.hand_over(cfg, new_dir, known=_r.known_genres(cfg), run=run)


@flow(name="mir-monitor", log_prints=True)
def monitor_new_music(new_dir: str | None = None, retrain: bool = True, targets: list[str] | None = None):
    """Monitor the new-music folder, publish the verdict, and retrain on a newly labelled genre.

    ``new_dir`` (default ``new_music.root``); ``retrain: false`` only monitors and publishes;
    ``targets`` limit the retrain flow's ``dvc repro``. Returns a dict (``verdict``, ``handover``,
    ``retrain``), or a Failed state when there is no folder to monitor.
    """
    from prefect.states import Failed

    cfg = load_config()
    configured = cfg.new_music.root if cfg.new_music.source == "folder" else None
    folder = new_dir or configured
    if not folder:
        return Failed(message="no new-music folder to monitor: set new_music.source: folder and new_music.root "
                              "in params.yaml (or pass new_dir)")
    if not Path(folder).is_dir():
        return Failed(message=f"the new-music folder {folder} does not exist (new_music.root)")
    run_id = provenance.run_id()  # the flow run's id
    through_dvc = configured is not None and Path(folder).resolve() == Path(configured).resolve()
    verdict = monitor_folder(str(folder), f"flow {run_id}", through_dvc)
    publish(verdict, str(folder), run_id)
    result: dict = {"run_id": run_id, "verdict": {k: verdict.get(k) for k in (
        "drift", "n_clips", "n_unknown_flagged", "unknown_genres", "new_music_accuracy", "history")}}
    if not retrain or verdict.get("configured") is False:  # nothing analysed (e.g. the folder holds no audio yet)
        return result
    h = verdict.get("history") or {}
    run = {"monitor_flow_run": run_id, "snapshot_id": h.get("snapshot_id"), "folder": str(folder),
           "evidently_workspace": h.get("workspace")}
    result["handover"] = handover = hand_over(str(folder), run)
    for g, n in handover["too_few"].items():
        print(f"monitor: {n} usable labelled song(s) of the new genre {g!r}; retraining needs "
              f"{cfg.retrain.min_clips_per_genre} (retrain.min_clips_per_genre)")
    for g in handover["already"]:
        print(f"monitor: the songs of {g!r} were handed to retraining before; not retraining again")
    if not handover["handed_over"]:
        return result
    print("monitor: labelled new genre(s) handed to retraining: "
          + ", ".join(f"{g} ({n} songs)" for g, n in handover["handed_over"].items()))
    from flows.retrain import retrain_on_new_genres

    result["retrain"] = retrain_on_new_genres(targets=targets, new_music_run={
        **run, "genres": sorted(handover["handed_over"])})
    return result


if __name__ == "__main__":
    monitor_new_music()
