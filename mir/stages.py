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

    def load(self) -> Callable[..., Any]:
        mod, fn = self.target.split(":")
        return getattr(importlib.import_module(mod), fn)


STAGES: tuple[Stage, ...] = (
    Stage("data", "mir.datasets.prepare:prepare", "make the dataset's raw audio available (renders the demo set)",
          True),
    Stage("new_music", "mir.datasets.prepare:prepare_new_music",
          "the new music to monitor: snapshot new_music.root (source folder) or the demo's shifted synth set", True),
    Stage("ingest", "mir.datasets.ingest:ingest", "probe, hash and split every clip → manifest", True),
    Stage("validate", "mir.validation.gate:validate", "Great Expectations gate on the manifest"),
    Stage("featurize", "mir.features.extract:featurize", "log-mel spectrograms + per-clip statistics"),
    Stage("validate_features", "mir.validation.gate:validate_features",
          "Great Expectations gate on the features (shape, finite, dB range, band bounds)"),
    Stage("train", "mir.model.train:train", "train the Keras CNN"),
    Stage("evaluate", "mir.evaluation.evaluate:evaluate", "test-set metrics, confusion matrix, review page"),
    Stage("monitor", "mir.monitoring.monitor:monitor", "Evidently drift report: new music vs training"),
    Stage("report", "mir.reports.site:build_report", "reports/index.html linking everything"),
)
BY_NAME = {s.name: s for s in STAGES}


def run(name: str, cfg, **kwargs: Any) -> Any:
    """Run stage ``name`` with config ``cfg``."""
    try:
        stage = BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(BY_NAME)}") from None
    return stage.load()(cfg, **kwargs)
