"""Stage ``monitor``: how does new music compare with the training data?

Featurises every clip of a new-music folder (``<dir>/<genre>/*`` when labels
are known) with the training feature parameters, then

- runs an Evidently data-drift report on the per-clip summary statistics
  (training clips = reference, new music = current) → ``reports/drift.html``;
- predicts each new clip with the model; where the folder names a genre the
  model knows, that is scored → accuracy on new music.

Writes the verdict to ``metrics/drift.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mir.config import Config

#: Summary statistics compared by the drift report (see mir.features.logmel.summary_stats).
DRIFT_EXCLUDE = ("clip_id", "genre", "split")


def monitor(cfg: "Config", *, new_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Stage ``monitor``; returns the verdict written to ``metrics/drift.json``."""
    import pandas as pd
    from tqdm.auto import tqdm

    from mir.datasets import folder
    from mir.evaluation.evaluate import load_model, predict_clips
    from mir.features.extract import FeatureStore, iter_features
    from mir.io import write_json
    from mir.monitoring.drift import drift_report

    new_dir = Path(new_dir or cfg.paths.new_music)
    clips = folder.list_clips(new_dir)  # <dir>/<genre>/*: the folder names are the (maybe unknown) labels
    model, info = load_model(cfg)
    genres = info["genres"]
    rows, mels, rejected = [], [], []
    results = iter_features([str(c.path) for c in clips], fp=cfg.features, workers=cfg.features.workers or None,
                            silence_db=cfg.audio.silence_db)
    for clip, (S, stats, err) in tqdm(zip(clips, results), total=len(clips), desc="monitor", unit="clip",
                                      disable=not progress):
        if err is not None:
            rejected.append({"path": str(clip.path), "reason": err})
            continue
        rows.append({"clip_id": clip.clip_id, "genre": clip.genre, **stats})
        mels.append(S)
    if not rows:
        raise ValueError(f"none of the {len(clips)} files under {new_dir} could be featurised")
    current = pd.DataFrame(rows)
    reference = FeatureStore(cfg.paths.features).stats()
    reference = reference[reference["split"] == "train"]
    cols = [c for c in reference.columns if c not in DRIFT_EXCLUDE and c in current.columns]
    reports = Path(cfg.paths.reports)
    verdict = drift_report(reference=reference[cols], current=current[cols], html_path=reports / "drift.html",
                           drift_share=cfg.monitor.drift_share,
                           title="mir — new music vs training data (per-clip summary features)")
    logp, _, _ = predict_clips(model, np.stack(mels), np.arange(len(mels)), chunk=info["chunk_frames"])
    pred = [genres[i] for i in logp.argmax(axis=1)]
    known = current["genre"].isin(genres).to_numpy()
    acc = float(np.mean(np.asarray(pred)[known] == current["genre"][known].to_numpy())) if known.any() else None
    out = {
        "new_music": str(new_dir), "n_clips": len(rows), "n_rejected": len(rejected), "rejected": rejected,
        "dataset_drift": verdict["dataset_drift"], "share_drifted": round(verdict["share_drifted"], 4),
        "n_drifted": verdict["n_drifted"], "n_columns": verdict["n_columns"],
        "drifted_columns": sorted(c for c, v in verdict["columns"].items() if v["drifted"]),
        "new_music_accuracy": None if acc is None else round(acc, 4), "n_labelled_known": int(known.sum()),
        "predicted_share": {g: round(pred.count(g) / len(pred), 4) for g in genres},
    }
    write_json(Path(cfg.paths.metrics) / "drift.json", out)
    acc_s = "n/a" if acc is None else f"{acc:.3f}"
    print(f"monitor: {len(rows)} new clips, drift {'DETECTED' if out['dataset_drift'] else 'not detected'} "
          f"({out['n_drifted']}/{out['n_columns']} columns), accuracy on new music {acc_s} → {reports / 'drift.html'}")
    return out
