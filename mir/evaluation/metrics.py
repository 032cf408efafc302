"""Pure classification metrics (no I/O), in the spirit of mir_eval.

Each function takes integer label arrays and the label names, checks them with
:func:`validate`, and returns plain Python numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def validate(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> None:
    """Raise ``ValueError`` with a clear message if the inputs can't be scored."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of equal length, got {y_true.shape} and {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("nothing to score: no examples")
    if len(labels) < 2:
        raise ValueError("need at least 2 labels")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.min() < 0 or y.max() >= len(labels):
            raise ValueError(f"{name} has class indices outside 0..{len(labels) - 1}")


def confusion(y_true, y_pred, labels: Sequence[str]) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    validate(y_true, y_pred, labels)
    k = len(labels)
    return np.bincount(np.asarray(y_true) * k + np.asarray(y_pred), minlength=k * k).reshape(k, k)


def classification_metrics(y_true, y_pred, labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1 and per-class precision/recall/F1/support.

    A class that is never predicted has precision 0 (and so does its F1 unless
    recall is 0 too); a class absent from ``y_true`` is left out of the macro mean.
    """
    cm = confusion(y_true, y_pred, labels)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = support > 0
    return {
        "accuracy": float(tp.sum() / cm.sum()),
        "macro_f1": float(f1[present].mean()),
        "n": int(cm.sum()),
        "per_class": {
            g: {"precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4), "support": int(support[i])}
            for i, g in enumerate(labels)
        },
    }
