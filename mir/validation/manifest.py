"""Great Expectations gate on the ingest manifest.

The ``ingest`` stage writes one row per audio clip::

    clip_id  path  genre  split  duration_s  sample_rate  channels  checksum  n_bytes

:func:`validate_manifest` checks that table against an expectation suite built
by :func:`manifest_expectations` (schema, identifiers, label vocabulary, split
names, audio properties, duplicate audio) and returns a small, JSON-friendly
:class:`ValidationResult`. Optionally it also renders GE Data Docs (static
HTML) into a directory of your choice.

Great Expectations is imported inside the functions (it takes seconds to
import), and an *ephemeral* data context is used, so nothing is written
anywhere except the optional ``docs_dir``. Analytics are switched off through
``GX_ANALYTICS_ENABLED=False`` (and ``analytics_enabled=False`` in the context
config); GE 1.24 ships no analytics client at all, the switch is belt and
braces.
"""

from __future__ import annotations

import contextlib

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "DEFAULT_SPLITS",
    "MANIFEST_COLUMNS",
    "SHA256_REGEX",
    "ValidationResult",
    "manifest_expectations",
    "run_suite",
    "validate_manifest",
]

#: Columns the ingest stage must write, in order.
MANIFEST_COLUMNS: tuple[str, ...] = (
    "clip_id",
    "path",
    "genre",
    "split",
    "duration_s",
    "sample_rate",
    "channels",
    "checksum",
    "n_bytes",
)
#: Allowed values of the ``split`` column.
DEFAULT_SPLITS: tuple[str, ...] = ("train", "valid", "test")
#: A lower-case SHA-256 hex digest (what :func:`hashlib.sha256().hexdigest` gives).
SHA256_REGEX = r"^[0-9a-f]{64}$"

_SITE_NAME = "mir_local_site"
_MAX_EXAMPLES = 3
_MAX_REPR = 40
_MAX_SUMMARY_FAILURES = 3


