"""Where a result came from: the git commit, the time, the run id. Standard library only (a leaf)."""

from __future__ import annotations

import datetime as _dt
import os
import subprocess
import sys


def _git(*args: str, cwd: str | os.PathLike[str] = ".") -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit(cwd: str | os.PathLike[str] = ".", *, short: bool = False) -> str | None:
    """The checked-out commit, ``+dirty`` when tracked files have changes; ``None`` outside git."""
    head = _git("rev-parse", *(["--short"] if short else []), "HEAD", cwd=cwd)
    if not head:
        return None
    dirty = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return head + ("+dirty" if dirty else "")


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def utc_timestamp(now: _dt.datetime | None = None) -> str:
    """``2026-12-01T12:00:00Z`` (what registry entries record)."""
    return f"{now or utc_now():%Y-%m-%dT%H:%M:%SZ}"


def run_id(*, now: _dt.datetime | None = None, suffix: str | None = None) -> str:
    """The id of this run: ``$MIR_RUN_ID`` when set; inside a Prefect flow run, its id; else the UTC time
    (``20261201T120000Z``, sortable), followed by ``-<suffix>`` when given."""
    rid = os.environ.get("MIR_RUN_ID", "").strip()
    if not rid and "prefect" in sys.modules:  # only ask Prefect when this process already runs it
        try:
            from prefect.runtime import flow_run

            rid = str(flow_run.get_id() or "")
        except Exception:  # noqa: BLE001 - no run context: not a flow run
            rid = ""
    return rid or f"{now or utc_now():%Y%m%dT%H%M%SZ}" + (f"-{suffix}" if suffix else "")
