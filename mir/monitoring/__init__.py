"""Monitoring (Evidently) of feature distributions between pipeline runs.

Nothing heavy is imported here; see :mod:`mir.monitoring.drift`.
"""
