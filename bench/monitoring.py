"""Monitoring benchmark: drift false alarms, drift detection, unknown-genre AUROC on real music.

    python bench/monitoring.py [--data DIR] [--model-dir PROJECT] [--work DIR] [--resamples 20] [--size 30]

Needs the shared real-music folder (``$MIR_SHARED_DATA`` or ``../shared/data``: gtzan4/, new_genres/, songs/).
Never run by the tests.

1. A model: trained here through the mir stage functions (data → ingest → featurize → train → evaluate) in a
   temporary project on ``gtzan4`` (folder dataset, ``split: dirs``: gtzan4/valid becomes the test split and
   15 % of gtzan4/train the validation split that calibrates the unknown threshold) — or an already trained
   project given with ``--model-dir``.
2. Reference = the model's training clips (:func:`mir.monitoring.monitor.build_reference`), exactly as
   ``mir monitor`` builds it.
3. **False-alarm rate**: ``mir monitor``'s drift verdict (Evidently feature drift, or more songs flagged unknown
   than in-distribution music gives: :func:`mir.monitoring.monitor.overall_drift`) on ``--resamples`` random subsets (``--size`` songs each) of
   gtzan4/valid — in-distribution music the model never trained on. Goal ≤ 5 %.
4. **Detection rate**: the verdict on as many subsets of gtzan4/valid rendered through the synth shift of
   params.yaml (``new_music.shift``: gain, EQ tilt, noise, 16 kHz), plus one verdict on the whole songs of
   ``songs/`` (other recordings, other genres). Goal ≥ 90 %.
5. **Unknown AUROC**: the OOD score of the songs of ``new_genres/`` (unknown) vs gtzan4/valid (known).
   Goal ≥ 0.8.

Last line: ``false_alarm_rate=X detection_rate=Y unknown_auroc=Z``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mir.env import quiet  # noqa: E402

quiet()  # the telemetry switches, before any tool is imported


def train_project(work: Path, data: Path) -> Path:
    """A temporary mir project trained on gtzan4 with the repo's parameters."""
    from common import folder_params, run_stages

    run_stages(work, folder_params(data / "gtzan4"), ("data", "ingest", "featurize", "train", "evaluate"),
               keep_going=("evaluate",))  # evaluate only adds the test accuracy to the printout
    return work


def shifted_copy(src: Path, dst: Path, cfg) -> Path:
    """Every audio file of ``src/<genre>/`` rendered through the configured synth shift into ``dst``."""
    import soundfile as sf

    from mir.audio import load
    from mir.demo import Shift, apply_shift
    from mir.datasets.new_music import list_new_music

    shift = Shift(**cfg.new_music.shift.model_dump())
    for i, s in enumerate(list_new_music(src)):
        y, sr = apply_shift(load(s.path, sr=22050), sr=22050, shift=shift, seed=1000 + i)
        out = dst / f"{s.song_id}.ogg"
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(out, y, sr, format="OGG", subtype="VORBIS")
    return dst


