"""The pipeline's stages, in order: one function each, called from everywhere.

``dvc.yaml`` runs each as ``mir <command>``; the Prefect flow in ``flows/``
runs each as a task; tests call them directly. Every function takes the
validated :class:`mir.config.Config` (plus keyword options) and is imported
lazily, so listing stages costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stage:
    name: str
    target: str  # "module:function"
    help: str
    io_bound: bool = False  # worth retrying on transient I/O errors
    #: the folders it writes into, as config keys (``^``: the folder holding that path)
    writes: tuple[str, ...] = ()

    def load(self) -> Callable[..., Any]:
        mod, fn = self.target.split(":")
        return getattr(importlib.import_module(mod), fn)


STAGES: tuple[Stage, ...] = (
    Stage("data", "mir.datasets.prepare:prepare", "make the dataset's raw audio available (renders the demo set)",
          True, ("paths.raw",)),
    Stage("new_music", "mir.datasets.prepare:prepare_new_music",
          "the new music to monitor: snapshot new_music.root (source folder) or the demo's shifted synth set", True,
          ("paths.new_music",)),
    Stage("ingest", "mir.datasets.ingest:ingest", "probe, hash and split every clip → manifest", True,
          ("paths.manifest^", "paths.rejected^")),
    Stage("validate", "mir.validation.gate:validate", "Great Expectations gate on the manifest",
          writes=("paths.reports", "paths.metrics")),
    Stage("featurize", "mir.features.extract:featurize", "log-mel spectrograms + per-clip statistics",
          writes=("paths.features^", "features.cache_dir")),
    Stage("validate_features", "mir.validation.gate:validate_features",
          "Great Expectations gate on the features (shape, finite, dB range, band bounds)",
          writes=("paths.reports", "paths.metrics")),
    Stage("train", "mir.model.train:train", "train the Keras CNN",
          writes=("paths.models^", "paths.models", "paths.metrics", "paths.plots", "paths.dvclive")),
    Stage("evaluate", "mir.evaluation.evaluate:evaluate", "test-set metrics, confusion matrix, review page",
          writes=("paths.reports", "paths.metrics", "paths.plots")),
    Stage("monitor", "mir.monitoring.monitor:monitor", "Evidently drift report: new music vs training",
          writes=("paths.reports", "paths.metrics")),
    Stage("report", "mir.reports.site:build_report", "reports/index.html linking everything",
          writes=("paths.reports",)),
)
BY_NAME = {s.name: s for s in STAGES}


def run(name: str, cfg, **kwargs: Any) -> Any:
    """Run stage ``name`` with config ``cfg``."""
    try:
        stage = BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(BY_NAME)}") from None
    prepare_outputs(cfg, stage.writes)
    return stage.load()(cfg, **kwargs)


def output_folders(cfg, keys: tuple[str, ...]) -> dict[str, "Path"]:
    """``{key: folder}`` for config keys such as ``paths.reports`` (``paths.manifest^``: the folder holding it,
    for an output that is replaced as a whole; a stage may name both ``paths.models^`` and ``paths.models``)."""
    from pathlib import Path

    out = {}
    for key in keys:
        value = cfg
        for part in key.rstrip("^").split("."):
            value = getattr(value, part)
        p = Path(value)
        out[key] = p.parent if key.endswith("^") else p
    return out


def prepare_outputs(cfg, keys: tuple[str, ...]) -> None:
    """Before a stage's work: each folder it writes into exists and is writable (else
    :class:`mir.io.NotWritable`, exit 2), and what killed writers left there is swept (a ``^`` folder
    only at its top: the temporary copies of the output replaced as a whole)."""
    from mir.io import check_writable, sweep_folder

    for key, folder in output_folders(cfg, keys).items():
        check_writable(folder, what=key.rstrip("^"))
        if key != "features.cache_dir":  # the feature cache sweeps its own entries (many folders)
            sweep_folder(folder, depth=0 if key.endswith("^") else 2)
