"""Resumable, verified downloads (``urllib`` only) and safe zip extraction; FMA's archives.

:func:`download` streams into ``<dest>.part`` and resumes it with an HTTP
``Range`` request after an interruption (in the same call, on retry, or in a
later run), checks the SHA-1 and only then moves the file onto ``dest``: a
``dest`` that exists is always complete. :func:`safe_extract` refuses archive
members that would land outside the target folder. :func:`download_fma` ties
them together for the Free Music Archive (see :mod:`mir.datasets.fma`).

Example
-------
>>> from mir.datasets.download import download_fma
>>> summary = download_fma("data/fma", subset="small")  # doctest: +SKIP
>>> summary["n_audio"], summary["checksum_failures"]  # doctest: +SKIP
(8000, [])
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from mir.datasets.fma import DEFAULT_BASE_URL
from mir.io import remove_owned

#: A download in progress: ``<archive>.part`` (mir's own, deleted only by that name)
_PART = r".+\.part"

__all__ = ["DownloadError", "download", "download_fma", "safe_extract", "sha1_file"]

BACKOFF_S = 1.0
"""Delay before the first retry, doubled after each further failure without progress."""

MAX_BACKOFF_S = 30.0
"""Longest delay between retries."""

USER_AGENT = "mir-downloader/0.1 (python-urllib)"


class DownloadError(RuntimeError):
    """A download or extraction that can't be completed; the one-line message says why."""


class _Retry(Exception):
    """A transient failure (connection lost, truncated transfer, 5xx): try again, resuming."""


def sha1_file(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """SHA-1 of a file's bytes (hex), read in chunks (constant memory)."""
    from mir.io import file_digest

    return file_digest(path, algorithm="sha1", chunk=chunk)


class _PartHash:
    """Running SHA-1 of the ``.part`` file's bytes, so a finished file needn't be read again."""

    def __init__(self) -> None:
        self.h = hashlib.sha1()
        self.n = 0

    def reset(self) -> None:
        self.h = hashlib.sha1()
        self.n = 0

    def update(self, block: bytes) -> None:
        self.h.update(block)
        self.n += len(block)

    def sync(self, part: Path, *, chunk: int = 1 << 20) -> None:
        """Make the hash cover exactly the bytes now in ``part`` (re-reading it if needed)."""
        size = part.stat().st_size if part.exists() else 0
        if size == self.n:
            return
        self.reset()
        if size:
            with open(part, "rb") as f:
                while block := f.read(chunk):
                    self.update(block)


_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)\s*/\s*(\d+|\*)\s*$", re.IGNORECASE)


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """``"bytes 100-199/1000"`` → ``(100, 1000)``; ``"bytes */1000"`` → ``(None, 1000)``; unknown parts → None."""
    m = _CONTENT_RANGE.match(value or "")
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    total = int(m.group(3)) if m.group(3) != "*" else None
    return start, total


def _content_length(headers: Any) -> int | None:
    value = headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _attempt(url: str, part: Path, state: _PartHash, *, timeout: float, chunk_size: int, bar_ref: list) -> None:
    """One request: resume or restart ``part``; return when it is complete, raise :class:`_Retry` if not."""
    import http.client
    import urllib.error
    import urllib.request

    state.sync(part)
    have = state.n
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as err:
        with err:
            if err.code == 416 and have:
                _, total = _parse_content_range(err.headers.get("Content-Range"))
                if total == have:
                    return  # the .part already holds the whole file
                remove_owned(part, layout=_PART)  # longer than the remote file (or unknown): start over
                state.reset()
                raise _Retry(f"HTTP 416 for a {have}-byte partial file (remote size {total}); restarting") from None
            if err.code in (408, 425, 429) or err.code >= 500:
                raise _Retry(f"HTTP {err.code} {err.reason}") from None
            raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _Retry(_reason(err)) from None

    with resp:
        status = resp.status
        if status == 206:
            start, total = _parse_content_range(resp.headers.get("Content-Range"))
            if start != have:
                remove_owned(part, layout=_PART)
                state.reset()
                raise _Retry(f"server resumed at byte {start}, not {have}; restarting")
            mode = "ab"
        elif status == 200:
            mode = "wb"  # no Range sent, or the server ignores ranges: (re)start from byte 0
            state.reset()
            total = _content_length(resp.headers)
        else:
            raise DownloadError(f"{url}: unexpected HTTP status {status}")

        bar = bar_ref[0]
        if bar is not None:
            bar.reset(total=total)
            bar.update(state.n)
        with open(part, mode) as f:
            while True:
                try:
                    block = resp.read(chunk_size)
                except (OSError, http.client.HTTPException) as err:
                    raise _Retry(f"connection lost after {state.n} bytes: {_reason(err)}") from None
                if not block:
                    break
                f.write(block)
                state.update(block)
                if bar is not None:
                    bar.update(len(block))
    if total is not None and state.n < total:
        raise _Retry(f"transfer cut at {state.n} of {total} bytes")
    if total is not None and state.n > total:
        remove_owned(part, layout=_PART)
        state.reset()
        raise _Retry(f"received {state.n} bytes, more than the announced {total}; restarting")


