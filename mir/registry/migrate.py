"""``mir registry migrate``: convert mir's old ``registry/models.json`` into GTO tags, once.

Each old entry becomes ``registry/genre-classifier/vN.0.0.json`` (its fields, plus ``migrated``: the old version,
status and commit). Where its ``git_commit`` exists in this repository, that commit gets the version tag (its
``dvc.lock`` names the model, so ``dvc artifacts get --rev vN.0.0`` works), ``retired`` and ``champion`` entries the
champion stage (in the order they were promoted, the champion last) and ``rejected`` ones a deregistration.
Entries whose commit is missing are kept, untagged, in ``registry/genre-classifier/untagged.json`` with a note.
``models.json`` is removed in the same commit: no second source of truth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mir.records.registry import VersionRecord
from mir.registry import (ARTIFACT, CHAMPION, RegistryError, _one_line, metadata_rel, normalize, tag_message)
from mir.registry import gitops

if TYPE_CHECKING:
    from mir.config import Config

DECISION = {"champion": "promoted", "retired": "promoted", "rejected": "rejected", "challenger": "registered"}
MOVED = ("version", "status", "git_commit", "promoted", "retired")


def _read_old(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RegistryError(f"{path}: can't be read ({err})") from None
    entries = doc.get("versions") if isinstance(doc, dict) else doc
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RegistryError(f"{path}: expected {{\"versions\": [entry, …]}}")
    return entries


def _record(old: dict[str, Any], source: str) -> dict[str, Any]:
    status = old.get("status")
    if status not in DECISION:
        raise RegistryError(f"{source}: version {old.get('version')}: unknown status {status!r}")
    fields = {k: v for k, v in old.items() if k not in MOVED}
    fields |= {"artifact": ARTIFACT, "version": normalize(old.get("version", "")), "decision": DECISION[status],
               "migrated": {"from": source, **{k: old[k] for k in MOVED if k in old}}}
    try:
        return VersionRecord(**fields).dump()
    except ValidationError as err:
        raise RegistryError(f"{source}: version {old.get('version')}: {_one_line(err)}") from None


def migrate(cfg: "Config", source: str = "registry/models.json") -> dict[str, list[str]]:
    """Convert ``source``; returns ``{"tagged": [...], "untagged": [...], "skipped": [...]}`` (versions)."""
    from mir.io import write_json

    gitops.require_repo()
    path = Path(source)
    if not path.exists():
        raise RegistryError(f"{source} does not exist: nothing to migrate")
    if cfg.registry.commit != "auto":
        raise RegistryError("mir registry migrate commits the converted files: set registry.commit: auto")
    olds = _read_old(path)
    records = [_record(o, source) for o in olds]
    have = {v["version"] for v in gitops.gto_versions()}
    out: dict[str, list[str]] = {"tagged": [], "untagged": [], "skipped": []}
    todo, untagged = [], []
    for old, rec in zip(olds, records, strict=True):
        if rec["version"] in have:
            out["skipped"].append(rec["version"])
        elif gitops.commit_exists(old.get("git_commit") or ""):
            write_json(metadata_rel(cfg, rec["version"]), rec)
            todo.append((old, rec))
        else:
            untagged.append(rec | {"note": f"commit {old.get('git_commit') or '(none recorded)'} is not in this "
                                           "repository: not tagged; its model may still be in a DVC remote "
                                           f"(models {rec.get('models_hash')})"})
    if untagged:
        write_json(Path(cfg.registry.dir) / ARTIFACT / "untagged.json", untagged)
    paths = [cfg.registry.dir] + ([source] if gitops.git("ls-files", "--", source) else [])
    path.unlink()
    gitops.commit_paths(paths, message=f"mir registry: migrate {source} to GTO tags of {ARTIFACT}")
    for old, rec in todo:
        rel = metadata_rel(cfg, rec["version"])
        gitops.gto_call("register", ref=old["git_commit"], version=rec["version"],
                        message=tag_message({**rec, "_rel": rel}))
        out["tagged"].append(rec["version"])
    promoted = sorted((o for o, _ in todo if o.get("status") in ("retired", "champion")),
                      key=lambda o: (o.get("status") == "champion", o.get("promoted") or ""))
    for o in promoted:
        gitops.gto_call("assign", stage=CHAMPION, version=normalize(o["version"]),
                        message=f"promoted: {o.get('reason') or 'migrated'} (migrated)")
    for o, rec in todo:
        if o.get("status") == "rejected":
            gitops.gto_call("deregister", version=rec["version"], message=f"rejected: {rec.get('reason', '')}")
    out["untagged"] = [r["version"] for r in untagged]
    print(f"registry: migrated {source}: tagged {', '.join(out['tagged']) or 'none'}"
          + (f"; kept untagged (commit missing) {', '.join(out['untagged'])}" if untagged else "")
          + (f"; already registered {', '.join(out['skipped'])}" if out["skipped"] else ""))
    return out
