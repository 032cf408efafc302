"""Retraining on new genres: the steps of the ``retrain_on_new_genres`` flow.

1. :func:`find_new_genres` — genres the configured source offers that the
   current champion does not know (a genre added to ``synth.genres``, a new
   ``<genre>/`` folder, a genre added to ``data.genres`` for FMA/GTZAN).
2. :func:`validate_new_audio` — probe every clip of those genres with the same
   audio policy ingest applies, before any training starts.
3. :func:`mir.repro.dvc_repro` — rerun the pipeline *through DVC*, so ``dvc.lock`` records
   the new raw audio, features and model.
4. :func:`compare` — score the challenger (``models/``) and the champion
   (fetched from the registry into ``registry.champion_dir``) on the same test clips: the current test split's
   clips of the champion's genres.
5. :func:`decide` — :func:`mir.registry.should_promote`; register the challenger
   (a commit + GTO tags) and promote it (champion stage) or reject it (deregistered, with the reason).
6. :func:`write_summary` — ``reports/runs/<run-id>.html``, one offline page.

``flows/retrain.py`` wires these as Prefect tasks; nothing here imports Prefect.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mir.config import Config

#: A new genre needs at least this many usable clips (train, valid and test each need some).
MIN_CLIPS_PER_NEW_GENRE = 3


def source_genres(cfg: "Config") -> list[str]:
    """The genres the configured dataset (and ``data.genres`` selection) provides now, with those of the
    labelled new music handed over for retraining (``retrain.labelled_dir``)."""
    from mir.datasets.clips import labelled_clips
    from mir.datasets.prepare import select_clips
    from mir.datasets.registry import configured, is_rendered

    if is_rendered(configured(cfg)):  # generated: the configured genres
        return cfg.genres

    return sorted({c.genre for c in select_clips(cfg)} | {c.genre for c in labelled_clips(cfg)})


def find_new_genres(cfg: "Config") -> dict[str, Any]:
    """Compare the source's genres with the champion's.

    Returns
    -------
    dict
        ``source`` (genres available now), ``known`` (the champion's, ``None``
        without a champion), ``new`` (in the source, not known) and ``dropped``
        (known, no longer in the source).
    """
    from mir.registry import champion

    source = source_genres(cfg)
    champ = champion(cfg)
    known = None if champ is None else sorted(champ["genres"])
    new = sorted(set(source) - set(known or []))
    dropped = sorted(set(known or []) - set(source))
    return {"source": source, "known": known, "new": new, "dropped": dropped,
            "champion": None if champ is None else champ["version"]}


def validate_new_audio(cfg: "Config", genres: list[str]) -> dict[str, Any]:
    """Probe every clip of ``genres`` under the ``audio:`` policy (reads only).

    The synth demo's clips are rendered by the ``data`` stage, so for synth this
    only records that ingest and the Great Expectations gate will check them.

    Raises
    ------
    ValueError
        A new genre with fewer than :data:`MIN_CLIPS_PER_NEW_GENRE` usable clips,
        or more rejected clips than ``data.max_reject_fraction`` allows.
    """
    if not genres:
        return {"checked": 0, "usable": {}, "rejected": []}
    from mir.datasets.clips import labelled_clips
    from mir.datasets.prepare import select_clips
    from mir.datasets.registry import configured, is_rendered

    labelled = labelled_clips(cfg)
    handed = {c.genre for c in labelled}
    ds = configured(cfg)
    rendered = is_rendered(ds)
    if rendered and not set(genres) & handed:
        n = ds.clips_per_genre(cfg)
        if n < MIN_CLIPS_PER_NEW_GENRE:
            raise ValueError(f"{ds.NAME}.clips_per_genre ({n}) < {MIN_CLIPS_PER_NEW_GENRE}: "
                             "too few clips per new genre")
        return {"checked": 0, "usable": {g: n for g in genres}, "rejected": [],
                "note": f"{ds.NAME} audio is rendered by the data stage and checked by ingest + the GE gate"}
    from mir.datasets.ingest import check_reject_fraction, check_clip

    wanted = set(genres)
    listed = [] if rendered else select_clips(cfg)
    clips = [c for c in listed + labelled if c.genre in wanted]
    usable = {g: 0 for g in genres}
    rejected = []
    for c in clips:
        r = check_clip(c.path, audio=cfg.audio)
        if "reason" in r:
            rejected.append({"clip_id": c.clip_id, "reason": r["reason"]})
        else:
            usable[c.genre] += 1
    few = [f"{g} ({n})" for g, n in usable.items() if n < MIN_CLIPS_PER_NEW_GENRE]
    if few:
        raise ValueError(f"new genre(s) with fewer than {MIN_CLIPS_PER_NEW_GENRE} usable clips: {', '.join(few)}")
    check_reject_fraction(len(rejected), len(clips), limit=cfg.data.max_reject_fraction, table="new-genre clips")
    return {"checked": len(clips), "usable": usable, "rejected": rejected}


def _score(model_dir: Path, store, te, genres: list[str], cfg: "Config") -> dict:
    """Track-level metrics of the model in ``model_dir`` on the test rows ``te``, reported for ``genres``."""
    from mir.evaluation.metrics import classification_metrics
    from mir.model.bundle import ModelBundle

    bundle = ModelBundle.load(model_dir)
    labels = list(bundle.genres)
    lab = {g: i for i, g in enumerate(labels)}
    unknown = sorted(set(te["genre"]) - set(lab))
    if unknown:  # the model has no output for these: a clip of theirs can only be wrong
        labels = labels + unknown
        lab = {g: i for i, g in enumerate(labels)}
    y = te["genre"].map(lab).to_numpy()
    logp = bundle.engine(cfg).clip_outputs(store.logmel, te["row"].to_numpy())["logp"]
    m = classification_metrics(y, logp.argmax(axis=1), labels)
    return {"accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4), "n": m["n"],
            "per_class": {g: m["per_class"][g] for g in genres if g in m["per_class"]}}


def _same_features(model_dir: Path, cfg: "Config") -> bool:
    from mir.model.bundle import read_card

    return read_card(model_dir).features.cache_key() == cfg.features.cache_key()


def compare(cfg: "Config") -> dict[str, Any]:
    """Challenger (``paths.models``) vs champion on the same test clips of the champion's genres.

    Returns
    -------
    dict
        ``genres`` (the champion's), ``n`` (test clips compared), ``basis``,
        ``challenger`` / ``champion`` metrics (``champion`` is ``None`` when
        there is none) and ``challenger_all`` (its ``metrics/eval.json`` summary
        on every test clip, new genres included).
    """
    from mir.features.extract import FeatureStore
    from mir.io import read_json
    from mir.registry import RegistryError, champion, champion_model_dir, summarize_metrics

    everything = summarize_metrics(read_json(Path(cfg.paths.metrics) / "eval.json"))
    champ = champion(cfg)
    if champ is None:
        return {"genres": [], "n": everything.get("n"), "basis": "no champion", "champion": None,
                "challenger": everything, "challenger_all": everything}
    genres = sorted(champ["genres"])
    try:  # the champion's files, fetched from the registry (dvc artifacts get) when the cache differs by MD5
        cdir, why = champion_model_dir(cfg, entry=champ), ""
    except RegistryError as err:
        cdir, why = None, f"champion model files unavailable: {err}"
    if cdir is not None and not _same_features(cdir, cfg):
        why = "feature parameters changed"
    if why:
        chall = {**everything, "per_class": {g: everything["per_class"][g] for g in genres
                                             if g in everything["per_class"]}}
        return {"genres": genres, "n": everything.get("n"), "champion": champ["metrics"], "challenger": chall,
                "challenger_all": everything,
                "basis": f"recorded metrics ({why}; the test clips may differ)"}
    store = FeatureStore(cfg.paths.features)
    te = store.split("test")
    te = te[te["genre"].isin(genres)]
    if te.empty:
        raise ValueError(f"no test clips of the champion's genres ({', '.join(genres)}) to compare on")
    return {"genres": genres, "n": int(len(te)), "basis": "same test clips (the champion's genres)",
            "champion": _score(cdir, store, te, genres, cfg),
            "challenger": _score(Path(cfg.paths.models), store, te, genres, cfg),
            "challenger_all": everything}


def decide(cfg: "Config", comparison: dict[str, Any], *, run_id: str, new_genres: list[str],
           new_music_run: dict | None = None) -> dict[str, Any]:
    """Register the challenger, then promote it or mark it rejected (:func:`mir.registry.should_promote`).

    ``new_music_run`` (from the ``mir-monitor`` flow) names the monitoring run whose labelled new music
    brought the new genre(s) in; it is stored in the registry entry."""
    from mir import registry

    ok, reason = registry.should_promote(comparison["challenger"], comparison["champion"],
                                         tolerance=cfg.registry.tolerance)
    before = registry.champion(cfg)
    entry = registry.register(cfg, decision="promoted" if ok else "rejected", reason=reason,
                              metrics=comparison["challenger_all"], extra={
        "run_id": run_id, "run_page": summary_path(cfg, run_id).as_posix(), "new_genres": new_genres,
        "comparison": {k: comparison[k] for k in ("genres", "n", "basis", "champion", "challenger")},
        "compared_with": None if before is None else before["version"],
        **({"new_music_run": new_music_run} if new_music_run else {}),
    })
    print(f"retrain: {entry['version']} {'promoted to champion' if ok else 'rejected'}"
          f"{' (not committed: registry.commit off)' if entry['status'] == 'uncommitted' else ''}: {reason}")
    return {"version": entry["version"], "promoted": ok, "reason": reason, "status": entry["status"],
            "genres": entry["genres"], "previous_champion": None if before is None else before["version"]}


def known_genres(cfg: "Config") -> list[str]:
    """The genres the champion knows (the trained model's when there is no champion yet)."""
    from mir.model.bundle import model_files, read_card
    from mir.registry import champion

    champ = champion(cfg)
    if champ is not None:
        return sorted(champ["genres"])
    return sorted(read_card(cfg.paths.models).genres) if model_files(cfg.paths.models)[1].exists() else []


def hand_over(cfg: "Config", new_dir: str | os.PathLike[str], *, known: list[str], run: dict) -> dict[str, Any]:
    """Copy labelled new songs of genres the champion does not know into ``retrain.labelled_dir``.

    A genre is handed over when ``new_dir/<genre>/`` holds at least ``retrain.min_clips_per_genre``
    songs that pass the ``audio:`` policy (from their header). The songs are **copied**
    (``<labelled_dir>/<genre>/<name>``, :func:`handover_name`: unique per path, never overwritten; the
    user's folder is only read) and ``handover.json`` there
    records which monitoring run (``run``) brought each genre in. The data stage adds these clips to
    the training data (a DVC dependency), so the retrain flow's ``dvc repro`` trains on them.

    Returns
    -------
    dict
        ``handed_over`` ({genre: songs copied this time}), ``already`` (genres whose songs were all
        handed over before), ``too_few`` ({genre: usable songs}), ``rejected`` (files skipped, with reasons).
    """
    import filecmp
    import json
    import shutil

    from mir.datasets.ingest import check_clip
    from mir.io import atomic_path, write_text
    from mir.datasets.new_music import list_new_music

    dest_root = Path(cfg.retrain.labelled_dir)
    by_genre: dict[str, list] = {}
    rejected = []
    for s in list_new_music(new_dir, skipped=rejected):
        if not s.label or s.label in known:
            continue
        r = check_clip(s.path, audio=cfg.audio)
        if "reason" in r:
            rejected.append({"path": str(s.path), "reason": r["reason"]})
        else:
            by_genre.setdefault(s.label, []).append(s)
    out: dict[str, Any] = {"handed_over": {}, "already": [], "too_few": {}, "rejected": rejected}
    log_path = dest_root / "handover.json"
    log = json.loads(log_path.read_text()) if log_path.exists() else {}
    for genre, songs in sorted(by_genre.items()):
        if len(songs) < cfg.retrain.min_clips_per_genre:
            out["too_few"][genre] = len(songs)
            continue
        copied = []
        for s in songs:
            rel = s.path.relative_to(Path(new_dir) / genre)
            target = dest_root / genre / handover_name(rel)
            legacy = dest_root / genre / "__".join(rel.parts)  # an older mir's name: the same bytes are handed over
            if any(p.is_file() and filecmp.cmp(p, s.path, shallow=False) for p in (target, legacy)):
                continue
            with atomic_path(target) as tmp:
                shutil.copyfile(s.path, tmp)
            copied.append(target.name)
        if not copied:
            out["already"].append(genre)
            continue
        out["handed_over"][genre] = len(copied)
        log.setdefault(genre, []).append({"run": run, "source": str(new_dir), "files": copied})
    if out["handed_over"]:
        write_text(log_path, json.dumps(log, indent=1, sort_keys=True))
    return out


def handover_name(rel: Path) -> str:
    """The hand-over copy's name of ``<genre>/<rel>``: unique per ``rel``, so no song is dropped or overwritten.

    A file directly in the genre folder keeps its name (``x.wav``) unless the name holds ``__``; a nested one
    (``a/b.wav``) or such a name becomes ``<parts joined by __>-<hash of rel><ext>``. Plain names never hold
    ``__`` and hashed ones always do, so ``a/b.wav`` and a real ``a__b.wav`` get two names.
    """
    import hashlib

    from mir.io import bounded_name

    rel = Path(rel)
    if len(rel.parts) == 1 and "__" not in rel.name:
        return rel.name
    digest = hashlib.sha256(os.fsencode(rel.as_posix())).hexdigest()[:10]
    stem = "__".join(rel.with_suffix("").parts)
    return f"{bounded_name(stem, 180)}-{digest}{rel.suffix}"


def _safe_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)[:80] or "run"


def summary_path(cfg: "Config", run_id: str) -> Path:
    return Path(cfg.paths.reports) / "runs" / f"{_safe_name(run_id)}.html"


def write_summary(cfg: "Config", result: dict[str, Any], *, run_id: str) -> Path:
    """``reports/runs/<run-id>.html``: what was found, checked, trained and decided (offline, escaped)."""
    from mir.io import write_text
    from mir.provenance import utc_now
    from mir.registry import versions as registry_versions
    from mir.reports.html import render

    found = result.get("found") or {}
    facts = [["run id", run_id],
             ["finished", f"{utc_now():%Y-%m-%d %H:%M:%S} UTC"],
             ["dataset", cfg.data.dataset],
             ["genres in the source", ", ".join(found.get("source") or []) or "—"],
             ["champion's genres", ", ".join(found.get("known") or []) or "(no champion yet)"],
             ["new genres", ", ".join(found.get("new") or []) or "none"],
             ["action", result.get("action", "")]]
    val = result.get("validation")
    validation = val and {"usable": [[g, n] for g, n in (val.get("usable") or {}).items()], "note": val.get("note"),
                          "rejected": [[r["clip_id"], r["reason"]] for r in (val.get("rejected") or [])[:50]]}
    cmp_ = result.get("comparison")
    dec = result.get("decision")
    decision = dec and {"version": dec["version"], "reason": dec["reason"],
                        "verdict": "promoted to champion" if dec["promoted"] else "not promoted (rejected)"}
    comparison = None
    if cmp_ and cmp_.get("champion"):
        ch, cl = cmp_["champion"], cmp_["challenger"]
        rows = [["overall", "accuracy", ch.get("accuracy"), cl.get("accuracy")],
                ["overall", "macro-F1", ch.get("macro_f1"), cl.get("macro_f1")]]
        for g in cmp_["genres"]:
            for k in ("recall", "f1"):
                rows.append([g, k, (ch["per_class"].get(g) or {}).get(k), (cl["per_class"].get(g) or {}).get(k)])
        rows = [[a, b, float(c) if c is not None else "—", float(d) if d is not None else "—"] for a, b, c, d in rows]
        comparison = {"basis": cmp_["basis"], "n": cmp_.get("n"), "rows": rows}
    challenger_all = None
    if cmp_ and cmp_.get("challenger_all"):
        a = cmp_["challenger_all"]
        challenger_all = {"accuracy": a.get("accuracy"), "macro_f1": a.get("macro_f1"),
                          "rows": [[g, float(v.get("recall", 0)), float(v.get("f1", 0)), v.get("support", "")]
                                   for g, v in sorted((a.get("per_class") or {}).items())]}
    registry = [[v["version"], v["status"], v.get("registered", ""), ", ".join(v.get("genres", [])),
                 (v.get("metrics") or {}).get("accuracy", ""), v.get("reason", "")]
                for v in reversed(registry_versions(cfg))]
    html = render("retrain_run.html", title="mir — retraining run", subtitle=run_id, facts=facts,
                  validation=validation, decision=decision, comparison=comparison, tolerance=cfg.registry.tolerance,
                  challenger_all=challenger_all, registry=registry,
                  index_link=(Path(cfg.paths.reports) / "index.html").exists())
    return write_text(summary_path(cfg, run_id), html)
