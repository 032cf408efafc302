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
    suffix = suffix or final.suffix
    suffix = suffix if len(os.fsencode(suffix)) <= _MAX_SUFFIX else ""
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=_temp_prefix(final.name, len(os.fsencode(suffix))),
                               suffix=suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():
            os.chmod(tmp_path, 0o644)  # mkstemp creates 0600; outputs are ordinary files
        os.replace(tmp_path, final)
    except BaseException:
        remove_owned(tmp_path, missing_ok=True)
        raise


#: Longest file name most filesystems allow (bytes); a temporary name never exceeds it, whatever the target's name.
NAME_MAX = 255
_MAX_SUFFIX = 16
_RANDOM = 8  # characters tempfile adds


def bounded_name(name: str, limit: int) -> str:
    """``name`` cut to at most ``limit`` bytes (on a character boundary; undecodable bytes kept as they are)."""
    raw = os.fsencode(name)
    if len(raw) <= limit:
        return name
    raw = raw[:max(limit, 0)]
    while raw:
        try:
            raw.decode("utf-8")
            break
        except UnicodeDecodeError as err:
            if err.start < len(raw) - 3:  # an undecodable byte inside the name (not a cut character): keep it
                return os.fsdecode(raw)
            raw = raw[:-1]
    return os.fsdecode(raw)


def _temp_prefix(name: str, suffix_bytes: int = 0, *, kind: str = "tmp") -> str:
    """``.<name>.<kind>-<host>-<pid>-`` with ``<name>`` cut so that the whole temporary name fits :data:`NAME_MAX`."""
    tail = f".{kind}-{_host()}-{os.getpid()}-"
    room = NAME_MAX - 1 - len(tail) - _RANDOM - suffix_bytes
    return f".{bounded_name(name, room)}{tail}"


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


class NotOwned(OutputCollision):
    """mir was asked to delete something it did not write (or a root-like path): nothing is deleted (exit 2)."""


class NotWritable(OutputCollision):
    """An output folder mir can't create or write into, found before any work starts (exit 2)."""


#: The names of what mir's writers leave while they work (or when killed): always mir's own.
_TEMP_NAME = re.compile(r"^\..+(\.tmp-[A-Za-z0-9]+-\d+-.*|\.old\.\d+|\.tmp\.\d+\.[A-Za-z0-9]+|\.tmp-[A-Za-z0-9_]+)$",
                        re.DOTALL)


