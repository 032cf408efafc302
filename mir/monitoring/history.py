"""Monitoring over time: every monitor run as a snapshot in a local Evidently workspace.

``monitor.workspace`` (default ``evidently/``, git-ignored and outside DVC's outputs, like the
registry) is an Evidently 0.7 local workspace with one project, ``monitor.project``. Each run of
the monitor (the ``monitor`` stage, ``mir monitor --new DIR``, the ``mir-monitor`` flow) adds one
snapshot (:func:`record`): Evidently's ``DataDriftPreset`` over the same columns as
``reports/drift.html`` plus the run's numbers as ``MeanValue`` metrics of constant columns
(``mir_*``: the run's share of drifted columns, share of songs flagged unknown and its expected
share, accuracy / macro-F1 on labelled new music, the share of each predicted genre, the registry
version of the model), so Evidently's own dashboard can plot them per run. The same numbers are
kept in the snapshot's metadata, which :func:`load_history` reads back for ``reports/index.html``.

``mir monitor ui`` (:func:`ui_command`) serves the workspace with ``evidently ui`` on 127.0.0.1.

The history survives kills, full disks and concurrent runs (Evidently 0.7's local workspace writes its JSON
files in place and refuses to open when one of them does not parse): mir writes the workspace's files
atomically (:func:`_workspace`: temporary file + rename), holds a file lock (``<workspace>/.mir-lock``) while it
reads or adds runs, and moves a damaged file (a torn snapshot, dashboard or project file) aside to
``<workspace>/quarantine/`` before opening the workspace (:func:`repair`), naming it in the output.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mir.config import Config
    from mir.records.drift import DriftRecord

__all__ = ["SUMMARY", "dashboard_panels", "load_history", "model_version", "record", "repair", "summary_of",
           "ui_command"]

#: (column in the snapshot, field of the verdict (:class:`mir.records.drift.DriftRecord`), what it is):
#: one MeanValue metric each.
SUMMARY = (
    ("mir_share_drifted", "share_drifted", "share of drifted columns (Evidently)"),
    ("mir_unknown_share", "unknown_flagged_share", "share of songs flagged unknown"),
    ("mir_unknown_expected_share", "unknown_expected_share", "expected share flagged unknown (in-distribution)"),
    ("mir_accuracy", "new_music_accuracy", "accuracy on labelled new music"),
    ("mir_macro_f1", "new_music_macro_f1", "macro-F1 on labelled new music"),
    ("mir_drift", "drift", "drift verdict (1 = drift)"),
    ("mir_n_songs", "n_clips", "songs analysed"),
)
MEAN_VALUE = "evidently:metric_v2:MeanValue"
PRED_PREFIX = "mir_pred_share_"
VERSION_COLUMN = "mir_model_version"


def model_version(cfg: "Config") -> str:
    """The registry version of the model in ``paths.models`` (matched by MD5), else ``unregistered``.

    Outside a git repository, or before the first registration, nothing is registered; a registry that can't be
    read raises :class:`mir.registry.RegistryError` (one line) instead of calling the model unregistered."""
    from mir.io import file_digest
    from mir.registry import NotARepo, versions

    path = Path(cfg.paths.models) / "model.keras"
    if not path.exists():
        return "unregistered"
    try:
        found = versions(cfg)
    except NotARepo:
        return "unregistered"
    md5 = file_digest(path, algorithm="md5")
    match = [v for v in found if v.get("model_md5") == md5]
    return match[-1]["version"] if match else "unregistered"


def _version_number(version: str) -> float:
    """``v3.0.0`` (or ``v3``) → 3 (the dashboard plots a number); ``unregistered`` → 0."""
    from mir.registry import version_number

    return version_number(version)


def _as_record(verdict: "DriftRecord | Mapping[str, Any]") -> "DriftRecord":
    from mir.records.drift import DriftRecord

    return verdict if isinstance(verdict, DriftRecord) else DriftRecord.model_validate(verdict)


def summary_of(verdict: "DriftRecord | Mapping[str, Any]", *, genres: list[str], version: str) -> dict[str, float]:
    """The run's numbers as ``{column: value}`` (``None`` values, e.g. accuracy without labels, left out).

    ``verdict`` is the run's record, or its ``metrics/drift.json`` dict (validated as one).
    """
    rec = _as_record(verdict)
    out: dict[str, float] = {}
    for col, key, _ in SUMMARY:
        v = getattr(rec, key)
        if v is not None:
            out[col] = float(v)
    for g in genres:
        out[PRED_PREFIX + g] = float(rec.predicted_share.get(g, 0.0))
    out[VERSION_COLUMN] = _version_number(version)
    return out


LOCK = ".mir-lock"
QUARANTINE = "quarantine"
#: how long a run waits for another one to finish with the workspace
LOCK_TIMEOUT_S = 600.0


@contextlib.contextmanager
def _locked(root: Path):
    """Hold the workspace's file lock (concurrent monitor runs add their runs in turn)."""
    from filelock import FileLock

    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / LOCK), timeout=LOCK_TIMEOUT_S):
        yield


