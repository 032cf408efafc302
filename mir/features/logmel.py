"""Log-mel spectrograms and per-clip summary statistics (pure functions).

The STFT is framed with strided views and computed with a real FFT in float32,
then projected on librosa's Slaney mel filterbank. With the same parameters it
matches ``librosa.power_to_db(librosa.feature.melspectrogram(...))``
(centered frames, zero padding) to within float32 rounding.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: dB floor: power below 1e-10 (−100 dB) is clipped.
AMIN = 1e-10


@lru_cache(maxsize=8)
def mel_basis(*, sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """The (n_mels, 1 + n_fft // 2) Slaney mel filterbank, float32 (cached)."""
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).astype(np.float32)


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    import scipy.signal

    return scipy.signal.get_window("hann", n_fft, fftbins=True).astype(np.float32)


def n_frames(n_samples: int, *, hop_length: int) -> int:
    """Frames a centered STFT yields for ``n_samples`` samples."""
    return 1 + n_samples // hop_length


def power_spectrogram(y: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """|STFT|² of ``y`` (centered, zero-padded), shape (1 + n_fft // 2, frames), float32."""
    y = np.asarray(y, dtype=np.float32)
    pad = n_fft // 2
    y = np.pad(y, (pad, pad))
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop_length]
    spec = np.fft.rfft(frames * _window(n_fft), axis=1)
    power = spec.real.astype(np.float32) ** 2 + spec.imag.astype(np.float32) ** 2
    return power.T


def logmel(
    y: np.ndarray,
    *,
    sr: int,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """Log-mel spectrogram in dB (ref 1.0, floor −100 dB), shape (n_mels, frames), float32."""
    S = power_spectrogram(y, n_fft=n_fft, hop_length=hop_length)
    M = mel_basis(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax) @ S
    return (10.0 * np.log10(np.maximum(M, AMIN))).astype(np.float32)


#: Number of coarse frequency bands summarised per clip.
N_BANDS = 8


def summary_stats(y: np.ndarray, S_db: np.ndarray, *, sr: int, hop_length: int) -> dict[str, float]:
    """Per-clip summary features used for validation and drift monitoring.

    Parameters
    ----------
    y : ndarray
        The mono waveform the spectrogram was computed from.
    S_db : ndarray
        Its log-mel spectrogram (n_mels, frames) in dB.

    Returns
    -------
    dict
        ``rms_db``, ``peak``, ``zcr``, ``centroid_mel`` (0..1 fraction of mel bins),
        ``flatness``, ``rolloff_mel``, ``onset_rate`` (onsets per second),
        ``db_mean``, ``db_std`` and ``band{i}_db`` for :data:`N_BANDS` coarse bands.
    """
    y = np.asarray(y, dtype=np.float32)
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)) + 1e-12)
    zcr = float(np.mean(np.abs(np.diff(np.signbit(y).astype(np.int8))))) if y.size > 1 else 0.0
    P = 10.0 ** (S_db.astype(np.float64) / 10.0)  # mel power
    n_mels = P.shape[0]
    bins = np.arange(n_mels, dtype=np.float64)
    tot = P.sum(axis=0) + 1e-20
    centroid = float(np.mean((bins @ P) / tot) / max(n_mels - 1, 1))
    cum = np.cumsum(P, axis=0) / tot
    rolloff = float(np.mean(np.argmax(cum >= 0.85, axis=0)) / max(n_mels - 1, 1))
    flat = np.exp(np.mean(np.log(P + 1e-20), axis=0)) / (np.mean(P, axis=0) + 1e-20)
    flux = np.maximum(np.diff(S_db, axis=1), 0).mean(axis=0) if S_db.shape[1] > 1 else np.zeros(1)
    thr = flux.mean() + flux.std()
    peaks = (flux[1:-1] > thr) & (flux[1:-1] >= flux[:-2]) & (flux[1:-1] >= flux[2:]) if flux.size > 2 else []
    seconds = max(S_db.shape[1] * hop_length / sr, 1e-9)
    out = {
        "rms_db": 20.0 * np.log10(rms),
        "peak": float(np.max(np.abs(y))) if y.size else 0.0,
        "zcr": zcr,
        "centroid_mel": centroid,
        "rolloff_mel": rolloff,
        "flatness": float(np.mean(flat)),
        "onset_rate": float(np.sum(peaks)) / seconds,
        "db_mean": float(S_db.mean()),
        "db_std": float(S_db.std()),
    }
    for i, band in enumerate(np.array_split(S_db, N_BANDS, axis=0)):
        out[f"band{i}_db"] = float(band.mean())
    return out
