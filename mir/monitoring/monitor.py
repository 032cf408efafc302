"""Stage ``monitor``: how does new music compare with the training data, and with the model?

``mir monitor [--new DIR]`` (dvc.yaml's ``monitor`` stage and the Prefect flow call
:func:`monitor`). ``DIR`` (default ``paths.new_music``) holds new music, labelled
by sub-folder (``<DIR>/<genre>/**``) and/or unlabelled (files directly in ``DIR``).

1. **Reference** (:func:`mir.monitoring.reference.build_reference`): the training clips of the feature store
   (a seeded sample of at most ``monitor.max_reference_clips``) — their per-clip
   summary features (loudness, peak, zero-crossing rate, spectral centroid /
   rolloff / flatness, onset rate, band energies; :func:`mir.features.logmel.summary_stats`),
   a tempo estimate from the stored log-mel, the first ``monitor.embedding_pcs``
   principal components of the model's ``embedding`` layer (PCA fitted on the
   training clips; a clip's embedding is the mean over its chunks) and the model's
   prediction (genre, confidence). The validation clips calibrate the unknown-genre
   threshold (:mod:`mir.monitoring.ood`).
2. **Current** (:func:`analyse_folder`): the same columns for every new song. Each
   file is first checked against the ``audio:`` policy (a file longer than
   ``audio.max_duration_s`` — a 3-hour recording, say — is skipped with that reason
   before anything is decoded); corrupt or silent files are skipped with their
   reason; only the first ``features.clip_seconds`` of a song are analysed, as in
   training. Songs stream through in batches of :data:`BATCH_SONGS` (log-mel → summary features, tempo,
   model outputs, novelty scores); only each song's row of numbers is kept, so memory is flat in the
   number of songs (``bench/monitor_memory.py`` measures it).
3. **Reports**: ``reports/drift.html`` (Evidently data drift, every column above),
   ``reports/generalization.html`` (:mod:`mir.monitoring.generalization`) and the
   verdict ``metrics/drift.json`` (:mod:`mir.monitoring.verdict`, one
   :class:`mir.records.drift.DriftRecord`).

Songs whose label is not among the model's genres are *unknown-genre songs*: listed
in the report with their nearest known genre, excluded from accuracy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mir.monitoring.reference import (PRED_COLUMN, Reference, build_reference, genre_distance, pred_columns,
                                      tag_bodies, unknown_distance)
from mir.monitoring.verdict import (DRIFT_EXCLUDE, drift_columns, drift_record, drift_verdict, labelled_scores,
                                    new_genre_drift, overall_drift)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mir.config import Config
    from mir.datasets.new_music import NewSong
    from mir.model.bundle import ModelBundle
    from mir.monitoring.verdict import Labelled
    from mir.records.drift import DriftRecord

#: Songs featurised and scored at a time: what memory is bounded by (one batch's log-mels), not the folder.
BATCH_SONGS = 256

__all__ = ["BATCH_SONGS", "DRIFT_EXCLUDE", "PRED_COLUMN", "Reference", "analyse_folder", "build_reference", "drift_columns",
           "drift_verdict", "monitor", "new_genre_drift", "overall_drift", "resolve_new_music"]


def _check_songs(cfg: "Config", songs: list["NewSong"], rejected: list[dict]) -> list["NewSong"]:
    """The songs that pass the ``audio:`` policy from their header (a 3-hour file is rejected here, unread)."""
    from mir.datasets.ingest import check_clip

    usable = []
    for s in songs:
        res = check_clip(s.path, audio=cfg.audio)
        if "reason" in res:
            rejected.append({"path": str(s.path), "reason": res["reason"]})
        else:
            usable.append(s)
    return usable


def _featurise(cfg: "Config", songs: list["NewSong"], rejected: list[dict], *, progress: bool,
               batch: int | None = None) -> Iterator[tuple[list[dict], np.ndarray]]:
    """Batches of at most ``batch`` songs: their rows (``song_id, label, path``, summary features, tempo) and
    their log-mels ``(n, n_mels, frames)``; failures rejected. One batch's log-mels are held at a time."""
    from tqdm.auto import tqdm

    from mir.features.extract import iter_features
    from mir.monitoring.tables import tempo_bpm

    fp, batch = cfg.features, batch or BATCH_SONGS
    rows: list[dict] = []
    mels: list[np.ndarray] = []
    results = iter_features([str(s.path) for s in songs], fp=fp, workers=fp.workers or None,
                            silence_db=cfg.audio.silence_db)
    for s, (S, stats, err) in tqdm(zip(songs, results), total=len(songs), desc="monitor", unit="song",
                                   disable=not progress):
        if err is not None:
            rejected.append({"path": str(s.path), "reason": err})
            continue
        rows.append({"song_id": s.song_id, "label": s.label or "", "path": str(s.path), **stats,
                     "tempo_bpm": tempo_bpm(np.asarray(S, dtype=np.float32), sr=fp.sample_rate,
                                            hop_length=fp.hop_length)})
        mels.append(S)
        if len(mels) >= batch:
            yield rows, np.stack(mels)
            rows, mels = [], []
    if mels:
        yield rows, np.stack(mels)


