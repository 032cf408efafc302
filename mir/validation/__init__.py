"""Data validation (Great Expectations) for the pipeline's tabular artefacts.

- :mod:`mir.validation.gate` — the stages ``validate`` and ``validate_features`` (metrics, exit code).
- :mod:`mir.validation.manifest`, :mod:`mir.validation.features` — the suites, as data (``Expect`` specs).
- :mod:`mir.validation.runner` — the one GE runner; :mod:`mir.validation.results` — what it returns.
- :mod:`mir.validation.docs` — the Data Docs page (offline, escaped) built from a result.

Nothing heavy is imported here, nor at the top of those modules.
"""