def _reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None)
    text = str(reason if reason is not None else err) or type(err).__name__
    return " ".join(text.split())


def _download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha1: str | None,
    progress: bool,
    timeout: float,
    retries: int,
    chunk_size: int,
) -> tuple[Path, bool]:
    """:func:`download`, also saying whether anything was fetched (``False``: ``dest`` was already good)."""
    from tqdm.auto import tqdm

    dest = Path(dest)
    expected = sha1.lower() if sha1 else None
    if dest.is_file() and (expected is None or sha1_file(dest) == expected):
        return dest, False
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    state = _PartHash()
    bar_ref: list = [None]
    if progress:
        bar_ref[0] = tqdm(desc=dest.name, unit="B", unit_scale=True, unit_divisor=1024, leave=False)
    failures = 0
    try:
        while True:
            before = part.stat().st_size if part.exists() else 0
            try:
                _attempt(url, part, state, timeout=timeout, chunk_size=chunk_size, bar_ref=bar_ref)
                break
            except _Retry as err:
                after = part.stat().st_size if part.exists() else 0
                failures = 0 if after > before else failures + 1  # a transfer that progressed is no failure
                if failures > retries:
                    raise DownloadError(
                        f"{url}: giving up after {retries} retries without progress: {err} "
                        f"(the partial file {part.name} is kept; run again to resume)") from None
                time.sleep(min(BACKOFF_S * 2 ** max(failures - 1, 0), MAX_BACKOFF_S))
    finally:
        if bar_ref[0] is not None:
            bar_ref[0].close()

    state.sync(part)
    got = state.h.hexdigest()
    if expected is not None and got != expected:
        remove_owned(part, layout=_PART)
        raise DownloadError(
            f"{dest.name}: sha1 mismatch: expected {expected}, got {got} (from {url}); "
            "the download was deleted, run again to retry")
    os.replace(part, dest)
    return dest, True


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha1: str | None = None,
    progress: bool = True,
    timeout: float = 30.0,
    retries: int = 3,
    chunk_size: int = 1 << 20,
) -> Path:
    """Download ``url`` to ``dest``, resumably, checking its SHA-1.

    Bytes go to ``<dest>.part``. If that file exists (an earlier run was
    interrupted), the request asks for the rest with ``Range: bytes=<size>-``
    and appends on ``206 Partial Content``; a ``200`` (server ignores ranges)
    restarts from byte 0; a ``416`` whose ``Content-Range`` total equals the
    partial size means the file is complete. Connection errors, timeouts,
    ``5xx`` answers and truncated transfers are retried, resuming each time,
    after a short, growing backoff.

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` URL.
    dest : path-like
        The final file. If it exists and matches ``sha1`` (or ``sha1`` is
        None), it is returned at once, without any request.
    sha1 : str, optional
        Expected SHA-1 (hex) of the whole file.
    progress : bool
        Show a tqdm progress bar (bytes, with the total size when known).
    timeout : float
        Seconds to wait for the connection and for each read.
    retries : int
        How many consecutive attempts without progress to retry before giving
        up (an attempt that fetched bytes resets the count).
    chunk_size : int
        Bytes per read.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DownloadError
        On a SHA-1 mismatch (the ``.part`` is deleted so the next run starts
        clean; ``dest`` is not written), a non-retryable HTTP error (e.g. 404),
        or when the retries are exhausted (the ``.part`` is kept for resuming).
    """
    return _download(url, dest, sha1=sha1, progress=progress, timeout=timeout, retries=retries,
                     chunk_size=chunk_size)[0]


