"""Input pipeline: random log-mel crops for training, fixed chunks for evaluation.

Reads from the memory-mapped feature store, one batch at a time, so memory
does not depend on the number of clips. Backend-neutral (a Keras PyDataset).
"""

from __future__ import annotations

import math

import numpy as np


def chunk_starts(n_frames: int, chunk: int) -> np.ndarray:
    """Start frames of the non-overlapping chunks that cover a clip (the last one may overlap)."""
    if n_frames <= chunk:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_frames - chunk + 1, chunk)
    if starts[-1] + chunk < n_frames:
        starts = np.append(starts, n_frames - chunk)
    return starts


def take_chunk(X, row: int, start: int, chunk: int) -> np.ndarray:
    """One ``(n_mels, chunk)`` float32 chunk of clip ``row`` (zero-padded past the end)."""
    a = np.asarray(X[row, :, start : start + chunk], dtype=np.float32)
    if a.shape[1] < chunk:
        a = np.pad(a, ((0, 0), (0, chunk - a.shape[1])), constant_values=float(a.min(initial=-100.0)))
    return a


def segments(X, rows, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """All evaluation chunks of ``rows``: ``(x (n, n_mels, chunk, 1), clip_index (n,))``."""
    xs, owner = [], []
    T = X.shape[2]
    for i, r in enumerate(rows):
        for s in chunk_starts(T, chunk):
            xs.append(take_chunk(X, int(r), int(s), chunk))
            owner.append(i)
    return np.stack(xs)[..., None], np.asarray(owner)


def make_crops(X, rows, labels, *, chunk: int, crops_per_clip: int, batch_size: int, seed: int):
    """A Keras ``PyDataset`` of random crops, reshuffled with new offsets every epoch."""
    from mir.model import keras_backend

    keras_backend()
    import keras

    class RandomCrops(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.rng = np.random.default_rng(seed)
            self.items = np.repeat(np.arange(len(rows)), crops_per_clip)
            self._draw()

        def _draw(self):
            self.rng.shuffle(self.items)
            T = X.shape[2]
            self.starts = self.rng.integers(0, max(T - chunk, 0) + 1, size=len(self.items))

        def __len__(self):
            return math.ceil(len(self.items) / batch_size)

        def __getitem__(self, i):
            sl = slice(i * batch_size, (i + 1) * batch_size)
            idx, st = self.items[sl], self.starts[sl]
            x = np.stack([take_chunk(X, int(rows[j]), int(s), chunk) for j, s in zip(idx, st)])
            return x[..., None], np.asarray(labels)[idx]

        def on_epoch_end(self):
            self._draw()

    return RandomCrops()
