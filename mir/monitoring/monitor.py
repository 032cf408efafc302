"""Stage ``monitor``: how does new music compare with the training data, and with the model?

``mir monitor [--new DIR]`` (dvc.yaml's ``monitor`` stage and the Prefect flow call
:func:`monitor`). ``DIR`` (default ``paths.new_music``) holds new music, labelled
by sub-folder (``<DIR>/<genre>/**``) and/or unlabelled (files directly in ``DIR``).

1. **Reference** (:func:`build_reference`): the training clips of the feature store
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
   training. Memory is bounded by the number of songs × one clip.
3. **Reports**: ``reports/drift.html`` (Evidently data drift, every column above),
   ``reports/generalization.html`` (:mod:`mir.monitoring.generalization`) and the
   verdict ``metrics/drift.json``.

Songs whose label is not among the model's genres are *unknown-genre songs*: listed
in the report with their nearest known genre, excluded from accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mir.config import Config
    from mir.monitoring.ood import Calibration, EmbeddingSpace, LayerSpaces

#: Columns of the feature tables that are not compared.
DRIFT_EXCLUDE = ("clip_id", "song_id", "genre", "label", "split", "row", "path")
#: The categorical prediction column of the drift report.
PRED_COLUMN = "pred_genre"

__all__ = ["DRIFT_EXCLUDE", "Reference", "analyse_folder", "build_reference", "drift_columns", "drift_verdict",
           "monitor", "overall_drift"]


@dataclass
class Reference:
    """Everything learned from the training (and validation) clips that new music is compared with."""

    table: "pd.DataFrame"  # one row per reference training clip: features, tempo, PCs, prediction
    genres: list[str]
    pca_mean: np.ndarray
    pca_components: np.ndarray
    space: "EmbeddingSpace"
    calibration: "Calibration"
    calibration_split: str
    layers: "LayerSpaces | None" = None  # monitor.ood_features == "layers": per-layer statistics spaces
    # the new-genre score's calibration on the same validation clips (musicnn: the tag 5-NN distance; other
    # models: the relative Mahalanobis distance), and the embedding's background Gaussian (embedding features)
    novelty: "Calibration | None" = None
    background: "EmbeddingSpace | None" = None
    # musicnn models: the training clips' musicnn tag probabilities; new_genre = cosine 5-NN distance to them
    tag_reference: "np.ndarray | None" = None


def _pred_columns(logp: np.ndarray, emb: np.ndarray, genres: list[str], pca_mean, pca_comps) -> dict[str, Any]:
    from mir.model.inference import softmax_rows
    from mir.monitoring.tables import pca_transform

    probs = softmax_rows(logp)
    cols: dict[str, Any] = {}
    pcs = pca_transform(emb, pca_mean, pca_comps) if pca_comps.shape[0] else np.zeros((len(emb), 0))
    for j in range(pcs.shape[1]):
        cols[f"emb_pc{j + 1}"] = pcs[:, j]
    cols["confidence"] = probs.max(axis=1)
    cols[PRED_COLUMN] = [genres[i] for i in probs.argmax(axis=1)]
    return cols


def build_reference(cfg: "Config", model, info: dict) -> Reference:
    """The reference table, embedding PCA, class centroids and OOD calibration.

    Parameters
    ----------
    cfg : Config
        Validated parameters (``paths.features``, ``monitor.*``, ``seed``).
    model : keras.Model
        The trained classifier (with an ``embedding`` layer).
    info : dict
        ``models/labels.json`` (``genres``, ``chunk_frames``).

    Returns
    -------
    Reference
    """
    import pandas as pd

    from mir.features.extract import FeatureStore
    from mir.monitoring import ood
    from mir.model.inference import Engine
    from mir.monitoring.tables import fit_pca, tempo_bpm

    engine = Engine.for_model(model, cfg)
    genres = list(info["genres"])
    fp = cfg.features
    store = FeatureStore(cfg.paths.features)
    train = store.split("train")
    if train.empty:
        raise ValueError(f"no training clips in {cfg.paths.features}: run the featurize stage first")
    if len(train) > cfg.monitor.max_reference_clips:
        train = train.sample(n=cfg.monitor.max_reference_clips, random_state=cfg.seed).sort_values("row")
    stats = store.stats().drop_duplicates("clip_id").set_index("clip_id")
    table = stats.loc[train["clip_id"]].reset_index()
    table["tempo_bpm"] = [tempo_bpm(np.asarray(store.logmel[r], dtype=np.float32), sr=fp.sample_rate,
                                    hop_length=fp.hop_length) for r in train["row"]]
    stats_layers = _stats_layers(cfg, model)
    o = engine.clip_outputs(store.logmel, train["row"].to_numpy(), desc="monitor (reference)")
    logp, emb, tr_stats = o["logp"], o["embedding"], _select(o["layer_stats"], stats_layers)
    pca_mean, comps = fit_pca(emb, n_components=cfg.monitor.embedding_pcs)
    for k, v in _pred_columns(logp, emb, genres, pca_mean, comps).items():
        table[k] = v
    lab = {g: i for i, g in enumerate(genres)}
    y = train["genre"].map(lab)
    keep = y.notna().to_numpy()
    y_keep = y[keep].astype(int).to_numpy()
    space = ood.fit_space(emb[keep], y_keep, n_classes=len(genres), shrinkage=cfg.monitor.ood_shrinkage)
    layers = (ood.fit_layer_spaces({k: v[keep] for k, v in tr_stats.items()}, y_keep, n_classes=len(genres),
                                   shrinkage=cfg.monitor.ood_shrinkage) if stats_layers else None)

    for split in ("valid", "test", "train"):  # the valid split; the others only when a dataset has none
        cal_rows = store.split(split)
        if not cal_rows.empty:
            break
    if split != "valid":
        print(f"monitor: no validation clips; the unknown-genre threshold is calibrated on the {split} split")
    o = engine.clip_outputs(store.logmel, cal_rows["row"].to_numpy(), desc="monitor (calibration)")
    cal_logp, cal_emb, cal_stats = o["logp"], o["embedding"], _select(o["layer_stats"], stats_layers)
    from mir.model.inference import softmax_rows

    dist = ood.layer_distance(layers, cal_stats) if layers else ood.nearest_centroid(space, cal_emb)[0]
    cal = ood.calibrate(ood.msp(softmax_rows(cal_logp)), dist, quantile=cfg.monitor.ood_quantile,
                        weight_dist=cfg.monitor.ood_weight_dist)
    background = None if layers else ood.fit_background(emb[keep], shrinkage=cfg.monitor.ood_shrinkage)
    tag_ref = _tag_probs(engine, info, store.logmel, train["row"].to_numpy()[keep])
    if tag_ref is not None:  # musicnn: its own tags (bench/novelty.py measured them best)
        rel = ood.knn_cosine_distance(tag_ref, _tag_probs(engine, info, store.logmel, cal_rows["row"].to_numpy()))
    else:
        rel = (ood.layer_relative_distance(layers, cal_stats) if layers
               else ood.relative_distance(space, background, cal_emb))
    novelty = ood.calibrate(ood.msp(softmax_rows(cal_logp)), rel, quantile=cfg.monitor.ood_quantile,
                            weight_dist=cfg.monitor.ood_weight_dist)
    return Reference(table=pd.DataFrame(table), genres=genres, pca_mean=pca_mean, pca_components=comps,
                     space=space, calibration=cal, calibration_split=split, layers=layers, novelty=novelty,
                     background=background, tag_reference=tag_ref)


def _tag_probs(engine, info: dict, X, rows) -> "np.ndarray | None":
    """musicnn's 50 tag probabilities per clip (mean logit over its chunks), or ``None`` for other models.

    The body outputs come from the engine's per-clip cache (``clip_outputs`` has just filled it).
    """
    if info.get("arch") != "musicnn":
        return None
    from mir.model.pretrained import musicnn_tag_logits, musicnn_weights

    w = musicnn_weights()
    logits = np.stack([musicnn_tag_logits(e["features"], w).mean(axis=0) for e in engine.clip_body(X, rows)])
    return 1.0 / (1.0 + np.exp(-logits))


def _select(layer_stats: dict, names) -> dict:
    return {n: layer_stats[n] for n in names}


def _stats_layers(cfg: "Config", model) -> list[str]:
    """The layers whose statistics the OOD distance uses ([] = the embedding)."""
    if cfg.monitor.ood_features != "layers":
        return []
    from mir.model.inference import feature_map_layers

    names = feature_map_layers(model)
    if not names:
        print("monitor: the model has no convolutional feature maps; the OOD distance uses its embedding")
    return names


def analyse_folder(cfg: "Config", model, info: dict, ref: Reference, new_dir: str | Path, *,
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
    from tqdm.auto import tqdm

    from mir.datasets.ingest import check_clip
    from mir.model.inference import softmax_rows
    from mir.features.extract import iter_features
    from mir.monitoring import ood
    from mir.model.inference import Engine
    from mir.monitoring.tables import list_new_music, tempo_bpm

    fp = cfg.features
    songs = list_new_music(new_dir)
    rejected: list[dict] = []
    usable = []
    for s in songs:  # header only: a 3-hour file is rejected here, before any decoding
        res = check_clip(s.path, audio=cfg.audio)
        if "reason" in res:
            rejected.append({"path": str(s.path), "reason": res["reason"]})
        else:
            usable.append(s)
    rows, mels = [], []
    results = iter_features([str(s.path) for s in usable], fp=fp, workers=fp.workers or None,
                            silence_db=cfg.audio.silence_db)
    for s, (S, stats, err) in tqdm(zip(usable, results), total=len(usable), desc="monitor", unit="song",
                                   disable=not progress):
        if err is not None:
            rejected.append({"path": str(s.path), "reason": err})
            continue
        rows.append({"song_id": s.song_id, "label": s.label or "", "path": str(s.path), **stats,
                     "tempo_bpm": tempo_bpm(np.asarray(S, dtype=np.float32), sr=fp.sample_rate,
                                            hop_length=fp.hop_length)})
        mels.append(S)
    if not rows:
        reasons = "; ".join(f"{Path(r['path']).name}: {r['reason']}" for r in rejected[:3])
        raise ValueError(f"none of the {len(songs)} audio file(s) under {new_dir} could be analysed ({reasons}"
                         + (" …" if len(rejected) > 3 else "") + ")")
    table = pd.DataFrame(rows)
    engine = Engine.for_model(model, cfg)
    X_new = np.stack(mels)
    o = engine.clip_outputs(X_new, np.arange(len(mels)), desc="monitor (new music)")
    logp, emb = o["logp"], o["embedding"]
    stats = _select(o["layer_stats"], ref.layers.names if ref.layers else [])
    for k, v in _pred_columns(logp, emb, ref.genres, ref.pca_mean, ref.pca_components).items():
        table[k] = v
    table["predicted"] = table[PRED_COLUMN]
    table["msp"] = ood.msp(softmax_rows(logp))
    table["emb_dist"], nearest = ood.nearest_centroid(ref.space, emb)
    table["nearest_genre"] = [ref.genres[i] for i in nearest]
    table["ood_dist"] = ood.layer_distance(ref.layers, stats) if ref.layers else table["emb_dist"]
    table["ood_score"] = ood.ood_score(table["msp"].to_numpy(), table["ood_dist"].to_numpy(), ref.calibration)
    table["unknown"] = table["ood_score"].to_numpy() > ref.calibration.threshold
    table["new_source"] = table["unknown"]  # far from all training music: another recording source or genre
    if ref.novelty is not None:  # far from every genre relative to training music as a whole: a new genre
        if ref.tag_reference is not None:
            table["genre_dist"] = ood.knn_cosine_distance(ref.tag_reference,
                                                          _tag_probs(engine, info, X_new, np.arange(len(mels))))
        else:
            table["genre_dist"] = (ood.layer_relative_distance(ref.layers, stats) if ref.layers
                                   else ood.relative_distance(ref.space, ref.background, emb))
        table["new_genre_score"] = ood.ood_score(table["msp"].to_numpy(), table["genre_dist"].to_numpy(),
                                                 ref.novelty)
        table["new_genre"] = table["new_genre_score"].to_numpy() > ref.novelty.threshold
    return table, rejected


def overall_drift(feature_verdict: dict, unknown_flags, *, calibration: "Calibration", alpha: float) -> dict:
    """Combine Evidently's feature-drift verdict with the excess of songs flagged unknown.

    Drift is declared when the share of drifted columns reaches ``monitor.drift_share``
    (Evidently) **or** when more songs are flagged unknown than in-distribution music
    would give (:func:`mir.monitoring.ood.excess_unknown_p_value` below ``alpha``).

    Returns
    -------
    dict
        ``drift``, ``dataset_drift`` (the feature verdict), ``unknown_drift``,
        ``unknown_excess_p``, ``unknown_expected_share``.
    """
    from mir.monitoring import ood

    flags = np.asarray(unknown_flags, dtype=bool)
    rate = 1.0 - calibration.quantile
    p = ood.excess_unknown_p_value(int(flags.sum()), int(flags.size), rate=rate)
    unknown_drift = bool(p < alpha)
    return {"drift": bool(feature_verdict["dataset_drift"]) or unknown_drift,
            "dataset_drift": bool(feature_verdict["dataset_drift"]), "unknown_drift": unknown_drift,
            "unknown_excess_p": float(f"{p:.4g}"), "unknown_expected_share": round(rate, 4)}


def drift_verdict(cfg: "Config", ref: Reference, songs: "pd.DataFrame", *, html_path: str | Path | None = None,
                  title: str | None = None) -> dict:
    """``mir monitor``'s verdict on the analysed ``songs``: Evidently's feature report plus :func:`overall_drift`.

    Returns Evidently's verdict (per-column results, ``n_drifted`` …) updated with
    ``drift``, ``unknown_drift``, ``unknown_excess_p`` and ``unknown_expected_share``.
    """
    from mir.monitoring.drift import drift_report

    v = drift_report(reference=ref.table, current=songs, columns=drift_columns(ref, songs),
                     categorical=[PRED_COLUMN], html_path=html_path, drift_share=cfg.monitor.drift_share, title=title)
    return {**v, **overall_drift(v, songs["unknown"], calibration=ref.calibration, alpha=cfg.monitor.unknown_alpha),
            **new_genre_drift(songs, ref, alpha=cfg.monitor.unknown_alpha)}


def new_genre_drift(songs: "pd.DataFrame", ref: Reference, *, alpha: float) -> dict:
    """The retrain signal: more songs flagged ``new_genre`` than in-distribution music gives (binomial test).

    ``unknown`` (= ``new_source``) fires on a new recording source as much as on a new genre, so its excess
    (``unknown_drift``) says "the music changed"; ``new_genre`` discounts the source, so its excess
    (``new_genre_drift``, also ``retrain_suggested``) says "there is a genre the model does not have".
    """
    if ref.novelty is None or "new_genre" not in songs:
        return {"new_genre_drift": None, "new_genre_excess_p": None, "retrain_suggested": None}
    from mir.monitoring import ood

    flags = songs["new_genre"].to_numpy(dtype=bool)
    p = ood.excess_unknown_p_value(int(flags.sum()), int(flags.size), rate=1.0 - ref.novelty.quantile)
    return {"new_genre_drift": bool(p < alpha), "new_genre_excess_p": float(f"{p:.4g}"),
            "retrain_suggested": bool(p < alpha)}


def _record(cfg: "Config", ref: Reference, songs: "pd.DataFrame", out: dict, *, origin: str) -> dict:
    """Add the run to the Evidently workspace (:func:`mir.monitoring.history.record`); a failure is one line."""
    from mir.monitoring import history

    try:
        h = history.record(cfg, reference=ref.table, current=songs, columns=drift_columns(ref, songs),
                           categorical=[PRED_COLUMN], verdict=out, genres=ref.genres, origin=origin)
    except Exception as err:  # noqa: BLE001 - the reports are written; the history is an extra
        print(f"monitor: the run was not added to the Evidently workspace {cfg.monitor.workspace}: {err}")
        return {"error": str(err)}
    print(f"monitor: run added to the Evidently workspace {h['workspace']} (snapshot {h['snapshot_id']}, "
          f"model {h['model_version']}); see it with `mir monitor ui`")
    return h


def drift_columns(ref: Reference, current: "pd.DataFrame") -> list[str]:
    """The numeric columns compared by the drift report (the prediction is compared as a category)."""
    skip = set(DRIFT_EXCLUDE) | {PRED_COLUMN}
    return [c for c in ref.table.columns if c not in skip and c in current.columns]


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
    from mir.reports.html import esc, page

    reports = Path(cfg.paths.reports)
    body = f"<h2>No new music to monitor</h2><p>{esc(why)}.</p>"
    for name, title in (("drift.html", "mir — drift"), ("generalization.html", "mir — generalisation")):
        write_text(reports / name, page(title, body))
    out = {"configured": False, "message": why, "drift": None, "n_clips": 0}
    write_json(Path(cfg.paths.metrics) / "drift.json", out)
    print(f"monitor: {why}")
    return out


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
        The verdict written to ``metrics/drift.json``.

    Raises
    ------
    FileNotFoundError
        The folder (or the model) does not exist.
    ValueError
        The folder holds no audio, or no usable audio.
    """
    from mir.model.inference import load_model
    from mir.evaluation.metrics import classification_metrics, confusion
    from mir.io import read_json, write_json
    from mir.monitoring.generalization import write_generalization

    import os

    origin = origin or os.environ.get("MIR_MONITOR_ORIGIN") or ("cli" if new_dir is not None else "stage")
    if new_dir is None:
        new_dir, why = resolve_new_music(cfg)
        if new_dir is None:
            return _not_configured(cfg, why)
    new_dir = Path(new_dir)
    from mir.monitoring.tables import list_new_music

    list_new_music(new_dir)  # fail fast (one clear line) on a missing or empty folder, before loading the model
    model, info = load_model(cfg.paths.models)
    ref = build_reference(cfg, model, info)
    songs, rejected = analyse_folder(cfg, model, info, ref, new_dir, progress=progress)
    genres = ref.genres
    reports = Path(cfg.paths.reports)
    verdict = drift_verdict(cfg, ref, songs, html_path=reports / "drift.html",
                            title="mir — new music vs training data (features, embedding PCA, predictions)")

    labels = songs["label"].astype(str)
    known = labels.isin(genres).to_numpy()
    unknown_genre = (labels.ne("") & ~labels.isin(genres)).to_numpy()
    new_metrics = cm = None
    if known.any():
        lab = {g: i for i, g in enumerate(genres)}
        y = labels[known].map(lab).to_numpy()
        yp = songs["predicted"][known].map(lab).to_numpy()
        new_metrics = classification_metrics(y, yp, genres)
        cm = confusion(y, yp, genres)
    eval_path = Path(cfg.paths.metrics) / "eval.json"
    test_metrics = read_json(eval_path) if eval_path.exists() else None
    cal = ref.calibration
    pred = songs["predicted"].tolist()
    out = {
        "new_music": str(new_dir), "n_clips": len(songs), "n_rejected": len(rejected), "rejected": rejected,
        **{k: verdict[k] for k in ("drift", "dataset_drift", "unknown_drift", "unknown_excess_p",
                                   "unknown_expected_share")},
        "share_drifted": round(verdict["share_drifted"], 4),
        "n_drifted": verdict["n_drifted"], "n_columns": verdict["n_columns"],
        "drifted_columns": sorted(c for c, v in verdict["columns"].items() if v["drifted"]),
        "new_music_accuracy": None if new_metrics is None else round(new_metrics["accuracy"], 4),
        "new_music_macro_f1": None if new_metrics is None else round(new_metrics["macro_f1"], 4),
        "n_labelled_known": int(known.sum()),
        "n_unlabelled": int(labels.eq("").sum()),
        "n_unknown_genre": int(unknown_genre.sum()),
        "unknown_genres": sorted(set(labels[unknown_genre])),
        "predicted_share": {g: round(pred.count(g) / len(pred), 4) for g in genres},
        "n_unknown_flagged": int(songs["unknown"].sum()),
        "unknown_flagged_share": round(float(songs["unknown"].mean()), 4),
        "unknown_songs": songs.loc[songs["unknown"], "song_id"].tolist(),
        "unknown_detail": [{"song_id": r.song_id, "label": r.label, "predicted": r.predicted,
                            "nearest_genre": r.nearest_genre, "ood_score": round(float(r.ood_score), 4)}
                           for r in songs.loc[songs["unknown"]].itertuples()],
        "unknown_genre_flagged_share": (round(float(songs["unknown"][unknown_genre].mean()), 4)
                                        if unknown_genre.any() else None),
        # two kinds of novelty: new_source (= unknown, far from all training music) and new_genre (meant to
        # discount the recording source: musicnn tag 5-NN or relative Mahalanobis; the retrain signal)
        "n_new_source_flagged": int(songs["new_source"].sum()),
        "new_source_flagged_share": round(float(songs["new_source"].mean()), 4),
        **({"n_new_genre_flagged": int(songs["new_genre"].sum()),
            "new_genre_flagged_share": round(float(songs["new_genre"].mean()), 4),
            "new_genre_songs": songs.loc[songs["new_genre"], "song_id"].tolist(),
            "unknown_genre_new_genre_share": (round(float(songs["new_genre"][unknown_genre].mean()), 4)
                                              if unknown_genre.any() else None),
            "known_genre_new_genre_share": (round(float(songs["new_genre"][known].mean()), 4)
                                            if known.any() else None),
            **{k: verdict[k] for k in ("new_genre_drift", "new_genre_excess_p", "retrain_suggested")},
            "new_genre_threshold": round(ref.novelty.threshold, 6),
            "new_genre_calibration": {**ref.novelty.to_dict(), "split": ref.calibration_split}}
           if "new_genre" in songs else {}),
        "ood_threshold": round(cal.threshold, 6), "ood_quantile": cal.quantile,
        "ood_calibration": {**cal.to_dict(), "split": ref.calibration_split},
        "n_reference": len(ref.table), "embedding_pcs": int(ref.pca_components.shape[0]),
    }
    write_generalization(reports / "generalization.html", songs=songs, genres=genres, new_metrics=new_metrics,
                         test_metrics=test_metrics, cm=cm, rejected=rejected, summary=out)
    out["history"] = _record(cfg, ref, songs, out, origin=origin)
    write_json(Path(cfg.paths.metrics) / "drift.json", out)
    acc_s = "n/a" if new_metrics is None else f"{new_metrics['accuracy']:.3f}"
    print(f"monitor: {len(songs)} new songs ({len(rejected)} skipped), drift "
          f"{'DETECTED' if out['drift'] else 'not detected'} ({out['n_drifted']}/{out['n_columns']} columns; "
          f"{out['n_unknown_flagged']} flagged unknown, p={out['unknown_excess_p']:.2g}), "
          f"accuracy on new music {acc_s}, {out['n_unknown_flagged']} flagged unknown → {reports / 'drift.html'}, "
          f"{reports / 'generalization.html'}")
    for r in rejected[:10]:
        print(f"  skipped {r['path']}: {r['reason']}")
    if len(rejected) > 10:
        print(f"  … and {len(rejected) - 10} more (metrics/drift.json lists them all)")
    return out