def root_like(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` may never be a folder mir writes as a whole or deletes, or ``None``.

    Refused: an empty path, the filesystem root, the home folder or a folder above it, and the
    project folder (the working directory, where ``params.yaml`` is) or a folder above it.
    """
    s = os.fspath(path)
    if not str(s).strip():
        return "must not be empty (an empty path is the project folder itself)"
    try:
        r = Path(s).expanduser().resolve()
        cwd, home = Path.cwd().resolve(), Path.home().resolve()
    except (OSError, RuntimeError):  # a link loop, a vanished working directory: decided where it is used
        return None
    if r == cwd or r in cwd.parents:
        return f"must not be the project folder or a folder above it (it is {r})"
    if r == home or r in home.parents:
        return f"must not be the home folder or a folder above it (it is {r})"
    return None


def owned(path: str | os.PathLike[str], *, layout: str | None = None) -> bool:
    """Whether mir wrote ``path``: a temporary name of mir's writers, a folder carrying :data:`MARKER`, anything
    inside such a folder, or (``layout``) a path whose last parts match mir's own cache layout (a regex over
    ``/``-joined parts, e.g. ``train-runs/[0-9a-f]{16}``)."""
    p = Path(path)
    if _TEMP_NAME.match(p.name):
        return True
    if p.is_dir() and not p.is_symlink() and (p / MARKER).is_file():
        return True
    if layout is not None:
        n = layout.count("/") + 1
        if len(p.parts) >= n and re.fullmatch(layout, "/".join(p.parts[-n:])):
            return True
    for parent in Path(os.path.abspath(p)).parents:
        if root_like(parent):
            break
        if (parent / MARKER).is_file():
            return True
    return False


def remove_owned(path: str | os.PathLike[str], *, layout: str | None = None, missing_ok: bool = True) -> bool:
    """Delete the file or folder ``path`` — only if mir owns it (:func:`owned`) and it is not root-like.

    Every deletion in mir goes through here. Returns whether something was deleted.

    Raises
    ------
    NotOwned
        ``path`` is empty, the project/home/root folder (or above them), or was not written by mir.
    """
    p = Path(path)
    why = root_like(p)
    if why:
        raise NotOwned(f"refusing to delete {p}: {why}")
    if not p.exists() and not p.is_symlink():
        if missing_ok:
            return False
        raise FileNotFoundError(f"{p} does not exist")
    if not owned(p, layout=layout):
        raise NotOwned(f"refusing to delete {p}: mir did not write it (no {MARKER} marker, not mir's cache layout)")
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    return True


def clear_owned(root: str | os.PathLike[str], *, layout: str) -> tuple[list[Path], list[Path]]:
    """Empty a cache folder of what mir wrote there: the entries directly under ``root`` whose names match
    ``layout`` (a regex: the cache's own layout) or are mir's temporary names; anything else is kept.
    ``root`` itself goes when nothing is left (or it carries :data:`MARKER`). Returns ``(removed, kept)``.

    Raises
    ------
    NotOwned
        ``root`` is empty or root-like (:func:`root_like`): nothing is deleted.
    """
    p = Path(root)
    why = root_like(p)
    if why:
        raise NotOwned(f"refusing to clear {p}: {why}")
    if not p.is_dir() or p.is_symlink():
        return [], []
    if (p / MARKER).is_file():
        remove_owned(p)
        return [p], []
    removed, kept = [], []
    for e in sorted(p.iterdir()):
        if re.fullmatch(layout, e.name) or _TEMP_NAME.match(e.name):
            remove_owned(e, layout=f"{re.escape(p.name)}/(?:{layout}|\\..*)")
            removed.append(e)
        else:
            kept.append(e)
    if not kept:
        with contextlib.suppress(OSError):
            p.rmdir()
    return removed, kept


def check_writable(folder: str | os.PathLike[str], *, what: str | None = None) -> Path:
    """Check a file can be written in ``folder``, or, when it does not exist yet, that its nearest existing
    ancestor is a folder that can be written (raise :class:`NotWritable`). Nothing is created: a stage that
    then refuses its output folder (:class:`OutputCollision`) leaves the tree as it was.

    Run before a stage starts, so a read-only or impossible output folder stops it before the work.
    """
    p = Path(folder)
    name = f"{what}: {p}" if what else str(p)
    probe_dir = p
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    try:
        if not probe_dir.is_dir():
            raise NotADirectoryError(f"{probe_dir} is not a folder")
        fd, probe = tempfile.mkstemp(dir=probe_dir, prefix=_temp_prefix("write-check"))
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise NotWritable(f"{name}: can't write there ({err.strerror or err}); fix the folder's permissions or "
                          "choose another one") from None
    return p


def sweep_folder(folder: str | os.PathLike[str], *, depth: int = 2, files_only: bool = False) -> list[Path]:
    """Remove what killed writers (dead processes of this host) left in ``folder`` and its sub-folders
    (down to ``depth`` levels): temporary files and folders of :func:`atomic_path` and :func:`atomic_dir`
    (:data:`_TMP_FILE`, :data:`_OLD_DIR`, :data:`_LEGACY_TMP_FILE`); ``files_only``: files, not folders."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return []
    host, removed = _host(), []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for e in entries:
        m = _TMP_FILE.match(e.name) or _OLD_DIR.match(e.name) or _LEGACY_TMP_FILE.match(e.name)
        if m is None:
            if depth > 0 and not e.name.startswith(".") and e.is_dir(follow_symlinks=False):
                removed += sweep_folder(e.path, depth=depth - 1, files_only=files_only)
            continue
        if e.is_symlink() or (files_only and not e.is_file(follow_symlinks=False)):
            continue
        if m.groupdict().get("host", host) == host and not pid_alive(int(m.group("pid"))) and remove_owned(e.path):
            removed.append(Path(e.path))
    return removed


def printable(name: str | os.PathLike[str]) -> str:
    """``name`` as text that can always be printed or written as UTF-8 (undecodable bytes as ``\\xNN``)."""
    return os.fsencode(os.fspath(name)).decode("utf-8", "backslashreplace")


def utf8_name(name: str | os.PathLike[str]) -> bool:
    """Whether the path ``name`` is valid UTF-8 (Linux allows any bytes in a file name)."""
    try:
        os.fsencode(os.fspath(name)).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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
    short = bounded_name(final.name, NAME_MAX - 64)  # the name as a (bounded) temporary name holds it
    new = re.compile(rf"^\.{re.escape(short)}.*\.tmp-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-")
    old = re.compile(rf"^\.{re.escape(short)}.*\.old\.(?P<pid>\d+)$")
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
            remove_owned(d)
            removed.append(d)
    return removed


#: ``.<name>.tmp-<host>-<pid>-<random><suffix>``: a file :func:`atomic_path` is writing, or one a killed run left
_TMP_FILE = re.compile(r"^\..+\.tmp-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-")
#: ``.<name>.old.<pid>``: the previous output :func:`atomic_dir` moves aside while it swaps a folder in
_OLD_DIR = re.compile(r"^\..+\.old\.(?P<pid>\d+)$", re.DOTALL)
#: ``.<stem>.tmp.<pid>.<ext>``: left by the demo generator of an older mir (before it wrote through atomic_path)
_LEGACY_TMP_FILE = re.compile(r"^\..+\.tmp\.(?P<pid>\d+)\.[A-Za-z0-9]+$")


def sweep_stale_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files killed writers left directly in ``folder``; return them.

    Stale = the process that wrote it (host + pid in its name) is gone. Temporary files of live processes
    (this one included) or of other hosts, folders, and every other file are kept (:func:`sweep_folder`).
    """
    return sweep_folder(folder, depth=0, files_only=True)


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
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=_temp_prefix(final.name)))
    try:
        yield tmp
        (tmp / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp creates 0700
        if final.exists():
            check_output_dir(final, what=what, legacy=legacy)  # still mir's (nobody filled it meanwhile)
            old = final.with_name(f".{bounded_name(final.name, NAME_MAX - 32)}.old.{os.getpid()}")
            remove_owned(old, missing_ok=True)
            os.replace(final, old)
            os.replace(tmp, final)
            remove_owned(old, missing_ok=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        remove_owned(tmp, missing_ok=True)
        raise


def create_exclusive(path: str | os.PathLike[str], text: str) -> bool:
    """Create ``path`` holding ``text`` only if nothing has that name yet; return whether it was created.

    Atomic across processes: a complete temporary file is hard-linked to the name (``link`` fails when the
    name exists), so no reader sees it empty; where the filesystem has no hard links, ``O_EXCL``.
    """
    final = Path(path)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=_temp_prefix(final.name))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, final)
            return True
        except FileExistsError:
            return False
        except OSError:  # no hard links here
            try:
                out = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(out, "w", encoding="utf-8") as f:
                f.write(text)
            return True
    finally:
        remove_owned(tmp)


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
