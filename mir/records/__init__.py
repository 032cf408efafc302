"""Typed records passed between stages, one schema each (pydantic models).

- :mod:`mir.records.evaluation`: ``metrics/eval.json`` (the evaluate stage).
- :mod:`mir.records.drift`: ``metrics/drift.json`` (the monitor stage).
- :mod:`mir.records.registry`: one entry of the model registry.

Leaf modules: they import pydantic only, so any stage may read any record.
"""