def _member_target(dest: Path, name: str) -> Path | None:
    """Where a zip member goes under ``dest``; None for the root itself; DownloadError if unsafe."""
    norm = name.replace("\\", "/")
    if "\x00" in norm or norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        raise DownloadError(f"unsafe archive member {name!r}: absolute path")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DownloadError(f"unsafe archive member {name!r}: '..' in path")
    if not parts:
        return None
    target = dest.joinpath(*parts)
    if not target.resolve().is_relative_to(dest.resolve()):
        raise DownloadError(f"unsafe archive member {name!r}: resolves outside {dest}")
    return target


def safe_extract(zip_path: str | os.PathLike[str], dest_dir: str | os.PathLike[str], *,
                 progress: bool = False) -> list[str]:
    """Extract a zip archive into ``dest_dir``, refusing members that would escape it.

    Every member name is checked before anything is written: absolute paths,
    drive letters and ``..`` components ("zip slip") raise. Each file is
    written to a hidden temporary file beside its target and moved into place
    with :func:`os.replace`, so an interrupted extraction never leaves a
    truncated file under a final name (re-running overwrites).

    Parameters
    ----------
    zip_path : path-like
        The archive.
    dest_dir : path-like
        Target folder (created if needed).
    progress : bool
        Show a progress bar over members.

    Returns
    -------
    list of str
        The extracted files' paths relative to ``dest_dir`` (``/``-separated),
        in archive order.

    Raises
    ------
    DownloadError
        On an unsafe member name or a corrupt archive (bad zip, CRC error).
    """
    import shutil
    import zipfile

    from tqdm.auto import tqdm

    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DownloadError(f"{zip_path}: not a readable zip archive: {_reason(err)}") from None
    out: list[str] = []
    with zf:
        plan = [(info, _member_target(dest, info.filename)) for info in zf.infolist()]
        for info, target in tqdm(plan, desc=f"extract {Path(zip_path).name}", unit="file", disable=not progress,
                                 leave=False):
            if target is None:
                continue
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.extracting")
            try:
                with zf.open(info) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(tmp, target)
            except zipfile.BadZipFile as err:
                remove_owned(tmp, layout=r"\..+\.extracting")
                raise DownloadError(f"{zip_path}: corrupt member {info.filename!r}: {_reason(err)}") from None
            except BaseException:
                remove_owned(tmp, layout=r"\..+\.extracting")
                raise
            out.append(target.relative_to(dest).as_posix())
    return out


