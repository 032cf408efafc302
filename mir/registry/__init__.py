"""The model registry, the DVC way: ``dvc.yaml``'s artifact + GTO's git tags + a metadata file per version.

- The model is the artifact ``genre-classifier`` in ``dvc.yaml`` (``path: models``, ``type: model``, its
  genres as labels): ``dvc artifacts get <repo> genre-classifier --rev v2.0.0`` (or ``--stage champion``)
  downloads any version from the DVC cache or remote without mir.
- A **version** is GTO's annotated tag ``genre-classifier@vN.0.0`` on the commit whose ``dvc.lock`` names the
  model; the **champion** is the version the newest ``genre-classifier#champion#K`` tag points to (an earlier
  champion keeps its version and loses the stage, as in ``gto show``); a **rejected** challenger is
  registered, then deregistered (``genre-classifier@vN.0.0!``, ``gto deprecate``) with its reason.
- What mir adds — the decision and its reason, the comparison on the old genres, the metrics per genre, the
  params and their hash, the DVC hashes of the data — is ``registry/genre-classifier/<version>.json``
  (:class:`mir.records.registry.VersionRecord`), committed in the tagged commit; the tag message repeats the
  decision, reason and metrics in words (``git tag -n20``, ``gto history``).

Registering is one transaction in three steps: write the metadata file, commit (``registry.commit: auto``;
``off`` prints the commands instead: ``git add``/``git commit`` of ``dvc.lock``, ``dvc.yaml``, ``params.yaml``,
``metrics/`` and ``registry/``, then the ``gto`` commands), tag. A kill before the tag leaves the registry as it was (a commit
nobody tags is no version, and the next registration reuses the number); a kill between the version tag and
its decision's tag leaves a version whose recorded decision has no tag: ``mir registry show`` calls it
``interrupted`` and the next registry write completes it. Only tags decide: ``registry/champion/`` is a cache
of the champion's files, checked by MD5 on every use and rebuilt with ``dvc artifacts get`` when it differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mir.model.bundle import MODEL_FILES, model_files, read_card
from mir.provenance import git_commit, utc_timestamp
from mir.records.evaluation import EvalRecord
from mir.records.registry import STATUSES, VersionRecord
from mir.registry import gitops
from mir.registry.gitops import ARTIFACT, CHAMPION, NotARepo, RegistryError

if TYPE_CHECKING:
    from mir.config import Config

__all__ = ["ARTIFACT", "CHAMPION", "MODEL_FILES", "STATUSES", "NotARepo", "RegistryError", "champion", "champion_model_dir",
           "dvc_hashes", "find", "get", "normalize", "params_hash", "promote", "register", "should_promote",
           "summarize_metrics", "version_number", "versions"]


# --------------------------------------------------------------------------- names


def normalize(name: str) -> str:
    """``v3``/``3``/``v3.0.0`` → ``v3.0.0`` (GTO versions are semver); ``champion`` stays."""
    s = str(name).strip()
    if s == CHAMPION:
        return s
    m = re.fullmatch(r"v?(\d+)(?:\.(\d+)\.(\d+))?", s)
    if not m:
        raise RegistryError(f"{name!r} is not a version (v3, v3.0.0) nor {CHAMPION!r}")
    return f"v{m[1]}.{m[2] or 0}.{m[3] or 0}"


def version_number(version: str) -> float:
    """``v3.0.0`` → 3 (what a dashboard plots); anything else → 0."""
    m = re.fullmatch(r"v(\d+)(?:\.\d+\.\d+)?", str(version))
    return float(m[1]) if m else 0.0


def metadata_rel(cfg: "Config", version: str) -> str:
    """``registry/genre-classifier/<version>.json`` (under ``registry.dir``)."""
    return f"{cfg.registry.dir.rstrip('/')}/{ARTIFACT}/{version}.json"


# --------------------------------------------------------------------------- reading


def _one_line(err: ValidationError) -> str:
    e = err.errors()[0]
    where = ".".join(str(x) for x in e["loc"])
    return (f"{where}: " if where else "") + e["msg"] + (f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else "")


def read_metadata(cfg: "Config", version: str, commit: str) -> dict[str, Any]:
    """A version's metadata: the work tree's file, else the one in its tagged commit. Damage is one line."""
    rel = metadata_rel(cfg, version)
    p = Path(rel)
    text = p.read_text() if p.is_file() else gitops.show_file(commit, rel)
    if text is None:
        raise RegistryError(f"damaged registry: {ARTIFACT}@{version} has no {rel} (neither in the work tree nor "
                            f"in its commit {commit[:8]})")
    try:
        rec = VersionRecord.model_validate_json(text)
    except ValidationError as err:
        raise RegistryError(f"damaged registry: {rel}: {_one_line(err)}") from None
    if rec.version != version:
        raise RegistryError(f"damaged registry: {rel} names version {rec.version}")
    return rec.dump()


def _status(v: dict, meta: dict, champ: str | None) -> str:
    if v["version"] == champ:
        return "champion"
    if not v["active"]:
        return "rejected"
    if v["champion_at"]:
        return "retired"
    if meta.get("decision") in ("promoted", "rejected"):
        return "interrupted"  # the decision is recorded, its tag is missing
    return "registered"


def versions(cfg: "Config") -> list[dict[str, Any]]:
    """Every registered version, oldest first: its metadata plus ``commit``, ``registered`` (the tag's date),
    ``status`` (one of :data:`STATUSES`, from GTO's tags) and ``tag_message``."""
    raw = gitops.gto_versions()
    assigned = [(max(v["champion_at"]), v["version"]) for v in raw if v["champion_at"] and v["active"]]
    champ = max(assigned)[1] if assigned else None
    out = []
    for v in sorted(raw, key=lambda v: (v["created"], version_number(v["version"]))):
        meta = read_metadata(cfg, v["version"], v["commit"])
        entry = {**meta, "commit": v["commit"], "registered": v["created"], "tag_message": v["message"],
                 "status": _status(v, meta, champ)}
        if v["deregistration"] is not None:
            entry["deprecation"] = v["deregistration"]
        out.append(entry)
    return out


def find(cfg: "Config", name: str, *, all_versions: list[dict] | None = None) -> dict[str, Any]:
    """The version named ``name`` (``v3``, ``v3.0.0`` or ``champion``)."""
    want = normalize(name)
    vs = versions(cfg) if all_versions is None else all_versions
    for v in vs:
        if v["version"] == want or (want == CHAMPION and v["status"] == "champion"):
            return v
    if want == CHAMPION:
        raise RegistryError("no champion yet (run `mir flow retrain` or `mir registry promote`)")
    raise RegistryError(f"no registered version {want}; versions: {', '.join(x['version'] for x in vs) or 'none'}")


def champion(cfg: "Config") -> dict[str, Any] | None:
    """The champion's entry (with its full ``params``), or ``None`` before the first promotion."""
    return next((v for v in versions(cfg) if v["status"] == "champion"), None)


# --------------------------------------------------------------------------- decision


def should_promote(challenger_metrics: dict | None, champion_metrics: dict | None, *,
                   tolerance: float) -> tuple[bool, str]:
    """Decide whether the challenger replaces the champion.

    Promote only when the challenger is not worse than the champion on the
    champion's genres (the *old* genres) by more than ``tolerance``: overall
    accuracy and macro-F1, and every old genre's recall and F1. Both metric dicts
    must be measured on the same test clips (those of the old genres).

    Parameters
    ----------
    challenger_metrics, champion_metrics
        ``{"accuracy", "macro_f1", "per_class": {genre: {"recall", "f1", …}}}``: the
        :class:`~mir.records.evaluation.Scores` of each model (:func:`summarize_metrics` of an
        ``eval.json``). ``champion_metrics`` is ``None`` when there is no champion yet.
    tolerance
        The largest drop (absolute, 0–1) still accepted.

    Returns
    -------
    (promote, reason)
        ``reason`` is one human-readable line.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0 (got {tolerance})")
    if challenger_metrics is None:
        return False, "no challenger metrics"
    if champion_metrics is None:
        return True, "first model: no champion to beat"
    eps = 1e-9
    worse: list[str] = []
    for key in ("accuracy", "macro_f1"):
        old, new = champion_metrics.get(key), challenger_metrics.get(key)
        if old is None:
            continue
        if new is None:
            return False, f"challenger has no {key}"
        if new < old - tolerance - eps:
            worse.append(f"{key} {new:.3f} < {old:.3f}")
    old_pc, new_pc = champion_metrics.get("per_class") or {}, challenger_metrics.get("per_class") or {}
    missing = sorted(g for g in old_pc if g not in new_pc)
    if missing:
        return False, f"challenger does not know the champion's genre(s) {', '.join(missing)}"
    for g in sorted(old_pc):
        for key in ("recall", "f1"):
            old, new = old_pc[g].get(key), new_pc[g].get(key)
            if old is None:
                continue
            if new is None or new < old - tolerance - eps:
                worse.append(f"{g} {key} {new if new is None else f'{new:.3f}'} < {old:.3f}")
    if worse:
        return False, f"worse than the champion beyond tolerance {tolerance:g} on the old genres: " + "; ".join(worse)
    acc_old, acc_new = champion_metrics.get("accuracy"), challenger_metrics.get("accuracy")
    gain = "" if acc_old is None or acc_new is None else f" (accuracy {acc_new:.3f} vs {acc_old:.3f})"
    return True, f"not worse than the champion on its {len(old_pc)} genres within tolerance {tolerance:g}{gain}"


# --------------------------------------------------------------------------- provenance


def params_hash(params: dict) -> str:
    """A short, stable hash of a params dict."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]


def dvc_hashes(lock_path: str | os.PathLike[str] = "dvc.lock") -> dict[str, str]:
    """``{out path: md5}`` for every output recorded in ``dvc.lock`` (``{}`` without one)."""
    import yaml

    p = Path(lock_path)
    if not p.exists():
        return {}
    doc = yaml.safe_load(p.read_text()) or {}
    out: dict[str, str] = {}
    for stage in (doc.get("stages") or {}).values():
        for o in stage.get("outs") or []:
            h = o.get("md5") or o.get("hash") or o.get("etag")
            if o.get("path") and isinstance(h, str):
                out[o["path"]] = h
    return out


def _md5(path: Path) -> str:
    from mir.io import file_digest

    return file_digest(path, algorithm="md5")


def summarize_metrics(m: dict) -> dict:
    """The part of ``metrics/eval.json`` the registry keeps: the track-level :class:`Scores`."""
    return EvalRecord.model_validate(m).track.model_dump(mode="json")


def _check_models_in_lock(cfg: "Config") -> str:
    """The ``models`` hash in ``dvc.lock``, after checking ``paths.models`` holds exactly those files."""
    models = cfg.paths.models
    lock_hash = dvc_hashes().get(models)
    if not lock_hash:
        raise RegistryError(f"dvc.lock records no {models} output: run `dvc repro` first (a version is the commit "
                            "whose dvc.lock names the model)")
    listing = gitops.cached_dir_listing(lock_hash) if lock_hash.endswith(".dir") else None
    if listing is None:
        raise RegistryError(f"{models} ({lock_hash}) is not in the DVC cache: run `dvc repro` or `dvc pull {models}`")
    on_disk = {p.relative_to(models).as_posix(): _md5(p) for p in Path(models).rglob("*") if p.is_file()}
    if on_disk != listing:
        raise RegistryError(f"{models}/ differs from what dvc.lock records: run `dvc repro` (or `dvc checkout "
                            f"{models}`) before registering")
    return lock_hash


# --------------------------------------------------------------------------- writing


def _sync_labels(genres: list[str], path: str = "dvc.yaml") -> None:
    """Keep the artifact's ``labels`` in ``dvc.yaml`` = the model's genres: only that list's lines change (the
    rest of the file, comments and layout, stays byte for byte)."""
    p = Path(path)
    if not p.exists():
        return
    import yaml

    text = p.read_text()
    art = ((yaml.safe_load(text) or {}).get("artifacts") or {}).get(ARTIFACT)
    if art is None:
        raise RegistryError(f"{path} declares no artifact {ARTIFACT!r} (its `artifacts:` section)")
    want = sorted(genres)
    if list(art.get("labels") or []) == want:
        return
    items = [g if re.fullmatch(r"[A-Za-z0-9_][\w .&'-]*", g) and yaml.safe_load(f"[{g}]") == [g] else json.dumps(g)
             for g in want]  # plain when it reads back as itself, else quoted
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if re.match(rf"\s+{re.escape(ARTIFACT)}:\s*$", line))
    for i in range(start + 1, len(lines)):
        m = re.match(r"(\s+)labels:(.*)$", lines[i])
        if m is None:
            continue
        if m[2].strip():  # flow style: labels: [a, b]
            lines[i] = f"{m[1]}labels: [{', '.join(items)}]\n"
        else:
            end = i + 1
            while end < len(lines) and re.match(rf"{m[1]}\s*- ", lines[end]):
                end += 1
            item = re.match(r"(\s*)- ", lines[i + 1])[1] if end > i + 1 else m[1] + "  "
            lines[i + 1:end] = [f"{item}- {g}\n" for g in items]
        break
    from mir.io import write_text

    write_text(p, "".join(lines))


def tag_message(rec: dict) -> str:
    """The version tag's message: the decision and the numbers in words (``git tag -n20``, ``gto history``)."""
    m = rec.get("metrics") or {}
    lines = [f"mir: {rec['version']} {rec['decision']}" + (f": {rec['reason']}" if rec.get("reason") else ""),
             "", f"genres: {', '.join(rec['genres'])}",
             f"test accuracy {m.get('accuracy')}, macro-F1 {m.get('macro_f1')}",
             f"model.keras md5 {rec['model_md5']}; models {rec.get('models_hash')}",
             f"params hash {rec['params_hash']}"]
    if rec.get("compared_with"):
        lines.append(f"compared with {rec['compared_with']} on its genres")
    if rec.get("run_page"):
        lines.append(f"run page: {rec['run_page']}")
    lines.append(f"metadata: {rec['_rel']}")
    return "\n".join(lines)


def _decision_tags(version: str, decision: str, reason: str) -> None:
    if decision == "promoted":
        gitops.gto_call("assign", stage=CHAMPION, version=version, message=f"promoted: {reason}")
    elif decision == "rejected":
        gitops.gto_call("deregister", version=version, message=f"rejected: {reason}")


def complete_interrupted(cfg: "Config") -> list[str]:
    """Write the missing decision tag of every ``interrupted`` version; the versions completed."""
    done = []
    for v in versions(cfg):
        if v["status"] == "interrupted":
            _decision_tags(v["version"], v["decision"], v.get("reason", ""))
            print(f"registry: completed the interrupted {v['decision']} of {v['version']}")
            done.append(v["version"])
    return done


def _next_version(raw: list[dict]) -> str:
    return f"v{int(max((version_number(v['version']) for v in raw), default=0)) + 1}.0.0"


def register(cfg: "Config", *, decision: str, reason: str, metrics: dict | None = None,
             extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Register the model in ``paths.models`` as the next version and record ``decision`` on it.

    Writes ``registry/genre-classifier/<version>.json``, commits it with ``dvc.lock``, ``dvc.yaml``,
    ``params.yaml`` and the metrics (``registry.commit: auto``; ``off`` prints the commands a person runs and returns
    ``status: uncommitted``), then tags: the version, and the champion stage (``promoted``) or its
    deregistration (``rejected``). Pushes only with ``registry.push: true``.

    Parameters
    ----------
    cfg
        The configuration the model was trained with (its params are stored).
    decision
        ``promoted``, ``rejected`` or ``registered`` (no decision).
    reason
        Why, one line.
    metrics
        Its test metrics; default: ``metrics/eval.json``.
    extra
        More :class:`~mir.records.registry.VersionRecord` fields (the comparison, the run id and page, …).
    """
    from mir.io import read_json, write_json

    gitops.require_repo()
    model_path, labels_path = model_files(cfg.paths.models)
    if not model_path.exists() or not labels_path.exists():
        raise RegistryError(f"no trained model in {cfg.paths.models}/ (run `mir train` or `dvc repro`)")
    if cfg.registry.commit == "auto":
        complete_interrupted(cfg)
    models_hash = _check_models_in_lock(cfg)
    if metrics is None:
        metrics = summarize_metrics(read_json(Path(cfg.paths.metrics) / "eval.json"))
    params = cfg.model_dump(mode="json", by_alias=True)
    hashes = dvc_hashes()
    version = _next_version(gitops.gto_versions())
    fields = {"artifact": ARTIFACT, "version": version, "created": utc_timestamp(), "decision": decision,
              "reason": reason, "genres": list(read_card(cfg.paths.models).genres), "metrics": metrics,
              "params": params, "params_hash": params_hash(params),
              "data_hash": {k: hashes[k] for k in (cfg.paths.raw, cfg.paths.features) if k in hashes},
              "models_hash": models_hash, "model_md5": _md5(model_path), "trained_from": git_commit(),
              **(extra or {})}
    try:
        rec = VersionRecord(**fields).dump()
    except ValidationError as err:
        raise RegistryError(f"register: {_one_line(err)}") from None
    rel = metadata_rel(cfg, version)
    write_json(rel, rec)
    _sync_labels(rec["genres"])
    paths = ["dvc.lock", "dvc.yaml", "params.yaml", cfg.paths.metrics, cfg.registry.dir]
    msg = f"mir registry: {ARTIFACT} {version} ({decision})"
    message = tag_message({**rec, "_rel": rel})
    if cfg.registry.commit == "off":
        cmds = gitops.commit_commands(paths, message=msg) + gitops.tag_commands(
            version, "HEAD", message=message, decision=decision, reason=reason)
        print(f"registry: {version} written to {rel}, not committed (registry.commit: off). To register it, run:")
        print("\n".join(f"  {c}" for c in cmds))
        return {**rec, "status": "uncommitted", "commands": cmds}
    commit = gitops.commit_paths(paths, message=msg)
    gitops.gto_call("register", ref=commit, version=version, message=message)
    _decision_tags(version, decision, reason)
    if cfg.registry.push:
        gitops.push([t for t in gitops.git("tag", "--points-at", commit).split() if t.startswith(ARTIFACT)])
    return find(cfg, version)


def promote(cfg: "Config", version: str | None = None, *, reason: str | None = None) -> dict[str, Any]:
    """Make ``version`` the champion (the model in ``paths.models``, registered first, when ``None``).

    The earlier champion keeps its version and loses the stage (a newer ``#champion`` tag)."""
    if version is None:
        return register(cfg, decision="promoted", reason=reason or "promoted by hand (mir registry promote)")
    entry = find(cfg, version)
    if entry["status"] == "champion":
        return entry
    if entry["status"] == "rejected":
        raise RegistryError(f"{entry['version']} was rejected ({entry.get('deprecation', '')}); "
                            "register the model again to promote it")
    gitops.gto_call("assign", stage=CHAMPION, version=entry["version"], force=entry["status"] == "retired",
                    message=f"promoted: {reason or 'by hand (mir registry promote)'}")
    return find(cfg, entry["version"])


# --------------------------------------------------------------------------- model files


def get(cfg: "Config", name: str, out: str | os.PathLike[str], *, what: str = "--out") -> dict[str, Any]:
    """Download version ``name`` (or the ``champion``) with ``dvc artifacts get`` into ``out`` (a folder mir
    owns: new, empty or written by mir) and check its MD5 against the registry's; returns the entry."""
    import tempfile

    from mir.io import atomic_dir

    entry = find(cfg, name)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out, what=what, legacy=set(MODEL_FILES)) as tmp, \
            tempfile.TemporaryDirectory(dir=Path(out).parent, prefix=f".{Path(out).name}.get-") as dl:
        got = gitops.fetch(entry["version"], Path(dl) / "artifact")
        for p in got.iterdir():
            shutil.move(str(p), tmp / p.name)
        md5 = _md5(model_files(tmp)[0]) if model_files(tmp)[0].exists() else None
        if md5 != entry["model_md5"]:
            raise RegistryError(f"{entry['version']}: the fetched model.keras has MD5 {md5}, the registry records "
                                f"{entry['model_md5']}")
    return entry


def champion_model_dir(cfg: "Config", *, entry: dict[str, Any] | None = None) -> Path | None:
    """``registry.champion_dir`` holding the champion's files, rebuilt from the registry when missing or
    different by MD5; ``None`` without a champion (``entry``: the champion's, when already read)."""
    entry = champion(cfg) if entry is None else entry
    if entry is None:
        return None
    d = Path(cfg.registry.champion_dir)
    model, card = model_files(d)
    if model.exists() and card.exists() and _md5(model) == entry["model_md5"]:
        return d
    get(cfg, entry["version"], d, what="registry.champion_dir")
    return d


# --------------------------------------------------------------------------- the table


def show_lines(cfg: "Config") -> list[str]:
    """``mir registry show``: one line per version (newest last) from GTO's state, then what needs a person."""
    vs = versions(cfg)
    lines = [f"{'version':<9} {'status':<12} {'registered':<21} {'acc':>6} {'f1':>6}  genres  reason"]
    for v in vs:
        m = v.get("metrics") or {}
        lines.append(f"{v['version']:<9} {v['status']:<12} {v['registered']:<21} {m.get('accuracy', '—')!s:>6} "
                     f"{m.get('macro_f1', '—')!s:>6}  {','.join(v.get('genres', []))}  {v.get('reason', '')}")
    if not vs:
        lines = [f"no registered versions of {ARTIFACT} yet (run `mir flow retrain` or `mir registry promote`)"]
    for v in vs:
        if v["status"] == "interrupted":
            lines.append(f"note: {v['version']} was {v['decision']} but its tag is missing (an interrupted run); "
                         "the next registration completes it, or `mir registry promote` it by hand")
    left = Path(cfg.registry.dir) / ARTIFACT / "untagged.json"
    if left.exists():
        lines.append(f"note: {left} keeps migrated versions whose commit is not in this repository (not tagged)")
    lines.append(f"(GTO: `gto show {ARTIFACT} --deprecated`, `gto history {ARTIFACT}`; files: "
                 f"`dvc artifacts get . {ARTIFACT} --stage {CHAMPION}`)")
    return lines
