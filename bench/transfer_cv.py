"""Train-only model selection for the pretrained heads: artist-grouped cross-validation on gtzan4/train.

    python bench/transfer_cv.py [--data DIR] [--bodies B,B,...] [--reps N] [--folds K] [--block B] [--work DIR]

``bench/accuracy.py`` scores on gtzan4/valid; choosing a head on those 84 clips would tune on the number
that is reported. This script compares the candidates on ``<data>/train`` alone, with folds grouped so that no
group is on both sides: a group is a genre and a block of ``B`` GTZAN file numbers (``blues.00012`` →
``blues0`` with B = 25), a stand-in for artists, whose names GTZAN does not ship. Folds are
``StratifiedGroupKFold`` (shuffled, one random state per repetition); every candidate sees the same folds, so
the differences are paired.

Every clip is cut into mir's non-overlapping 3-s evaluation chunks and passed once through each pretrained
body (:mod:`mir.model.bodies`, through :class:`mir.model.inference.Engine` and its per-clip cache under
``--work``, so a second run costs seconds). Candidates, each scored per clip by mean log-probability as
``mir evaluate`` does:

- ``head <body>``: mir's frozen-body head (dropout → Dense 200 ReLU → dropout → softmax, Adam 1e-3, early
  stopping with patience 8 on 15 % of the training folds' clips; plain chunks, no augmentation: a proxy for
  ``mir train``) on one body's pooled features; ``head msd_musicnn`` is today's default;
- ``head msd_musicnn + tags``: the same on MSD_musicnn's features and its 50 tag probabilities (the taggram);
- ``head concat …``: one head on several bodies' features side by side (``train.bodies``): MSD_musicnn with
  each other body, and all of them;
- ``avg …``: the mean log-probability of separate heads, one per body (an ensemble over the same combinations);
- ``ridge … mean‖std``: track-level linear probing as MARBLE/JukeMIR do it — the mean and standard deviation
  over the clip's chunks, standardised, a ridge classifier whose strength is chosen by an inner grouped CV.

Prints each candidate's mean accuracy over folds × repetitions, its paired difference from today's default
(± standard error over the fold-runs) and the blues recall; last line
``best_alternative_minus_default_cv_accuracy=X.XXX``.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import shared_data

DEFAULT = "head msd_musicnn"


def clip_groups(paths: list[Path], block: int) -> np.ndarray:
    """``<genre><file number // block>`` per clip; a clip without a number is its own group."""
    out = []
    for p in paths:
        m = re.search(r"(\d+)\D*$", p.stem)
        out.append(f"{p.parent.name}{int(m.group(1)) // block}" if m else f"{p.parent.name}/{p.stem}")
    return np.asarray(out)


def body_outputs(paths: list[Path], bodies: list[str], work: Path) -> dict[str, np.ndarray]:
    """``{body: (clips, chunks, d) float32}``: each body's pooled features per evaluation chunk (cached)."""
    from mir.config import FeatureParams
    from mir.features.extract import featurize_file
    from mir.model.architectures import pretrained_model
    from mir.model.inference import Engine
    from mir.model.pretrained import MUSICNN_FEATURES

    work.mkdir(parents=True, exist_ok=True)
    store = work / f"logmel-{len(paths)}.npy"
    if store.is_file():
        X = np.load(store, mmap_mode="r")
    else:
        fp = FeatureParams(**MUSICNN_FEATURES)
        X = np.stack([featurize_file(p, fp=fp)[0] for p in paths]).astype(np.float16)
        np.save(store, X)
    out = {}
    for b in bodies:
        t0 = time.perf_counter()
        engine = Engine(pretrained_model(bodies=[b], n_classes=2), cache_dir=work / "inference")
        out[b] = np.stack([e["features"] for e in engine.clip_body(X, np.arange(len(X)))]).astype(np.float32)
        print(f"  {b}: {out[b].shape[1]} chunks × {out[b].shape[2]} per clip ({time.perf_counter() - t0:.0f} s, "
              f"{engine.runtime})", flush=True)
    return out


