"""Stage ``train``: fit the CNN on random log-mel crops of the training clips.

Keeps the best-validation-loss weights (checkpoint + early stopping), and
writes ``models/model.keras``, ``models/labels.json`` (label order and the
feature parameters the model expects), ``metrics/train.json`` and the
per-epoch history ``plots/train_history.csv`` for ``dvc plots``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mir.config import Config


def run_key(cfg: "Config", store) -> str:
    """Identity of a training run: its parameters, seed, labels and the exact feature store."""
    h = hashlib.sha256(json.dumps({"train": cfg.train.model_dump(), "seed": cfg.seed, "genres": cfg.genres},
                                  sort_keys=True).encode())
    for name in ("meta.json", "index.csv"):
        h.update((store.path / name).read_bytes())
    return h.hexdigest()[:16]


def _read_log(path: Path, *, learning_rate: bool = False):
    """The epoch log (1-based epochs; a repeated epoch after a resume keeps its last row); ``learning_rate``:
    with Keras's learning-rate column (what a resumed run replays into DVCLive), else without (the plot)."""
    import pandas as pd

    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=["epoch", "loss", "accuracy", "val_loss", "val_accuracy"])
    h = pd.read_csv(path, on_bad_lines="skip")
    h = h[h["epoch"].astype(str) != "epoch"]  # headers repeated by append mode
    h = h.apply(pd.to_numeric, errors="coerce").dropna()  # a line torn by a kill
    h["epoch"] = h["epoch"].astype(int) + 1
    h = h.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)
    cols = ["epoch"] + [c for c in ("accuracy", "loss", "val_accuracy", "val_loss") if c in h.columns]
    return h[cols + [c for c in h.columns if c not in cols and (learning_rate or c != "learning_rate")]]


def resolve_chunk(arch: str, chunk_frames: int | None, n_frames: int) -> int:
    """Chunk length in frames: ``train.chunk_frames``, else the architecture's default, at most the clip."""
    from mir.model.architectures import DEFAULT_CHUNK

    return min(chunk_frames or DEFAULT_CHUNK[arch], n_frames)


def embed_once(engine, crops, X, val_rows, yv, cache: Path, *, progress: bool = True):
    """Frozen-body training data: one pass of ``crops`` (random, augmented crops) through the body, and
    the validation clips' chunks from the engine's per-clip cache (shared with evaluate and monitor).

    The crops' features are cached in ``cache`` (the run's resume folder), so a killed run does not
    embed them again. Returns ``((features, targets), (val_features, val_targets))``.
    """
    from mir.io import atomic_path

    if cache.is_file():
        with np.load(cache) as z:
            return (z["x"], z["y"]), (z["xv"], z["yv"])
    from tqdm.auto import tqdm

    feats, targets = [], []
    for i in tqdm(range(len(crops)), desc="train: body pass", unit="batch", disable=not progress):
        xb, yb = crops[i]  # one batch at a time: memory is the features, not the spectrograms
        feats.append(engine.body_features(xb))
        targets.append(np.asarray(yb, dtype=np.float32))
    fv = np.concatenate([e["features"] for e in engine.clip_body(X, val_rows)])
    out = (np.concatenate(feats), np.concatenate(targets)), (fv, np.asarray(yv, dtype=np.float32))
    with atomic_path(cache) as tmp, open(tmp, "wb") as f:
        np.savez(f, x=out[0][0], y=out[0][1], xv=out[1][0], yv=out[1][1])
    return out


