"""The inference engine's per-clip cache of body outputs (:class:`BodyCache`).

The cache is an optimisation and is trusted only as far as it proves itself: every entry names what it was
computed from (the clip's feature digest and the body key: the body's weights, the chunking and the runtime
that ran it — Keras, or one ONNX export by its SHA-256), and :meth:`BodyCache.get` checks that, the arrays'
keys and shapes and that every value is finite before the entry is used. A bad entry is recomputed (and
overwritten); a write that fails (a full disk, a read-only folder) turns the cache off for the rest of the
run. Each of the two is said once per engine, in one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import numpy as np

#: What every entry holds: the body's outputs, then what they were computed from.
ARRAYS = ("features", "m1", "var")
PROVENANCE = ("clip", "body")


class BodyCache:
    """Per-clip body outputs: ``<root>/body/<body key>/<sha[:2]>/<sha>.npz``.

    ``sha`` is the SHA-256 of the clip's log-mel (float16) bytes and shape; the body key names the body's
    weights, the chunk length, the runtime's identity (``keras`` or the export's SHA-256) and the entry
    schema, so an entry is read only for the same features, chunking and computation. Entries are written
    atomically and carry ``clip`` (their own ``sha``) and ``body`` (the key): an entry moved, copied or
    swapped to another clip's name is not used.

    Parameters
    ----------
    root : path
        ``inference.cache_dir``.
    key : str
        The body key (a folder name).
    max_mb : float
        Bound of the whole cache (every body), least recently used entries first.
    log : callable, optional
        Where the one-line warnings go (default: ``print``).
    """

    def __init__(self, root: str | os.PathLike[str], key: str, *, max_mb: float = 4096, log=print):
        self.root = Path(root)
        self.key = key
        self.dir = self.root / "body" / key
        self.max_bytes = int(max_mb * 2**20)
        self.written = 0
        self.log = log
        #: ``(path, why)`` of the entries found bad since the last :meth:`report`
        self.bad: list[tuple[Path, str]] = []
        #: why writing was given up (``None`` while the cache is writable)
        self.write_error: str | None = None

    def _path(self, sha: str) -> Path:
        return self.dir / sha[:2] / f"{sha}.npz"

    def get(self, sha: str, *, chunks: int | None = None,
            widths: tuple[int, int, int] | None = None) -> dict[str, np.ndarray] | None:
        """The entry of clip ``sha``, or ``None`` when absent or bad (a bad one is noted, :meth:`report`).

        ``chunks`` (the clip's chunk count) and ``widths`` (features, m1 and var widths) are what a good
        entry's arrays must have.
        """
        p = self._path(sha)
        try:
            with np.load(p, allow_pickle=False) as z:
                out = {k: z[k] for k in z.files}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError, KeyError) as err:  # torn, or not an npz at all
            self.bad.append((p, f"unreadable ({type(err).__name__})"))
            return None
        why = check_entry(out, sha=sha, key=self.key, chunks=chunks, widths=widths)
        if why:
            self.bad.append((p, why))
            return None
        with contextlib.suppress(OSError):
            os.utime(p)  # least recently *used* goes first
        return {k: out[k] for k in ARRAYS}

    def put(self, sha: str, arrays: dict[str, np.ndarray]) -> bool:
        """Write clip ``sha``'s entry; ``False`` (and the cache off, said once) when the write fails."""
        if self.write_error is not None:
            return False
        from mir.io import atomic_path

        try:
            with atomic_path(self._path(sha)) as tmp, open(tmp, "wb") as f:
                np.savez(f, **{k: arrays[k] for k in ARRAYS}, clip=np.array(sha), body=np.array(self.key))
        except OSError as err:  # a full disk, a read-only folder: the cache is an optimisation
            self.write_error = f"{err.strerror or err}"
            self.log(f"inference: can't write the body cache under {self.root} ({self.write_error}); "
                     "going on without caching")
            return False
        self.written += 1
        return True

    def report(self) -> int:
        """Say (one line) how many entries were bad and recomputed since the last call; return that number."""
        bad, self.bad = self.bad, []
        if bad:
            n = len(bad)
            self.log(f"inference: {n} body-cache entr{'y' if n == 1 else 'ies'} under {self.dir} "
                     f"{'was' if n == 1 else 'were'} damaged or not this clip's, recomputed "
                     f"(first: {bad[0][0].name}: {bad[0][1]})")
        return len(bad)

    def evict(self) -> int:
        """Delete least recently used entries (all bodies) until the cache is within its bound."""
        return evict(self.root, self.max_bytes)


def check_entry(entry: dict, *, sha: str, key: str, chunks: int | None,
                widths: tuple[int, int, int] | None) -> str | None:
    """Why ``entry`` can't be clip ``sha``'s body outputs under body ``key`` (``None``: it can)."""
    missing = [k for k in ARRAYS + PROVENANCE if k not in entry]
    if missing:
        return f"missing {', '.join(missing)}"
    if str(entry["clip"]) != sha:
        return "another clip's entry"
    if str(entry["body"]) != key:
        return "another body's entry"
    n = len(entry["features"]) if entry["features"].ndim else -1
    for k, w in zip(ARRAYS, widths or (None,) * 3):
        a = entry[k]
        if a.ndim != 2 or len(a) != n or (w is not None and a.shape[1] != w) or (chunks is not None and n != chunks):
            return f"{k} has shape {a.shape}"
        if a.dtype.kind != "f":
            return f"{k} is {a.dtype}"
        if not np.isfinite(a).all():
            return f"{k} holds NaN or inf"
    return None


def evict(root: str | os.PathLike[str], max_bytes: int) -> int:
    """Delete the least recently used body entries under ``root`` until they total ≤ ``max_bytes``.

    Temporary files of killed writers are removed on the way; those of live ones are left alone.
    """
    from mir.io import sweep_stale_files

    files = []
    body = Path(root) / "body"
    for shard in body.glob("*/*"):
        with contextlib.suppress(OSError):
            sweep_stale_files(shard)
    for p in body.glob("*/*/*.npz"):
        if p.name.startswith("."):  # another writer's temporary file
            continue
        with contextlib.suppress(OSError):
            st = p.stat()
            files.append((st.st_mtime, st.st_size, p))
    total = sum(f[1] for f in files)
    removed = 0
    for _, size, p in sorted(files, key=lambda f: f[0]):
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            p.unlink()
            total -= size
            removed += 1
    return removed


def clip_digest(X, row: int) -> str:
    """SHA-256 of one clip's stored features (its bytes and shape)."""
    a = np.ascontiguousarray(X[row])
    h = hashlib.sha256(f"{a.dtype}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()
