"""A tiny model registry: which model is the champion, and why.

The registry is one git-tracked JSON file (``registry.path`` in params.yaml,
default ``registry/models.json``)::

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
import datetime as _dt
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mir.config import Config

SCHEMA = 1
STATUSES = ("champion", "challenger", "rejected", "retired")
#: Files copied from ``paths.models`` into the champion directory.
MODEL_FILES = ("model.keras", "labels.json")


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
        return doc
    if not isinstance(doc, dict) or not isinstance(doc.get("versions"), list):
        raise RegistryError(f"{p}: expected an object with a 'versions' list")
    return doc["versions"]


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


def _get(m: dict, key: str) -> float | None:
    """``m[key]`` or ``m["track"][key]`` (both shapes of ``metrics/eval.json``)."""
    if key in m:
        return m[key]
    return (m.get("track") or {}).get(key)


def _per_class(m: dict) -> dict:
    return m.get("per_class") or (m.get("track") or {}).get("per_class") or {}


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
        ``{"accuracy", "macro_f1", "per_class": {genre: {"recall", "f1", …}}}``
        (or a whole ``metrics/eval.json``, whose ``track`` block is used).
        ``champion_metrics`` is ``None`` when there is no champion yet.
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
        old, new = _get(champion_metrics, key), _get(challenger_metrics, key)
        if old is None:
            continue
        if new is None:
            return False, f"challenger has no {key}"
        if new < old - tolerance - eps:
            worse.append(f"{key} {new:.3f} < {old:.3f}")
    old_pc, new_pc = _per_class(champion_metrics), _per_class(challenger_metrics)
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
    acc_old, acc_new = _get(champion_metrics, "accuracy"), _get(challenger_metrics, "accuracy")
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


def git_commit(cwd: str | os.PathLike[str] = ".") -> str | None:
    """The checked-out commit (``+dirty`` when the work tree has changes), or ``None`` outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=30)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _md5(path: Path) -> str:
    from mir.io import file_digest

    return file_digest(path, algorithm="md5")


def summarize_metrics(m: dict) -> dict:
    """The part of ``metrics/eval.json`` the registry keeps: accuracy, macro-F1, per-class scores."""
    out = {"accuracy": _get(m, "accuracy"), "macro_f1": _get(m, "macro_f1"), "per_class": _per_class(m)}
    if "n" in (m.get("track") or {}):
        out["n"] = m["track"]["n"]
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    from mir.model.train import model_paths

    if status not in ("challenger", "rejected"):
        raise RegistryError(f"register: status must be challenger or rejected (got {status!r}); use promote()")
    model_path, labels_path = model_paths(cfg)
    if not model_path.exists() or not labels_path.exists():
        raise RegistryError(f"no trained model in {cfg.paths.models}/ (run `mir train` or `dvc repro`)")
    if metrics is None:
        metrics = read_json(Path(cfg.paths.metrics) / "eval.json")
    info = read_json(labels_path)
    params = cfg.model_dump(mode="json", by_alias=True)
    hashes = dvc_hashes()
    entry = {
        "version": "",
        "created": _now(),
        "status": status,
        "genres": list(info["genres"]),
        "metrics": summarize_metrics(metrics),
        "params": params,
        "params_hash": params_hash(params),
        "data_hash": {k: hashes[k] for k in (cfg.paths.raw, cfg.paths.features) if k in hashes},
        "models_hash": hashes.get(cfg.paths.models),
        "model_md5": _md5(model_path),
        "git_commit": git_commit(),
        "reason": reason,
        **(extra or {}),
    }
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
    from mir.model.train import model_paths

    model_path, _ = model_paths(cfg)
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
                v["retired"] = _now()
        entry["status"] = "champion"
        entry["promoted"] = _now()
        if reason is not None:
            entry["reason"] = reason
        save_registry(cfg.registry.path, versions)
    return entry