def _quiet_telemetry() -> None:
    """Switch off usage tracking before Great Expectations is imported."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


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
        ``unexpected_clip_ids``, ``observed_value``, ``details``, ``kwargs``
        and ``error`` (None unless the expectation raised).
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
        """Return a JSON-serialisable dict of all fields.

        Returns
        -------
        dict
            ``dataclasses.asdict`` of the result with numpy scalars turned into
            Python numbers and NaN into None.
        """
        return _jsonable(asdict(self))


def _check_args(
    *,
    genres: Iterable[str],
    splits: Iterable[str],
    min_duration_s: float,
    max_duration_s: float,
    sample_rates: Iterable[int] | None,
    max_channels: int,
) -> tuple[list[str], list[str], list[int] | None]:
    genre_list = [str(g) for g in genres] if not isinstance(genres, str) else [genres]
    split_list = [str(s) for s in splits] if not isinstance(splits, str) else [splits]
    if not genre_list:
        raise ValueError("genres must list at least one genre")
    if not split_list:
        raise ValueError("splits must list at least one split name")
    if not (min_duration_s >= 0):
        raise ValueError(f"min_duration_s must be >= 0, got {min_duration_s!r}")
    if not (max_duration_s >= min_duration_s):
        raise ValueError(f"max_duration_s ({max_duration_s!r}) must be >= min_duration_s ({min_duration_s!r})")
    if int(max_channels) < 1:
        raise ValueError(f"max_channels must be >= 1, got {max_channels!r}")
    rates = None
    if sample_rates is not None:
        rates = [int(r) for r in sample_rates]
        if not rates:
            raise ValueError("sample_rates, when given, must list at least one rate")
    return genre_list, split_list, rates


def manifest_expectations(
    *,
    genres: Iterable[str],
    splits: Iterable[str] = DEFAULT_SPLITS,
    min_duration_s: float,
    max_duration_s: float,
    sample_rates: Iterable[int] | None = None,
    max_channels: int = 2,
    checksum_regex: str | None = SHA256_REGEX,
) -> list:
    """Build the expectations a valid manifest must meet.

    Parameters
    ----------
    genres : iterable of str
        The configured genre labels; any other ``genre`` value fails.
    splits : iterable of str, default ("train", "valid", "test")
        Allowed ``split`` values.
    min_duration_s, max_duration_s : float
        Inclusive bounds on ``duration_s`` (seconds).
    sample_rates : iterable of int, optional
        Allowed ``sample_rate`` values; not checked when None.
    max_channels : int, default 2
        ``channels`` must lie in ``[1, max_channels]``.
    checksum_regex : str or None, default :data:`SHA256_REGEX`
        Pattern every ``checksum`` must match; None skips the format check.

    Returns
    -------
    list of great_expectations.expectations.Expectation
        In a stable order: table-level checks, non-null checks for every
        column of :data:`MANIFEST_COLUMNS`, then per-column value checks.

    Raises
    ------
    ValueError
        If the arguments are inconsistent (no genres, ``min > max``, ...).
    """
    genre_list, split_list, rates = _check_args(
        genres=genres,
        splits=splits,
        min_duration_s=min_duration_s,
        max_duration_s=max_duration_s,
        sample_rates=sample_rates,
        max_channels=max_channels,
    )
    _quiet_telemetry()
    import great_expectations.expectations as gxe

    exps: list = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=list(MANIFEST_COLUMNS),
            exact_match=False,
            notes="The ingest stage must write every manifest column (extra columns are allowed).",
        ),
        gxe.ExpectTableRowCountToBeBetween(min_value=1, notes="An empty manifest means ingest found no audio."),
    ]
    exps += [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in MANIFEST_COLUMNS]
    exps += [
        gxe.ExpectColumnValuesToBeUnique(column="clip_id", notes="clip_id is the primary key."),
        gxe.ExpectColumnValuesToBeInSet(
            column="genre", value_set=genre_list, notes="Labels outside the configured genres."
        ),
        gxe.ExpectColumnValuesToBeInSet(column="split", value_set=split_list),
        gxe.ExpectColumnValuesToBeBetween(
            column="duration_s",
            min_value=float(min_duration_s),
            max_value=float(max_duration_s),
            notes="Truncated or runaway audio files.",
        ),
    ]
    if rates is not None:
        exps.append(gxe.ExpectColumnValuesToBeInSet(column="sample_rate", value_set=rates))
    exps += [
        gxe.ExpectColumnValuesToBeBetween(column="channels", min_value=1, max_value=int(max_channels)),
        gxe.ExpectColumnValuesToBeUnique(
            column="checksum",
            notes="The same audio twice: duplicates, and train/test leakage when the copies sit in different splits.",
        ),
    ]
    if checksum_regex:
        exps.append(gxe.ExpectColumnValuesToMatchRegex(column="checksum", regex=checksum_regex))
    exps.append(
        gxe.ExpectColumnValuesToBeBetween(
            column="n_bytes", min_value=0, strict_min=True, notes="Empty files cannot be decoded."
        )
    )
    return exps


def validate_manifest(
    manifest: pd.DataFrame,
    *,
    genres: Iterable[str],
    min_duration_s: float,
    max_duration_s: float,
    sample_rates: Iterable[int] | None = None,
    max_channels: int = 2,
    splits: Iterable[str] = DEFAULT_SPLITS,
    checksum_regex: str | None = SHA256_REGEX,
    docs_dir: str | os.PathLike[str] | None = None,
    suite_name: str = "manifest",
) -> ValidationResult:
    """Validate the ingest manifest with Great Expectations.

    Parameters
    ----------
    manifest : pandas.DataFrame
        One row per clip, columns :data:`MANIFEST_COLUMNS` (extra columns are
        ignored).
    genres : iterable of str
        The configured genre labels.
    min_duration_s, max_duration_s : float
        Inclusive bounds on ``duration_s``.
    sample_rates : iterable of int, optional
        Allowed sample rates; not checked when None.
    max_channels : int, default 2
        Upper bound on ``channels``.
    splits : iterable of str, default ("train", "valid", "test")
        Allowed ``split`` values.
    checksum_regex : str or None, default :data:`SHA256_REGEX`
        Pattern every checksum must match; None skips the check.
    docs_dir : path-like, optional
        If given, GE Data Docs (a static HTML site with ``index.html``) are
        built into this directory (pages of other suites and earlier runs
        there are removed) and made to render offline.
    suite_name : str, default "manifest"
        Name of the expectation suite (shown in Data Docs and the summary).

    Returns
    -------
    ValidationResult
        ``success`` is False when any expectation fails; ``failures`` names
        each failing expectation and a few offending values.

    Raises
    ------
    TypeError
        If ``manifest`` is not a DataFrame.
    ValueError
        If the bounds or vocabularies are inconsistent.
    RuntimeError
        If Data Docs were requested but no ``index.html`` was produced.

    Notes
    -----
    An ephemeral (in-memory) data context is used: nothing is written to the
    working directory or the user's home, only into ``docs_dir``.
    """
    import pandas as pd

    if not isinstance(manifest, pd.DataFrame):
        raise TypeError(f"manifest must be a pandas DataFrame, got {type(manifest).__name__}")
    expectations = manifest_expectations(
        genres=genres,
        splits=splits,
        min_duration_s=min_duration_s,
        max_duration_s=max_duration_s,
        sample_rates=sample_rates,
        max_channels=max_channels,
        checksum_regex=checksum_regex,
    )
    return run_suite(manifest, expectations, docs_dir=docs_dir, suite_name=suite_name)


def run_suite(
    table: pd.DataFrame,
    expectations: list,
    *,
    docs_dir: str | os.PathLike[str] | None = None,
    suite_name: str,
) -> ValidationResult:
    """Run a list of expectations on a table in an ephemeral GE context.

    Parameters
    ----------
    table : pandas.DataFrame
        The batch to validate (the whole frame is one batch). When it has a
        ``clip_id`` column, failures name the offending clips.
    expectations : list of great_expectations.expectations.Expectation
        The suite's expectations, in the order they are reported.
    docs_dir : path-like, optional
        If given, GE Data Docs are built into this directory and then made to
        render offline (:func:`mir.validation.offline.make_offline`).
    suite_name : str
        Name of the expectation suite (shown in Data Docs and the summary).

    Returns
    -------
    ValidationResult
        One record per expectation, failures rendered as one line each.

    Raises
    ------
    RuntimeError
        If Data Docs were requested but no ``index.html`` was produced.

    Notes
    -----
    GE rebuilds the whole site from what the ephemeral context knows, so pages
    of other suites or earlier runs in ``docs_dir`` are removed: give each
    suite its own directory.
    """
    _quiet_telemetry()
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    docs_path: Path | None = None
    sites: dict[str, Any] = {}
    if docs_dir is not None:
        docs_path = Path(docs_dir).expanduser().resolve()
        docs_path.mkdir(parents=True, exist_ok=True)
        sites[_SITE_NAME] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_path),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)

    batch_definition = (
        context.data_sources.add_pandas(name="mir")
        .add_dataframe_asset(name=suite_name)
        .add_batch_definition_whole_dataframe(name=f"whole_{suite_name}")
    )
    # GE escapes what it renders through string templates (expectation parameters such as a value set) but
    # inserts the cells of its unexpected-values tables raw: a genre named "<script>…" would run when the docs
    # are opened. Only those cells are escaped (_escaped_unexpected_tables), at render time; the data and the
    # expectations stay as they are, so nothing is escaped twice ("R&B" shows as R&B everywhere).
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=expectations))
    order = {exp.id: i for i, exp in enumerate(suite.expectations)}
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}_validation", data=batch_definition, suite=suite)
    )
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
    if "clip_id" in table.columns:
        result_format["unexpected_index_column_names"] = ["clip_id"]
    actions = [UpdateDataDocsAction(name="update_data_docs", site_names=[_SITE_NAME])] if docs_path else []
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"{suite_name}_checkpoint",
            validation_definitions=[validation],
            actions=actions,
            result_format=result_format,
        )
    )
    with _escaped_unexpected_tables():
        run = checkpoint.run(batch_parameters={"dataframe": table})

    raw: list[dict] = []
    for suite_result in run.run_results.values():
        raw.extend(suite_result.to_json_dict()["results"])
    raw.sort(key=lambda r: order.get(r.get("expectation_config", {}).get("id"), len(order)))
    results = [_summarise(r) for r in raw]
    failures = [_failure_line(r) for r in results if not r["success"]]

    docs_index = None
    if docs_path is not None:
        index = docs_path / "index.html"
        if not index.is_file():
            raise RuntimeError(f"Great Expectations did not build Data Docs: {index} is missing")
        from mir.validation.offline import make_offline

        make_offline(docs_path)
        docs_index = str(index)

    return ValidationResult(
        suite=suite_name,
        success=bool(run.success) and not failures,
        n_expectations=len(results),
        n_failed=len(failures),
        failures=failures,
        results=results,
        docs_index=docs_index,
    )


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _escaped_unexpected_tables():
    """While building Data Docs, HTML-escape the text cells of every expectation's unexpected-values table.

    Those cells hold data values (unexpected genres, clip ids) and are the one place GE
    renders them unescaped; everything GE renders through string templates it escapes
    itself. The registry entries are restored afterwards.
    """
    import html

    from great_expectations.expectations.registry import _registered_renderers
    from great_expectations.render import LegacyDiagnosticRendererType, RenderedTableContent

    key = LegacyDiagnosticRendererType.UNEXPECTED_TABLE

    def esc_block(block):
        if isinstance(block, RenderedTableContent):
            block.table = [[html.escape(c, quote=True) if isinstance(c, str) else c for c in row]
                           for row in (block.table or [])]
        return block

    def escaping(fn):
        def wrapped(*args, **kwargs):
            out = fn(*args, **kwargs)
            if isinstance(out, list):
                return [esc_block(b) for b in out]
            return esc_block(out)

        return wrapped

    saved = {}
    for name, impls in list(_registered_renderers.items()):
        if key in impls:
            saved[name] = impls[key]
            impls[key] = (impls[key][0], escaping(impls[key][1]))
    try:
        yield
    finally:
        for name, impl in saved.items():
            _registered_renderers[name][key] = impl


def _summarise(raw: dict) -> dict:
    """Flatten one GE expectation result (its ``to_json_dict``) into our record."""
    cfg = raw.get("expectation_config") or {}
    kwargs = {k: v for k, v in (cfg.get("kwargs") or {}).items() if k != "batch_id"}
    res = raw.get("result") or {}
    exc = raw.get("exception_info") or {}
    error = None
    if exc.get("raised_exception"):
        error = exc.get("exception_message") or "raised an exception"
    else:  # several metric errors come back keyed by metric id
        for info in exc.values() if isinstance(exc, dict) else ():
            if isinstance(info, dict) and info.get("raised_exception"):
                error = info.get("exception_message") or "raised an exception"
                break
    clip_ids = []
    for row in res.get("partial_unexpected_index_list") or []:
        if isinstance(row, dict) and "clip_id" in row:
            clip_ids.append(row["clip_id"])
    return _jsonable(
        {
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
            "error": error,
        }
    )


def _failure_line(r: dict) -> str:
    """Render one failed expectation record as a single readable line."""
    label = f"{r['type']}({r['column']})" if r.get("column") is not None else str(r["type"])
    if r.get("error"):
        return f"{label}: could not be evaluated: {_one_line(r['error'])}"
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


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _jsonable(obj: Any) -> Any:
    """Recursively convert numpy/pandas scalars to plain JSON types (NaN -> None)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    item = getattr(obj, "item", None)
    if callable(item):
        try:
            return _jsonable(item())
        except (TypeError, ValueError):
            pass
    return str(obj)
