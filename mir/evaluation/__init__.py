"""Evaluation: pure metric functions and the ``evaluate`` stage."""