def _atomic_state(path: str):
    """Evidently's local workspace state with every file written atomically (temporary file + rename)."""
    from evidently.legacy.utils import NumpyEncoder
    from evidently.ui.storage.local.base import LocalState

    from mir.io import atomic_path

    class AtomicState(LocalState):
        def _dump(self, rel: str, obj) -> None:
            with atomic_path(Path(self.path) / rel) as tmp, open(tmp, "w", encoding="utf-8") as f:
                json.dump(obj, f, cls=NumpyEncoder)

        def write_project(self, project):
            self._dump(self._project_path(project.id), project.dict())
            return project

        def write_snapshot(self, project_id, snapshot_id, snapshot) -> None:
            self._dump(self._snapshot_path(project_id, snapshot_id), snapshot.dict())

        def write_dashboard(self, project_id, dashboard) -> None:
            self._dump(self._dashboard_path(project_id), dashboard.dict())

    return AtomicState(path)


def _damage(path: Path, model) -> str | None:
    """Why ``path`` is not a readable ``model`` (``None``: it is)."""
    from evidently._pydantic_compat import parse_obj_as

    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as err:
        return f"unreadable JSON ({type(err).__name__})"
    try:
        parse_obj_as(model, data)
    except Exception as err:  # noqa: BLE001 - whatever Evidently's models reject
        return f"not an Evidently {model.__name__} ({type(err).__name__})"
    return None


def repair(root: str | os.PathLike[str]) -> list[Path]:
    """Move every damaged file of the workspace aside (``<root>/quarantine/<project>/…``); return where to.

    Evidently refuses to open a workspace with one torn snapshot (every later run would not be recorded, the
    UI answers 500), so each project's ``metadata.json``, ``dashboard.json`` and ``snapshots/*.json`` is
    parsed as Evidently will parse it; temporary files of killed writers are removed. Call it holding the lock.
    """
    from evidently.core.serialization import SnapshotModel
    from evidently.sdk.models import DashboardModel, ProjectModel
    from evidently.ui.storage.local.base import UUID_REGEX

    from mir.io import sweep_stale_files

    root = Path(root)
    moved = []
    for project in sorted(p for p in root.iterdir() if p.is_dir() and UUID_REGEX.match(p.name)) \
            if root.is_dir() else []:
        for folder in (project, project / "snapshots"):
            sweep_stale_files(folder)
        files = [(project / "metadata.json", ProjectModel), (project / "dashboard.json", DashboardModel)]
        files += [(p, SnapshotModel) for p in sorted((project / "snapshots").glob("*.json"))
                  if UUID_REGEX.match(p.stem)]
        for path, model in files:
            why = path.is_file() and _damage(path, model)
            if why:
                moved.append(_quarantine(root, path, why))
    return moved