def head_logp(F: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, *, k: int, seed: int) -> np.ndarray:
    """Per-clip mean log-probabilities of test clips from mir's frozen-body head fitted on the train clips."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    ya = y[train]
    va = np.concatenate([rng.permutation(np.flatnonzero(ya == g))[:max(1, int(0.15 * (ya == g).sum()))]
                         for g in range(k)])
    tr = np.setdiff1d(np.arange(len(train)), va)
    n, c, d = F.shape
    inp = layers.Input((d,))
    x = layers.Dropout(0.5)(layers.Dense(200, activation="relu")(layers.Dropout(0.5)(inp)))
    net = keras.Model(inp, layers.Dense(k, activation="softmax")(x))
    net.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
    onehot = np.eye(k, dtype=np.float32)
    Fa = F[train]
    net.fit(Fa[tr].reshape(-1, d), onehot[np.repeat(ya[tr], c)], epochs=30, batch_size=32, verbose=0,
            validation_data=(Fa[va].reshape(-1, d), onehot[np.repeat(ya[va], c)]),
            callbacks=[keras.callbacks.EarlyStopping(patience=8, restore_best_weights=True)])
    p = net.predict(F[test].reshape(-1, d), batch_size=1024, verbose=0).reshape(len(test), c, k)
    return np.log(p + 1e-9).mean(axis=1)


def ridge_logp(X: np.ndarray, y: np.ndarray, groups: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Track-level linear probe: standardised features, ridge strength by an inner grouped 4-fold CV."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def model(alpha):
        return make_pipeline(StandardScaler(), RidgeClassifier(alpha=alpha))

    Xa, ya, ga = X[train], y[train], groups[train]
    scores = {}
    for alpha in (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0):
        acc = [(model(alpha).fit(Xa[a], ya[a]).predict(Xa[b]) == ya[b]).mean()
               for a, b in StratifiedGroupKFold(4, shuffle=True, random_state=0).split(Xa, ya, ga)]
        scores[alpha] = np.mean(acc)
    d = model(max(scores, key=scores.get)).fit(Xa, ya).decision_function(X[test])
    return d - np.log(np.exp(d - d.max(1, keepdims=True)).sum(1, keepdims=True)) - d.max(1, keepdims=True)


def candidates(F: dict[str, np.ndarray], bodies: list[str]) -> tuple[dict, dict, dict]:
    """``(heads, ridges, ensembles)``: chunk-level head inputs, track-level ridge inputs, averaged heads."""
    from mir.model.pretrained import tag_logits

    def tags(b):
        n, c, d = F[b].shape
        return (1 / (1 + np.exp(-tag_logits(b, F[b].reshape(n * c, d))))).reshape(n, c, -1).astype(np.float32)

    heads = {f"head {b}": F[b] for b in bodies}
    T = {b: tags(b) for b in bodies}
    if "msd_musicnn" in bodies:
        heads["head msd_musicnn + tags"] = np.concatenate([F["msd_musicnn"], T["msd_musicnn"]], axis=2)
    # today's body with each other one, and all of them (not every subset: 2 cores)
    combos = [(bodies[0], b) for b in bodies[1:]] + ([tuple(bodies)] if len(bodies) > 2 else [])
    for combo in combos:
        heads["head concat " + "+".join(combo)] = np.concatenate([F[b] for b in combo], axis=2)
    ens = {"avg " + "+".join(c): [f"head {b}" for b in c] for c in combos}
    ms = lambda A: np.concatenate([A.mean(1), A.std(1)], axis=1)  # noqa: E731
    ridges = {f"ridge {b} features mean‖std": ms(F[b]) for b in bodies}
    ridges.update({f"ridge {b} tags mean‖std": ms(T[b]) for b in bodies})
    ridges["ridge all tags mean‖std"] = np.concatenate([ms(T[b]) for b in bodies], axis=1)
    return heads, ridges, ens


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=shared_data() / "gtzan4",
                    help="a folder with train/<genre>/ (only train is read)")
    ap.add_argument("--bodies", default="msd_musicnn,mtt_musicnn,msd_vgg,mtt_vgg")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the grouped k-fold split")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--block", type=int, default=25, help="file numbers per group (artist stand-in)")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "mir-bench-bodies",
                    help="log-mels and the engine's body cache (reused by the next run)")
    args = ap.parse_args(argv)
    root = args.data / "train"
    if not root.is_dir():
        sys.exit(f"bench/transfer_cv.py: {root} not found (set MIR_SHARED_DATA or --data)")
    from sklearn.model_selection import StratifiedGroupKFold

    from mir.datasets.folder import list_clips

    bodies = args.bodies.split(",")
    if bodies[0] != "msd_musicnn":
        sys.exit("bench/transfer_cv.py: --bodies must start with msd_musicnn (today's default, the reference)")
    paths = [c.path for c in list_clips(args.data, split="dirs") if c.split == "train"]
    genres = sorted({p.parent.name for p in paths})
    y = np.array([genres.index(p.parent.name) for p in paths])
    groups = clip_groups(paths, args.block)
    k = len(genres)
    print(f"{len(paths)} clips, {k} genres, {len(set(groups))} groups, {args.folds} folds × {args.reps} repetitions")
    t0 = time.perf_counter()
    F = body_outputs(paths, bodies, args.work)
    heads, ridges, ens = candidates(F, bodies)
    names = list(heads) + list(ens) + list(ridges)
    acc: dict[str, list[float]] = {m: [] for m in names}
    blues: dict[str, list[float]] = {m: [] for m in names}
    ib = genres.index("blues") if "blues" in genres else 0
    for r in range(args.reps):
        for f, (a, b) in enumerate(StratifiedGroupKFold(args.folds, shuffle=True, random_state=100 + r)
                                   .split(y, y, groups)):
            t1 = time.perf_counter()
            lp = {h: head_logp(X, y, a, b, k=k, seed=r * 10 + f) for h, X in heads.items()}
            lp.update({e: np.mean([lp[h] for h in parts], axis=0) for e, parts in ens.items()})
            lp.update({m: ridge_logp(X, y, groups, a, b) for m, X in ridges.items()})
            for m in names:
                pred = lp[m].argmax(1)
                acc[m].append(float((pred == y[b]).mean()))
                if (y[b] == ib).any():  # a fold may hold no blues group
                    blues[m].append(float((pred[y[b] == ib] == ib).mean()))
            print(f"rep {r} fold {f}: {DEFAULT} {acc[DEFAULT][-1]:.3f} ({time.perf_counter() - t1:.0f} s)", flush=True)
    base = np.array(acc[DEFAULT])
    print(f"\n| candidate | CV accuracy | paired difference from the default (± s.e., {len(base)} fold-runs) "
          "| CV blues recall |")
    print("|---|---|---|---|")
    gains = {}
    for m in names:
        d = np.array(acc[m]) - base
        gains[m] = d.mean()
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        print(f"| {m} | {np.mean(acc[m]):.3f} | {d.mean():+.3f} ± {se:.3f} | {np.mean(blues[m]) if blues[m] else float('nan'):.2f} |")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    print(f"best_alternative_minus_default_cv_accuracy={max(v for m, v in gains.items() if m != DEFAULT):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
