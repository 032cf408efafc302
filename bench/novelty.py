"""Novelty benchmark: "a new genre" vs "a known genre from a new recording source", on shared real music.

    python bench/novelty.py [--data DIR] [--work DIR] [--quantile 0.95]

The default model's body is musicnn's frozen pretrained network, so the per-layer channel statistics the
novelty scores use do not depend on the trained head: this script runs gtzan4's clips and the new music
through that body once (:class:`mir.model.inference.Engine`, its per-clip cache under ``--work``) and fits
the scores exactly as ``mir monitor`` does (:func:`mir.monitoring.ood.fit_layer_spaces` on gtzan4/train,
thresholds at the ``--quantile`` of gtzan4/valid). Only the first ``features.clip_seconds`` of a song count.

Sets (built from file names, sidecars and ID3 tags only; see ``KNOWN_SONGS`` and ``FMA_*``):

- **known, same source**: gtzan4/valid (the calibration clips; reported, not a test set);
- **known, other source**: ``songs/`` classical_music, jazz_music, the Brahms and Tchaikovsky recordings
  (classical), Kevin MacLeod's "Jazz Sampler" track (jazz); FMA clips whose ID3 genre is Rock or one of the
  tags FMA's own genre tree files under Rock (Punk, Krautrock);
- **new genre**: new_genres/ (GTZAN, 6 genres), the 6 other genre-named ``songs/`` and the drum-and-bass
  stem, FMA clips tagged with a genre outside the four (Folk, Hip-Hop, Pop, Latin, Noise, …).
  Left out as ambiguous: the ragtime and waltz pieces, Karissa Hobbs (no genre given), FMA "Metal" (a
  GTZAN genre of its own, under Rock in FMA), "Lo-fi", "Revival" and untagged clips.

Scores: the per-layer class distance (today's ``unknown`` = ``new_source``), the per-layer background
distance, the per-layer relative Mahalanobis distance, and on musicnn's own 50 MSD tags
(:func:`mir.model.pretrained.musicnn_tag_logits`) the class distance, the relative Mahalanobis distance and the
cosine 5-NN distance of the tag probabilities (``new_genre`` for musicnn models).

Prints, for each score, the AUROC of "new genre vs known genre from another source" (all new-genre songs,
and the other-source ones alone), the AUROC against gtzan4/valid, and the share of each set flagged at the
valid-calibrated threshold. Last line: ``new_genre_auroc=X known_other_flagged_new_genre=Y`` for the tag 5-NN score (what ``mir monitor``
uses for a musicnn model).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import shared_data

KNOWN_SONGS = {"classical_music": "classical", "jazz_music": "jazz",
               "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra)": "classical",
               "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy": "classical",
               "Kevin_MacLeod_-_Vibe_Ace": "jazz"}
NEW_GENRE_SONGS = ("country_music", "disco_music", "hip-hop_music", "metal_music", "pop_music", "reggae_music",
                   "admiralbob77_-_Choice_-_Drum-bass")
FMA_KNOWN = {"Rock": "rock", "Punk": "rock", "Krautrock": "rock"}
FMA_AMBIGUOUS = {"Metal", "Lo-fi", "Revival", ""}


def fma_sets(root: Path) -> tuple[list[Path], list[Path]]:
    """``(known, new)`` FMA clips by their ID3 genre tag."""
    from mutagen.easyid3 import EasyID3

    known, new = [], []
    for p in sorted(root.rglob("*.mp3")):
        try:
            g = (EasyID3(p).get("genre") or [""])[0].strip()
        except Exception:  # noqa: BLE001 - no tag
            g = ""
        if g in FMA_KNOWN:
            known.append(p)
        elif g not in FMA_AMBIGUOUS:
            new.append(p)
    return known, new


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=shared_data())
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "mir-bench-novelty",
                    help="features and the body cache (reused by the next run)")
    ap.add_argument("--quantile", type=float, default=0.95)
    args = ap.parse_args(argv)
    d = args.data
    for sub in ("gtzan4/train", "gtzan4/valid", "new_genres", "songs", "fma_small_sample"):
        if not (d / sub).is_dir():
            sys.exit(f"bench/novelty.py: {d / sub} not found (set MIR_SHARED_DATA)")
    import numpy as np

    from mir.config import FeatureParams
    from mir.features.extract import featurize_file
    from mir.model.architectures import musicnn
    from mir.model.inference import Engine
    from mir.model.pretrained import MUSICNN_FEATURES, musicnn_tag_logits
    from mir.monitoring import ood

    t0 = time.time()
    audio = (".mp3", ".ogg", ".wav", ".flac", ".au")
    files = lambda root: sorted(p for p in root.rglob("*") if p.suffix.lower() in audio)  # noqa: E731
    songs = {p.stem: p for p in files(d / "songs")}
    fk, fn = fma_sets(d / "fma_small_sample")
    sets = {
        "train": files(d / "gtzan4" / "train"),
        "valid": files(d / "gtzan4" / "valid"),
        "known_other": [songs[s] for s in KNOWN_SONGS] + fk,
        "new_gtzan": files(d / "new_genres"),
        "new_other": [songs[s] for s in NEW_GENRE_SONGS] + fn,
    }
    print(", ".join(f"{k}: {len(v)}" for k, v in sets.items())
          + f" (known other source: {len(KNOWN_SONGS)} songs + {len(fk)} FMA Rock/Punk/Krautrock; "
          f"new genre, other source: {len(NEW_GENRE_SONGS)} songs + {len(fn)} FMA)", flush=True)
    args.work.mkdir(parents=True, exist_ok=True)
    fp = FeatureParams(**MUSICNN_FEATURES)
    model = musicnn(n_classes=4)  # frozen pretrained body; the head is not used here
    engine = Engine(model, cache_dir=args.work / "inference")
    stats, tags = {}, {}
    for name, paths in sets.items():
        cache = args.work / f"{name}.npy"
        if cache.is_file():
            X = np.load(cache)
        else:
            X = np.stack([featurize_file(p, fp=fp)[0] for p in paths]).astype(np.float16)
            np.save(cache, X)
        stats[name] = engine.clip_outputs(X, np.arange(len(X)))["layer_stats"]
        # musicnn's own 50 tags, clip mean of the chunks' logits (the body outputs come from the cache)
        tags[name] = np.stack([musicnn_tag_logits(e["features"]).mean(0) for e in engine.clip_body(X, np.arange(len(X)))])
        print(f"  {name}: {len(X)} clips ({time.time() - t0:.0f} s)", flush=True)
    genres = sorted({p.parent.name for p in sets["train"]})
    y = np.array([genres.index(p.parent.name) for p in sets["train"]])
    names = list(stats["train"])
    ls = ood.fit_layer_spaces(stats["train"], y, n_classes=len(genres), shrinkage=0.5)

    def background(st):  # class-agnostic distance only (for comparison)
        out = 0
        for n, bg in zip(names, ls.backgrounds):
            out = out + ood.nearest_centroid(bg, st[n])[0]
        return out / len(names)

    def knn(t):  # deep nearest neighbours (Sun et al. 2022) on the tag probabilities, cosine: mir's new_genre
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        return ood.knn_cosine_distance(sig(tags["train"]), sig(t), k=5)

    tsp = ood.fit_space(tags["train"], y, n_classes=len(genres), shrinkage=0.5)
    tbg = ood.fit_background(tags["train"], shrinkage=0.5)
    scores = {
        "per-layer class distance (today's OOD score)": lambda k: ood.layer_distance(ls, stats[k]),
        "per-layer background distance": lambda k: background(stats[k]),
        "per-layer relative Mahalanobis": lambda k: ood.layer_relative_distance(ls, stats[k]),
        "musicnn tag space: class distance": lambda k: ood.nearest_centroid(tsp, tags[k])[0],
        "musicnn tag space: relative Mahalanobis": lambda k: ood.relative_distance(tsp, tbg, tags[k]),
        "musicnn tag probabilities: cosine 5-NN distance": lambda k: knn(tags[k]),
    }
    print(f"\n{len(names)} layers; threshold = q{args.quantile:g} of gtzan4/valid\n")
    print("| score | AUROC new genre vs known other source (all / other-source new only / GTZAN new only) | "
          "AUROC new genre vs gtzan4/valid | flagged: valid / known other source / new genre |")
    print("|---|---|---|---|")
    last, detail = {}, []
    for label, f in scores.items():
        s = {k: f(k) for k in stats if k != "train"}
        new = np.concatenate([s["new_gtzan"], s["new_other"]])
        thr = float(np.quantile(s["valid"], args.quantile))
        fl = {k: float(np.mean(v > thr)) for k, v in s.items()}
        fl_new = float(np.mean(new > thr))
        a_all = ood.auroc(s["known_other"], new)
        print(f"| {label} | {a_all:.3f} / {ood.auroc(s['known_other'], s['new_other']):.3f} / "
              f"{ood.auroc(s['known_other'], s['new_gtzan']):.3f} | {ood.auroc(s['valid'], new):.3f} | "
              f"{fl['valid']:.0%} / {fl['known_other']:.0%} / {fl_new:.0%} |")
        last[label] = (a_all, fl["known_other"])
        detail.append((label, s["known_other"], thr))
    print("\nknown genres from other sources, each score (flagged above the valid threshold marked *):")
    for i, p in enumerate(sets["known_other"]):
        print(f"  {p.stem[:40]:40s} " + "  ".join(f"{v[i]:7.2f}{'*' if v[i] > t else ' '}" for _, v, t in detail))
    a, f_ = last["musicnn tag probabilities: cosine 5-NN distance"]
    print(f"\ntotal {time.time() - t0:.0f} s")
    print(f"new_genre_auroc={a:.3f} known_other_flagged_new_genre={f_:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
