"""Novelty benchmark: "a new genre" vs "a known genre from a new recording source", on shared real music.

    python bench/novelty.py [--data DIR] [--work DIR] [--quantile 0.95] [--bodies B,B,...]

The novelty scores use only the frozen pretrained bodies (their per-layer channel statistics and their tag
outputs), which do not depend on the trained head: this script runs gtzan4's clips and the other music through
each body once (:class:`mir.model.inference.Engine`, its per-clip cache under ``--work``) and fits the scores as
``mir monitor`` does (on gtzan4/train; thresholds at the ``--quantile`` of gtzan4/valid). Only the first
``features.clip_seconds`` of a song count.

Sets (from file names, sidecars, ID3 tags and ``new_sources/labels.csv`` only):

- **known genre, other source**: ``songs/`` classical_music, jazz_music, the Brahms and Tchaikovsky recordings
  (classical), Kevin MacLeod's "Jazz Sampler" (jazz); FMA clips whose ID3 genre is Rock, Punk or Krautrock
  (FMA files them under Rock); ``new_sources/`` classical (19), blues (3) and the one rock 'n' roll clip;
- **thrash metal** (``new_sources/rock``, 9 clips tagged Thrash Metal): reported apart, since GTZAN's taxonomy
  has metal as a genre of its own;
- **new genre**: new_genres/ (GTZAN, 6 genres), the 6 other genre-named ``songs/`` and the drum-and-bass stem,
  FMA clips tagged with a genre outside the four, ``new_sources/electronic`` (15);
- **unlabelled**: ``new_sources/unlabelled`` (235 clips from 69 packages): how often each flag fires on
  realistic new music.

Prints, per score, the AUROC of new genre vs known genre from another source (95 % bootstrap interval) and the
share of each set flagged at the valid-calibrated threshold (95 % Wilson interval), then per source (Debian
package) for the default score. Last line: ``new_genre_auroc=X known_other_flagged_new_genre=Y`` for the score
``mir monitor`` uses as ``new_genre`` with ``monitor.tag_bodies`` as in params.yaml.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, shared_data

KNOWN_SONGS = {"classical_music": "classical", "jazz_music": "jazz",
               "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra)": "classical",
               "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy": "classical",
               "Kevin_MacLeod_-_Vibe_Ace": "jazz"}
NEW_GENRE_SONGS = ("country_music", "disco_music", "hip-hop_music", "metal_music", "pop_music", "reggae_music",
                   "admiralbob77_-_Choice_-_Drum-bass")
FMA_KNOWN = {"Rock": "rock", "Punk": "rock", "Krautrock": "rock"}
FMA_AMBIGUOUS = {"Metal", "Lo-fi", "Revival", ""}
AUDIO = (".mp3", ".ogg", ".wav", ".flac", ".au")


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO)


def fma_sets(root: Path) -> tuple[list[Path], list[Path]]:
    """``(known, new)`` FMA clips by their ID3 genre tag."""
    from mutagen.easyid3 import EasyID3

    known, new = [], []
    for p in files(root):
        try:
            g = (EasyID3(p).get("genre") or [""])[0].strip()
        except Exception:  # noqa: BLE001 - no tag
            g = ""
        if g in FMA_KNOWN:
            known.append(p)
        elif g not in FMA_AMBIGUOUS:
            new.append(p)
    return known, new


def build_sets(d: Path) -> tuple[dict[str, list[Path]], dict[Path, str]]:
    """The sets above, and the source (Debian package) of every new_sources clip."""
    songs = {p.stem: p for p in files(d / "songs")}
    fk, fn = fma_sets(d / "fma_small_sample")
    ns = d / "new_sources"
    source = {}
    for row in csv.DictReader(open(ns / "labels.csv", newline="")):
        source[ns / row["clip_file"]] = row["source_package"]
    lab = {g: files(ns / g) for g in ("classical", "blues", "rock", "electronic")}
    for p in files(ns / "unlabelled"):
        source.setdefault(p, p.name.split("__")[0])
    thrash = [p for p in lab["rock"] if p.name.startswith("widelands")]
    return {
        "train": files(d / "gtzan4" / "train"),
        "valid": files(d / "gtzan4" / "valid"),
        "known_other": [songs[s] for s in KNOWN_SONGS] + fk + lab["classical"] + lab["blues"]
        + [p for p in lab["rock"] if p not in thrash],
        "thrash_metal": thrash,
        "new_genre": files(d / "new_genres") + [songs[s] for s in NEW_GENRE_SONGS] + fn + lab["electronic"],
        "unlabelled": files(ns / "unlabelled"),
    }, source


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a proportion ``k / n``."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + z * z / n
    mid = p + z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (mid - half) / den, (mid + half) / den


def auroc_ci(known: np.ndarray, new: np.ndarray, *, n: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """AUROC of ``new`` vs ``known`` with a 95 % bootstrap interval (both sets resampled)."""
    from mir.monitoring import ood

    rng = np.random.default_rng(seed)
    boot = [ood.auroc(rng.choice(known, len(known)), rng.choice(new, len(new))) for _ in range(n)]
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return ood.auroc(known, new), float(lo), float(hi)


def body_outputs(sets: dict[str, list[Path]], bodies: list[str], work: Path) -> dict:
    """Per set: ``{"tags": {body: (n, 50) mean tag logits}, "stats": {layer: (n, 2c)}}`` (stats of bodies[0]).

    One engine per body, so each body's per-clip cache (keyed by its weights) serves every combination.
    """
    from mir.config import FeatureParams
    from mir.features.extract import featurize_file
    from mir.model.architectures import pretrained_model
    from mir.model.inference import Engine
    from mir.model.pretrained import MUSICNN_FEATURES, tag_logits

    fp = FeatureParams(**MUSICNN_FEATURES)
    engines = {b: Engine(pretrained_model(bodies=[b], n_classes=2), cache_dir=work / "inference") for b in bodies}
    out = {}
    for name, paths in sets.items():
        cache = work / f"{name}-{len(paths)}.npy"
        if cache.is_file():
            X = np.load(cache, mmap_mode="r")
        else:
            X = np.stack([featurize_file(p, fp=fp)[0] for p in paths]).astype(np.float16)
            np.save(cache, X)
        rows = np.arange(len(X))
        out[name] = {"stats": engines[bodies[0]].clip_outputs(X, rows)["layer_stats"],
                     "tags": {b: np.stack([tag_logits(b, e["features"]).mean(0) for e in engines[b].clip_body(X, rows)])
                              for b in bodies}}
        print(f"  {name}: {len(X)} clips", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=shared_data())
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "mir-bench-bodies",
                    help="features and the body cache (reused by the next run)")
    ap.add_argument("--quantile", type=float, default=0.95)
    ap.add_argument("--bodies", default="msd_musicnn,msd_vgg,mtt_musicnn,mtt_vgg",
                    help="bodies to run (the scores below use subsets of them)")
    args = ap.parse_args(argv)
    d = args.data
    for sub in ("gtzan4/train", "gtzan4/valid", "new_genres", "songs", "fma_small_sample", "new_sources"):
        if not (d / sub).is_dir():
            sys.exit(f"bench/novelty.py: {d / sub} not found (set MIR_SHARED_DATA)")
    import yaml

    from mir.monitoring import ood

    t0 = time.time()
    sets, source = build_sets(d)
    print(", ".join(f"{k}: {len(v)}" for k, v in sets.items()), flush=True)
    args.work.mkdir(parents=True, exist_ok=True)
    bodies = args.bodies.split(",")
    out = body_outputs(sets, bodies, args.work)
    default = yaml.safe_load((ROOT / "params.yaml").read_text())["monitor"].get("tag_bodies") or ["msd_musicnn"]
    genres = sorted({p.parent.name for p in sets["train"]})
    y = np.array([genres.index(p.parent.name) for p in sets["train"]])
    ls = ood.fit_layer_spaces(out["train"]["stats"], y, n_classes=len(genres), shrinkage=0.5)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731

    def tag_knn(subset):
        ref = np.concatenate([sig(out["train"]["tags"][b]) for b in subset], axis=1)
        return lambda k: ood.knn_cosine_distance(ref, np.concatenate([sig(out[k]["tags"][b]) for b in subset], 1))

    combos = [["msd_musicnn"], ["msd_musicnn", "msd_vgg"], ["msd_musicnn", "mtt_musicnn"], bodies]
    scores = {"per-layer class distance, msd_musicnn (new_source)": lambda k: ood.layer_distance(ls, out[k]["stats"])}
    for c in combos:
        if all(b in bodies for b in c):
            scores[f"tag cosine 5-NN, {'+'.join(c)}"] = tag_knn(c)
    chosen = f"tag cosine 5-NN, {'+'.join(default)}"
    if chosen not in scores:
        scores[chosen] = tag_knn(default)
    shown = ("valid", "known_other", "thrash_metal", "new_genre", "unlabelled")
    print(f"\nthreshold = q{args.quantile:g} of gtzan4/valid; AUROC: new genre vs known genre from another source "
          "[95 % bootstrap]; flagged: share of each set [95 % Wilson]\n")
    print("| score | AUROC | " + " | ".join(f"flagged: {s} ({len(sets[s])})" for s in shown) + " |")
    print("|---|---|" + "---|" * len(shown))
    results = {}
    for label, f in scores.items():
        s = {k: f(k) for k in out if k != "train"}
        thr = float(np.quantile(s["valid"], args.quantile))
        a, lo, hi = auroc_ci(s["known_other"], s["new_genre"])
        cells = []
        for k in shown:
            n_fl = int((s[k] > thr).sum())
            w = wilson(n_fl, len(s[k]))
            cells.append(f"{n_fl / len(s[k]):.0%} [{w[0]:.0%}, {w[1]:.0%}]")
        print(f"| {label}{' (mir monitor)' if label == chosen else ''} | {a:.3f} [{lo:.2f}, {hi:.2f}] | "
              + " | ".join(cells) + " |")
        results[label] = (a, float(np.mean(s["known_other"] > thr)), s, thr)
    a, fl, s, thr = results[chosen]
    print(f"\nper source, {chosen} (flagged / clips):")
    for k in ("known_other", "thrash_metal", "new_genre", "unlabelled"):
        by: dict[str, list[bool]] = {}
        for p, v in zip(sets[k], s[k]):
            if "new_sources" in str(p):
                src = source.get(p, p.parent.name)
            else:
                src = "FMA" if "fma_small" in str(p) else p.parent.name
            by.setdefault(src, []).append(bool(v > thr))
        items = sorted(by.items(), key=lambda kv: -len(kv[1]))
        print(f"  {k}: " + ", ".join(f"{src} {sum(v)}/{len(v)}" for src, v in items))
    print(f"\ntotal {time.time() - t0:.0f} s")
    print(f"new_genre_auroc={a:.3f} known_other_flagged_new_genre={fl:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
