"""Audio decoding: any soundfile-readable file to mono float32 at a target rate.

soundfile's bundled libsndfile reads WAV, FLAC, OGG/Vorbis, MP3 and AU without
ffmpeg; resampling uses soxr (high quality, fast).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

AUDIO_EXTENSIONS = (".mp3", ".wav", ".ogg", ".flac", ".au")

#: A decode yielding fewer than this share of the frames the header promises is a truncated file.
TRUNCATION_RATIO = 0.9


class AudioError(ValueError):
    """A file that can't be used as audio; the message says why."""


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    sample_rate: int
    channels: int
    frames: int


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Read an audio file's header (duration, rate, channels) without decoding it.

    Raises
    ------
    AudioError
        If the file is empty or not audio soundfile can read.
    """
    import soundfile as sf

    if os.path.getsize(path) == 0:
        raise AudioError("empty file (0 bytes)")
    try:
        info = sf.info(str(path))
    except Exception as err:  # soundfile raises LibsndfileError / RuntimeError
        raise AudioError(f"unreadable audio: {_reason(err, path)}") from None
    frames = int(info.frames)
    sr = int(info.samplerate)
    if sr <= 0:
        raise AudioError("unreadable audio: sample rate 0")
    return AudioInfo(duration_s=frames / sr, sample_rate=sr, channels=int(info.channels), frames=frames)


def load(
    path: str | os.PathLike[str],
    *,
    sr: int,
    max_seconds: float | None = None,
    offset_s: float = 0.0,
) -> np.ndarray:
    """Decode ``path`` to mono float32 at ``sr`` Hz.

    Parameters
    ----------
    path : path-like
        Any file soundfile can read.
    sr : int
        Target sample rate; the file is resampled with soxr when it differs.
    max_seconds : float, optional
        Decode at most this many seconds (from ``offset_s``).
    offset_s : float
        Where to start, in seconds.

    Raises
    ------
    AudioError
        Unreadable, empty, truncated (far fewer frames decode than the header
        promises), or containing non-finite samples.
    """
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            native = int(f.samplerate)
            start = int(round(offset_s * native))
            if start:
                f.seek(min(start, f.frames))
            n = -1 if max_seconds is None else int(round(max_seconds * native))
            expected = max(f.frames - start, 0) if n < 0 else min(n, max(f.frames - start, 0))
            y = f.read(frames=n, dtype="float32", always_2d=True)
    except Exception as err:
        raise AudioError(f"unreadable audio: {_reason(err, path)}") from None
    if y.shape[0] == 0:
        raise AudioError("no audio frames")
    if y.shape[0] < TRUNCATION_RATIO * expected:
        raise AudioError(f"truncated or corrupt: decoded {y.shape[0] / native:.1f} s of the "
                         f"{expected / native:.1f} s its header promises")
    y = mixdown(y)
    if not np.all(np.isfinite(y)):
        raise AudioError("non-finite samples (NaN/inf)")
    if native != sr:
        import soxr

        y = soxr.resample(y, native, sr, quality="HQ").astype(np.float32, copy=False)
    return np.ascontiguousarray(y, dtype=np.float32)


def mixdown(y: np.ndarray) -> np.ndarray:
    """Mono from ``(frames, channels)``: the mean of the channels.

    Summed column by column: ``y.mean(axis=1)`` reduces over a 2-long inner axis
    and is ~10× slower on a 30-s stereo clip (28 ms vs 2 ms).
    """
    if y.shape[1] == 1:
        return y[:, 0]
    out = y[:, 0].copy()
    for c in range(1, y.shape[1]):
        out += y[:, c]
    out *= np.float32(1.0 / y.shape[1])
    return out


def fix_length(y: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad ``y`` to exactly ``n`` samples."""
    if y.shape[0] >= n:
        return y[:n]
    return np.pad(y, (0, n - y.shape[0]))


def _reason(err: Exception, path) -> str:
    msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    # soundfile prefixes messages with the path; keep the reason only
    msg = msg.split(": ", 1)[-1] if msg.startswith("Error opening") else msg
    if "does not exist or is not a regular file" in msg and os.path.isfile(path):
        msg = "unrecognised format or corrupt header"  # libsndfile's message for this is misleading
    return msg