def verdicts(ref, pool, *, cfg, resamples: int, size: int, seed: int) -> list[bool]:
    """``mir monitor``'s drift verdict on ``resamples`` random subsets of ``pool``."""
    import numpy as np

    from mir.monitoring.monitor import drift_verdict

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(resamples):
        idx = rng.choice(len(pool), size=min(size, len(pool)), replace=False)
        out.append(drift_verdict(cfg, ref, pool.iloc[idx])["drift"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("MIR_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--model-dir", help="an already trained mir project (params.yaml, models/, data/features/)")
    ap.add_argument("--work", help="where to train (default: a new temporary folder)")
    ap.add_argument("--resamples", type=int, default=20)
    ap.add_argument("--size", type=int, default=30, help="songs per resample")
    args = ap.parse_args()
    data = Path(args.data).resolve()
    for sub in ("gtzan4/train", "gtzan4/valid", "new_genres", "songs"):
        if not (data / sub).is_dir():
            sys.exit(f"bench/monitoring.py: {data / sub} not found (set MIR_SHARED_DATA)")

    t0 = time.time()
    if args.model_dir:
        os.chdir(Path(args.model_dir).resolve())
    else:
        work = Path(args.work or tempfile.mkdtemp(prefix="mir-bench-monitor-")).resolve()
        print(f"training on gtzan4 in {work}", flush=True)
        train_project(work, data)

    import numpy as np

    from mir.config import load_config
    from mir.io import read_json
    from mir.model.bundle import ModelBundle
    from mir.monitoring import ood
    from mir.monitoring.monitor import analyse_folder, build_reference, drift_columns, drift_verdict

    cfg = load_config()
    bundle = ModelBundle.load(cfg.paths.models)
    ref = build_reference(cfg, bundle)
    acc = (read_json("metrics/eval.json") if Path("metrics/eval.json").exists() else {}).get("accuracy")
    print(f"model: {', '.join(bundle.genres)}; test accuracy {acc}; reference {len(ref.table)} training clips; "
          f"OOD threshold {ref.calibration.threshold:.3f} (q={ref.calibration.quantile}, "
          f"{ref.calibration.n} {ref.calibration_split} clips)", flush=True)

    known, _ = analyse_folder(cfg, bundle, ref, data / "gtzan4" / "valid", progress=False)
    cols = drift_columns(ref, known)
    tmp = Path(tempfile.mkdtemp(prefix="mir-bench-shifted-"))
    shifted, _ = analyse_folder(cfg, bundle, ref, shifted_copy(data / "gtzan4" / "valid", tmp, cfg),
                                progress=False)
    songs, rej = analyse_folder(cfg, bundle, ref, data / "songs", progress=False)
    unknown, _ = analyse_folder(cfg, bundle, ref, data / "new_genres", progress=False)
    print(f"analysed: {len(known)} known (gtzan4/valid), {len(shifted)} shifted, {len(songs)} songs "
          f"({len(rej)} skipped), {len(unknown)} unknown-genre (new_genres)", flush=True)

    t = time.time()
    fa = verdicts(ref, known, cfg=cfg, resamples=args.resamples, size=args.size, seed=1)
    det = verdicts(ref, shifted, cfg=cfg, resamples=args.resamples, size=args.size, seed=2)
    v_songs = drift_verdict(cfg, ref, songs)
    det_all = det + [v_songs["drift"]]
    print(f"drift verdicts ({len(cols) + 1} columns, {time.time() - t:.0f} s): in-distribution "
          f"{sum(fa)}/{len(fa)} drifted; synth-shifted {sum(det)}/{len(det)} drifted; songs vs gtzan4: "
          f"{'drift' if v_songs['drift'] else 'no drift'} (features: {v_songs['n_drifted']}/{v_songs['n_columns']} "
          f"columns; {int(songs['unknown'].sum())}/{len(songs)} flagged unknown, p={v_songs['unknown_excess_p']:.2g})",
          flush=True)
    full_known = drift_verdict(cfg, ref, known)
    drifted_known = sorted(c for c, v in full_known["columns"].items() if v["drifted"])
    print(f"  all {len(known)} in-distribution songs at once: {full_known['n_drifted']}/{full_known['n_columns']} "
          f"columns drift ({', '.join(drifted_known) or 'none'})")

    s_known, s_unknown = known["ood_score"].to_numpy(), unknown["ood_score"].to_numpy()
    auc = ood.auroc(s_known, s_unknown)
    auc_msp = ood.auroc(known["msp"].to_numpy(), unknown["msp"].to_numpy())
    auc_dist = ood.auroc(known["emb_dist"].to_numpy(), unknown["emb_dist"].to_numpy())
    auc_ood = ood.auroc(known["ood_dist"].to_numpy(), unknown["ood_dist"].to_numpy())
    print(f"unknown genres: AUROC {auc:.3f} (max-softmax alone {auc_msp:.3f}, embedding distance alone "
          f"{auc_dist:.3f}, {cfg.monitor.ood_features} distance alone {auc_ood:.3f}); flagged: {np.mean(unknown['unknown']):.0%} of unknown-genre songs, "
          f"{np.mean(known['unknown']):.0%} of known (threshold from valid, q={ref.calibration.quantile})")
    if "new_genre" in known:
        print(f"new genre (the second novelty score): AUROC {ood.auroc(known['new_genre_score'], unknown['new_genre_score']):.3f}"
              f" (new_genres vs gtzan4/valid); flagged new genre: {np.mean(unknown['new_genre']):.0%} of unknown-genre"
              f" songs, {np.mean(known['new_genre']):.0%} of known, {int(songs['new_genre'].sum())}/{len(songs)} songs "
              f"(retrain_suggested={v_songs['retrain_suggested']}, p={v_songs['new_genre_excess_p']:.2g})")
    print(f"total {time.time() - t0:.0f} s")
    print(f"false_alarm_rate={np.mean(fa):.3f} detection_rate={np.mean(det_all):.3f} unknown_auroc={auc:.3f}")


if __name__ == "__main__":
    main()
