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
        from mir.io import atomic_path, remove_owned

        Path(self.backup_dir).mkdir(parents=True, exist_ok=True)
        with atomic_path(self._weights_path, suffix=".weights.h5") as tmp:
            remove_owned(tmp)  # save_weights refuses to overwrite without asking
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
        from mir.io import atomic_path, remove_owned

        value = (logs or {}).get(self.monitor)
        if value is None or not value < self.best:
            return
        self.best = float(value)
        with atomic_path(self.path) as tmp:
            remove_owned(tmp)
            self.model.save(str(tmp))


class EpochLearningRate(keras.callbacks.Callback):
    """Put the learning rate the epoch ran with into its logs (first in the list, so the epoch log has it
    and a resumed run can replay it into DVCLive; a schedule callback after it may then lower it)."""

    def on_epoch_end(self, epoch, logs=None):
        lr = getattr(self.model.optimizer, "learning_rate", None)
        if logs is not None and lr is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))


class LiveLogger(keras.callbacks.Callback):
    """Log every epoch to DVCLive (``dvc exp show`` / ``dvc plots``), backend-neutral.

    ``dvclive.keras`` imports TensorFlow; this logs the same metric names
    (``train/loss``, ``eval/accuracy`` …) from Keras 3 on any backend. Epochs
    finished before a resume (``previous``: rows of the epoch log, with their 1-based
    ``epoch``) are replayed first — only those before the epoch Keras actually resumes at
    (known at the first ``on_epoch_begin``; a run killed after its backup was deleted starts
    again at 0) — so the curves hold each epoch once, as the epoch log does, even after
    ``kill -9``. DVCLive does not touch dvc.yaml (the stage declares its outputs) and
    creates no experiment of its own (``dvc exp run`` does that).
    """

    def __init__(self, directory: str | os.PathLike[str], *, previous=None):
        super().__init__()
        self.directory = str(directory)
        self.previous = previous
        self.live = None
        self._replayed = False

    @staticmethod
    def _name(key: str) -> str:
        return f"eval/{key[4:]}" if key.startswith("val_") else f"train/{key}"

    def _log(self, logs: dict):
        for key, value in logs.items():
            if key in ("epoch", "learning_rate"):
                continue
            self.live.log_metric(self._name(key), float(value))
        if "learning_rate" in logs:
            self.live.log_metric("learning_rate", float(logs["learning_rate"]))
        self.live.next_step()

    def _replay(self, first_epoch: int | None) -> None:
        """Log the previous rows of the epochs before ``first_epoch`` (0-based; ``None``: all of them)."""
        if self._replayed:
            return
        self._replayed = True
        if self.previous is None:
            return
        for i, row in enumerate(self.previous.to_dict("records")):
            epoch = int(row.get("epoch", i + 1)) - 1  # the epoch log's epochs are 1-based
            if first_epoch is None or epoch < first_epoch:
                self._log(row)

    def on_train_begin(self, logs=None):
        from dvclive import Live

        try:
            self.live = Live(self.directory, dvcyaml=None, save_dvc_exp=False, report=None)
        except Exception:  # noqa: BLE001 - e.g. `git init` without a commit: DVCLive can't read the revision
            from unittest import mock

            # log as outside any repository (plain files, which is all the stage needs)
            with mock.patch("dvclive.live.get_dvc_repo", return_value=None):
                self.live = Live(self.directory, dvcyaml=None, save_dvc_exp=False, report=None)

    def on_epoch_begin(self, epoch, logs=None):
        self._replay(epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._log(dict(logs or {}))  # the learning rate is in the logs (EpochLearningRate, first in the list)

    def on_train_end(self, logs=None):
        if self.live is not None:
            self._replay(None)  # no epoch ran (the backup was already at the last one): every row counts
            self.live.end()
