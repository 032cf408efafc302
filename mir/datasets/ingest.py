"""Stage ``ingest``: probe and hash every clip, apply the audio policy, assign splits.

Writes the manifest (one row per usable clip) and a rejection table (one row
per clip that can't be used, with the reason). The stage fails when more than
``data.max_reject_fraction`` of the clips are rejected. Raw files are only read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mir.datasets.base import MANIFEST_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from mir.config import AudioParams, Config

REJECTED_COLUMNS = ["clip_id", "path", "genre", "stage", "reason"]


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def assign_splits(
    clip_ids: list[str], genres: list[str], *, seed: int, valid_fraction: float, test_fraction: float,
    groups: list[str | None] | None = None,
) -> list[str]:
    """Seeded split assignment.

    Without groups: stratified per genre, clips ordered by a hash of (seed, id); a
    clip's rank depends only on its own id, so adding a genre leaves the other
    genres' splits untouched. Each genre with ≥ 3 clips gets at least one test
    clip, and one valid clip when ``valid_fraction > 0``.

    With groups (e.g. artists): every clip of a group lands in the same split,
    chosen from a hash of (seed, group), so one artist never straddles two splits
    (proportions are then only approximate). Clips with no group are their own group.
    """
    if groups is not None and any(g is not None for g in groups):
        out = []
        for cid, grp in zip(clip_ids, groups, strict=True):
            u = int(_rank(seed, f"group:{grp}" if grp is not None else cid)[:12], 16) / 16**12
            out.append("test" if u < test_fraction else "valid" if u < test_fraction + valid_fraction else "train")
        return out
    by_genre: dict[str, list[str]] = {}
    for cid, g in zip(clip_ids, genres, strict=True):
        by_genre.setdefault(g, []).append(cid)
    split_of: dict[str, str] = {}
    for ids in by_genre.values():
        ids = sorted(ids, key=lambda c: _rank(seed, c))
        n = len(ids)
        n_test, n_valid = round(n * test_fraction), round(n * valid_fraction)
        if n >= 3:
            n_test = max(n_test, 1 if test_fraction > 0 else 0)
            n_valid = max(n_valid, 1 if valid_fraction > 0 else 0)
        for i, cid in enumerate(ids):
            split_of[cid] = "test" if i < n_test else "valid" if i < n_test + n_valid else "train"
    return [split_of[c] for c in clip_ids]


def check_clip(path: str | Path, *, audio: "AudioParams") -> dict[str, Any]:
    """Probe and hash one file; return its manifest fields or ``{"reason": ...}`` under the audio policy.

    The reasons are :mod:`mir.audio`'s (:func:`~mir.audio.probe`, :func:`~mir.audio.policy_problem`),
    the same ones featurize, monitor and predict give.
    """
    from mir.audio import AudioError, policy_problem, probe
    from mir.io import sha256_file

    p = Path(path)
    try:
        info = probe(p)
        problem = policy_problem(info, audio)
        if problem:
            return {"reason": problem}
        return {"duration_s": round(info.duration_s, 4), "sample_rate": info.sample_rate, "channels": info.channels,
                "checksum": sha256_file(p), "n_bytes": p.stat().st_size}
    except AudioError as err:
        return {"reason": str(err)}
    except OSError as err:
        return {"reason": f"unreadable file: {err.strerror or err}"}


def build_manifest(
    clips: "pd.DataFrame", *, audio: "AudioParams", seed: int, valid_fraction: float, test_fraction: float,
    workers: int = 8, progress: bool = True,
) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """Check every clip of a clip table; return ``(manifest, rejected)`` (pure: reads files only).

    ``clips`` has columns ``clip_id, path, genre`` and optionally ``split`` (kept when the
    dataset defines it) and ``group`` (used for group-aware splits).
    """
    from concurrent.futures import ThreadPoolExecutor

    import pandas as pd
    from tqdm.auto import tqdm

    rows, rejected = [], []
    with ThreadPoolExecutor(max_workers=workers) as ex:  # I/O and C decoders release the GIL
        checks = ex.map(lambda p: check_clip(p, audio=audio), clips["path"].tolist())
        for rec, res in tqdm(zip(clips.to_dict("records"), checks), total=len(clips), desc="ingest", unit="clip",
                             disable=not progress):
            if "reason" in res:
                rejected.append({"clip_id": rec["clip_id"], "path": rec["path"], "genre": rec["genre"],
                                 "stage": "ingest", "reason": res["reason"]})
            else:
                rows.append({"clip_id": rec["clip_id"], "path": rec["path"], "genre": rec["genre"],
                             "given_split": rec.get("split"), "group": rec.get("group"), **res})
    m = pd.DataFrame(rows, columns=[c for c in MANIFEST_COLUMNS if c != "split"] + ["given_split", "group"])
    given = m["given_split"].astype(object).where(m["given_split"].notna(), None).tolist()
    groups = m["group"].astype(object).where(m["group"].notna(), None).tolist()
    present = {g for g in given if g is not None}
    if present and "test" not in present:
        # the dataset's own split has no test part (e.g. train/ + valid/ folders): its valid part is the
        # held-out test set, and a seeded validation set is carved out of train
        print("ingest: the dataset's split has no test part: its 'valid' clips are the test set, "
              f"{valid_fraction:.0%} of 'train' becomes validation")
        given = ["test" if g == "valid" else None if g == "train" else g for g in given]
        test_fraction = 0.0
    assigned = assign_splits(m["clip_id"].tolist(), m["genre"].tolist(), seed=seed, valid_fraction=valid_fraction,
                             test_fraction=test_fraction, groups=groups)
    m["split"] = [g if g is not None else a for g, a in zip(given, assigned)]
    m = m[list(MANIFEST_COLUMNS)].sort_values("clip_id", kind="stable").reset_index(drop=True)
    return m, pd.DataFrame(rejected, columns=REJECTED_COLUMNS)


def check_reject_fraction(n_rejected: int, n_total: int, *, limit: float, table: str) -> None:
    """Raise ``ValueError`` when too many clips were rejected (the policy in ``data.max_reject_fraction``)."""
    if n_total and n_rejected / n_total > limit:
        raise ValueError(f"{n_rejected} of {n_total} clips rejected ({n_rejected / n_total:.0%}) > "
                         f"data.max_reject_fraction {limit:.0%}; reasons in {table}")


def check_reject_budget(cfg: "Config", *, n_featurize_rejected: int, n_manifest: int, tables: str) -> None:
    """One reject budget for the pipeline: ingest's rejections (``paths.rejected``) plus featurize's,
    over every clip ingest was given, against ``data.max_reject_fraction``."""
    from mir.io import read_table

    rej_path = Path(cfg.paths.rejected)
    n_ingest = len(read_table(rej_path)) if rej_path.exists() else 0
    n_total = n_manifest + n_ingest
    n_rejected = n_ingest + n_featurize_rejected
    limit = cfg.data.max_reject_fraction
    if n_total and n_rejected / n_total > limit:
        raise ValueError(f"{n_rejected} of {n_total} clips rejected ({n_rejected / n_total:.0%}: {n_ingest} by ingest, "
                         f"{n_featurize_rejected} by featurize) > data.max_reject_fraction {limit:.0%}; "
                         f"reasons in {tables}")


def ingest(cfg: "Config", *, progress: bool = True) -> Path:
    """Stage ``ingest``: write ``paths.manifest`` and ``paths.rejected``; return the manifest path."""
    from mir.datasets.clips import read_clips
    from mir.io import write_csv

    clips = read_clips(cfg)
    clips = clips[clips["genre"].isin(cfg.genres)].reset_index(drop=True)
    missing = sorted(set(cfg.genres) - set(clips["genre"]))
    if missing:
        raise ValueError(f"no clips for genre(s) {', '.join(missing)} in {cfg.data.dataset}")
    manifest, rejected = build_manifest(
        clips, audio=cfg.audio, seed=cfg.seed, valid_fraction=cfg.data.valid_fraction,
        test_fraction=cfg.data.test_fraction, progress=progress,
    )
    write_csv(cfg.paths.rejected, rejected)
    counts = manifest.groupby("split").size().to_dict()
    print(f"ingest: {len(manifest)} clips ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}), "
          f"{len(rejected)} rejected → {cfg.paths.manifest}")
    for r in rejected.head(10).itertuples():
        print(f"  rejected {r.clip_id}: {r.reason}")
    if len(rejected) > 10:
        print(f"  … and {len(rejected) - 10} more in {cfg.paths.rejected}")
    check_reject_fraction(len(rejected), len(clips), limit=cfg.data.max_reject_fraction,
                          table=cfg.paths.rejected)
    write_csv(cfg.paths.manifest, manifest)
    return Path(cfg.paths.manifest)
