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


def augment(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, spec_masks: int = 0,
            mixup_alpha: float = 0.0, gain_db: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Augment a batch of log-mel dB chunks ``x (n, n_mels, frames)`` with one-hot targets ``y (n, k)``.

    - ``gain_db``: add one uniform offset in ±gain_db to each chunk (a louder/quieter master);
    - ``spec_masks``: SpecAugment — that many frequency bands (≤ 1/8 of the mels) and time spans
      (≤ 1/8 of the frames) per chunk set to the chunk's mean;
    - ``mixup_alpha`` > 0: mixup with a Beta(α, α) weight (≥ 0.5, so the first clip dominates)
      between each chunk and a random partner; targets mixed alike.

    Returns new arrays; the inputs are not modified.
    """
    x = np.array(x, dtype=np.float32, copy=True)
    y = np.array(y, dtype=np.float32, copy=True)
    n, n_mels, frames = x.shape
    if gain_db:
        x += rng.uniform(-gain_db, gain_db, size=(n, 1, 1)).astype(np.float32)
    for k in range(n if spec_masks else 0):
        fill = x[k].mean()
        for _ in range(spec_masks):
            f = int(rng.integers(0, max(n_mels // 8, 1) + 1))
            f0 = int(rng.integers(0, n_mels - f + 1))
            x[k, f0 : f0 + f, :] = fill
            t = int(rng.integers(0, max(frames // 8, 1) + 1))
            t0 = int(rng.integers(0, frames - t + 1))
            x[k, :, t0 : t0 + t] = fill
    if mixup_alpha > 0 and n > 1:
        lam = rng.beta(mixup_alpha, mixup_alpha, size=n).astype(np.float32)
        lam = np.maximum(lam, 1 - lam)
        perm = rng.permutation(n)
        x = lam[:, None, None] * x + (1 - lam[:, None, None]) * x[perm]
        y = lam[:, None] * y + (1 - lam[:, None]) * y[perm]
    return x, y


def make_crops(X, rows, labels, *, chunk: int, crops_per_clip: int, batch_size: int, seed: int,
               n_classes: int | None = None, balance: bool = False, spec_masks: int = 0, mixup_alpha: float = 0.0,
               gain_db: float = 0.0):
    """A Keras ``PyDataset`` of random crops, reshuffled with new offsets every epoch.

    Parameters
    ----------
    X : array (n_clips, n_mels, n_frames)
        The (memory-mapped) log-mel store.
    rows, labels : array of int
        Store rows of the training clips and their class indices.
    chunk, crops_per_clip, batch_size, seed : int
        Crop length (frames), crops per clip and epoch, batch size, RNG seed.
    n_classes : int, optional
        Give one-hot float targets (needed for mixup); default: integer labels.
    balance : bool
        Draw every class equally often (each epoch draws ``crops_per_clip · n_clips``
        crops, clips sampled with replacement within their class).
    spec_masks, mixup_alpha, gain_db
        Augmentation, see :func:`augment` (needs ``n_classes``).
    """
    from mir.model import keras_backend

    keras_backend()
    import keras

    rows, labels = np.asarray(rows), np.asarray(labels)
    augmenting = bool(spec_masks or mixup_alpha or gain_db)
    if augmenting and n_classes is None:
        raise ValueError("augmentation needs n_classes (one-hot targets)")

    class RandomCrops(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.rng = np.random.default_rng(seed)
            self._draw()

        def _draw(self):
            n = len(rows) * crops_per_clip
            if balance:
                classes = np.unique(labels)
                per = -(-n // len(classes))
                self.items = np.concatenate([self.rng.choice(np.flatnonzero(labels == c), size=per)
                                             for c in classes])[:n]
            else:
                self.items = np.repeat(np.arange(len(rows)), crops_per_clip)
            self.rng.shuffle(self.items)
            T = X.shape[2]
            self.starts = self.rng.integers(0, max(T - chunk, 0) + 1, size=len(self.items))

        def __len__(self):
            return math.ceil(len(self.items) / batch_size)

        def __getitem__(self, i):
            sl = slice(i * batch_size, (i + 1) * batch_size)
            idx, st = self.items[sl], self.starts[sl]
            x = np.stack([take_chunk(X, int(rows[j]), int(s), chunk) for j, s in zip(idx, st)])
            y = labels[idx]
            if n_classes is None:
                return x[..., None], y
            y = np.eye(n_classes, dtype=np.float32)[y]
            if augmenting:
                x, y = augment(x, y, self.rng, spec_masks=spec_masks, mixup_alpha=mixup_alpha, gain_db=gain_db)
            return x[..., None], y

        def on_epoch_end(self):
            self._draw()

    return RandomCrops()
