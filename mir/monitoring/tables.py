"""The tables the monitor compares: per-clip features, embeddings and predictions.

(The new-music folder itself is listed by :func:`mir.datasets.new_music.list_new_music`.)

- :func:`tempo_bpm` — a tempo estimate from a stored log-mel spectrogram
  (autocorrelation of the spectral-flux onset envelope), cheap enough for every clip;
- :func:`fit_pca` / :func:`pca_transform` — a PCA of the training embeddings.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_pca", "pca_transform", "tempo_bpm"]

def tempo_bpm(S_db: np.ndarray, *, sr: int, hop_length: int, lo: float = 60.0, hi: float = 200.0) -> float:
    """Tempo (beats per minute) of a log-mel spectrogram, from its onset envelope.

    The onset envelope is the mean positive frame-to-frame rise in dB over the mel
    bands (spectral flux); the tempo is the lag of the highest autocorrelation peak
    between ``lo`` and ``hi`` BPM. Frames of padding (the dB floor repeated) add
    nothing to the flux. Returns ``nan`` when the clip is too short for ``lo``.

    Parameters
    ----------
    S_db : ndarray (n_mels, frames)
        Log-mel spectrogram in dB.
    sr, hop_length : int
        Sample rate and hop it was computed with.
    lo, hi : float
        Tempo search range in BPM.
    """
    S = np.asarray(S_db, dtype=np.float32)
    if S.ndim != 2 or S.shape[1] < 3:
        return float("nan")
    flux = np.maximum(np.diff(S, axis=1), 0).mean(axis=0).astype(np.float64)
    flux -= flux.mean()
    fps = sr / hop_length
    lag_lo = max(1, int(np.floor(60.0 * fps / hi)))
    lag_hi = int(np.ceil(60.0 * fps / lo))
    if lag_hi >= flux.size or not np.any(flux):
        return float("nan")
    n = 1 << int(np.ceil(np.log2(2 * flux.size)))
    spec = np.fft.rfft(flux, n)
    ac = np.fft.irfft(spec * np.conj(spec), n)[: lag_hi + 1]
    lag = lag_lo + int(np.argmax(ac[lag_lo : lag_hi + 1]))
    return float(60.0 * fps / lag)


def fit_pca(emb: np.ndarray, *, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, components)`` of a PCA of ``emb`` (rows = samples), via SVD.

    ``components`` has shape ``(min(n_components, rank bound), d)``; each
    component's sign is fixed (largest absolute loading positive) so reruns agree.
    """
    e = np.asarray(emb, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 2:
        raise ValueError(f"PCA needs at least 2 samples, got shape {e.shape}")
    mean = e.mean(axis=0)
    _, _, vt = np.linalg.svd(e - mean, full_matrices=False)
    comps = vt[: max(0, min(n_components, vt.shape[0]))]
    signs = np.sign(comps[np.arange(comps.shape[0]), np.abs(comps).argmax(axis=1)])
    return mean, comps * np.where(signs == 0, 1, signs)[:, None]


def pca_transform(emb: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Project ``emb`` onto the PCA ``components``."""
    return (np.asarray(emb, dtype=np.float64) - mean) @ components.T
