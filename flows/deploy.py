"""Deployments of the mir flows, as declared in ``prefect.yaml``.

``mir flow serve`` (:func:`serve`) runs every flow on its cron schedule from
one long-running process (``prefect.serve``); a Prefect server must be
reachable (``PREFECT_API_URL``), see the README. ``prefect deploy --all`` reads
the same ``prefect.yaml`` for a work-pool setup.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

PREFECT_YAML = Path(__file__).resolve().parents[1] / "prefect.yaml"


def specs(path: str | Path = PREFECT_YAML) -> list[dict]:
    """The ``deployments:`` entries of ``prefect.yaml``."""
    return yaml.safe_load(Path(path).read_text())["deployments"]


def _flow(entrypoint: str):
    file, name = entrypoint.split(":")
    return getattr(importlib.import_module(file.removesuffix(".py").replace("/", ".")), name)


def deployments(path: str | Path = PREFECT_YAML) -> list:
    """One ``RunnerDeployment`` per entry (name, cron schedules, parameters, tags)."""
    from prefect.schedules import Cron

    out = []
    for spec in specs(path):
        schedules = [Cron(s["cron"], timezone=s.get("timezone", "UTC")) for s in spec.get("schedules") or []]
        out.append(_flow(spec["entrypoint"]).to_deployment(
            name=spec["name"], description=spec.get("description"), tags=spec.get("tags") or [],
            parameters=spec.get("parameters") or {}, schedules=schedules))
    return out


def serve(path: str | Path = PREFECT_YAML) -> None:
    """Serve every deployment with its schedule until interrupted."""
    from prefect import serve as _serve

    _serve(*deployments(path))
