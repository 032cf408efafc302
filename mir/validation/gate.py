"""Stage ``validate``: the Great Expectations gate on the manifest.

Runs the manifest suite, writes its Data Docs page under ``reports/validation/`` and a
summary to ``metrics/validation.json``, and raises :class:`DataValidationError`
(one-line summary, non-zero exit from the CLI, so ``dvc repro`` stops) when the
suite fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mir.validation.docs import GE_SITE_ENTRIES

if TYPE_CHECKING:
    from mir.config import Config
    from mir.validation.results import ValidationResult


#: What a Data Docs folder holds: mir's page, and what an older mir's GE site left there (the folder must be
#: mir's, mir.io.claim_dir: those entries are removed).
DOCS_FILES = frozenset({"index.html", *GE_SITE_ENTRIES})


class DataValidationError(RuntimeError):
    """A blocking data-quality suite failed; ``str(err)`` is the one-line summary."""


def validate(cfg: "Config", *, progress: bool = True) -> dict:
    """Stage ``validate``; returns the summary written to ``metrics/validation.json``."""
    from mir.io import claim_dir, read_table, write_json
    from mir.validation.manifest import validate_manifest

    ap = cfg.audio
    manifest = read_table(cfg.paths.manifest)
    docs = claim_dir(Path(cfg.paths.reports) / "validation" / "manifest", what="Data Docs folder", legacy=DOCS_FILES)
    res = validate_manifest(
        manifest, genres=cfg.genres, min_duration_s=ap.min_duration_s, max_duration_s=ap.max_duration_s,
        max_channels=ap.max_channels, docs_dir=docs,
    )
    summary = {"manifest": _record(res)}
    write_json(Path(cfg.paths.metrics) / "validation.json", summary)
    _verdict(res, stage="validate", docs=docs, blocking="manifest" in cfg.validate.blocking)
    return summary


def validate_features(cfg: "Config", *, progress: bool = True) -> dict:
    """Stage ``validate_features``: the Great Expectations gate on the feature store.

    Shape, finite values, the dB range, and per-band loudness within bounds learned
    from the training clips (median ± k·MAD). Writes Data Docs under
    ``reports/validation/features/`` and ``metrics/feature_validation.json`` (with the
    learned bounds, reused to check new music); raises :class:`DataValidationError`
    when the suite fails and ``features`` is in ``validate.blocking``.
    """
    from mir.features.extract import clip_frames
    from mir.io import claim_dir, write_json
    from mir.validation.features import feature_table, learn_bounds
    from mir.validation.features import validate_features as run_feature_suite

    vp = cfg.validate
    table = feature_table(cfg.paths.features)
    train = table[table["split"] == "train"]
    if len(train) >= vp.feature_bounds_min_clips:
        bounds = learn_bounds(train, k=vp.feature_bounds_k)
    else:  # a median and MAD of a handful of clips say nothing about the next one
        bounds = {}
        print(f"validate_features: {len(train)} training clips < validate.feature_bounds_min_clips "
              f"({vp.feature_bounds_min_clips}): no loudness bounds learned; shape, NaN/inf and dB range checked")
    docs = claim_dir(Path(cfg.paths.reports) / "validation" / "features", what="Data Docs folder", legacy=DOCS_FILES)
    res = run_feature_suite(table, n_mels=cfg.features.n_mels, n_frames=clip_frames(cfg.features), bounds=bounds,
                            db_range=(vp.db_min, vp.db_max), mostly=vp.feature_mostly, docs_dir=docs)
    summary = {"features": {**_record(res), "n_clips": len(table)},
               "bounds": {k: [round(float(v[0]), 4), round(float(v[1]), 4)] for k, v in bounds.items()}}
    write_json(Path(cfg.paths.metrics) / "feature_validation.json", summary)
    _verdict(res, stage="validate_features", docs=docs, blocking="features" in vp.blocking)
    return summary


def _record(res: "ValidationResult") -> dict:
    """What the metrics file keeps of a suite run."""
    return {"success": res.success, "n_expectations": res.n_expectations, "n_failed": res.n_failed,
            "failures": res.failures}


def _verdict(res: "ValidationResult", *, stage: str, docs: Path, blocking: bool) -> None:
    """Print the summary line; raise :class:`DataValidationError` when a blocking suite failed."""
    print(f"{stage}: {res.summary_line()} (Data Docs: {docs / 'index.html'})")
    if not res.success and blocking:
        raise DataValidationError(res.summary_line())
