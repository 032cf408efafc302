"""Peak memory of ``mir monitor`` against the number of new songs (issue 23, item 23: it must stay flat).

    python bench/monitor_memory.py [--n 500 2000] [--work DIR] [--mir-src DIR] [--seconds 3]

1. A throw-away project (the embedded synth dataset, musicnn's feature parameters — 16 kHz, 96 mels, 30-s clips,
   so each song's log-mel is as large as in the default pipeline — and a tiny from-scratch ``cnn``), trained
   here through the stage functions: the bench measures mir's data handling, not a big network.
2. For each N: N short generated songs (``--seconds`` of tones and noise, WAV, labelled by the synth genres),
   then ``mir monitor --new <folder>`` in a fresh process with an empty inference cache; its peak resident
   memory (``ru_maxrss`` of the largest process) is read by a wrapper process.

``--mir-src`` runs the monitor of another checkout of mir (e.g. ``git archive <commit> mir | tar -x -C DIR``)
on the same project and songs: before/after. Never run by the tests. Last line:
``n=<N> peak_rss_mb=<MB> seconds=<s>`` per N, then ``slope_kb_per_song=<KB>``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mir.env import quiet  # noqa: E402

quiet()  # the telemetry switches, before any tool is imported

PARAMS = {
    "seed": 7,
    "data": {"dataset": "synth", "genres": None, "valid_fraction": 0.2, "test_fraction": 0.2},
    "synth": {"genres": ["classical", "electronic", "rock"], "clips_per_genre": 10, "seconds": 4.0,
              "sample_rate": 16000, "format": "wav"},
    "audio": {"min_duration_s": 1.0},
    "features": {"workers": 2},
    "train": {"arch": "cnn", "chunk_frames": 128, "crops_per_clip": 2, "epochs": 2, "batch_size": 16,
              "patience": 2, "filters": [8, 16]},
    "monitor": {"max_reference_clips": 200},
    "inference": {"runtime": "auto"},
}

WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
           "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")


def make_project(work: Path) -> None:
    """The project of step 1 (skipped when ``work`` already holds a trained model)."""
    import yaml

    from common import run_stages

    if (work / "models/model.keras").is_file():
        return
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, values in PARAMS.items():
        params[section] = {**params[section], **values} if isinstance(values, dict) else values
    for d in ("data/incoming", "data/labelled"):
        (work / d).mkdir(parents=True, exist_ok=True)
    run_stages(work, params, ("data", "ingest", "validate", "featurize", "validate_features", "train"))


def make_songs(folder: Path, n: int, *, seconds: float, sr: int = 16000) -> Path:
    """``n`` generated songs under ``folder/<genre>/`` (kept between runs: made once per N)."""
    import numpy as np
    import soundfile as sf

    if (folder / ".done").is_file():
        return folder
    genres = PARAMS["synth"]["genres"]
    t = np.arange(int(seconds * sr)) / sr
    for i in range(n):
        rng = np.random.default_rng(i)
        g = genres[i % len(genres)]
        f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12) * (1 + i % len(genres))
        y = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) for k in (1, 2, 3))
        y = (y * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 4) * t)) + 0.02 * rng.standard_normal(t.size))
        (folder / g).mkdir(parents=True, exist_ok=True)
        sf.write(folder / g / f"song{i:05d}.wav", y.astype(np.float32), sr, subtype="PCM_16")
    (folder / ".done").write_text("")
    return folder


def measure(work: Path, songs: Path, *, mir_src: Path | None) -> tuple[float, float]:
    """``(peak RSS in MB, seconds)`` of ``mir monitor --new songs`` with an empty inference cache."""
    cache = Path(tempfile.mkdtemp(prefix="mir-monitor-mem-cache-"))
    src = str(mir_src or ROOT)
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("MIR_PARAMS", None)
    cmd = [sys.executable, "-c", WRAPPER, sys.executable, "-c",
           "import sys; from mir.cli import main; sys.exit(main(sys.argv[1:]))",
           "monitor", "--new", str(songs)]
    params = (work / "params.yaml").read_text()
    import yaml

    p = yaml.safe_load(params)
    p["inference"]["cache_dir"] = str(cache)
    (work / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    t0 = time.time()
    try:
        r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    finally:
        (work / "params.yaml").write_text(params)
        import shutil

        shutil.rmtree(cache, ignore_errors=True)
    secs = time.time() - t0
    if r.returncode != 0:
        raise SystemExit(f"mir monitor failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    kb = next(int(ln.split()[1]) for ln in r.stdout.splitlines() if ln.startswith("peak_rss_kb"))
    return kb / 1024, secs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[500, 2000])
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "mir-monitor-memory")
    ap.add_argument("--mir-src", type=Path, default=None, help="another mir checkout's root (before/after)")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each generated song")
    args = ap.parse_args(argv)
    work = args.work.resolve()
    cwd = os.getcwd()
    make_project(work)
    os.chdir(cwd)
    rows = []
    for n in args.n:
        songs = make_songs(work / f"new-{n}", n, seconds=args.seconds)
        mb, secs = measure(work, songs, mir_src=args.mir_src)
        rows.append((n, mb))
        print(f"n={n} peak_rss_mb={mb:.0f} seconds={secs:.0f}", flush=True)
    if len(rows) > 1:
        (n0, m0), (n1, m1) = rows[0], rows[-1]
        print(f"slope_kb_per_song={(m1 - m0) * 1024 / (n1 - n0):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