def _score(cfg: "Config", table: "pd.DataFrame", bundle: "ModelBundle", ref: Reference, X: np.ndarray) -> None:
    """Add the prediction and both novelty scores of the songs (log-mels ``X``) to ``table``: one
    :func:`mir.model.clip_table.clip_table` call, every column computed from it."""
    from mir.model.clip_table import clip_table
    from mir.monitoring import ood

    t = clip_table(cfg, bundle, X, np.arange(len(X)), taggers=tag_bodies(cfg), desc="monitor (new music)")
    emb, stats = t.embedding, t.layers(ref.layers.names if ref.layers else [])
    for k, v in pred_columns(t.logp, emb, ref.genres, ref.pca_mean, ref.pca_components).items():
        table[k] = v
    table["predicted"] = table[PRED_COLUMN]
    table["msp"] = ood.msp(t.probs)
    table["emb_dist"], nearest = ood.nearest_centroid(ref.space, emb)
    table["nearest_genre"] = [ref.genres[i] for i in nearest]
    table["ood_dist"] = unknown_distance(space=ref.space, layers=ref.layers, emb=emb, stats=stats)
    table["ood_score"] = ood.ood_score(table["msp"].to_numpy(), table["ood_dist"].to_numpy(), ref.calibration)
    table["unknown"] = table["ood_score"].to_numpy() > ref.calibration.threshold
    table["new_source"] = table["unknown"]  # far from all training music: another recording source or genre
    if ref.novelty is not None:  # far from every genre relative to training music as a whole: a new genre
        table["genre_dist"] = genre_distance(space=ref.space, layers=ref.layers, background=ref.background,
                                             tag_reference=ref.tag_reference, emb=emb, stats=stats,
                                             tags=t.tag_matrix())
        table["new_genre_score"] = ood.ood_score(table["msp"].to_numpy(), table["genre_dist"].to_numpy(),
                                                 ref.novelty)
        table["new_genre"] = table["new_genre_score"].to_numpy() > ref.novelty.threshold


