"""The Data Docs page of a suite run: one offline, escaped HTML page built from the result.

mir does not use GE's own Data Docs site: its pages load Bootstrap, jQuery,
bootstrap-table, Font Awesome and Vega from CDNs (blank or unstyled offline),
fill their index tables in JavaScript, and insert the cells of their
unexpected-values tables without escaping. This page is written from the
:class:`~mir.validation.results.ValidationResult` alone, with
:mod:`mir.reports.html` and ``mir/templates/validation.html`` (inline styles, every value escaped once,
no script):
what failed, why it matters, the offending values and clips, then every
expectation of the suite with its parameters.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from mir.validation.results import ValidationResult

__all__ = ["GE_SITE_ENTRIES", "render_page", "write_docs"]

#: What GE's Data Docs site (written by mir before this page) put beside ``index.html``.
GE_SITE_ENTRIES = ("static", "expectations", "validations")


def write_docs(result: ValidationResult, *, docs_dir: str | os.PathLike[str], n_rows: int | None = None) -> Path:
    """Write ``index.html`` (:func:`render_page`) into ``docs_dir``; return its absolute path.

    In a folder that carries mir's output marker, what an older mir's GE site
    left there (:data:`GE_SITE_ENTRIES`) is removed, so no stale page stays.
    """
    from mir.io import MARKER, remove_owned, write_text

    root = Path(docs_dir).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    if (root / MARKER).is_file():
        for name in GE_SITE_ENTRIES:
            if (root / name).is_dir() and not (root / name).is_symlink():
                remove_owned(root / name)
    return write_text(root / "index.html", render_page(result, n_rows=n_rows))


def render_page(result: ValidationResult, *, n_rows: int | None = None, now: datetime | None = None) -> str:
    """The whole HTML document for one suite run (no script, no external reference)."""
    from mir.reports.html import render

    when = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S UTC")
    rows = f"{n_rows} rows validated, " if n_rows is not None else ""
    status = "passed" if result.success else "FAILED"
    failed = [r for r in result.results if not r["success"]]  # in the order of result.failures
    return render(
        "validation.html", title=f"{result.suite} suite: {status}",
        subtitle=f"{rows}{when}; Great Expectations {_ge_version()} (mir's Data Docs page)",
        success=result.success, summary=result.summary_line(),
        cards=[("expectations", result.n_expectations), ("passed", result.n_expectations - result.n_failed),
               ("failed", result.n_failed)],
        failed=[(line, r.get("why") or "") for r, line in zip(failed, result.failures)],
        expectations=[{"ok": r["success"], "label": _label(r), "params": _params(r), "why": r.get("why") or ""}
                      for r in result.results])


def _label(r: dict) -> str:
    return f"{r['type']}({r['column']})" if r.get("column") is not None else str(r["type"])


def _params(r: dict) -> str:
    kwargs = {k: v for k, v in (r.get("kwargs") or {}).items() if k != "column"}
    return json.dumps(kwargs, ensure_ascii=False, default=str) if kwargs else ""


def _ge_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("great_expectations")
    except PackageNotFoundError:  # pragma: no cover
        return "?"
