"""Stage ``evaluate``: score the model on the held-out test clips.

Track-level predictions average the log-probabilities of all chunks of a clip.
Writes ``metrics/eval.json`` (track- and segment-level accuracy, macro-F1,
per-class scores), ``plots/confusion.csv`` (a ``dvc plots`` confusion matrix),
``reports/eval/confusion.png`` and ``reports/eval/index.html`` (every
misclassified clip with its top-3 and a playable excerpt).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
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


def feature_map_layers(model) -> list[str]:
    """Names of the model's non-linear feature maps: every activation with a time (and frequency) axis.

    These are the outputs of the convolutional (or recurrent) blocks, in order: ``Activation``/``ReLU``
    layers and convolutions with a built-in non-linearity whose output has rank 3 ``(batch, time,
    channels)`` or 4 ``(batch, mels, time, channels)``. Used for per-layer feature statistics
    (:func:`clip_outputs`'s ``stats_layers``).
    """
    import keras

    names = []
    for layer in model.layers:
        try:
            rank = len(layer.output.shape)
        except (AttributeError, ValueError):
            continue
        if rank not in (3, 4):
            continue
        act = getattr(layer, "activation", None)
        is_act = isinstance(layer, (keras.layers.Activation, keras.layers.ReLU))
        conv_act = (isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D)) and act is not None
                    and getattr(act, "__name__", "linear") != "linear")
        if is_act or conv_act:
            names.append(layer.name)
    return names


def _stats_outputs(model, names: Sequence[str]) -> list:
    """For each named layer, two Keras tensors: its channel means and channel means of squares (per chunk)."""
    from keras import layers

    outs = []
    for name in names:
        t = model.get_layer(name).output
        pool = layers.GlobalAveragePooling2D if len(t.shape) == 4 else layers.GlobalAveragePooling1D
        outs += [pool(dtype="float32")(t), pool(dtype="float32")(layers.Multiply(dtype="float32")([t, t]))]
    return outs


_NETS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _inference_net(model, layer: str | None, stats_layers: tuple):
    """The model extended with the embedding / statistics outputs, built once per model and request.

    Reusing it keeps one compiled predict function (a new ``keras.Model`` per call would retrace).
    """
    import keras

    nets = _NETS.setdefault(model, {})
    key = (layer, stats_layers)
    if key not in nets:
        outs = [model.outputs[0]] + ([model.get_layer(layer).output] if layer else [])
        nets[key] = keras.Model(model.inputs, outs + _stats_outputs(model, stats_layers))
    return nets[key]


def clip_outputs(model, X, rows, *, chunk: int, batch_size: int = 64, embedding: bool = False,
                 layer: str = "embedding", batch_clips: int = 64, stats_layers: Sequence[str] = ()) -> dict:
    """One pass of ``model`` over every chunk of ``rows``, ``batch_clips`` clips at a time (bounded memory).

    Returns ``logp`` (per-clip mean log-probabilities), ``seg_p`` (per-chunk
    probabilities), ``owner`` (the clip index of each chunk) and, with
    ``embedding=True``, ``embedding``: per-clip means of the ``layer`` activations.
    With ``stats_layers`` (layer names, e.g. :func:`feature_map_layers`), also
    ``layer_stats``: ``{name: (n, 2c)}`` — each channel's mean and standard deviation
    over the chunk's time (and frequency) positions, averaged over a clip's chunks.
    The statistics are pooled inside the network (Keras layers), so no feature map
    ever reaches host memory.
    """
    from mir.model.data import segments

    rows = np.asarray(rows, dtype=int)
    stats_layers = list(stats_layers)
    net = model
    if embedding:
        try:
            emb_layer = model.get_layer(layer)
        except ValueError:
            raise ValueError(f"the model has no layer named {layer!r} (needed for the embedding)") from None
    if embedding or stats_layers:
        net = _inference_net(model, layer if embedding else None, tuple(stats_layers))
    k = model.outputs[0].shape[-1]
    logps, seg_ps, owners, embs = [np.zeros((0, k))], [np.zeros((0, k))], [np.zeros(0, dtype=int)], []
    stats: dict[str, list] = {name: [] for name in stats_layers}
    for start in range(0, len(rows), batch_clips):
        part = rows[start : start + batch_clips]
        x, owner = segments(X, part, chunk)
        out = net.predict(x.astype(np.float32, copy=False), batch_size=batch_size, verbose=0)
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        p = np.asarray(out.pop(0), dtype=np.float64)
        e = out.pop(0) if embedding else None
        counts = np.bincount(owner, minlength=len(part))[:, None]

        def clip_mean(v):
            sums = np.zeros((len(part), v.shape[1]))
            np.add.at(sums, owner, v)
            return sums / counts

        logps.append(clip_mean(np.log(np.clip(p, 1e-9, 1.0))))
        seg_ps.append(p)
        owners.append(owner + start)
        if e is not None:
            embs.append(clip_mean(np.asarray(e, dtype=np.float64)))
        for name in stats_layers:
            m1 = np.asarray(out.pop(0), dtype=np.float64)
            m2 = np.asarray(out.pop(0), dtype=np.float64)
            sd = np.sqrt(np.maximum(m2 - m1 * m1, 0.0))
            stats[name].append(clip_mean(np.concatenate([m1, sd], axis=1)))
    out = {"logp": np.concatenate(logps), "seg_p": np.concatenate(seg_ps), "owner": np.concatenate(owners)}
    if embedding:
        out["embedding"] = np.concatenate(embs) if embs else np.zeros((0, emb_layer.output.shape[-1]))
    if stats_layers:
        out["layer_stats"] = {name: (np.concatenate(v) if v else np.zeros((0, 0))) for name, v in stats.items()}
    return out


def predict_clips(model, X, rows, *, chunk: int, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-clip mean log-probabilities ``(n_clips, n_classes)``, per-segment probs and segment owners."""
    o = clip_outputs(model, X, rows, chunk=chunk, batch_size=batch_size)
    return o["logp"], o["seg_p"], o["owner"]


def pca_scatter(groups: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], *, genres: list[str]):
    """A figure with one PCA scatter per entry of ``groups``: ``title → (fit_x, x, labels)``.

    Each panel fits a 2-component PCA on ``fit_x`` (standardised) and plots ``x``
    coloured by genre (``labels``: genre names).
    """
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mir.reports.html import mpl

    plt = mpl()
    fig, axes = plt.subplots(1, len(groups), figsize=(5.2 * len(groups), 4.2), squeeze=False)
    colors = plt.get_cmap("tab10" if len(genres) <= 10 else "tab20")
    for ax, (title, (fit_x, x, labels)) in zip(axes[0], groups.items()):
        pca = make_pipeline(StandardScaler(), PCA(n_components=2, random_state=0)).fit(fit_x)
        z = pca.transform(x)
        for i, g in enumerate(genres):
            m = np.asarray(labels) == g
            if m.any():
                ax.scatter(z[m, 0], z[m, 1], s=14, alpha=0.75, color=colors(i % colors.N), label=g)
        var = pca[-1].explained_variance_ratio_
        ax.set_xlabel(f"PC1 ({var[0]:.0%})")
        ax.set_ylabel(f"PC2 ({var[1]:.0%})")
        ax.set_title(title, fontsize=10)
    axes[0][-1].legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


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
    from mir.reports.html import figure_png

    model, info = load_model(cfg)
    genres = info["genres"]
    store = FeatureStore(cfg.paths.features)
    te = store.split("test")
    if te.empty:
        raise ValueError("no test clips to evaluate")
    lab = {g: i for i, g in enumerate(genres)}
    y = te["genre"].map(lab).to_numpy()
    out = clip_outputs(model, store.logmel, te["row"].to_numpy(), chunk=info["chunk_frames"], embedding=True)
    logp, seg_p, owner = out["logp"], out["seg_p"], out["owner"]
    pred = logp.argmax(axis=1)
    track = classification_metrics(y, pred, genres)
    segment = classification_metrics(y[owner], seg_p.argmax(axis=1), genres)
    manifest = read_table(cfg.paths.manifest)
    metrics = {
        "arch": info.get("arch"),
        "track": track,
        "segment": segment,
        "accuracy": round(track["accuracy"], 4),
        "macro_f1": round(track["macro_f1"], 4),
        "segment_accuracy": round(segment["accuracy"], 4),
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
    # PCA of the test clips: the input features (per-clip summary statistics) and the model's embedding,
    # each fitted on (a bounded sample of) the training clips
    tr = store.split("train")
    tr = tr.sample(n=min(len(tr), 96), random_state=cfg.seed) if len(tr) else tr  # 3 PCs: 96 clips are plenty
    emb_tr = clip_outputs(model, store.logmel, tr["row"].to_numpy(), chunk=info["chunk_frames"],
                          embedding=True)["embedding"]
    stats = store.stats().set_index("clip_id")
    cols = [c for c in stats.columns if c not in ("genre", "split") and pd.api.types.is_numeric_dtype(stats[c])]
    pca_png = figure_png(pca_scatter({
        "input features (per-clip log-mel summary)": (stats.loc[tr["clip_id"], cols].to_numpy(),
                                                      stats.loc[te["clip_id"], cols].to_numpy(), te["genre"]),
        "model embedding (track mean)": (emb_tr, out["embedding"], te["genre"]),
    }, genres=genres))
    write_review(Path(cfg.paths.reports) / "eval", preds=preds, probs=probs, genres=genres,
                 cm=confusion(y, pred, genres), metrics=metrics,
                 paths=manifest.set_index("clip_id")["path"].to_dict(), extra_png={"PCA of the test clips": pca_png})
    base = metrics.get("baseline", {})
    base_s = f"; baseline ({base['kind']}) {base['accuracy']:.3f}" if "accuracy" in base else ""
    print(f"evaluate: track accuracy {track['accuracy']:.3f}, macro-F1 {track['macro_f1']:.3f} "
          f"on {track['n']} test clips (segment accuracy {segment['accuracy']:.3f}){base_s}")
    return metrics