def analyse_folder(cfg: "Config", bundle: "ModelBundle", ref: Reference, new_dir: str | Path, *,
                   progress: bool = True) -> tuple["pd.DataFrame", list[dict]]:
    """Features, predictions and OOD scores of every usable song under ``new_dir``.

    Returns
    -------
    songs : pandas.DataFrame
        One row per analysed song: ``song_id, label, path``, the reference's feature
        columns, ``pred_genre``/``predicted``, ``confidence``, ``msp``, ``emb_dist``, ``ood_dist``,
        ``ood_score``, ``unknown`` (bool), ``nearest_genre``.
    rejected : list of dict
        ``{"path", "reason"}`` for each file skipped.

    Raises
    ------
    FileNotFoundError
        ``new_dir`` does not exist.
    ValueError
        ``new_dir`` holds no audio file, or none of its files is usable.
    """
    import pandas as pd

    from mir.datasets.new_music import list_new_music

    rejected: list[dict] = []  # entries the listing skips (links out of the folder, names not UTF-8, ...) first
    songs = list_new_music(new_dir, skipped=rejected)
    tables = []
    for rows, X in _featurise(cfg, _check_songs(cfg, songs, rejected), rejected, progress=progress):
        part = pd.DataFrame(rows)
        _score(cfg, part, bundle, ref, X)  # every column is per song, given the reference
        tables.append(part)
        del X
    if not tables:
        reasons = "; ".join(f"{Path(r['path']).name}: {r['reason']}" for r in rejected[:3])
        raise ValueError(f"none of the {len(songs)} audio file(s) under {new_dir} could be analysed ({reasons}"
                         + (" …" if len(rejected) > 3 else "") + ")")
    return pd.concat(tables, ignore_index=True), rejected


def _record(cfg: "Config", ref: Reference, songs: "pd.DataFrame", record: "DriftRecord", *, origin: str,
            version: str) -> dict:
    """Add the run to the Evidently workspace (:func:`mir.monitoring.history.record`); a failure is one line."""
    from mir.monitoring import history

    try:
        h = history.record(cfg, reference=ref.table, current=songs, columns=drift_columns(ref, songs),
                           categorical=[PRED_COLUMN], verdict=record, genres=ref.genres, origin=origin,
                           version=version)
    except Exception as err:  # noqa: BLE001 - the reports are written; the history is an extra
        print(f"monitor: the run was not added to the Evidently workspace {cfg.monitor.workspace}: {err}")
        return {"error": str(err)}
    print(f"monitor: run added to the Evidently workspace {h['workspace']} (snapshot {h['snapshot_id']}, "
          f"model {h['model_version']}); see it with `mir monitor ui`")
    return h


def resolve_new_music(cfg: "Config") -> tuple[Path | None, str | None]:
    """The folder the monitor stage analyses, from what the new_music stage wrote: ``(folder, None)``,
    or ``(None, why)`` when no new music is configured (or the configured folder holds no audio yet)."""
    from mir.datasets.clips import new_music_status

    status = new_music_status(cfg)
    if status is None or status.get("source") == "synth" and status.get("configured", True):
        return Path(cfg.paths.new_music), None
    if not status.get("configured", True):
        return None, status.get("message") or "no new music is configured"
    if not status.get("n_files"):
        return None, (f"the new-music folder {status.get('root')} holds no audio yet: put songs in <root>/<genre>/ "
                      "(labelled) or <root>/ (unlabelled), then dvc repro")
    return (Path(cfg.paths.new_music) if status.get("snapshot", True) else Path(status["root"])), None


def _not_configured(cfg: "Config", why: str) -> dict:
    """The monitor stage's outputs when there is no new music: pages and a verdict that say so, and how to add it."""
    from mir.io import write_json, write_text
    from mir.records.drift import NoNewMusic
    from mir.reports.html import render

    reports = Path(cfg.paths.reports)
    for name, title in (("drift.html", "mir — drift"), ("generalization.html", "mir — generalisation")):
        write_text(reports / name, render("no_new_music.html", title=title, subtitle="", why=why))
    out = NoNewMusic(configured=False, message=why, drift=None, n_clips=0).to_json()
    write_json(Path(cfg.paths.metrics) / "drift.json", out)
    print(f"monitor: {why}")
    return out


