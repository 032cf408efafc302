"""Retrain when new genres arrive, and promote the model only if it is not worse.

Runs locally without a server (Prefect starts a temporary one)::

    mir flow retrain              # or: python -m flows.retrain [--force]

Scheduled with the pipeline flow by ``mir flow serve`` or ``prefect deploy``
(``prefect.yaml``). The steps are functions in :mod:`mir.retrain`; this file
only wires them as tasks. The pipeline itself runs through ``dvc repro`` (the
nightly flow's subprocess task, :func:`flows.pipeline.dvc_repro`, retried), so
``dvc.lock`` versions every output. The flow must run from the project root
(where ``dvc.yaml`` and ``params.yaml`` are).
"""

from __future__ import annotations

from mir.env import quiet

quiet()  # before Prefect is imported: no telemetry

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from flows.pipeline import dvc_repro  # noqa: E402
from mir import provenance  # noqa: E402
from mir import repro as _repro  # noqa: E402
from mir import retrain as _r  # noqa: E402
from mir.config import load_config  # noqa: E402


@task(cache_policy=NO_CACHE)
def find_new_genres() -> dict:
    """Genres in the configured source that the champion does not know."""
    return _r.find_new_genres(load_config())


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def validate_new_audio(genres: list[str]) -> dict:
    """Probe the new genres' clips under the audio policy (reads only; retried on I/O errors)."""
    return _r.validate_new_audio(load_config(), genres)


@task(cache_policy=NO_CACHE)
def compare() -> dict:
    """Challenger vs champion on the same test clips of the champion's genres."""
    return _r.compare(load_config())


@task(cache_policy=NO_CACHE)
def decide(comparison: dict, run_id: str, new_genres: list[str], new_music_run: dict | None = None) -> dict:
    """Register the challenger; promote it or reject it."""
    return _r.decide(load_config(), comparison, run_id=run_id, new_genres=new_genres, new_music_run=new_music_run)


@task(cache_policy=NO_CACHE)
def write_summary(result: dict, run_id: str) -> str:
    """``reports/runs/<run-id>.html``."""
    return str(_r.write_summary(load_config(), result, run_id=run_id))


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def refresh_report() -> str:
    """Rebuild ``reports/index.html`` through DVC so it shows the registry's new state (champion, run pages)."""
    return _repro.dvc_repro(targets=["report"], force=True, single_item=True)


@flow(name="mir-retrain-on-new-genres", log_prints=True)
def retrain_on_new_genres(force: bool = False, targets: list[str] | None = None,
                          new_music_run: dict | None = None) -> dict:
    """Find new genres; if any (or ``force``), validate their audio, ``dvc repro``,
    compare with the champion, promote or reject, and write a run summary page.

    ``targets`` limits ``dvc repro`` to those stages and what they depend on
    (default: the whole pipeline; ``["evaluate"]`` is enough to decide).
    ``new_music_run`` (set by the ``mir-monitor`` flow) names the monitoring run whose labelled
    new music brought the genre in; the version's registry metadata keeps it.

    Returns a dict: ``action`` (``nothing new`` | ``retrained``), ``found``,
    ``validation``, ``comparison``, ``decision`` and ``summary`` (the page's path).
    """
    load_config()  # fail fast, one line, before any work
    run_id = provenance.run_id()  # the flow run's id
    found = find_new_genres()
    result: dict = {"run_id": run_id, "found": found}
    if found["dropped"]:
        print(f"retrain: genre(s) no longer in the source: {', '.join(found['dropped'])}")
    if not found["new"] and not force:
        print(f"retrain: no new genres (champion {found['champion']} knows {', '.join(found['known'] or [])}); "
              "nothing to do")
        result["action"] = "nothing new"
        return result
    print(f"retrain: new genre(s): {', '.join(found['new']) or 'none (forced)'}")
    result["validation"] = validate_new_audio(found["new"])
    dvc_repro(targets)
    result["comparison"] = compare()
    result["decision"] = decide(result["comparison"], run_id, found["new"], new_music_run)
    result["action"] = "retrained"
    result["summary"] = write_summary(result, run_id)
    if not targets or "report" in targets:  # the report was built before the decision: rebuild it
        refresh_report()
    print(f"retrain: summary {result['summary']}")
    return result


if __name__ == "__main__":
    import sys

    retrain_on_new_genres(force="--force" in sys.argv[1:])
