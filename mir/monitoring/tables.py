"""The tables the monitor compares: per-clip features, embeddings and predictions.

- :func:`list_new_music` — the songs of a new-music folder, labelled by sub-folder
  (``<dir>/<genre>/**``) or unlabelled (audio files directly in ``<dir>``);
- :func:`tempo_bpm` — a tempo estimate from a stored log-mel spectrogram
  (autocorrelation of the spectral-flux onset envelope), cheap enough for every clip;
- :func:`fit_pca` / :func:`pca_transform` — a PCA of the training embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

__all__ = ["NewSong", "fit_pca", "list_new_music", "pca_transform", "tempo_bpm"]

AUDIO_EXTENSIONS = (".mp3", ".wav", ".ogg", ".flac", ".au")


@dataclass(frozen=True)
class NewSong:
    """One file of a new-music folder; ``label`` is its genre folder (``None``: unlabelled)."""

    song_id: str
    path: Path
    label: str | None


def list_new_music(root: str | Path) -> list[NewSong]:
    """Every audio file under ``root``: top-level files unlabelled, ``<genre>/**`` files labelled.

    Hidden files and folders (``.``-prefixed) and non-audio files are ignored;
    extensions match case-insensitively. Nothing is written.

    Parameters
    ----------
    root : str or Path
        The new-music folder.

    Returns
    -------
    list of NewSong
        Sorted by ``song_id`` (the path relative to ``root`` without extension).

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder.
    ValueError
        If it holds no audio file.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"new-music folder {root} does not exist")
    songs: dict[str, NewSong] = {}
    for f in sorted(root.rglob("*")):
        rel = f.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):  # named like audio but no file: skipped with a reason
            continue
        if f.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        label = rel.parts[0] if len(rel.parts) > 1 else None
        sid = str(PurePosixPath(*rel.with_suffix("").parts))
        if sid in songs:  # song.mp3 and song.wav side by side
            sid = str(PurePosixPath(*rel.parts))
        songs[sid] = NewSong(song_id=sid, path=f, label=label)
    if not songs:
        raise ValueError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found under {root}")
    return sorted(songs.values(), key=lambda s: s.song_id)


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
