"""Data validation (Great Expectations) for the pipeline's tabular artefacts.

Nothing heavy is imported here; see :mod:`mir.validation.manifest`.
"""
