"""Train-only model selection for the pretrained default: grouped cross-validation on gtzan4/train.

    python bench/transfer_cv.py [--data DIR] [--seeds N] [--folds K] [--block B] [--no-fine-tune]

``bench/accuracy.py`` scores on gtzan4/valid; choosing the default's head on those 84 clips would tune on
the number that is reported. This script compares the choices on ``<data>/train`` alone, with folds grouped
so that no group is on both sides: a group is a genre and a block of ``B`` GTZAN file numbers
(``blues.00012`` → ``blues0`` with B = 25), a stand-in for artists, whose names GTZAN does not ship.

Every clip is cut into musicnn's non-overlapping 3-s chunks (mir's evaluation windows), and passed once
through musicnn's frozen front end (:mod:`mir.model.architectures`, the pretrained weights); each candidate is
trained per fold on the training folds' chunks (15 % of their clips held out for early stopping) and scored
per clip on the held-out fold by mean log-probability, as ``mir evaluate`` does:

- ``default head``: params.yaml's musicnn model — frozen body, dropout → Dense 200 ReLU → dropout → softmax
  (Adam 1e-3, early stopping with patience 8; plain chunks, no augmentation: a proxy for ``mir train``);
- ``default + final fit``: ``train.final_fit`` simulated: the default head's early-stopping point (on the 15 %
  inner hold-out) fixes the epoch count, then a fresh default head is fitted on **all** the training folds'
  clips for that many epochs;
- ``group-balanced weights``: the default head with each training clip weighted by 1 / its group's size
  (every artist stand-in counts the same);
- ``linear head``: dropout → softmax on the same pooled features;
- ``logreg clip-mean``: logistic regression (C 0.1) on each clip's mean pooled features (the published
  transfer protocol for these embeddings);
- ``default + fine-tuned mid-end``: the default head, then musicnn's three mid-end convolutions unfrozen
  (Adam 1e-4, ≤ 12 epochs, patience 3; batch norms stay frozen).

Prints each candidate's mean accuracy over folds × seeds and its paired difference from the default
(± standard error over the fold-runs) and, last, ``best_alternative_minus_default_cv_accuracy=X.XXX``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
from common import shared_data

CHUNK = 187


def clip_groups(paths: list[Path], block: int) -> np.ndarray:
    """``<genre><file number // block>`` per clip; a clip without a number is its own group."""
    out = []
    for p in paths:
        m = re.search(r"(\d+)\D*$", p.stem)
        out.append(f"{p.parent.name}{int(m.group(1)) // block}" if m else f"{p.parent.name}/{p.stem}")
    return np.asarray(out)


