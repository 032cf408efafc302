"""What a suite run returns: :class:`ValidationResult`, and the one-line rendering of a failure.

Pure Python (no Great Expectations, numpy or pandas import): it turns GE's
result dicts (``ExpectationValidationResult.to_json_dict()``) into plain
records, so the gate, the metrics files and the Data Docs page read one shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ValidationResult", "failure_line", "jsonable", "summarise"]

_MAX_EXAMPLES = 3
_MAX_REPR = 40
_MAX_SUMMARY_FAILURES = 3


@dataclass
class ValidationResult:
    """Outcome of validating a table against an expectation suite.

    Attributes
    ----------
    suite : str
        Name of the expectation suite.
    success : bool
        True when every expectation passed.
    n_expectations : int
        Number of expectations evaluated.
    n_failed : int
        Number of expectations that failed (or could not be evaluated).
    failures : list of str
        One human-readable line per failed expectation, e.g.
        ``"expect_column_values_to_be_in_set(genre): 3 of 120 rows unexpected, e.g. ['polka']"``.
    results : list of dict
        One entry per expectation, in suite order, with keys ``type``,
        ``column``, ``success``, ``unexpected_count``, ``element_count``,
        ``unexpected_percent``, ``partial_unexpected_list``,
        ``unexpected_clip_ids``, ``observed_value``, ``details``, ``kwargs``,
        ``error`` (None unless the expectation raised) and ``why`` (what a
        failure means, from the suite's spec).
    docs_index : str or None
        Absolute path of the Data Docs ``index.html`` when docs were built.
    """

    suite: str
    success: bool
    n_expectations: int
    n_failed: int
    failures: list[str] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)
    docs_index: str | None = None

    def summary_line(self) -> str:
        """One line for logs and the CLI.

        Returns
        -------
        str
            ``"manifest suite: passed all 20 expectations"`` or
            ``"manifest suite: FAILED 2 of 20 expectations: <failure>; <failure>"``
            (at most three failures are spelled out).
        """
        if self.success:
            return f"{self.suite} suite: passed all {self.n_expectations} expectations"
        shown = self.failures[:_MAX_SUMMARY_FAILURES]
        more = len(self.failures) - len(shown)
        tail = "; ".join(shown) + (f"; ... (+{more} more)" if more > 0 else "")
        return f"{self.suite} suite: FAILED {self.n_failed} of {self.n_expectations} expectations: {tail}"

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict of all fields (numpy scalars → numbers, NaN → None)."""
        return jsonable(asdict(self))


def summarise(raw: dict, *, why: str = "") -> dict:
    """Flatten one GE expectation result (its ``to_json_dict``) into mir's record."""
    cfg = raw.get("expectation_config") or {}
    kwargs = {k: v for k, v in (cfg.get("kwargs") or {}).items() if k != "batch_id"}
    res = raw.get("result") or {}
    clip_ids = [row["clip_id"] for row in res.get("partial_unexpected_index_list") or []
                if isinstance(row, dict) and "clip_id" in row]
    return jsonable({
        "type": cfg.get("type"),
        "column": kwargs.get("column"),
        "success": bool(raw.get("success")),
        "unexpected_count": res.get("unexpected_count"),
        "element_count": res.get("element_count"),
        "unexpected_percent": res.get("unexpected_percent"),
        "partial_unexpected_list": list(res.get("partial_unexpected_list") or []),
        "unexpected_clip_ids": clip_ids,
        "observed_value": res.get("observed_value"),
        "details": res.get("details"),
        "kwargs": kwargs,
        "error": _error(raw.get("exception_info") or {}),
        "why": why,
    })


def _error(exc: dict) -> str | None:
    """The exception message of a result that could not be evaluated (None when it was)."""
    if exc.get("raised_exception"):
        return exc.get("exception_message") or "raised an exception"
    for info in exc.values():  # several metric errors come back keyed by metric id
        if isinstance(info, dict) and info.get("raised_exception"):
            return info.get("exception_message") or "raised an exception"
    return None


def failure_line(r: dict) -> str:
    """Render one failed expectation record as a single readable line."""
    label = f"{r['type']}({r['column']})" if r.get("column") is not None else str(r["type"])
    if r.get("error"):
        return f"{label}: could not be evaluated: {' '.join(str(r['error']).split())}"
    if r.get("unexpected_count") is not None:
        line = f"{label}: {r['unexpected_count']} of {r.get('element_count')} rows unexpected"
        values = [v for v in _distinct(r.get("partial_unexpected_list") or []) if v is not None]
        if values:
            line += f", e.g. {_examples(values)}"
        ids = _distinct(r.get("unexpected_clip_ids") or [])
        if ids and r.get("column") != "clip_id":
            line += f" (clip_id {_examples(ids)})"
        return line
    missing = ((r.get("details") or {}).get("mismatched") or {}).get("missing")
    if missing:
        return f"{label}: missing columns {sorted(missing)}"
    if r.get("observed_value") is not None:
        return f"{label}: observed {_short(r['observed_value'])}"
    return f"{label}: failed"


def _distinct(values: Sequence[Any]) -> list:
    seen: list = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def _examples(values: Sequence[Any]) -> str:
    shown = ", ".join(_short(v) for v in values[:_MAX_EXAMPLES])
    return f"[{shown}{', ...' if len(values) > _MAX_EXAMPLES else ''}]"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def jsonable(obj: Any) -> Any:
    """Recursively convert numpy/pandas scalars to plain JSON types (NaN and ±inf → None)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    item = getattr(obj, "item", None)
    if callable(item):
        try:
            return jsonable(item())
        except (TypeError, ValueError):
            pass
    return str(obj)
