"""The baseline every evaluation reports beside the CNN: MFCC statistics + a scikit-learn classifier.

Per clip: ``n_mfcc`` MFCCs (DCT of the stored log-mel) over the clip's real
frames (not the zero padding), summarised by their mean and standard
deviation, and the same for their first differences. Standardised, then an
RBF SVM (or logistic regression), fitted on train (+ valid) and scored on test:
what a user would try first.
"""

from __future__ import annotations

import numpy as np


def mfcc_stats(X, rows, n_frames_valid, *, n_mfcc: int = 20) -> np.ndarray:
    """``(len(rows), 4 · n_mfcc)`` MFCC mean/std and delta mean/std per clip, streamed from the memmap."""
    from mir.features.extract import mfcc

    out = np.empty((len(rows), 4 * n_mfcc), dtype=np.float64)
    for i, (r, n) in enumerate(zip(rows, n_frames_valid)):
        S = np.asarray(X[int(r), :, : max(int(n), 2)], dtype=np.float32)
        M = mfcc(S, n_mfcc=n_mfcc).astype(np.float64)
        D = np.diff(M, axis=1)
        out[i] = np.concatenate([M.mean(axis=1), M.std(axis=1), D.mean(axis=1), D.std(axis=1)])
    return out


def fit_predict(x_train, y_train, x_test, *, kind: str = "svm", seed: int = 0) -> np.ndarray:
    """Fit the baseline on ``(x_train, y_train)``; return class predictions for ``x_test``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    clf = (SVC(C=10.0, gamma="scale", class_weight="balanced", random_state=seed) if kind == "svm"
           else LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced"))
    model = make_pipeline(StandardScaler(), clf)
    model.fit(x_train, y_train)
    return model.predict(x_test)


def valid_frames(durations_s, *, sample_rate: int, hop_length: int, n_frames: int) -> np.ndarray:
    """Frames of real audio per clip (the rest of the fixed-size store is padding)."""
    d = np.asarray(durations_s, dtype=float)
    return np.clip(1 + (d * sample_rate / hop_length).astype(int), 2, n_frames)


def evaluate_baseline(store, manifest, genres: list[str], *, fp, kind: str = "svm", n_mfcc: int = 20,
                      seed: int = 0) -> dict:
    """Track-level metrics of the baseline on the test split (train + valid for fitting)."""
    from mir.evaluation.metrics import classification_metrics

    lab = {g: i for i, g in enumerate(genres)}
    idx = store.index.merge(manifest[["clip_id", "duration_s"]], on="clip_id", how="left")
    idx["duration_s"] = idx["duration_s"].fillna(fp.clip_seconds)
    fit = idx[idx["split"].isin(["train", "valid"]) & idx["genre"].isin(genres)]
    test = idx[(idx["split"] == "test") & idx["genre"].isin(genres)]
    T = store.logmel.shape[2]

    def feats(d):
        return mfcc_stats(store.logmel, d["row"].to_numpy(), valid_frames(
            d["duration_s"], sample_rate=fp.sample_rate, hop_length=fp.hop_length, n_frames=T), n_mfcc=n_mfcc)

    y_fit = fit["genre"].map(lab).to_numpy()
    if len(set(y_fit)) < 2 or test.empty:
        return {"kind": kind, "skipped": "needs 2 genres in train and a test split"}
    pred = fit_predict(feats(fit), y_fit, feats(test), kind=kind, seed=seed)
    m = classification_metrics(test["genre"].map(lab).to_numpy(), pred, genres)
    return {"kind": f"mfcc{n_mfcc}-stats + {kind}", "accuracy": round(m["accuracy"], 4),
            "macro_f1": round(m["macro_f1"], 4), "n": m["n"]}
