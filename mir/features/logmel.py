"""Log-mel spectrograms and per-clip summary statistics (pure functions).

The STFT is framed with strided views and computed with scipy's real FFT in
float32 (faster than numpy's), then projected on librosa's Slaney mel
filterbank stored as a sparse matrix (each filter spans a few FFT bins, so the
product is far cheaper than the dense one). With the same parameters it matches
``librosa.power_to_db(librosa.feature.melspectrogram(...))`` (centered frames,
zero padding) to within float32 rounding.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: dB floor: power below 1e-10 (−100 dB) is clipped.
AMIN = 1e-10


def hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (linear below 1 kHz, logarithmic above), as librosa's default."""
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    mels = f / f_sp
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@lru_cache(maxsize=8)
def mel_basis(*, sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None):
    """The (n_mels, 1 + n_fft // 2) Slaney-normalised mel filterbank, float32, as a sparse CSR matrix.

    The same matrix as ``librosa.filters.mel`` (Slaney scale and area normalisation),
    computed here so worker processes need not import librosa (≈ 1 s each).
    """
    import scipy.sparse

    fmax = sr / 2 if fmax is None else fmax
    fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return scipy.sparse.csr_matrix(weights.astype(np.float32))


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    import scipy.signal

    return scipy.signal.get_window("hann", n_fft, fftbins=True).astype(np.float32)


def n_frames(n_samples: int, *, hop_length: int) -> int:
    """Frames a centered STFT yields for ``n_samples`` samples."""
    return 1 + n_samples // hop_length


#: Frames per STFT block: blocks stay in cache and reuse one buffer (no page faults on a 10 MB array).
_BLOCK = 64


def _mel_power(y: np.ndarray, *, n_fft: int, hop_length: int, basis) -> np.ndarray:
    """Mel power (n_mels, frames) of a centered, zero-padded STFT, computed block by block."""
    import scipy.fft

    y = np.pad(np.asarray(y, dtype=np.float32), (n_fft // 2, n_fft // 2))
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop_length]
    n = frames.shape[0]
    win = _window(n_fft)
    out = np.empty((n, basis.shape[0]), dtype=np.float32)
    buf = np.empty((min(_BLOCK, n), n_fft), dtype=np.float32)
    for s in range(0, n, _BLOCK):
        e = min(n, s + _BLOCK)
        b = buf[: e - s]
        np.multiply(frames[s:e], win, out=b)
        X = scipy.fft.rfft(b, axis=1, overwrite_x=True)
        p = np.square(X.real)
        p += np.square(X.imag)
        out[s:e] = (basis @ p.T).T
    return out.T


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
    M = _mel_power(y, n_fft=n_fft, hop_length=hop_length,
                   basis=mel_basis(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax))
    M = np.ascontiguousarray(M)
    np.maximum(M, AMIN, out=M)
    np.log10(M, out=M)
    M *= 10.0
    return M


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
    rms = float(np.sqrt(np.dot(y, y) / max(y.size, 1)) + 1e-12)
    zcr = float(np.count_nonzero(np.diff(np.signbit(y)))) / max(y.size - 1, 1)
    S_db = np.asarray(S_db, dtype=np.float32)
    P = np.power(np.float32(10.0), S_db / np.float32(10.0))  # mel power
    n_mels = P.shape[0]
    bins = np.arange(n_mels, dtype=np.float32)
    tot = P.sum(axis=0) + np.float32(1e-20)
    centroid = float(np.mean((bins @ P) / tot) / max(n_mels - 1, 1))
    cum = np.cumsum(P, axis=0)
    rolloff = float(np.mean(np.argmax(cum >= np.float32(0.85) * tot, axis=0)) / max(n_mels - 1, 1))
    # spectral flatness = geometric / arithmetic mean of the power; log P is S_db·ln(10)/10 already
    flat = np.exp(S_db.mean(axis=0, dtype=np.float64) * (np.log(10.0) / 10.0)) / (P.mean(axis=0) + 1e-20)
    flux = np.maximum(np.diff(S_db, axis=1), 0).mean(axis=0) if S_db.shape[1] > 1 else np.zeros(1)
    thr = flux.mean() + flux.std()
    peaks = (flux[1:-1] > thr) & (flux[1:-1] >= flux[:-2]) & (flux[1:-1] >= flux[2:]) if flux.size > 2 else []
    seconds = max(S_db.shape[1] * hop_length / sr, 1e-9)
    out = {
        "rms_db": 20.0 * np.log10(rms),
        "peak": float(max(y.max(), -y.min())) if y.size else 0.0,
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
