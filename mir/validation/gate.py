"""Stage ``validate``: the Great Expectations gate on the manifest.

Runs the manifest suite, writes Data Docs under ``reports/validation/`` and a
summary to ``metrics/validation.json``, and raises :class:`DataValidationError`
(one-line summary, non-zero exit from the CLI, so ``dvc repro`` stops) when the
suite fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mir.config import Config


class DataValidationError(RuntimeError):
    """A blocking data-quality suite failed; ``str(err)`` is the one-line summary."""


def validate(cfg: "Config", *, progress: bool = True) -> dict:
    """Stage ``validate``; returns the summary written to ``metrics/validation.json``."""
    from mir.io import read_table, write_json
    from mir.validation.manifest import validate_manifest

    ap = cfg.audio
    manifest = read_table(cfg.paths.manifest)
    docs = Path(cfg.paths.reports) / "validation"
    res = validate_manifest(
        manifest, genres=cfg.genres, min_duration_s=ap.min_duration_s, max_duration_s=ap.max_duration_s,
        max_channels=ap.max_channels, docs_dir=docs,
    )
    summary = {"manifest": {"success": res.success, "n_expectations": res.n_expectations,
                            "n_failed": res.n_failed, "failures": res.failures}}
    write_json(Path(cfg.paths.metrics) / "validation.json", summary)
    print(f"validate: {res.summary_line()} (Data Docs: {docs / 'index.html'})")
    if not res.success:
        raise DataValidationError(res.summary_line())
    return summary
