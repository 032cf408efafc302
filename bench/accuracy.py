"""Accuracy benchmark: every architecture and the MFCC baseline on an artist-disjoint folder dataset.

    python bench/accuracy.py [--data DIR] [--archs cnn,fma_cnn,...] [--epochs N] [--seeds N] [--work DIR]

Default data: ``gtzan4`` of the shared real-music folder (``$MIR_SHARED_DATA`` or ``../shared/data``):
trained on ``gtzan4/train``, scored on ``gtzan4/valid`` (the artist-filtered split; the pipeline holds out
``data.valid_fraction`` of train for early stopping). Each architecture runs through the real ``train`` and
``evaluate`` stages with the repository's params.yaml; ``train.arch`` changes and so do the features: the
default ``musicnn`` takes params.yaml's (its pretrained 16 kHz / 96-mel input), the models trained from
scratch the 22 050 Hz / n_fft 2048 / hop 512 / 128-mel log-mels of their recipes, and ``melgram_cnn`` its
recipe's 50-ms window = hop (1-s segments of 21 frames). The baselines are MFCC-statistics + SVM and +
logistic regression on the same split, on each of the first two feature sets; the last line compares the
default with the better of the two.

Prints a table (track-level accuracy, macro-F1, segment accuracy, seconds per epoch, training
examples/s, device; with ``--seeds N``, means over N training seeds on the same split) and, last, ``default_minus_baseline_track_accuracy=X.XXX``: the default architecture
(params.yaml's ``train.arch``) minus the ``evaluate.baseline`` classifier, in track accuracy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, folder_params, run_stages, shared_data


def main(argv: list[str] | None = None) -> int:
    import yaml

    from mir.model.architectures import ARCHS

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    default_arch = params["train"]["arch"]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=shared_data() / "gtzan4",
                    help="a folder with train/<genre>/ and valid/<genre>/ (valid is scored)")
    ap.add_argument("--archs", default=",".join(ARCHS), help="comma-separated architectures")
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    ap.add_argument("--work", type=Path, default=None, help="keep the projects here (default: a temp dir)")
    ap.add_argument("--seeds", type=int, default=1,
                    help="train each architecture this many times (seed, seed+1, …) and report the mean: one run "
                         "on 84 clips varies by ±4 points")
    args = ap.parse_args(argv)
    if not (args.data / "train").is_dir():
        sys.exit(f"bench/accuracy.py: {args.data}/train not found (set MIR_SHARED_DATA or --data)")
    archs = [a for a in args.archs.split(",") if a]
    work = args.work or Path(tempfile.mkdtemp(prefix="mir-bench-accuracy-"))
    train_over = {"epochs": args.epochs} if args.epochs else {}
    classic = {"sample_rate": 22050, "n_fft": 2048, "hop_length": 512, "n_mels": 128}
    win = int(round(0.05 * 22050))  # the melgram recipe: 50-ms window and hop
    features_for = {a: ({} if a == "musicnn" else {**classic, "n_fft": win, "hop_length": win}
                        if a == "melgram_cnn" else classic) for a in archs}
    fkey_of = {a: "default" if a == "musicnn" else "recipe" if a == "melgram_cnn" else "classic" for a in archs}

    rows, baselines = [], {}
    for arch in archs:
        print(f"== {arch}", flush=True)
        fkey = fkey_of[arch]
        proj = work / f"features-{fkey}"
        p = folder_params(args.data, train={"arch": arch, **train_over}, features=features_for[arch],
                          evaluate={"baseline": "svm"})
        if not (proj / "data/features/logmel.npy").exists():
            run_stages(proj, p, ("data", "ingest", "featurize"))  # the split is fixed here, with params' seed
        t0 = time.time()
        runs = []
        for i in range(args.seeds):  # only the training seed changes: same split, same features
            run_stages(proj, {**p, "seed": p["seed"] + i}, ("train", "evaluate"))
            tr = json.loads((proj / "metrics/train.json").read_text())
            ev = json.loads((proj / "metrics/eval.json").read_text())
            runs.append((ev, tr))
            if args.seeds > 1:
                print(f"   seed {p['seed'] + i}: track accuracy {ev['accuracy']:.3f}", flush=True)
        mean = lambda f: float(sum(f(e) for e, _ in runs) / len(runs))  # noqa: E731
        rows.append({"model": arch, "track_acc": mean(lambda e: e["accuracy"]),
                     "macro_f1": mean(lambda e: e["macro_f1"]), "segment_acc": mean(lambda e: e["segment"]["accuracy"]),
                     "s_per_epoch": tr["seconds_per_epoch"], "examples_per_s": tr["examples_per_s"],
                     "epochs": tr["epochs_run"], "params": tr["n_params"], "device": tr["device"],
                     "runs": " ".join(f"{e['accuracy']:.3f}" for e, _ in runs), "wall_s": round(time.time() - t0)})
        if fkey != "recipe" and fkey not in baselines:
            from mir.config import load_config
            from mir.evaluation.baseline import evaluate_baseline
            from mir.features.extract import FeatureStore
            from mir.io import read_table

            cfg = load_config()
            store, manifest = FeatureStore(cfg.paths.features), read_table(cfg.paths.manifest)
            baselines[fkey] = {}
            fdesc = f"{cfg.features.sample_rate / 1000:g} kHz, {cfg.features.n_mels} mels"
            for kind in ("svm", "logreg"):
                b = evaluate_baseline(store, manifest, cfg.genres, fp=cfg.features, kind=kind,
                                      n_mfcc=cfg.evaluate.baseline_n_mfcc, seed=cfg.seed)
                baselines[fkey][kind] = b
                rows.append({"model": f"baseline {b['kind']} ({fdesc})", "track_acc": b["accuracy"],
                             "macro_f1": b["macro_f1"], "segment_acc": None, "s_per_epoch": None,
                             "examples_per_s": None, "epochs": None, "params": None, "device": "cpu", "wall_s": None,
                             "runs": None})
        row = next(r for r in rows if r["model"] == arch)
        print(f"   track accuracy {row['track_acc']:.3f}, macro-F1 {row['macro_f1']:.3f}"
              + (f" (mean of {len(runs)} seeds: {row['runs']})" if len(runs) > 1 else ""), flush=True)

    cols = ["model", "track_acc", "macro_f1", "segment_acc", "s_per_epoch", "examples_per_s", "epochs", "params",
            "device"] + (["runs"] if args.seeds > 1 else [])
    print()
    print(" | ".join(cols))
    print(" | ".join("---" for _ in cols))
    for r in rows:
        print(" | ".join("" if r[c] is None else (f"{r[c]:.3f}" if isinstance(r[c], float) and c.endswith(("acc", "f1"))
                                                  else str(r[c])) for c in cols))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    default = next((r for r in rows if r["model"] == default_arch), None)
    kind = params["evaluate"]["baseline"] if params["evaluate"]["baseline"] != "none" else "svm"
    candidates = [b[kind] for b in baselines.values() if kind in b]
    base = max(candidates, key=lambda b: b["accuracy"]) if candidates else None
    if default is None or not base:
        print("default_minus_baseline_track_accuracy=nan (the default architecture was not run)")
        return 1
    print(f"default={default_arch} baseline={base['kind']}")
    print(f"default_minus_baseline_track_accuracy={default['track_acc'] - base['accuracy']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
