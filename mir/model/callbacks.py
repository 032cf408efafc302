"""Training callbacks whose files survive ``kill -9`` at any moment.

Keras' own ``BackupAndRestore`` and ``ModelCheckpoint`` write their files in
place: a run killed during the write leaves a truncated HDF5 file that the next
run then fails to load ("bad object header version number" — seen in CI).
These write to a temporary file and ``os.replace`` it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mir.model import keras_backend

keras_backend()
import keras  # noqa: E402


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose weights and metadata are replaced atomically after each epoch.

    Weights are replaced before the metadata, so a kill between the two renames
    (microseconds) at worst repeats one epoch from slightly newer weights.
    """

    def _save_model(self):
        from mir.io import atomic_path

        Path(self.backup_dir).mkdir(parents=True, exist_ok=True)
        with atomic_path(self._weights_path, suffix=".weights.h5") as tmp:
            tmp.unlink()  # save_weights refuses to overwrite without asking
            self.model.save_weights(filepath=str(tmp))
        with atomic_path(self._training_metadata_path) as tmp:
            tmp.write_text(json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))


class BestCheckpoint(keras.callbacks.Callback):
    """Save the whole model whenever ``monitor`` improves (lower is better), atomically.

    Parameters
    ----------
    path : path-like
        The ``.keras`` file.
    monitor : str
        A logged metric, e.g. ``"val_loss"``.
    initial_best : float, optional
        The best value so far (when resuming a run), so a worse epoch never overwrites a better model.
    """

    def __init__(self, path: str | os.PathLike[str], *, monitor: str = "val_loss", initial_best: float | None = None):
        super().__init__()
        self.path, self.monitor = Path(path), monitor
        self.best = float("inf") if initial_best is None else float(initial_best)

    def on_epoch_end(self, epoch, logs=None):
        from mir.io import atomic_path

        value = (logs or {}).get(self.monitor)
        if value is None or not value < self.best:
            return
        self.best = float(value)
        with atomic_path(self.path) as tmp:
            tmp.unlink()
            self.model.save(str(tmp))
