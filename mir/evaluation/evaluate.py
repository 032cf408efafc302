"""Stage ``evaluate``: score the model on the held-out test clips.

Track-level predictions average the log-probabilities of all chunks of a clip.
Writes ``metrics/eval.json`` (track- and segment-level accuracy, macro-F1,
per-class scores), ``plots/confusion.csv`` (a ``dvc plots`` confusion matrix),
``reports/eval/confusion.png`` and ``reports/eval/index.html`` (every
misclassified clip with its top-3 and a playable excerpt).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mir.config import Config


def load_model(cfg: "Config"):
    """``(model, labels_info)`` from ``paths.models``."""
    from mir.io import read_json
    from mir.model import keras_backend
    from mir.model.train import model_paths

    keras_backend()
    import keras

    model_path, labels_path = model_paths(cfg)
    return keras.models.load_model(model_path), read_json(labels_path)


def predict_clips(model, X, rows, *, chunk: int, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-clip mean log-probabilities ``(n_clips, n_classes)``, per-segment probs and segment owners."""
    from mir.model.data import segments

    x, owner = segments(X, rows, chunk)
    p = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    logp = np.log(np.clip(p, 1e-9, 1.0))
    n = len(rows)
    sums = np.zeros((n, p.shape[1]))
    np.add.at(sums, owner, logp)
    return sums / np.bincount(owner, minlength=n)[:, None], p, owner


def softmax_rows(logp: np.ndarray) -> np.ndarray:
    """Normalise mean log-probabilities into a distribution per row."""
    z = np.exp(logp - logp.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def evaluate(cfg: "Config", *, progress: bool = True) -> dict:
    """Stage ``evaluate``; returns the metrics dict written to ``metrics/eval.json``."""
    import pandas as pd

    from mir.evaluation.metrics import classification_metrics, confusion
    from mir.evaluation.review import write_review
    from mir.features.extract import FeatureStore
    from mir.io import read_table, write_csv, write_json

    model, info = load_model(cfg)
    genres = info["genres"]
    store = FeatureStore(cfg.paths.features)
    te = store.split("test")
    if te.empty:
        raise ValueError("no test clips to evaluate")
    lab = {g: i for i, g in enumerate(genres)}
    y = te["genre"].map(lab).to_numpy()
    logp, seg_p, owner = predict_clips(model, store.logmel, te["row"].to_numpy(), chunk=info["chunk_frames"])
    pred = logp.argmax(axis=1)
    track = classification_metrics(y, pred, genres)
    segment = classification_metrics(y[owner], seg_p.argmax(axis=1), genres)
    manifest = read_table(cfg.paths.manifest)
    metrics = {
        "track": track,
        "segment": {k: segment[k] for k in ("accuracy", "macro_f1", "n")},
        "accuracy": round(track["accuracy"], 4),
        "macro_f1": round(track["macro_f1"], 4),
    }
    if cfg.evaluate.baseline != "none":
        from mir.config import FeatureParams
        from mir.evaluation.baseline import evaluate_baseline

        fp = FeatureParams(**{k: v for k, v in info["features"].items() if k in FeatureParams.model_fields})
        metrics["baseline"] = evaluate_baseline(store, manifest, genres, fp=fp, kind=cfg.evaluate.baseline,
                                                n_mfcc=cfg.evaluate.baseline_n_mfcc, seed=cfg.seed)
    write_json(Path(cfg.paths.metrics) / "eval.json", metrics)
    probs = softmax_rows(logp)
    preds = pd.DataFrame({
        "clip_id": te["clip_id"], "actual": te["genre"], "predicted": [genres[i] for i in pred],
        "confidence": probs.max(axis=1).round(4),
    })
    write_csv(Path(cfg.paths.plots) / "confusion.csv", preds)
    write_review(Path(cfg.paths.reports) / "eval", preds=preds, probs=probs, genres=genres,
                 cm=confusion(y, pred, genres), metrics=metrics,
                 paths=manifest.set_index("clip_id")["path"].to_dict())
    base = metrics.get("baseline", {})
    base_s = f"; baseline ({base['kind']}) {base['accuracy']:.3f}" if "accuracy" in base else ""
    print(f"evaluate: track accuracy {track['accuracy']:.3f}, macro-F1 {track['macro_f1']:.3f} "
          f"on {track['n']} test clips (segment accuracy {segment['accuracy']:.3f}){base_s}")
    return metrics
