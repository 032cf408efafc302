"""Featurisation benchmark: mir vs the naive librosa recipe, on the same files, in one run.

    python bench/featurize.py [--files DIR] [--limit N]

Files: ../shared/data/fma_small_sample (real 44.1 kHz stereo mp3) when present
($MIR_SHARED_DATA overrides ../shared/data), otherwise generated 44.1 kHz stereo mp3s.

Prints clips/s per core for both (one process, BLAS/OpenMP pinned to one thread),
mir's speed-up with 2 worker processes vs 1 (the featurize stage's compute step,
fresh cache each time), and the featurize stage's peak RSS for 1× and 4× the clips
(``--copies`` distinct copies, default 4: an ID3v1 tag makes each copy's checksum unique). The last
line is ``speedup_vs_naive_per_core=X.XX``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"  # per-core numbers: one thread per process

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def shared_data() -> Path:
    return Path(os.environ.get("MIR_SHARED_DATA", ROOT.parent / "shared" / "data"))


def source_files(args) -> tuple[list[Path], str]:
    d = Path(args.files) if args.files else shared_data() / "fma_small_sample"
    files = sorted(d.rglob("*.mp3"))[: args.limit] if d.is_dir() else []
    if files:
        return files, f"{len(files)} real mp3 from {d}"
    import numpy as np
    import soundfile as sf

    out = Path(tempfile.mkdtemp(prefix="mir-bench-gen-"))
    rng = np.random.default_rng(0)
    sr, n = 44100, 44100 * 30
    t = np.arange(n) / sr
    for i in range(args.limit):
        f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
        y = sum(0.2 / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) for k in range(1, 6))
        y = y * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t)) + 0.02 * rng.standard_normal(n)
        st = np.stack([y, np.roll(y, 50)], axis=1).astype(np.float32)
        sf.write(out / f"gen{i:03d}.mp3", st, sr, format="MP3")
    return sorted(out.glob("*.mp3")), f"{args.limit} generated 44.1 kHz stereo mp3 (no shared data found)"


def per_clip(fn, files) -> float:
    fn(files[0])  # warm-up: imports, numba caches, filterbanks
    t0 = time.perf_counter()
    for f in files:
        fn(f)
    return len(files) / (time.perf_counter() - t0)


def naive(path):
    import librosa

    y, sr = librosa.load(path, sr=22050)
    return librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512))


def make_project(files: list[Path], copies: int) -> Path:
    """A throw-away project whose manifest lists ``copies`` distinct copies of ``files``."""
    import pandas as pd

    from mir.io import sha256_file

    d = Path(tempfile.mkdtemp(prefix="mir-bench-proj-"))
    rows = []
    for c in range(copies):
        for f in files:
            dst = d / "audio" / f"c{c}" / f.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dst)
            if c:
                with open(dst, "ab") as fh:  # an ID3v1 tag: same audio, unique bytes
                    fh.write(b"TAG" + f"copy {c}".encode().ljust(125, b"\0"))
            rows.append({"clip_id": f"c{c}/{f.stem}", "path": str(dst), "genre": "g", "split": "train",
                         "duration_s": 30.0, "sample_rate": 44100, "channels": 2, "checksum": sha256_file(dst),
                         "n_bytes": dst.stat().st_size})
    (d / "data").mkdir()
    pd.DataFrame(rows).to_csv(d / "data/manifest.csv", index=False)
    (d / "params.yaml").write_text("data: {genres: [g, h], dataset: folder, max_reject_fraction: 1.0}\n"
                                   "folder: {root: audio}\n")
    return d


def run_stage(project: Path, *, workers: int) -> tuple[float, float]:
    """Run plan+compute+pack in a fresh process; return (seconds of compute, peak RSS MiB of it and its workers)."""
    code = (
        "import time, json, sys\n"
        "from mir.config import load_config\n"
        "from mir.features import extract\n"
        f"cfg = load_config('params.yaml').model_copy(update={{'features': load_config('params.yaml').features"
        f".model_copy(update={{'workers': {workers}}})}})\n"
        "m, jobs = extract.plan(cfg)\n"
        "t0 = time.perf_counter(); extract.compute(jobs, fp=cfg.features, progress=False); dt = time.perf_counter() - t0\n"
        "extract.pack(cfg, m, n_computed=len(jobs), progress=False)\n"
        "print(json.dumps({'seconds': dt}))\n"
    )
    shutil.rmtree(project / "data/cache", ignore_errors=True)
    shutil.rmtree(project / "data/features", ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # max over all waited-for descendants
    import json

    return json.loads(r.stdout.strip().splitlines()[-1])["seconds"], max(peak, before) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", help="folder of mp3 files (default: the shared FMA sample)")
    ap.add_argument("--limit", type=int, default=62)
    ap.add_argument("--copies", type=int, default=4, help="distinct copies for the scaling and memory runs")
    args = ap.parse_args()
    files, what = source_files(args)
    print(f"files: {what}; {os.cpu_count()} cores")

    from mir.config import FeatureParams
    from mir.features.extract import featurize_file

    fp = FeatureParams()
    naive_cps = per_clip(naive, files)
    mir_cps = per_clip(lambda p: featurize_file(p, fp=fp), files)
    print(f"naive librosa (load sr=22050 + melspectrogram + power_to_db): {naive_cps:6.1f} clips/s per core "
          f"({1000 / naive_cps:.1f} ms/clip)")
    print(f"mir featurize_file (decode, mono, soxr, log-mel, stats):     {mir_cps:6.1f} clips/s per core "
          f"({1000 / mir_cps:.1f} ms/clip)")

    project = make_project(files, args.copies)
    one = make_project(files, 1)
    try:
        for proj, n in ((one, len(files)), (project, args.copies * len(files))):
            t1, _ = run_stage(proj, workers=1)
            t2, _ = run_stage(proj, workers=2)
            print(f"featurize compute, {n} clips: 1 worker {t1:.2f} s, 2 workers {t2:.2f} s → "
                  f"speed-up {t1 / t2:.2f}× (includes ~1 s of pool start-up)")
        _, rss1 = run_stage(one, workers=2)
        _, rss4 = run_stage(project, workers=2)
        print(f"featurize peak RSS (largest process): {len(files)} clips {rss1:.0f} MiB, "
              f"{args.copies * len(files)} clips {rss4:.0f} MiB ({(rss4 / rss1 - 1) * 100:+.1f} %)")
    finally:
        shutil.rmtree(project, ignore_errors=True)
        shutil.rmtree(one, ignore_errors=True)
    print(f"speedup_vs_naive_per_core={mir_cps / naive_cps:.2f}")


if __name__ == "__main__":
    main()
