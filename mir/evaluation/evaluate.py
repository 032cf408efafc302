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


def evaluate(cfg: "Config", *, progress: bool = True) -> dict:
    """Stage ``evaluate``; returns the metrics dict written to ``metrics/eval.json``."""
    import pandas as pd

    from mir.evaluation.metrics import classification_metrics, confusion
    from mir.evaluation.review import write_review
    from mir.features.extract import FeatureStore
    from mir.io import read_table, write_csv, write_json
    from mir.reports.html import figure_png

    from mir.model.bundle import ModelBundle
    from mir.records.evaluation import EvalRecord

    bundle = ModelBundle.load(cfg.paths.models)
    engine = bundle.engine(cfg)
    genres = bundle.genres
    store = FeatureStore(cfg.paths.features)
    te = store.split("test")
    if te.empty:
        raise ValueError("no test clips to evaluate")
    lab = {g: i for i, g in enumerate(genres)}
    y = te["genre"].map(lab).to_numpy()
    out = engine.clip_outputs(store.logmel, te["row"].to_numpy(), progress=progress, desc="evaluate")
    logp, seg_p, owner = out["logp"], out["seg_p"], out["owner"]
    pred = logp.argmax(axis=1)
    track = classification_metrics(y, pred, genres)
    segment = classification_metrics(y[owner], seg_p.argmax(axis=1), genres)
    manifest = read_table(cfg.paths.manifest)
    baseline = None
    if cfg.evaluate.baseline != "none":
        from mir.evaluation.baseline import evaluate_baseline

        baseline = evaluate_baseline(store, manifest, genres, fp=bundle.features, kind=cfg.evaluate.baseline,
                                     n_mfcc=cfg.evaluate.baseline_n_mfcc, seed=cfg.seed)
    metrics = EvalRecord.from_scores(arch=bundle.arch, track=track, segment=segment, baseline=baseline).dump()
    write_json(Path(cfg.paths.metrics) / "eval.json", metrics)
    from mir.model.inference import softmax_rows

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
    emb_tr = engine.clip_outputs(store.logmel, tr["row"].to_numpy(), progress=progress,
                                 desc="evaluate (train sample)")["embedding"]
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
