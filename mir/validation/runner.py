"""The one Great Expectations runner: a suite described as data, run on a DataFrame.

A suite is a list of :class:`Expect` specs (GE expectation class name, its
arguments, and the *why* that the report shows next to a failure), built from
the configuration by :mod:`mir.validation.manifest` and
:mod:`mir.validation.features`. :func:`run_suite` turns them into a GE 1.x
``ExpectationSuite`` in an *ephemeral* context (nothing is written to the
working directory or the user's home), validates the whole frame as one batch,
returns a :class:`~mir.validation.results.ValidationResult` and, when asked,
writes the Data Docs page (:mod:`mir.validation.docs`).

Great Expectations is imported inside the function (it takes seconds), after
:func:`mir.env.quiet` has switched off its analytics.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mir.validation.results import ValidationResult

__all__ = ["Expect", "run_suite"]


@dataclass(frozen=True)
class Expect:
    """One expectation of a suite, as data.

    Attributes
    ----------
    name : str
        A class of ``great_expectations.expectations``, e.g. ``"ExpectColumnValuesToBeInSet"``.
    why : str
        What a failure means (shown in the Data Docs page and stored as the expectation's notes).
    kwargs : dict
        The expectation's arguments (``column``, ``value_set``, ``mostly``, ...).
    """

    name: str
    why: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def run_suite(
    table: pd.DataFrame,
    specs: Sequence[Expect],
    *,
    suite_name: str,
    docs_dir: str | os.PathLike[str] | None = None,
) -> ValidationResult:
    """Validate a table against a suite of specs in an ephemeral GE context.

    Parameters
    ----------
    table : pandas.DataFrame
        The batch (the whole frame). When it has a ``clip_id`` column, failures
        name the offending clips.
    specs : sequence of Expect
        The suite, in the order it is reported.
    suite_name : str
        Name of the suite (in the summary line and the Data Docs page).
    docs_dir : path-like, optional
        If given, the Data Docs page (``index.html``, offline, every value
        escaped) is written there.

    Returns
    -------
    ValidationResult
        One record per expectation, failures rendered as one line each.

    Raises
    ------
    TypeError
        If ``table`` is not a DataFrame.
    AttributeError
        If a spec names no expectation class of Great Expectations.
    """
    import pandas as pd

    from mir.validation.results import ValidationResult, failure_line, summarise

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{suite_name}: the table must be a pandas DataFrame, got {type(table).__name__}")
    raw, ids = _validate(table, specs, suite_name=suite_name)
    why = {ids[i]: s.why for i, s in enumerate(specs)}
    raw.sort(key=lambda r: ids.index(r["expectation_config"]["id"]))
    results = [summarise(r, why=why[r["expectation_config"]["id"]]) for r in raw]
    failures = [failure_line(r) for r in results if not r["success"]]
    result = ValidationResult(suite=suite_name, success=not failures, n_expectations=len(results),
                              n_failed=len(failures), failures=failures, results=results)
    if docs_dir is not None:
        from mir.validation.docs import write_docs

        result.docs_index = str(write_docs(result, docs_dir=docs_dir, n_rows=len(table)))
    return result


def _validate(table: pd.DataFrame, specs: Sequence[Expect], *, suite_name: str) -> tuple[list[dict], list[str]]:
    """Run the suite; GE's result dicts and the expectation ids in spec order."""
    from mir.env import quiet

    quiet()
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = _ephemeral_context()
    expectations = [getattr(gxe, s.name)(**s.kwargs, notes=s.why or None) for s in specs]
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=expectations))
    batch = (
        context.data_sources.add_pandas(name="mir")
        .add_dataframe_asset(name=suite_name)
        .add_batch_definition_whole_dataframe(name=f"whole_{suite_name}")
    )
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}_validation", data=batch, suite=suite)
    )
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
    if "clip_id" in table.columns:
        result_format["unexpected_index_column_names"] = ["clip_id"]
    run = validation.run(batch_parameters={"dataframe": table}, result_format=result_format)
    return run.to_json_dict()["results"], [e.id for e in suite.expectations]


def _ephemeral_context():
    """An in-memory GE context: no stores on disk, no Data Docs sites, no analytics, no progress bars."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={},
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)