def download_fma(
    root: str | os.PathLike[str],
    *,
    subset: str = "small",
    base_url: str = DEFAULT_BASE_URL,
    archive_sha1: dict[str, str] | None = None,
    progress: bool = True,
    extract: bool = True,
    verify: bool = True,
) -> dict[str, Any]:
    """Download, extract and verify FMA's metadata and one audio subset into ``root``.

    Each archive is downloaded resumably (SHA-1 checked against :data:`mir.datasets.fma.ARCHIVES`),
    extracted into ``root`` and marked done in ``root/.fma_<name>.extracted`` (its SHA-1): a marked
    archive is not fetched again, so the zip may be deleted. Then every audio file is checked against
    the subset's ``checksums`` list.

    Parameters
    ----------
    root : path-like
        The dataset folder (created if needed).
    subset : {"small", "medium", "large", "full"}
        The audio subset (7.2 GiB, 22 GiB, 93 GiB, 879 GiB zipped).
    base_url : str
        Where the archives are (default :data:`mir.datasets.fma.DEFAULT_BASE_URL`).
    archive_sha1 : dict, optional
        Overrides of the expected archive SHA-1s, by archive key
        (``{"metadata": ..., "small": ...}``); for mirrors and tests.
    progress : bool
        Show progress bars.
    extract : bool
        Extract the archives (otherwise only download and check them).
    verify : bool
        Check every audio file's SHA-1 against ``fma_<subset>/checksums``
        (needs ``extract``).

    Returns
    -------
    dict
        ``{"root", "subset", "archives": {key: {"file", "url", "sha1", "status",
        "extracted"}}, "audio_dir", "n_audio", "verified", "checksum_failures":
        [(relpath, reason), ...]}``; ``status`` is ``"downloaded"``,
        ``"present"`` (the zip was already there and good) or
        ``"already extracted"``. Checksum failures (missing, unlisted or
        altered files) are returned and printed to stderr, not raised.

    Raises
    ------
    DownloadError
        If an archive can't be downloaded or its SHA-1 differs, or it doesn't
        contain the expected folder.
    ValueError
        On an unknown subset.
    """
    from mir.datasets import fma

    if subset not in fma.SUBSETS:
        raise ValueError(f"unknown FMA subset {subset!r}: expected one of {', '.join(fma.SUBSETS)}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    overrides = {k: v.lower() for k, v in (archive_sha1 or {}).items()}
    unknown = sorted(set(overrides) - set(fma.ARCHIVES))
    if unknown:
        raise ValueError(f"archive_sha1: unknown archive key(s) {unknown}: expected some of {sorted(fma.ARCHIVES)}")

    audio_dir = root / f"fma_{subset}"
    summary: dict[str, Any] = {"root": str(root), "subset": subset, "archives": {}, "audio_dir": str(audio_dir),
                               "n_audio": 0, "verified": False, "checksum_failures": []}
    for key in ("metadata", subset):
        summary["archives"][key] = _fetch_archive(root, key, base_url=base_url,
                                                  expected=overrides.get(key, fma.ARCHIVES[key][1]),
                                                  extract=extract, progress=progress)
    present = sorted(p.relative_to(audio_dir).as_posix() for p in audio_dir.rglob("*.mp3") if p.is_file()
                     and not p.name.startswith(".")) if audio_dir.is_dir() else []
    summary["n_audio"] = len(present)
    if verify and extract:
        summary["verified"] = True
        summary["checksum_failures"] = _verify_audio(audio_dir, present, progress=progress)
    return summary


def _fetch_archive(root: Path, key: str, *, base_url: str, expected: str, extract: bool,
                   progress: bool) -> dict[str, Any]:
    """Download (resumably) and extract one FMA archive unless its extraction marker says it is done."""
    from mir.datasets import fma
    from mir.io import write_text

    fname = fma.ARCHIVES[key][0]
    folder, zpath, marker = root / f"fma_{key}", root / fname, root / f".fma_{key}.extracted"
    url = base_url.rstrip("/") + "/" + fname
    info: dict[str, Any] = {"file": str(zpath), "url": url, "sha1": expected, "extracted": None}
    if extract and folder.is_dir() and _read_marker(marker) == expected:
        info["status"] = "already extracted"
        return info
    _, fetched = _download(url, zpath, sha1=expected, progress=progress, timeout=30.0, retries=3,
                           chunk_size=1 << 20)
    info["status"] = "downloaded" if fetched else "present"
    if extract:
        names = safe_extract(zpath, root, progress=progress)
        if not folder.is_dir():
            raise DownloadError(f"{fname} did not contain the folder {folder.name}/ (got {len(names)} files)")
        write_text(marker, expected + "\n")
        info["extracted"] = len(names)
    return info


def _verify_audio(audio_dir: Path, present: list[str], *, progress: bool) -> list[tuple[str, str]]:
    """Every audio file against the subset's ``checksums`` list; failures are printed to stderr and returned."""
    from mir.datasets import fma

    listing = audio_dir / "checksums"
    if listing.is_file():
        checks = fma.read_checksums(listing)
        failures = fma.verify_checksums(audio_dir, checks, only=set(checks) | set(present), progress=progress)
    else:
        failures = [("checksums", f"no checksums file in {audio_dir}")]
    if failures:
        print(f"warning: {len(failures)} file(s) of {audio_dir} failed the checksum check "
              "(the pipeline's ingest stage rejects unusable files):", file=sys.stderr)
        for rel, reason in failures[:20]:
            print(f"  {rel}: {reason}", file=sys.stderr)
        if len(failures) > 20:
            print(f"  ... and {len(failures) - 20} more", file=sys.stderr)
    return failures


def _read_marker(marker: Path) -> str | None:
    try:
        return marker.read_text(encoding="utf-8").strip().lower() or None
    except OSError:
        return None
