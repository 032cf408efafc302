"""Input statistics for the models, and the small CNN under its historic name.

The architectures themselves live in :mod:`mir.model.architectures`.
"""

from __future__ import annotations

from mir.model.architectures import cnn as build_cnn

__all__ = ["band_stats", "build_cnn"]


def band_stats(x) -> tuple:
    """Per-mel-band mean and variance of a batch of log-mel chunks ``(n, n_mels, frames[, 1])``."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    axes = tuple(i for i in range(x.ndim) if i != 1)
    return x.mean(axis=axes), np.maximum(x.var(axis=axes), 1e-6)
