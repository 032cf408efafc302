"""A tiny model registry: which model is the champion, and why.

The registry is one git-tracked JSON file (``registry.path`` in params.yaml,
default ``registry/models.json``; its schema: :mod:`mir.records.registry`)::

    {"schema": 1, "versions": [
        {"version": "v1", "created": "2025-…Z", "status": "champion",
         "genres": [...], "metrics": {"accuracy": …, "macro_f1": …, "per_class": {…}},
         "params": {…the full params…}, "params_hash": "…", "data_hash": {"data/raw": "….dir", …},
         "models_hash": "….dir", "model_md5": "…", "git_commit": "…", "reason": "…"},
        …]}

``status`` is ``champion`` (exactly one, or none before the first promotion),
``challenger`` (registered, not decided yet), ``rejected`` (compared and not
promoted) or ``retired`` (a former champion).

The champion's model files (``model.keras``, ``labels.json``) and its
``eval.json`` are copied to ``registry.champion_dir`` (default
``registry/champion/``, git-ignored): a working copy that the retrain flow
compares challengers against and that can be served. The authoritative record is
the entry itself: ``git_commit`` plus ``models_hash`` (the ``models`` output's
hash in ``dvc.lock``) let ``git checkout <commit> && dvc checkout models`` (or
``dvc pull``) restore exactly that model from the DVC cache or remote.

Every write is atomic (a temporary file moved into place) and read-modify-write
cycles hold an exclusive lock on a ``.lock`` file beside the registry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mir.model.bundle import MODEL_FILES, model_files, read_card
from mir.provenance import git_commit, utc_timestamp
from mir.records.evaluation import EvalRecord
from mir.records.registry import SCHEMA, STATUSES, RegistryEntry, RegistryFile

if TYPE_CHECKING:
    from mir.config import Config

__all__ = ["MODEL_FILES", "SCHEMA", "STATUSES", "RegistryError", "champion", "champion_dir", "champion_of",
           "dvc_hashes", "find", "git_commit", "load_registry", "locked", "params_hash", "promote", "register",
           "save_registry", "set_status", "should_promote", "summarize_metrics"]


class RegistryError(ValueError):
    """A registry file that can't be read, or an operation that makes no sense (one line)."""


# --------------------------------------------------------------------------- reading / writing


def load_registry(path: str | os.PathLike[str]) -> list[dict]:
    """Every registered version, oldest first (``[]`` when the file does not exist)."""
    p = Path(path)
    if not p.exists():
        return []
    try:
        doc = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise RegistryError(f"{p}: not valid JSON ({e.msg}, line {e.lineno})") from None
    if isinstance(doc, list):  # tolerate a bare list
        doc = {"schema": SCHEMA, "versions": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("versions"), list):
        raise RegistryError(f"{p}: expected an object with a 'versions' list")
    try:
        return [v.dump() for v in RegistryFile.model_validate(doc).versions]
    except ValidationError as err:
        raise RegistryError(f"{p}: {_one_line(err)}") from None


def _one_line(err: ValidationError) -> str:
    e = err.errors()[0]
    where = ".".join(str(x) for x in e["loc"])
    return f"{where}: {e['msg']}" + (f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else "")


def save_registry(path: str | os.PathLike[str], versions: list[dict]) -> Path:
    """Write ``versions`` to ``path`` atomically (stable key order, readable diffs)."""
    from mir.io import write_json

    bad = [v.get("version") for v in versions if v.get("status") not in STATUSES]
    if bad:
        raise RegistryError(f"version {bad[0]}: status must be one of {', '.join(STATUSES)}")
    if sum(v.get("status") == "champion" for v in versions) > 1:
        raise RegistryError("more than one champion")
    return write_json(path, {"schema": SCHEMA, "versions": versions})