def _quarantine(root: Path, path: Path, why: str) -> Path:
    dest = root / QUARANTINE / path.relative_to(root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    while dest.exists():
        n += 1
        dest = dest.with_name(f"{path.stem}.{n}{path.suffix}")
    os.replace(path, dest)
    print(f"history: the Evidently workspace file {path} is damaged ({why}); moved it to {dest}")
    return dest


def _workspace(path: str | os.PathLike[str]):
    """The workspace at ``path`` (created when absent), writing its files atomically; call :func:`repair` first."""
    from mir.env import quiet

    quiet()
    from evidently.ui.workspace import Workspace

    Path(path).mkdir(parents=True, exist_ok=True)
    ws = Workspace(str(path))
    ws.state = _atomic_state(ws.path)
    return ws


def _project(ws, name: str, *, create: bool = True):
    found = [p for p in ws.list_projects() if p is not None and p.name == name]
    if found:
        return found[0]
    if not create:
        return None
    project = ws.create_project(name)
    project.description = "mir: drift, unknown songs, accuracy and the model version of every monitor run"
    project.save()
    return project


def dashboard_panels(genres: list[str]) -> list:
    """The project's dashboard: one panel per question, a point per monitor run."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import counter_panel, line_plot_panel, text_panel

    def mv(col: str, legend: str) -> "PanelMetric":
        return PanelMetric(legend=legend, metric=MEAN_VALUE, metric_labels={"column": col})

    return [
        text_panel(title="mir — new music over time",
                   description="One point per monitor run (the monitor stage, mir monitor, the mir-monitor flow)."),
        counter_panel(title="Monitor runs", size="full", aggregation="sum",
                      values=[PanelMetric(legend="runs", metric=MEAN_VALUE,
                                          metric_labels={"column": "mir_drift_run"})]),
        line_plot_panel(title="Share of drifted columns", size="half",
                        description="Evidently's DataDriftPreset: features, embedding PCs, confidence, genre",
                        values=[PanelMetric(legend="share drifted", metric="evidently:metric_v2:DriftedColumnsCount",
                                            metric_labels={"value_type": "share"})]),
        line_plot_panel(title="Songs flagged unknown", size="half",
                        description="share flagged vs the share in-distribution music gives",
                        values=[mv("mir_unknown_share", "flagged"), mv("mir_unknown_expected_share", "expected")]),
        line_plot_panel(title="Accuracy and macro-F1 on labelled new music", size="half",
                        values=[mv("mir_accuracy", "accuracy"), mv("mir_macro_f1", "macro-F1")]),
        line_plot_panel(title="Predicted-genre shares", size="half",
                        values=[mv(PRED_PREFIX + g, g) for g in genres]),
        line_plot_panel(title="Model version (registry) per run", size="half",
                        description="v1.0.0 = 1, v2.0.0 = 2, …; 0 = a model not in the registry",
                        values=[mv(VERSION_COLUMN, "model version")]),
    ]


def _ensure_dashboard(ws, project, genres: list[str]) -> None:
    """(Re)write the dashboard when it lacks a panel (a genre seen for the first time, a new project)."""
    from evidently.sdk.models import DashboardModel, DashboardTabModel

    current = ws.get_dashboard(project.id)
    want = dashboard_panels(genres)
    have = {(p.title, tuple(v.legend for v in p.values)) for p in current.panels}
    if all((p.title, tuple(v.legend for v in p.values)) in have for p in want):
        return
    ws.save_dashboard(project.id, DashboardModel(
        tabs=[DashboardTabModel(title="Monitoring", panels=[p.id for p in want])], panels=want))


def record(cfg: "Config", *, reference: "pd.DataFrame", current: "pd.DataFrame", columns: list[str],
           categorical: list[str], verdict: "DriftRecord | Mapping[str, Any]", genres: list[str], origin: str,
           timestamp: _dt.datetime | None = None, version: str | None = None) -> dict[str, Any]:
    """Add this monitor run to the workspace as one Evidently snapshot; return where it went.

    Parameters
    ----------
    reference, current : pandas.DataFrame
        The drift report's tables (training clips, new songs).
    columns, categorical : list of str
        The numeric and categorical columns compared (those of ``reports/drift.html``).
    verdict : DriftRecord or dict
        The run's verdict, ``metrics/drift.json`` (its numbers become the ``mir_*`` metrics).
    genres : list of str
        The model's genres (the predicted-genre panel).
    origin : str
        What ran the monitor (``stage``, ``cli``, ``flow <run id>``), kept as a tag and in the metadata.

    Returns
    -------
    dict
        ``workspace``, ``project_id``, ``snapshot_id``, ``model_version``, ``timestamp``, and
        ``quarantined`` (the damaged files moved aside, :func:`repair`) when there were any.
    """
    import warnings

    from mir.env import quiet

    quiet()
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import MeanValue
    from evidently.presets import DataDriftPreset

    rec = _as_record(verdict)
    version = model_version(cfg) if version is None else version
    summary = summary_of(rec, genres=genres, version=version)
    summary["mir_drift_run"] = 1.0
    ts = timestamp or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)

    def frame(df):
        out = df[list(columns)].copy()
        out.columns = [str(c) for c in out.columns]
        for c in categorical:
            out[c] = df[c].astype(str).to_numpy()
        for k, v in summary.items():
            out[k] = v
        return out

    definition = DataDefinition(numerical_columns=[str(c) for c in columns] + list(summary),
                                categorical_columns=list(categorical))
    report = Report([DataDriftPreset(columns=[str(c) for c in columns] + list(categorical),
                                     drift_share=cfg.monitor.drift_share),
                     *[MeanValue(column=k) for k in summary]])
    meta = {"origin": origin, "model_version": version, "new_music": rec.new_music,
            **{k: f"{v:.6g}" for k, v in summary.items()}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = report.run(Dataset.from_pandas(frame(current), data_definition=definition),
                              Dataset.from_pandas(frame(reference), data_definition=definition),
                              timestamp=ts, tags=["mir", origin.split()[0], version], metadata=meta,
                              name=f"{ts:%Y-%m-%d %H:%M:%S} {origin}")
    root = Path(cfg.monitor.workspace)
    with _locked(root):
        moved = repair(root)
        ws = _workspace(root)
        project = _project(ws, cfg.monitor.project)
        ref = ws.add_run(project.id, snapshot)
        _ensure_dashboard(ws, project, sorted(set(genres) | set(_seen_genres(ws, project))))
    return {"workspace": str(cfg.monitor.workspace), "project_id": str(project.id), "snapshot_id": str(ref.id),
            "model_version": version, "timestamp": f"{ts:%Y-%m-%dT%H:%M:%S}",
            **({"quarantined": [str(p) for p in moved]} if moved else {})}


def _seen_genres(ws, project) -> list[str]:
    out = set()
    for p in ws.get_dashboard(project.id).panels:
        if p.title == "Predicted-genre shares":
            out |= {v.legend for v in p.values if v.legend}
    return sorted(out)


def load_history(cfg: "Config") -> list[dict[str, Any]]:
    """Every run in the workspace project, oldest first: ``snapshot_id``, ``timestamp``, ``origin``,
    ``model_version`` and the ``mir_*`` numbers (``[]`` without a workspace)."""
    root = Path(cfg.monitor.workspace)
    if not root.is_dir():
        return []
    with _locked(root):
        repair(root)
        ws = _workspace(root)
        project = _project(ws, cfg.monitor.project, create=False)
        if project is None:
            return []
        snaps = [(sid, ws.get_run(project.id, sid)) for sid in ws.list_runs(project.id)]
    rows = []
    for sid, snap in snaps:
        if snap is None:
            continue
        meta = dict(snap.metadata or {})
        row: dict[str, Any] = {"snapshot_id": str(sid), "timestamp": snap.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
                               "origin": meta.get("origin", ""), "model_version": meta.get("model_version", "")}
        for k, v in meta.items():
            if k.startswith("mir_"):
                try:
                    row[k] = float(v)
                except (TypeError, ValueError):
                    pass
        rows.append(row)
    return sorted(rows, key=lambda r: (r["timestamp"], r["snapshot_id"]))


def ui_command(cfg: "Config", *, port: int = 8000) -> list[str]:
    """``evidently ui`` on 127.0.0.1 for ``monitor.workspace`` (the argv ``mir monitor ui`` runs)."""
    import shutil
    import sys

    exe = Path(sys.executable).parent / "evidently"
    evidently = str(exe) if exe.exists() else (shutil.which("evidently") or "evidently")
    return [evidently, "ui", "--workspace", str(cfg.monitor.workspace), "--host", "127.0.0.1", "--port", str(port)]
