"""Stage ``ingest``: list the dataset's clips, probe and hash them, assign splits.

Writes the manifest (one row per usable clip) and a rejection table (one row
per file that can't be used, with the reason). Raw files are only read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from mir.config import Config

MANIFEST_COLUMNS = [
    "clip_id", "path", "genre", "split", "duration_s", "sample_rate", "channels", "checksum", "n_bytes",
]
SPLITS = ("train", "valid", "test")


def assign_splits(
    clip_ids: list[str], genres: list[str], *, seed: int, valid_fraction: float, test_fraction: float
) -> list[str]:
    """Stratified, seeded split: within each genre, clips ordered by a hash of (seed, id).

    A clip's rank depends only on its own id, so adding a genre leaves the
    other genres' splits untouched. Each genre with ≥ 3 clips gets at least one
    test clip, and one valid clip when ``valid_fraction > 0``.
    """
    by_genre: dict[str, list[str]] = {}
    for cid, g in zip(clip_ids, genres, strict=True):
        by_genre.setdefault(g, []).append(cid)
    split_of: dict[str, str] = {}
    for ids in by_genre.values():
        ids = sorted(ids, key=lambda c: hashlib.sha256(f"{seed}:{c}".encode()).hexdigest())
        n = len(ids)
        n_test = round(n * test_fraction)
        n_valid = round(n * valid_fraction)
        if n >= 3:
            n_test = max(n_test, 1)
            n_valid = max(n_valid, 1 if valid_fraction > 0 else 0)
        for i, cid in enumerate(ids):
            split_of[cid] = "test" if i < n_test else "valid" if i < n_test + n_valid else "train"
    return [split_of[c] for c in clip_ids]


def build_manifest(
    clips: list[tuple[Path, str]], *, root: Path, seed: int, valid_fraction: float, test_fraction: float,
    progress: bool = True,
) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """Probe and hash ``clips``; return ``(manifest, rejected)`` DataFrames (pure: reads files only)."""
    import pandas as pd
    from tqdm.auto import tqdm

    from mir.audio import AudioError, probe
    from mir.io import sha256_file

    rows, rejected = [], []
    for path, genre in tqdm(clips, desc="ingest", unit="clip", disable=not progress):
        clip_id = path.relative_to(root).with_suffix("").as_posix()
        try:
            info = probe(path)
            if info.frames == 0:
                raise AudioError("no audio frames")
        except (AudioError, OSError) as err:
            rejected.append({"path": str(path), "genre": genre, "stage": "ingest", "reason": str(err)})
            continue
        rows.append({
            "clip_id": clip_id, "path": str(path), "genre": genre, "duration_s": round(info.duration_s, 4),
            "sample_rate": info.sample_rate, "channels": info.channels, "checksum": sha256_file(path),
            "n_bytes": path.stat().st_size,
        })
    manifest = pd.DataFrame(rows, columns=[c for c in MANIFEST_COLUMNS if c != "split"])
    manifest["split"] = assign_splits(
        manifest["clip_id"].tolist(), manifest["genre"].tolist(), seed=seed,
        valid_fraction=valid_fraction, test_fraction=test_fraction,
    )
    manifest = manifest[MANIFEST_COLUMNS].sort_values("clip_id", kind="stable").reset_index(drop=True)
    rej = pd.DataFrame(rejected, columns=["path", "genre", "stage", "reason"])
    return manifest, rej


def ingest(cfg: "Config", *, progress: bool = True) -> Path:
    """Stage ``ingest``: write ``paths.manifest`` and ``paths.rejected``; return the manifest path."""
    from mir.datasets import list_clips, raw_dir
    from mir.io import write_csv

    root = raw_dir(cfg)
    clips = list_clips(root, genres=cfg.genres)
    missing = sorted(set(cfg.genres) - {g for _, g in clips})
    if missing:
        raise ValueError(f"no audio for genre(s) {', '.join(missing)} under {root}")
    manifest, rejected = build_manifest(
        clips, root=root, seed=cfg.seed, valid_fraction=cfg.data.valid_fraction,
        test_fraction=cfg.data.test_fraction, progress=progress,
    )
    write_csv(cfg.paths.rejected, rejected)
    write_csv(cfg.paths.manifest, manifest)
    counts = manifest.groupby(["split"]).size().to_dict()
    print(f"ingest: {len(manifest)} clips ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}), "
          f"{len(rejected)} rejected → {cfg.paths.manifest}")
    return Path(cfg.paths.manifest)