def front_end_features(paths: list[Path], model, *, level_to: float | None = None) -> np.ndarray:
    """``(clips, chunks, frames, channels)`` float16: musicnn's front-end output for every chunk."""
    import keras

    from mir.config import FeatureParams
    from mir.features.extract import featurize_file
    from mir.model.data import chunk_starts, take_chunk
    from mir.model.pretrained import MUSICNN_FEATURES

    fp = FeatureParams(**MUSICNN_FEATURES)  # mir's own featurisation, 30-s clips
    fe = keras.Model(model.inputs[0], model.get_layer("musicnn_frontend").output)
    bar = keras.utils.Progbar(len(paths), unit_name="clip")
    out = []
    for i, p in enumerate(paths):
        S = featurize_file(p, fp=fp)[0][None]
        x = np.stack([take_chunk(S, 0, int(s), CHUNK) for s in chunk_starts(S.shape[2], CHUNK)])[..., None]
        if level_to is not None:  # every chunk at the same mean dB level: loudness / gain invariance
            x = x - x.mean(axis=(1, 2, 3), keepdims=True) + level_to
        out.append(fe.predict(x, batch_size=64, verbose=0).astype(np.float16))
        bar.update(i + 1)
    return np.stack(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=shared_data() / "gtzan4",
                    help="a folder with train/<genre>/ (only train is read)")
    ap.add_argument("--seeds", type=int, default=2, help="repeat the folds with this many training seeds")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--block", type=int, default=25, help="file numbers per group (artist stand-in)")
    ap.add_argument("--no-fine-tune", action="store_true", help="skip the (slowest) fine-tuning candidate")
    ap.add_argument("--level-norm", action="store_true",
                    help="also: every input chunk shifted to the training clips' mean dB (a second front-end pass)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="keep the front end's output here (an .npy file) and reuse it on the next run")
    args = ap.parse_args(argv)
    root = args.data / "train"
    if not root.is_dir():
        sys.exit(f"bench/transfer_cv.py: {root} not found (set MIR_SHARED_DATA or --data)")
    from mir.datasets.folder import list_clips

    paths = [c.path for c in list_clips(args.data, split="dirs") if c.split == "train"]
    genres = sorted({p.parent.name for p in paths})
    y = np.array([genres.index(p.parent.name) for p in paths])
    groups = clip_groups(paths, args.block)
    import keras
    from keras import layers
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mir.model.architectures import head_model, musicnn

    k = len(genres)
    print(f"{len(paths)} clips, {k} genres, {len(set(groups))} groups, {args.folds} folds × {args.seeds} seeds")
    t0 = time.perf_counter()
    ref = musicnn(n_classes=k)
    if args.cache and args.cache.is_file():
        FE = np.load(args.cache)
    else:
        FE = front_end_features(paths, ref)
        if args.cache:
            np.save(args.cache, FE)
    n, c = FE.shape[:2]
    LN = None
    if args.level_norm:
        ln_cache = args.cache.with_name(args.cache.stem + "-level.npy") if args.cache else None
        if ln_cache and ln_cache.is_file():
            LN = np.load(ln_cache)
        else:
            from mir.config import FeatureParams
            from mir.features.extract import featurize_file
            from mir.model.pretrained import MUSICNN_FEATURES

            level = float(np.mean([featurize_file(p, fp=FeatureParams(**MUSICNN_FEATURES))[0].mean()
                                   for p in paths[::9]]))  # the training clips' mean dB (a sample)
            print(f"level normalisation to {level:.1f} dB")
            LN = front_end_features(paths, ref, level_to=level)
            if ln_cache:
                np.save(ln_cache, LN)
    print(f"front end: {time.perf_counter() - t0:.0f} s for {n * c} chunks")
    tail = keras.Model(ref.get_layer("musicnn_frontend").output, ref.get_layer("musicnn_bn_pool").output)
    POOL = tail.predict(FE.reshape(n * c, *FE.shape[2:]).astype(np.float32), batch_size=128, verbose=0)
    POOL = POOL.reshape(n, c, -1)
    if LN is not None:
        LNP = tail.predict(LN.reshape(n * c, *LN.shape[2:]).astype(np.float32), batch_size=128,
                           verbose=0).reshape(n, c, -1)
    onehot = np.eye(k, dtype=np.float32)

    def clip_acc(model, X, yb):
        p = model.predict(X.reshape(-1, *X.shape[2:]).astype(np.float32), batch_size=128, verbose=0)
        return float((np.log(p.reshape(len(yb), c, k) + 1e-9).mean(1).argmax(1) == yb).mean())

    def fit(model, X, yy, tr, va, *, lr, epochs, patience, weights=None):
        model.compile(keras.optimizers.Adam(lr), "categorical_crossentropy")
        flat = lambda rows: X[rows].reshape(-1, *X.shape[2:]).astype(np.float32)  # noqa: E731
        h = model.fit(flat(tr), onehot[np.repeat(yy[tr], c)],
                      sample_weight=None if weights is None else np.repeat(weights[tr], c).astype(np.float32),
                      validation_data=(flat(va), onehot[np.repeat(yy[va], c)]), epochs=epochs, batch_size=32,
                      verbose=0, callbacks=[keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)])
        return int(np.argmin(h.history["val_loss"])) + 1  # the early-stopping point

    def refit(model, X, yy, rows, *, lr, epochs):  # train.final_fit: all of the training folds, fixed epochs
        model.compile(keras.optimizers.Adam(lr), "categorical_crossentropy")
        model.fit(X[rows].reshape(-1, *X.shape[2:]).astype(np.float32), onehot[np.repeat(yy[rows], c)],
                  epochs=epochs, batch_size=32, verbose=0)

    names = ["default head", "default + final fit", "group-balanced weights"] + (
        ["level-normalised input"] if LN is not None else []) + ["linear head", "logreg clip-mean"] + ([] if args.no_fine_tune else
                                                                    ["default + fine-tuned mid-end"])
    res: dict[str, list[float]] = {m: [] for m in names}
    folds = list(GroupKFold(args.folds).split(y, y, groups))
    for seed in range(args.seeds):
        for f, (a, b) in enumerate(folds):
            t1 = time.perf_counter()
            keras.utils.set_random_seed(seed * 100 + f)
            rng = np.random.default_rng(seed * 100 + f)
            ya = y[a]
            va = np.concatenate([rng.permutation(np.flatnonzero(ya == g))[:max(1, int(0.15 * (ya == g).sum()))]
                                 for g in range(k)])
            tr = np.setdiff1d(np.arange(len(a)), va)
            m = musicnn(n_classes=k)  # frozen pretrained body, fresh head
            best = fit(head_model(m, "musicnn"), POOL[a], ya, tr, va, lr=1e-3, epochs=30, patience=8)  # as mir train
            net = keras.Model(m.get_layer("musicnn_frontend").output, m.output)  # shares the fitted head
            res["default head"].append(clip_acc(net, FE[b], y[b]))
            keras.utils.set_random_seed(seed * 100 + f + 50)
            ff = musicnn(n_classes=k)  # a fresh head on every training clip, for the epochs found above
            refit(head_model(ff, "musicnn"), POOL[a], ya, np.arange(len(a)), lr=1e-3, epochs=best)
            res["default + final fit"].append(clip_acc(head_model(ff, "musicnn"), POOL[b], y[b]))
            if LN is not None:
                keras.utils.set_random_seed(seed * 100 + f)
                lm = musicnn(n_classes=k)
                fit(head_model(lm, "musicnn"), LNP[a], ya, tr, va, lr=1e-3, epochs=30, patience=8)
                res["level-normalised input"].append(clip_acc(head_model(lm, "musicnn"), LNP[b], y[b]))
            ga = groups[a][tr]  # every artist stand-in counts the same, whatever its number of clips
            _, inv, cnt = np.unique(ga, return_inverse=True, return_counts=True)
            w = np.zeros(len(a))
            w[tr] = (len(tr) / len(cnt)) / cnt[inv]
            gb = musicnn(n_classes=k)
            fit(head_model(gb, "musicnn"), POOL[a], ya, tr, va, lr=1e-3, epochs=30, patience=8, weights=w)
            res["group-balanced weights"].append(clip_acc(head_model(gb, "musicnn"), POOL[b], y[b]))
            inp = layers.Input(POOL.shape[2:])
            lin = keras.Model(inp, layers.Dense(k, activation="softmax")(layers.Dropout(0.3)(inp)))
            fit(lin, POOL[a], ya, tr, va, lr=1e-3, epochs=30, patience=8)
            res["linear head"].append(clip_acc(lin, POOL[b], y[b]))
            lr = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
            res["logreg clip-mean"].append(float((lr.fit(POOL[a].mean(1), ya).predict(POOL[b].mean(1)) == y[b]).mean()))
            if not args.no_fine_tune:
                for layer in m.layers:
                    if re.fullmatch(r"musicnn_mid\d", layer.name):
                        layer.trainable = True
                fit(net, FE[a], ya, tr, va, lr=1e-4, epochs=12, patience=3)
                res["default + fine-tuned mid-end"].append(clip_acc(net, FE[b], y[b]))
            print(f"seed {seed} fold {f}: " + ", ".join(f"{m_} {v[-1]:.3f}" for m_, v in res.items())
                  + f" ({time.perf_counter() - t1:.0f} s)", flush=True)
    base = np.array(res["default head"])
    print(f"\n| candidate | CV accuracy | paired difference from the default (± s.e., {len(base)} fold-runs) |")
    print("|---|---|---|")
    gains = {}
    for m_, v in res.items():
        d = np.array(v) - base
        gains[m_] = d.mean()
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        print(f"| {m_} | {np.mean(v):.3f} | {d.mean():+.3f} ± {se:.3f} |")
    print(f"best_alternative_minus_default_cv_accuracy={max(v for m_, v in gains.items() if m_ != 'default head'):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