@contextlib.contextmanager
def locked(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of the registry at ``path``."""
    lock = Path(path).with_name(Path(path).name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def find(versions: list[dict], version: str) -> dict:
    """The entry named ``version``."""
    for v in versions:
        if v.get("version") == version:
            return v
    raise RegistryError(f"no registered version {version!r}; versions: {', '.join(x['version'] for x in versions)}")


def champion_of(versions: list[dict]) -> dict | None:
    """The champion entry in ``versions`` (``None`` before the first promotion)."""
    return next((v for v in versions if v.get("status") == "champion"), None)


def champion(cfg: "Config") -> dict | None:
    """The current champion entry (with its full ``params`` dict), or ``None``."""
    return champion_of(load_registry(cfg.registry.path))


def champion_dir(cfg: "Config") -> Path:
    """Where the champion's model files are copied."""
    return Path(cfg.registry.champion_dir)


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


def _next_version(versions: list[dict]) -> str:
    nums = [int(v["version"][1:]) for v in versions if str(v.get("version", "")).startswith("v")
            and str(v["version"][1:]).isdigit()]
    return f"v{max(nums, default=0) + 1}"


# --------------------------------------------------------------------------- operations


def register(cfg: "Config", *, metrics: dict | None = None, status: str = "challenger", reason: str = "",
             extra: dict[str, Any] | None = None) -> dict:
    """Record the model in ``paths.models`` as a new version; returns the entry.

    Parameters
    ----------
    cfg
        The configuration the model was trained with (stored in full).
    metrics
        Its test metrics; default: ``metrics/eval.json``.
    status
        ``challenger`` (default) or ``rejected``; use :func:`promote` to make a champion.
    reason
        Why it was registered / the decision, one line.
    extra
        More fields to store (e.g. the comparison on the old genres, the run id).
    """
    from mir.io import read_json

    if status not in ("challenger", "rejected"):
        raise RegistryError(f"register: status must be challenger or rejected (got {status!r}); use promote()")
    model_path, labels_path = model_files(cfg.paths.models)
    if not model_path.exists() or not labels_path.exists():
        raise RegistryError(f"no trained model in {cfg.paths.models}/ (run `mir train` or `dvc repro`)")
    if metrics is None:
        metrics = summarize_metrics(read_json(Path(cfg.paths.metrics) / "eval.json"))
    params = cfg.model_dump(mode="json", by_alias=True)
    hashes = dvc_hashes()
    fields = {
        "version": "v0",
        "created": utc_timestamp(),
        "status": status,
        "genres": list(read_card(cfg.paths.models).genres),
        "metrics": metrics,
        "params": params,
        "params_hash": params_hash(params),
        "data_hash": {k: hashes[k] for k in (cfg.paths.raw, cfg.paths.features) if k in hashes},
        "models_hash": hashes.get(cfg.paths.models),
        "model_md5": _md5(model_path),
        "git_commit": git_commit(),
        "reason": reason,
        **(extra or {}),
    }
    try:
        entry = RegistryEntry(**fields).dump()
    except ValidationError as err:
        raise RegistryError(f"register: {_one_line(err)}") from None
    with locked(cfg.registry.path):
        versions = load_registry(cfg.registry.path)
        entry["version"] = _next_version(versions)
        versions.append(entry)
        save_registry(cfg.registry.path, versions)
    return entry


def set_status(cfg: "Config", version: str, status: str, *, reason: str | None = None) -> dict:
    """Mark ``version`` as ``challenger``/``rejected``/``retired`` (not champion: see :func:`promote`)."""
    if status not in ("challenger", "rejected", "retired"):
        raise RegistryError(f"set_status: status must be challenger, rejected or retired (got {status!r})")
    with locked(cfg.registry.path):
        versions = load_registry(cfg.registry.path)
        entry = find(versions, version)
        entry["status"] = status
        if reason is not None:
            entry["reason"] = reason
        save_registry(cfg.registry.path, versions)
    return entry


def promote(cfg: "Config", version: str, *, reason: str | None = None) -> dict:
    """Make ``version`` the champion: the previous champion is retired and the model
    files in ``paths.models`` (which must be that version's, checked by MD5) are
    copied to the champion directory. Returns the new champion entry."""
    from mir.io import atomic_dir, write_json

    model_path, _ = model_files(cfg.paths.models)
    with locked(cfg.registry.path):
        versions = load_registry(cfg.registry.path)
        entry = find(versions, version)
        if not model_path.exists() or _md5(model_path) != entry.get("model_md5"):
            raise RegistryError(f"{model_path} is not version {version}'s model (MD5 differs); "
                                f"restore it first (git checkout {entry.get('git_commit')} && dvc checkout)")
        with atomic_dir(champion_dir(cfg), what="registry.champion_dir",
                        legacy=set(MODEL_FILES) | {"eval.json", "entry.json"}) as tmp:
            for name in MODEL_FILES:
                shutil.copy2(Path(cfg.paths.models) / name, tmp / name)
            write_json(tmp / "eval.json", entry.get("metrics") or {})
            write_json(tmp / "entry.json", {k: v for k, v in entry.items() if k != "params"} | {"status": "champion"})
        for v in versions:
            if v.get("status") == "champion" and v is not entry:
                v["status"] = "retired"
                v["retired"] = utc_timestamp()
        entry["status"] = "champion"
        entry["promoted"] = utc_timestamp()
        if reason is not None:
            entry["reason"] = reason
        save_registry(cfg.registry.path, versions)
    return entry
