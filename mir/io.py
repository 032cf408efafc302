"""Small file helpers shared by every stage: atomic writes, hashing, JSON.

Every output is written to a temporary file in the destination directory and
moved into place with :func:`os.replace`, so a killed run never leaves a
half-written file under its final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path``.

    The temporary name (``.<name>.tmp-<host>-<pid>-<random><suffix>``) keeps the final suffix (so
    libraries that pick a format from the extension still work) and names the writing process, so
    :func:`sweep_stale_files` can remove what a killed run left. On error the temporary file is removed.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.tmp-{_host()}-{os.getpid()}-",
                               suffix=suffix or final.suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():
            os.chmod(tmp_path, 0o644)  # mkstemp creates 0600; outputs are ordinary files
        os.replace(tmp_path, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


#: Written into every folder mir creates as a whole (the feature store, the champion copy, a prediction
#: folder, ...): mir replaces or adds to such a folder only when it is absent, empty or carries this marker.
MARKER = ".mir-output"
MARKER_TEXT = "This folder is written by mir; its contents may be replaced on the next run.\n"


class OutputCollision(ValueError):
    """A configured output folder holds files mir did not write (the CLI exits 2: bad parameters)."""


def _owned(path: Path, legacy: frozenset[str] | None) -> bool:
    if (path / MARKER).is_file():
        return True
    entries = {e.name for e in path.iterdir()}
    if not entries:
        return True
    # written by a mir that predates the marker: only names mir itself writes there, one of them a file
    return bool(legacy) and entries <= legacy and any((path / n).is_file() for n in entries)


def check_output_dir(path: str | os.PathLike[str], *, what: str | None = None,
                     legacy: frozenset[str] | set[str] | None = None) -> Path:
    """Raise :class:`OutputCollision` unless mir may write into (and replace) the folder ``path``.

    Allowed: a path that does not exist yet, an empty folder, a folder carrying mir's
    :data:`MARKER`, or (``legacy``) a folder holding only the named files mir itself writes there.
    Anything else — a folder of someone's files, ``data`` itself, a file — is refused before any
    work starts, so no path parameter can make mir delete or overwrite a user's files.
    """
    p = Path(path)
    name = f"{what}: {p}" if what else str(p)
    if p.is_symlink() and not p.exists():
        raise OutputCollision(f"{name} is a broken symbolic link; choose an output folder mir may create")
    if p.exists() and not p.is_dir():
        raise OutputCollision(f"{name} is a file, not a folder; mir writes its output there only into a folder "
                              f"it created (or an empty one)")
    if p.is_dir() and not _owned(p, frozenset(legacy) if legacy else None):
        raise OutputCollision(f"{name} already holds files mir did not write (no {MARKER} marker); refusing to "
                              f"write there: choose a new or empty folder")
    return p


def claim_dir(path: str | os.PathLike[str], *, what: str | None = None,
              legacy: frozenset[str] | set[str] | None = None) -> Path:
    """:func:`check_output_dir`, then create the folder (if needed) and mark it as mir's."""
    p = check_output_dir(path, what=what, legacy=legacy)
    p.mkdir(parents=True, exist_ok=True)
    if not (p / MARKER).is_file():
        (p / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    return p


def _host() -> str:
    import socket

    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` (on this machine) still runs."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's live process
        return True
    return True


#: ``.<name>.tmp-<host>-<pid>-<random>`` (new) / ``.<name>.old.<pid>`` (both written by atomic_dir);
#: ``.<name>.tmp-<random>``: left by a mir from before the pid was in the name.
_STALE_AGE_S = 3600.0


def sweep_stale(final: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary folders a killed :func:`atomic_dir` left beside ``final``; return them.

    A folder is stale when the process that made it (host + pid in its name) is gone; an
    unnamed one from an older mir when it is more than an hour old.
    """
    import time

    final = Path(final)
    if not final.parent.is_dir():
        return []
    new = re.compile(rf"^\.{re.escape(final.name)}\.tmp-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-")
    old = re.compile(rf"^\.{re.escape(final.name)}\.old\.(?P<pid>\d+)$")
    legacy = re.compile(rf"^\.{re.escape(final.name)}\.tmp-[A-Za-z0-9_]+$")
    removed = []
    host = _host()
    for d in final.parent.iterdir():
        if not d.is_dir() or d.is_symlink():
            continue
        m = new.match(d.name) or old.match(d.name)
        if m:
            stale = (m.groupdict().get("host", host) == host) and not pid_alive(int(m.group("pid")))
        elif legacy.match(d.name):
            stale = time.time() - d.stat().st_mtime > _STALE_AGE_S
        else:
            continue
        if stale:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


#: ``.<name>.tmp-<host>-<pid>-<random><suffix>``: a file :func:`atomic_path` is writing, or one a killed run left
_TMP_FILE = re.compile(r"^\..+\.tmp-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-")
#: ``.<stem>.tmp.<pid>.<ext>``: left by the demo generator of an older mir (before it wrote through atomic_path)
_LEGACY_TMP_FILE = re.compile(r"^\..+\.tmp\.(?P<pid>\d+)\.[A-Za-z0-9]+$")


def sweep_stale_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files killed writers (:func:`atomic_path`) left in ``folder``; return them.

    A file is stale when the process that wrote it (host + pid in its name) is gone. Temporary files
    of live processes (this one included) or of other hosts, and every other file, are kept.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    host = _host()
    removed = []
    for f in folder.iterdir():
        m = _TMP_FILE.match(f.name) or _LEGACY_TMP_FILE.match(f.name)
        if m is None or f.is_symlink() or not f.is_file():
            continue
        if m.groupdict().get("host", host) == host and not pid_alive(int(m.group("pid"))):
            f.unlink(missing_ok=True)
            removed.append(f)
    return removed


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], *, what: str | None = None,
               legacy: frozenset[str] | set[str] | None = None) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it replaces ``path``.

    ``path`` must be absent, empty or mir's own (:func:`check_output_dir`; ``what`` names the
    parameter in the refusal); the new folder carries :data:`MARKER`. Temporary folders of
    killed earlier runs are swept first (:func:`sweep_stale`).
    """
    final = Path(path)
    check_output_dir(final, what=what, legacy=legacy)
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(final)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-{_host()}-{os.getpid()}-"))
    try:
        yield tmp
        (tmp / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp creates 0700
        if final.exists():
            check_output_dir(final, what=what, legacy=legacy)  # still mir's (nobody filled it meanwhile)
            old = final.with_name(f".{final.name}.old.{os.getpid()}")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON, atomically (stable bytes for DVC)."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_csv(path: str | os.PathLike[str], df: Any) -> Path:
    """Write a pandas DataFrame as CSV (no index), atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


def file_digest(path: str | os.PathLike[str], *, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file's bytes (any ``hashlib`` algorithm), read in chunks (constant memory)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_file(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (the manifest's checksum)."""
    return file_digest(path, algorithm="sha256", chunk=chunk)


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


#: Text columns of mir's tables: never parsed as numbers or NaN (a clip may be called "nan" or "NA").
TEXT_COLUMNS = ("clip_id", "path", "genre", "split", "group", "source", "stage", "reason", "actual", "predicted")


def read_table(path: str | os.PathLike[str]):
    """Read one of mir's CSV tables; only empty fields are missing values, text columns stay text."""
    import pandas as pd

    cols = pd.read_csv(path, nrows=0).columns
    return pd.read_csv(path, keep_default_na=False, na_values=[""],
                       dtype={c: "string" for c in cols if c in TEXT_COLUMNS})
