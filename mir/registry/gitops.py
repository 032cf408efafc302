"""The registry's plumbing: git commits, GTO tags, and DVC's artifact download.

Everything the registry records is a git object: a version is GTO's annotated tag
``genre-classifier@vN.0.0`` on the commit whose ``dvc.lock`` names the model, the
champion stage is ``genre-classifier#champion#K``, a rejected version is deregistered
(``genre-classifier@vN.0.0!``). This module only talks to git, GTO and DVC; what the
tags mean is :mod:`mir.registry`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: The model's name in ``dvc.yaml``'s ``artifacts:`` section, and in every GTO tag.
ARTIFACT = "genre-classifier"
#: The stage the promoted model holds.
CHAMPION = "champion"


class RegistryError(ValueError):
    """A registry that can't be read or written, or an operation that makes no sense (one line)."""


class NotARepo(RegistryError):
    """The project is not a git repository: there is no registry (nothing is registered)."""


def git(*args: str, check: bool = True) -> str:
    """Run ``git ARGS`` in the current directory; its stdout (stripped). A failure is one :class:`RegistryError`."""
    try:
        r = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RegistryError("the `git` command is not installed: the registry's versions are git tags") from None
    if check and r.returncode != 0:
        last = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
        raise RegistryError(f"git {args[0]}: {last}")
    return r.stdout.strip()


def require_repo() -> None:
    """Raise unless the current directory is inside a git work tree (GTO tags need one)."""
    r = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True, check=False)
    if r.returncode != 0 or r.stdout.strip() != "true":
        raise NotARepo("not a git repository: the registry's versions are git tags (run `git init` and commit "
                            "the project first)")


def commit_exists(rev: str) -> bool:
    return bool(rev) and subprocess.run(["git", "cat-file", "-e", f"{rev}^{{commit}}"], capture_output=True,
                                        check=False).returncode == 0


def show_file(rev: str, path: str) -> str | None:
    """``path``'s text at ``rev`` (``None`` when the commit has no such file)."""
    r = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True, check=False)
    return r.stdout if r.returncode == 0 else None


# --------------------------------------------------------------------------- GTO state


def gto_versions() -> list[dict[str, Any]]:
    """Every explicitly registered version of :data:`ARTIFACT` (deregistered ones too), from GTO's state.

    Each dict: ``version``, ``commit``, ``created`` (registration time), ``message`` (the registration tag's),
    ``active`` (not deregistered), ``deregistration`` (its message or ``None``), ``champion_at`` (the times the
    champion stage was assigned to it, as ISO strings; empty when never).
    """
    require_repo()
    import gto.api
    from gto.exceptions import ArtifactNotFound, GTOException

    try:
        raw = gto.api.show(".", ARTIFACT, deprecated=True, versions_per_stage=-1)
    except ArtifactNotFound:
        return []  # no tag of the artifact yet
    except GTOException as err:
        raise RegistryError(f"GTO can't read the registry's tags: {err}") from None
    except Exception as err:  # noqa: BLE001 - a tag GTO can't parse (a hand-made one) is a damaged registry
        raise RegistryError(f"GTO can't read the registry's tags ({type(err).__name__}: {err})") from None
    out = []
    for v in raw:
        if not v.get("registrations"):
            continue  # a version GTO discovered in dvc.yaml, never registered: not in the registry
        reg = v["registrations"][0]
        dereg = v.get("deregistrations") or []
        out.append({
            "version": v["version"], "commit": v["commit_hexsha"], "created": _iso(reg["created_at"]),
            "message": reg.get("message") or "", "active": not dereg,
            "deregistration": (dereg[-1].get("message") or "") if dereg else None,
            "champion_at": sorted(_iso(a["created_at"]) for s in v.get("stages") or [] if s.get("stage") == CHAMPION
                                  for a in s.get("assignments") or []),
        })
    return out