def lr_sequence(tp, val_losses) -> list[float]:
    """The learning rate of each epoch of a run whose validation losses were ``val_losses``.

    Replays ``train.lr_schedule``: ``plateau`` as Keras' ``ReduceLROnPlateau`` (its default ``min_delta``
    1e-4, no cooldown), ``step`` in closed form, ``none`` constant.
    """
    lr, out = float(tp.learning_rate), []
    best, wait = float("inf"), 0
    for e, v in enumerate(val_losses):
        if tp.lr_schedule == "step":
            out.append(float(tp.learning_rate) * tp.lr_factor ** (e // tp.lr_step_epochs))
            continue
        out.append(lr)
        if tp.lr_schedule != "plateau":
            continue
        if v < best - 1e-4:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= tp.lr_patience:
                lr, wait = lr * tp.lr_factor, 0
    return out


def final_fit(model, tp, history, epochs: int, train_data, val_data, *, progress: bool = True) -> dict:
    """``train.final_fit``: a fresh head fitted on the training **and** validation clips for ``epochs`` epochs.

    The epoch count is the early-stopping point found on valid; the learning rate of each epoch is replayed
    from that run's log (so a plateau schedule's reductions happen at the same epochs), with no validation
    data left to watch. Only for frozen-body models: the body's outputs of the validation chunks are
    ``val_data`` already (the engine's cache). The head's layers of ``model`` are re-initialised and fitted
    in place. Returns what ``metrics/train.json`` records (``epochs``, ``n_examples``, ``final_loss``).
    """
    import keras

    from mir.model.architectures import HEAD_LAYERS, head_model

    for name in HEAD_LAYERS:  # fresh weights, as the first fit started from
        layer = model.get_layer(name)
        for w in layer.weights:
            init = getattr(layer, "kernel_initializer" if "kernel" in w.path else "bias_initializer", None)
            if init is not None:
                w.assign(init(w.shape, dtype=w.dtype))
    head = head_model(model, tp.arch)
    head.compile(optimizer=_optimizer(tp), loss="categorical_crossentropy", metrics=["accuracy"])
    lrs = lr_sequence(tp, history["val_loss"].astype(float).tolist())
    lr_of = (lambda e, lr: float(lrs[e]) if e < len(lrs) else float(lr))  # noqa: E731
    x = np.concatenate([train_data[0], val_data[0]])
    y = np.concatenate([train_data[1], val_data[1]])
    hist = head.fit(x, y, batch_size=tp.batch_size, shuffle=True, epochs=int(epochs), verbose=2 if progress else 0,
                    callbacks=[keras.callbacks.LearningRateScheduler(lr_of)])
    loss = float(hist.history["loss"][-1])
    print(f"train: final fit of the head on train + valid ({len(x)} examples, {epochs} epochs), loss {loss:.4f}")
    return {"epochs": int(epochs), "n_examples": int(len(x)), "final_loss": round(loss, 5)}


def _optimizer(tp):
    import keras

    return {"adam": lambda: keras.optimizers.Adam(learning_rate=tp.learning_rate),
            "sgd": lambda: keras.optimizers.SGD(learning_rate=tp.learning_rate, momentum=0.9, nesterov=True),
            "adagrad": lambda: keras.optimizers.Adagrad(learning_rate=tp.learning_rate)}[tp.optimizer]()


@dataclass
class _Data:
    """The training run's inputs: the store's arrays, the splits and the crop pipelines."""

    store: Any
    genres: list[str]
    tr: Any
    va: Any
    chunk: int
    train_ds: Any
    xv: np.ndarray
    yv: np.ndarray
    band_mean: np.ndarray
    band_var: np.ndarray


def _training_data(cfg: "Config") -> _Data:
    """Splits, random training crops (augmented), validation chunks and band statistics."""
    from mir.features.extract import FeatureStore
    from mir.model.cnn import band_stats
    from mir.model.data import make_crops, segments

    tp, genres = cfg.train, cfg.genres
    store = FeatureStore(cfg.paths.features)
    lab = {g: i for i, g in enumerate(genres)}
    tr, va = store.split("train"), store.split("valid")
    if tr.empty:
        raise ValueError("no training clips (check data.* fractions and the rejection tables)")
    missing = sorted(set(genres) - set(tr["genre"]))
    if missing:
        raise ValueError(f"no training clips for genre(s): {', '.join(missing)}")
    X = store.logmel
    chunk = resolve_chunk(tp.arch, tp.chunk_frames, X.shape[2])
    y_tr, rows = tr["genre"].map(lab).to_numpy(), tr["row"].to_numpy()
    aug = tp.augment
    train_ds = make_crops(X, rows, y_tr, chunk=chunk, crops_per_clip=tp.crops_per_clip,
                          batch_size=tp.batch_size, seed=cfg.seed, n_classes=len(genres), balance=tp.balance,
                          spec_masks=aug.spec_masks, mixup_alpha=aug.mixup_alpha, gain_db=aug.gain_db)
    if va.empty:  # tiny datasets: validate on the training clips rather than not at all
        va = tr
    xv, owner = segments(X, va["row"].to_numpy(), chunk)
    yv = np.eye(len(genres), dtype=np.float32)[va["genre"].map(lab).to_numpy()[owner]]
    # band statistics from random training crops (bounded: at most 16 batches, taken before augmentation)
    plain = make_crops(X, rows, y_tr, chunk=chunk, crops_per_clip=tp.crops_per_clip, batch_size=tp.batch_size,
                       seed=cfg.seed)
    mean, var = band_stats(np.concatenate([plain[i][0] for i in range(min(len(plain), 16))]))
    return _Data(store=store, genres=genres, tr=tr, va=va, chunk=chunk, train_ds=train_ds, xv=xv, yv=yv,
                 band_mean=mean, band_var=var)


def _callbacks(cfg: "Config", run_dir: Path, done) -> list:
    """Epoch log, resumable backup, best checkpoint, early stopping, the LR schedule and the live log."""
    import keras

    from mir.model.callbacks import AtomicBackupAndRestore, BestCheckpoint, EpochLearningRate, LiveLogger

    tp = cfg.train
    # the epoch log is written before the backup: a kill between the two repeats an epoch (its row is
    # replaced) instead of resuming past an epoch that was never logged
    callbacks = [
        EpochLearningRate(),  # before the epoch log, which then has the column a resume replays
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        AtomicBackupAndRestore(str(run_dir / "backup"), delete_checkpoint=True),
        BestCheckpoint(run_dir / "best.keras", monitor="val_loss",
                       initial_best=float(done["val_loss"].min()) if len(done) else None),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=tp.patience, min_delta=tp.min_delta,
                                      restore_best_weights=True),
    ]
    if tp.lr_schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=tp.lr_factor,
                                                           patience=tp.lr_patience))
    elif tp.lr_schedule == "step":
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch, lr: tp.learning_rate * tp.lr_factor ** (epoch // tp.lr_step_epochs)))
    callbacks.append(LiveLogger(Path(cfg.paths.dvclive), previous=done if len(done) else None))
    return callbacks


def _best_model(model, *, frozen: bool, refitted: bool, best_path: Path):
    """The model to save: the best checkpoint (for a frozen body, the best head's weights in the whole model)."""
    import keras

    from mir.model.architectures import HEAD_LAYERS

    if not frozen:
        return keras.models.load_model(best_path) if best_path.exists() else model
    if not refitted and best_path.exists():  # a refitted head (final fit) is already in the model
        best_head = keras.models.load_model(best_path)
        for name in HEAD_LAYERS:
            model.get_layer(name).set_weights(best_head.get_layer(name).get_weights())
    return model


def train(cfg: "Config", *, progress: bool = True) -> Path:
    """Stage ``train``; returns the saved model's path."""
    from mir.io import remove_owned, write_csv, write_json
    from mir.model import keras_backend
    from mir.model.architectures import FROZEN_BODY, build_model, head_model
    from mir.model.bundle import ModelBundle
    from mir.model.device import accelerator, distribution_scope

    backend = keras_backend()
    import keras

    tp = cfg.train
    keras.utils.set_random_seed(cfg.seed)
    kind, n_gpus = accelerator(backend)
    mixed = tp.mixed_precision == "on" or (tp.mixed_precision == "auto" and kind == "gpu")
    keras.mixed_precision.set_dtype_policy("mixed_float16" if mixed else "float32")
    d = _training_data(cfg)
    scope, strategy = distribution_scope(tp, backend)
    with scope:
        bodies = list(tp.bodies) if tp.arch == "musicnn" else None
        model = build_model(tp.arch, n_mels=d.store.logmel.shape[1], n_frames=d.chunk, n_classes=len(d.genres),
                            filters=tp.filters, dropout=tp.dropout, band_mean=d.band_mean, band_var=d.band_var,
                            bodies=bodies)
        frozen = tp.arch in FROZEN_BODY  # a frozen pretrained body: only the head is fitted
        fitted = head_model(model, tp.arch) if frozen else model
        fitted.compile(optimizer=_optimizer(tp), loss="categorical_crossentropy", metrics=["accuracy"])
    # A killed run resumes from its last finished epoch. The backup lives outside the stage's outputs
    # (DVC deletes those before a rerun), keyed by everything the training depends on.
    run_dir = Path(cfg.features.cache_dir).parent / "train-runs" / run_key(cfg, d.store)
    run_dir.mkdir(parents=True, exist_ok=True)
    done = _read_log(run_dir / "history.csv", learning_rate=True)
    if len(done):
        print(f"train: resuming after epoch {int(done['epoch'].max())} (backup in {run_dir})")
    embed_seconds = 0.0
    if frozen:
        t0 = time.perf_counter()
        engine = ModelBundle(model=model, genres=d.genres, features=cfg.features, chunk_frames=d.chunk,
                             arch=tp.arch, bodies=bodies).engine(cfg)
        train_data, val_data = embed_once(engine, d.train_ds, d.store.logmel, d.va["row"].to_numpy(), d.yv,
                                          run_dir / "body-features.npz", progress=progress)
        embed_seconds = time.perf_counter() - t0
        print(f"train: body pass {embed_seconds:.1f} s on {engine.describe()} ({engine.body_chunks} chunks)")
        fit_args = {"x": train_data[0], "y": train_data[1], "batch_size": tp.batch_size, "shuffle": True}
    else:
        fit_args, val_data = {"x": d.train_ds}, (d.xv, d.yv)
    t0 = time.perf_counter()
    fitted.fit(**fit_args, validation_data=val_data, epochs=tp.epochs, callbacks=_callbacks(cfg, run_dir, done),
               verbose=2 if progress else 0)
    seconds = time.perf_counter() - t0
    h = _read_log(run_dir / "history.csv")
    best = int(h["val_loss"].idxmin())
    final = None
    if frozen and tp.final_fit and d.va is not d.tr:
        t1 = time.perf_counter()
        final = final_fit(model, tp, h, best + 1, train_data, val_data, progress=progress)
        seconds += time.perf_counter() - t1
    best_model = _best_model(model, frozen=frozen, refitted=final is not None, best_path=run_dir / "best.keras")
    model_path = ModelBundle(model=best_model, genres=d.genres, features=cfg.features, chunk_frames=d.chunk,
                             arch=tp.arch, bodies=bodies).save(cfg.paths.models)
    write_csv(Path(cfg.paths.plots) / "train_history.csv", h.round(5))
    remove_owned(run_dir, layout=r"train-runs/[0-9a-f]{16}")  # finished: nothing to resume
    epochs_now = max(len(h) - len(done), 1)
    n_examples = (len(train_data[0]) if frozen else len(d.train_ds.items)) * epochs_now
    metrics = {
        "arch": tp.arch, "backend": backend, "device": f"{kind}:{n_gpus}" if n_gpus else "cpu",
        "mixed_precision": mixed, "distribute": strategy, "chunk_frames": d.chunk,
        "epochs_run": len(h), "best_epoch": best + 1,
        "best_val_loss": round(float(h["val_loss"][best]), 5),
        "best_val_accuracy_segment": round(float(h["val_accuracy"][best]), 5),
        "train_seconds": round(seconds, 2), "seconds_per_epoch": round(seconds / epochs_now, 2),
        "body_embed_seconds": round(embed_seconds, 2),  # frozen body: its one pass over the crops
        "examples_per_s": round(n_examples / seconds, 1),
        "n_params": int(best_model.count_params()), "n_train_clips": len(d.tr), "n_valid_clips": len(d.va),
        "final_fit": final,
    }
    write_json(Path(cfg.paths.metrics) / "train.json", metrics)
    print(f"train: {tp.arch}, {len(h)} epochs, best val_loss {metrics['best_val_loss']} at epoch {best + 1}, "
          f"{metrics['examples_per_s']} examples/s → {model_path}")
    return model_path
