"""The inference engine's per-clip cache of body outputs (:class:`BodyCache`)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import numpy as np



class BodyCache:
    """Per-clip body outputs: ``<root>/body/<body key>/<sha[:2]>/<sha>.npz``.

    ``sha`` is the SHA-256 of the clip's log-mel (float16) bytes and shape; the body key hashes
    the body's weights, the chunk length and :data:`SCHEMA`, so an entry is read only for the same
    features, chunking and weights. Entries are written atomically; an unreadable one is recomputed.
    """

    def __init__(self, root: str | os.PathLike[str], key: str, *, max_mb: float = 4096):
        self.root = Path(root)
        self.dir = self.root / "body" / key
        self.max_bytes = int(max_mb * 2**20)
        self.written = 0

    def _path(self, sha: str) -> Path:
        return self.dir / sha[:2] / f"{sha}.npz"

    def get(self, sha: str) -> dict[str, np.ndarray] | None:
        p = self._path(sha)
        try:
            with np.load(p) as z:
                out = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, KeyError):  # absent, or torn by something other than mir
            return None
        with contextlib.suppress(OSError):
            os.utime(p)  # least recently *used* goes first
        return out

    def put(self, sha: str, arrays: dict[str, np.ndarray]) -> None:
        from mir.io import atomic_path

        with atomic_path(self._path(sha)) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
        self.written += 1

    def evict(self) -> int:
        """Delete least recently used entries (all bodies) until the cache is within its bound."""
        return evict(self.root, self.max_bytes)


def evict(root: str | os.PathLike[str], max_bytes: int) -> int:
    """Delete the least recently used body entries under ``root`` until they total ≤ ``max_bytes``."""
    files = []
    for p in (Path(root) / "body").glob("*/*/*.npz"):
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