def _iso(t: Any) -> str:
    import datetime as dt

    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t)
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def _after_last_tag() -> Iterator[None]:
    """Date the next tag one second after the artifact's newest tag (git dates tags to the second; GTO and
    ``dvc artifacts get --stage`` order events by that date, so two tags in one second would be ambiguous)."""
    out = git("for-each-ref", "--format=%(taggerdate:unix)", f"refs/tags/{ARTIFACT}@*", f"refs/tags/{ARTIFACT}#*")
    last = max((int(x) for x in out.split() if x.isdigit()), default=0)
    when = max(int(time.time()), last + 1)
    old = os.environ.get("GIT_COMMITTER_DATE")
    os.environ["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("GIT_COMMITTER_DATE", None)
        else:
            os.environ["GIT_COMMITTER_DATE"] = old


def gto_call(action: str, **kwargs: Any) -> None:
    """``gto.api.<action>(".", ARTIFACT, **kwargs)`` with a strictly later tag date; errors as one line."""
    import gto.api
    from gto.exceptions import GTOException

    with _after_last_tag():
        try:
            getattr(gto.api, action)(".", ARTIFACT, **kwargs)
        except GTOException as err:
            raise RegistryError(f"gto {action}: {err}") from None


def tag_commands(version: str, commit: str, *, message: str, decision: str, reason: str) -> list[str]:
    """The GTO commands that record ``decision`` on ``version`` (what :func:`gto_call` runs, for a person)."""
    q = shlex.quote
    cmds = [f"gto register {ARTIFACT} {commit} --version {version} --message {q(message)}"]
    if decision == "promoted":
        cmds.append(f"gto assign {ARTIFACT} --version {version} --stage {CHAMPION} --message {q(reason)}")
    elif decision == "rejected":
        cmds.append(f"gto deprecate {ARTIFACT} {version} --message {q('rejected: ' + reason)}")
    return cmds


# --------------------------------------------------------------------------- commits


def commit_paths(paths: list[str], *, message: str) -> str:
    """Commit exactly ``paths`` (whatever else is staged stays staged) on the current branch; the commit's id.

    Nothing to commit (already committed) is fine: the id of ``HEAD``."""
    present = [p for p in paths if Path(p).exists() or git("ls-files", "--", p)]
    if present:
        git("add", "--", *present)
    if present and git("diff", "--cached", "--name-only", "HEAD", "--", *present, check=False):
        git("commit", "--quiet", "-m", message, "--only", "--", *present)
    elif not git("rev-parse", "--verify", "--quiet", "HEAD", check=False):
        raise RegistryError("the repository has no commit yet: commit the project first")
    return git("rev-parse", "HEAD")


def commit_commands(paths: list[str], *, message: str) -> list[str]:
    q = shlex.quote
    return [f"git add -- {' '.join(q(p) for p in paths)}",
            f"git commit -m {q(message)} --only -- {' '.join(q(p) for p in paths)}"]


def push(tags: list[str]) -> None:
    """``dvc push`` (the workspace's outputs: this version's model), then push the branch and ``tags`` to git's
    default remote (``origin``)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(".") as repo:
            repo.push()
    except DvcException as err:
        raise RegistryError(f"dvc push: {err}") from None
    git("push", "--quiet", "origin", "HEAD")
    if tags:
        git("push", "--quiet", "origin", *[f"refs/tags/{t}" for t in tags])


# --------------------------------------------------------------------------- DVC


def fetch(version: str | None, out: str | os.PathLike[str], *, stage: str | None = None) -> Path:
    """``dvc artifacts get . genre-classifier --rev VERSION | --stage STAGE -o OUT`` (from the DVC cache or remote)."""
    from dvc.exceptions import DvcException
    from dvc.repo.artifacts import Artifacts

    try:
        Artifacts.get(".", ARTIFACT, version=version, stage=stage, out=os.fspath(out), force=True)
    except DvcException as err:
        cause = f": {err.__cause__}" if err.__cause__ else ""
        raise RegistryError(f"dvc artifacts get {ARTIFACT} {'--rev ' + version if version else '--stage ' + str(stage)}"
                            f" failed: {err}{cause}".splitlines()[0]) from None
    return Path(out)


def lock_models_hash(lock_text: str | None, models: str) -> str | None:
    """The ``models`` output's hash in a ``dvc.lock`` text."""
    import yaml

    doc = yaml.safe_load(lock_text or "") or {}
    for stage in (doc.get("stages") or {}).values():
        for o in stage.get("outs") or []:
            if o.get("path") == models:
                return o.get("md5") or o.get("hash")
    return None


def cached_dir_listing(dir_hash: str) -> dict[str, str] | None:
    """``{relpath: md5}`` of a ``….dir`` hash from the local DVC cache (``None`` when it isn't cached)."""
    import json

    from dvc.repo import Repo

    with Repo(".") as repo:
        path = repo.cache.local.oid_to_path(dir_hash)
    try:
        return {e["relpath"]: e["md5"] for e in json.loads(Path(path).read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        return None