def _reports(cfg: "Config", ref: Reference, songs: "pd.DataFrame", rejected: list[dict],
             new_dir: Path) -> tuple["DriftRecord", "Labelled"]:
    """Write ``reports/drift.html`` and ``reports/generalization.html``; return the verdict and the scores."""
    from mir.io import read_json
    from mir.monitoring.generalization import write_generalization

    reports = Path(cfg.paths.reports)
    verdict = drift_verdict(cfg, ref, songs, html_path=reports / "drift.html",
                            title="mir — new music vs training data (features, embedding PCA, predictions)")
    lab = labelled_scores(songs, ref.genres)
    record = drift_record(ref=ref, songs=songs, rejected=rejected, verdict=verdict, labelled=lab, new_dir=new_dir)
    eval_path = Path(cfg.paths.metrics) / "eval.json"
    test_metrics = read_json(eval_path) if eval_path.exists() else None
    write_generalization(reports / "generalization.html", songs=songs, genres=ref.genres, new_metrics=lab.metrics,
                         test_metrics=test_metrics, cm=lab.cm, rejected=rejected, summary=record.to_json())
    return record, lab


def _print_summary(cfg: "Config", out: dict, rejected: list[dict], new_metrics: dict | None) -> None:
    reports = Path(cfg.paths.reports)
    acc_s = "n/a" if new_metrics is None else f"{new_metrics['accuracy']:.3f}"
    print(f"monitor: {out['n_clips']} new songs ({len(rejected)} skipped), drift "
          f"{'DETECTED' if out['drift'] else 'not detected'} ({out['n_drifted']}/{out['n_columns']} columns; "
          f"{out['n_unknown_flagged']} flagged unknown, p={out['unknown_excess_p']:.2g}), "
          f"accuracy on new music {acc_s}, {out['n_unknown_flagged']} flagged unknown → {reports / 'drift.html'}, "
          f"{reports / 'generalization.html'}")
    for r in rejected[:10]:
        print(f"  skipped {r['path']}: {r['reason']}")
    if len(rejected) > 10:
        print(f"  … and {len(rejected) - 10} more (metrics/drift.json lists them all)")


def monitor(cfg: "Config", *, new_dir: str | Path | None = None, progress: bool = True,
            origin: str | None = None) -> dict:
    """Stage ``monitor``: drift + generalisation reports for a folder of new music.

    Parameters
    ----------
    cfg : Config
        Validated parameters.
    new_dir : str or Path, optional
        The new-music folder (default: what the new_music stage prepared, :func:`resolve_new_music`;
        with no new music configured the reports and ``metrics/drift.json`` say so and how to add it).
    progress : bool
        Show progress bars.
    origin : str, optional
        What runs the monitor, recorded with the run's snapshot in the Evidently workspace
        (:mod:`mir.monitoring.history`); default ``stage`` (no ``new_dir``) or ``cli``.

    Returns
    -------
    dict
        The verdict written to ``metrics/drift.json`` (:class:`mir.records.drift.DriftRecord`).

    Raises
    ------
    FileNotFoundError
        The folder (or the model) does not exist.
    ValueError
        The folder holds no audio, or no usable audio.
    """
    from mir.datasets.new_music import list_new_music
    from mir.io import write_json
    from mir.model.bundle import ModelBundle

    origin = origin or os.environ.get("MIR_MONITOR_ORIGIN") or ("cli" if new_dir is not None else "stage")
    if new_dir is None:
        new_dir, why = resolve_new_music(cfg)
        if new_dir is None:
            return _not_configured(cfg, why)
    new_dir = Path(new_dir)
    list_new_music(new_dir)  # fail fast (one clear line) on a missing or empty folder, before loading the model
    from mir.monitoring.history import model_version

    version = model_version(cfg)  # a damaged registry fails here, one line, before the work
    bundle = ModelBundle.load(cfg.paths.models)
    ref = build_reference(cfg, bundle)
    songs, rejected = analyse_folder(cfg, bundle, ref, new_dir, progress=progress)
    record, lab = _reports(cfg, ref, songs, rejected, new_dir)
    record.history = _record(cfg, ref, songs, record, origin=origin, version=version)
    out = record.to_json()
    write_json(Path(cfg.paths.metrics) / "drift.json", out)
    _print_summary(cfg, out, rejected, lab.metrics)
    return out
