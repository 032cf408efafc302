"""The mir pipeline as Prefect flows: through ``dvc repro`` on a schedule, or each stage as a task.

``mir-pipeline-nightly`` (:func:`nightly`, the scheduled deployment of ``prefect.yaml``) runs the
pipeline through ``dvc repro`` as one retried task, as retraining does: only what changed reruns, and
``dvc.lock`` records every run. It must run from the project root (where ``dvc.yaml`` and
``params.yaml`` are).

``mir-pipeline`` (:func:`pipeline`) runs each stage function as a task, in order, in this process;
locally without a server (Prefect starts a temporary one)::

    mir flow run              # or: python -m flows.pipeline
    mir flow run train evaluate

Its tasks call exactly the functions that ``dvc.yaml`` runs through the
``mir`` CLI (see :mod:`mir.stages`); stages that read or write many files are
retried on failure. With ``features.engine: dask`` the featurize stage runs as
a subflow on prefect-dask's ``DaskTaskRunner`` (``features.dask_address``, or a
local cluster): the same per-batch function mapped over the cache misses.
"""

from __future__ import annotations

import os

from mir.env import quiet

quiet()  # before Prefect is imported: no telemetry

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from mir import repro as _repro  # noqa: E402
from mir import stages as _stages  # noqa: E402
from mir.config import load_config  # noqa: E402


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def dvc_repro(targets: list[str] | None = None, force: bool = False) -> str:
    """``dvc repro [targets]``: rerun whatever changed and record it in dvc.lock."""
    out = _repro.dvc_repro(targets=targets, force=force)
    print(out[-3000:])
    return out


@flow(name="mir-pipeline-nightly", log_prints=True)
def nightly(targets: list[str] | None = None, force: bool = False) -> str:
    """The pipeline through ``dvc repro`` (default: every stage; only what changed reruns).

    ``targets`` limits it to those stages and what they depend on; ``force`` reruns them even if
    unchanged. The parameter file (``params.yaml``, the one DVC reads) is validated first.
    Returns ``dvc repro``'s output.
    """
    _repro.require_params_yaml(None, who="the mir-pipeline-nightly flow")
    load_config()  # fail fast, one line, before any work
    return dvc_repro(targets, force)


@task(cache_policy=NO_CACHE, retry_delay_seconds=5)
def run_stage(name: str, params: str | None = None) -> str:
    """One pipeline stage (the same function ``mir <stage>`` runs)."""
    cfg = load_config(params)
    result = _stages.run(name, cfg, progress=False)
    return str(result)


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def featurize_batch(jobs: list, fp, silence_db: float) -> list:
    """Featurise one batch of clips into the cache (runs on a Dask worker)."""
    from mir.features.extract import run_batch

    return run_batch(jobs, fp, silence_db)


@flow(name="mir-featurize-dask", log_prints=True)
def featurize_on_dask(params: str | None = None) -> str:
    """The featurize stage with its per-clip work spread over a Dask cluster."""
    from prefect.utilities.annotations import unmapped

    from mir.features import extract

    cfg = load_config(params)
    manifest, jobs = extract.plan(cfg)
    workers = cfg.features.workers or os.cpu_count() or 1
    work = extract.batches(jobs, max(1, min(8, len(jobs) // (4 * workers))))
    futures = featurize_batch.map(work,
                                  fp=unmapped(cfg.features), silence_db=unmapped(cfg.audio.silence_db))
    futures.wait()
    failures: dict[str, str] = {}
    for batch, f in zip(work, futures):
        for job, reason in zip(batch, f.result()):  # raises if a batch failed for good
            if reason is not None:
                failures[job.entry] = reason
    return str(extract.finish(cfg, manifest, n_computed=len(jobs), failures=failures, progress=False))


def _dask_runner(cfg):
    from prefect_dask import DaskTaskRunner

    if cfg.features.dask_address:
        return DaskTaskRunner(address=cfg.features.dask_address)
    workers = cfg.features.workers or os.cpu_count() or 1
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None})


@flow(name="mir-pipeline", log_prints=True)
def pipeline(params: str | None = None, stages: list[str] | None = None) -> dict[str, str]:
    """Run ``stages`` (default: all, in pipeline order) with the parameters in ``params``.

    The parameter file is validated before any stage starts.
    """
    cfg = load_config(params)  # fail fast, one line, before any work
    names = stages or [s.name for s in _stages.STAGES]
    unknown = [n for n in names if n not in _stages.BY_NAME]
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(_stages.BY_NAME)}")
    order = [s.name for s in _stages.STAGES if s.name in names]
    results = {}
    for name in order:
        if name == "featurize" and cfg.features.engine == "dask":
            results[name] = featurize_on_dask.with_options(task_runner=_dask_runner(cfg))(params)
            continue
        stage = _stages.BY_NAME[name]
        t = run_stage.with_options(name=name, task_run_name=name, retries=2 if stage.io_bound else 0)
        results[name] = t(name, params)
    return results


if __name__ == "__main__":
    import sys

    pipeline(stages=sys.argv[1:] or None)
