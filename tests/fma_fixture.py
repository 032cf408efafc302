"""A tiny dataset in FMA's on-disk format, for tests (no download, no real audio).

:func:`make_fma_fixture` writes what ``fma_metadata.zip`` and ``fma_small.zip``
extract to:

- ``fma_metadata/tracks.csv`` with FMA's real layout: the 52 columns of the
  2017 release under a two-level header (``album``/``artist``/``set``/``track``
  over the column names), then a ``track_id`` row, exactly as pandas writes a
  frame with two-level columns and an index named ``track_id``;
- ``fma_metadata/genres.csv`` (``genre_id,#tracks,parent,title,top_level``);
- ``fma_small/000/000002.mp3``, ... (short generated MP3s, distinct per track),
  ``fma_small/checksums`` (``<sha1>  <relpath>``) and ``README.txt``.

The default tracks cover the small and medium (and large) subsets, the three
official splits, the genres Hip-Hop, Rock, Folk and Instrumental in small (Pop
only in medium, Jazz only in large), tracks without ``genre_top``, and FMA's
broken-file cases: ``099134`` is an MP3 with no audio frame and ``098565``
lasts 1 s.

:func:`make_zip` packs a fixture folder into an archive like FMA's.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np

SR = 22050

#: The columns of FMA's tracks.csv (2017-05-09 release), in order.
TRACKS_COLUMNS: list[tuple[str, str]] = (
    [("album", c) for c in ("comments", "date_created", "date_released", "engineer", "favorites", "id",
                            "information", "listens", "producer", "tags", "title", "tracks", "type")]
    + [("artist", c) for c in ("active_year_begin", "active_year_end", "associated_labels", "bio", "comments",
                               "date_created", "favorites", "id", "latitude", "location", "longitude", "members",
                               "name", "related_projects", "tags", "website", "wikipedia_page")]
    + [("set", "split"), ("set", "subset")]
    + [("track", c) for c in ("bit_rate", "comments", "composer", "date_created", "date_recorded", "duration",
                              "favorites", "genre_top", "genres", "genres_all", "information", "interest",
                              "language_code", "license", "listens", "lyricist", "number", "publisher", "tags",
                              "title")]
)

#: The 16 top-level genres with their FMA genre ids, and a few sub-genres: (id, #tracks, parent, title, top_level).
GENRES: list[tuple[int, int, int, str, int]] = [
    (1, 8693, 38, "Avant-Garde", 38),
    (2, 5271, 0, "International", 2),
    (3, 1752, 0, "Blues", 3),
    (4, 4126, 0, "Jazz", 4),
    (5, 4106, 0, "Classical", 5),
    (8, 868, 0, "Old-Time / Historic", 8),
    (9, 1987, 0, "Country", 9),
    (10, 13845, 0, "Pop", 10),
    (12, 32923, 0, "Rock", 12),
    (13, 730, 0, "Easy Listening", 13),
    (14, 1499, 0, "Soul-RnB", 14),
    (15, 34413, 0, "Electronic", 15),
    (17, 12706, 0, "Folk", 17),
    (20, 1876, 0, "Spoken", 20),
    (21, 8389, 0, "Hip-Hop", 21),
    (25, 9261, 12, "Punk", 12),
    (38, 38154, 0, "Experimental", 38),
    (1235, 14938, 0, "Instrumental", 1235),
]
GENRE_ID = {title: gid for gid, _, _, title, _ in GENRES}


def _t(track_id, subset, split, genre, artist_id, artist_name, kind="tone"):
    return {"track_id": track_id, "subset": subset, "split": split, "genre_top": genre, "artist_id": artist_id,
            "artist_name": artist_name, "title": f"Track {track_id}", "kind": kind}


#: The default fixture tracks. ``kind``: "tone" (3 s), "short" (1 s), "noaudio" (an MP3 without audio),
#: "empty" (0 bytes).
DEFAULT_TRACKS: list[dict] = [
    # small, training
    _t(2, "small", "training", "Hip-Hop", 1, "AWOL"),
    _t(3, "small", "training", "Hip-Hop", 1, "AWOL"),
    _t(5, "small", "training", "Hip-Hop", 1, "AWOL"),
    _t(140, "small", "training", "Folk", 54, 'Les "Bons" Garçons, et al.'),
    _t(141, "small", "training", "Folk", 54, 'Les "Bons" Garçons, et al.'),
    _t(148, "small", "training", "Instrumental", 60, "Sans Paroles"),
    _t(182, "small", "training", "Rock", 70, "Noise Unit"),
    _t(190, "small", "training", "Rock", 71, "Noise Unit"),  # a different artist with the same name
    _t(200, "small", "training", "Instrumental", 75, "Quiet Room"),
    _t(99134, "small", "training", "Rock", 500, "Broken Files", kind="noaudio"),
    # small, validation
    _t(1482, "small", "validation", "Hip-Hop", 300, "MC Val"),
    _t(1483, "small", "validation", "Rock", 301, "Val Rockers"),
    _t(1484, "small", "validation", "Folk", 302, "Val Folk"),
    _t(1485, "small", "validation", "Instrumental", 303, "Val Keys"),
    # small, test
    _t(2010, "small", "test", "Hip-Hop", 400, "Test Crew"),
    _t(2011, "small", "test", "Rock", 401, "Test Band"),
    _t(2012, "small", "test", "Rock", 402, "Other Test Band"),
    _t(2013, "small", "test", "Folk", 403, "Test Singer"),
    _t(98565, "small", "test", "Folk", 501, "Short Clips", kind="short"),
    _t(2014, "small", "test", "Instrumental", 404, "Test Pianist"),
    # medium only
    _t(3000, "medium", "training", "Rock", 600, "Medium Band"),
    _t(3001, "medium", "validation", "Pop", 601, "Medium Pop"),
    _t(3002, "medium", "test", "Hip-Hop", 602, "Medium MC"),
    _t(3003, "medium", "training", None, 603, "No Genre"),
    # large only
    _t(140000, "large", "training", "Jazz", 700, "Large Trio"),
    _t(140001, "large", "test", None, 701, "Unlabelled"),
]

_SUBSET_RANK = {"small": 0, "medium": 1, "large": 2, "full": 3}


def clip_relpath(track_id: int) -> str:
    return f"{track_id // 1000:03d}/{track_id:06d}.mp3"


def sha1_bytes(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def render_track(track: dict) -> bytes:
    """The MP3 bytes of a fixture track (deterministic per track id and kind)."""
    import io

    import soundfile as sf

    kind = track.get("kind", "tone")
    if kind == "empty":
        return b""
    if kind == "noaudio":
        # An ID3v2.4 tag of 1024 padding bytes and no MPEG frame: a file that decodes to nothing.
        return b"ID3\x04\x00\x00" + bytes([0, 0, 8, 0]) + b"\x00" * 1024
    seconds = {"tone": 3.0, "short": 1.0}[kind]
    tid = int(track["track_id"])
    rng = np.random.default_rng(tid)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 110.0 * 2 ** ((tid % 36) / 12)
    y = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(2 * np.pi * 2.01 * f0 * t)
    y += 0.05 * rng.standard_normal(t.size)
    y *= np.minimum(1.0, np.minimum(t, seconds - t) * 20)  # fade in/out
    buf = io.BytesIO()
    sf.write(buf, y.astype(np.float32), SR, format="MP3")
    return buf.getvalue()


def _row(track: dict) -> dict:
    tid = int(track["track_id"])
    genre = track.get("genre_top")
    gids = f"[{GENRE_ID[genre]}]" if genre else "[]"
    seconds = {"tone": 3, "short": 1}.get(track.get("kind", "tone"), 0)
    row = {c: np.nan for c in TRACKS_COLUMNS}
    row.update({
        ("album", "comments"): 0,
        ("album", "date_created"): "2008-11-26 01:44:45",
        ("album", "favorites"): 0,
        ("album", "id"): 10_000 + int(track["artist_id"]),
        ("album", "listens"): 100,
        ("album", "tags"): "[]",
        ("album", "title"): f"Album of {track['artist_name']}",
        ("album", "tracks"): 1,
        ("album", "type"): "Album",
        ("artist", "comments"): 0,
        ("artist", "date_created"): "2008-11-26 01:42:32",
        ("artist", "favorites"): 1,
        ("artist", "id"): int(track["artist_id"]),
        ("artist", "name"): track["artist_name"],
        ("artist", "tags"): "[]",
        ("set", "split"): track["split"],
        ("set", "subset"): track["subset"],
        ("track", "bit_rate"): 256000,
        ("track", "comments"): 0,
        ("track", "date_created"): "2008-11-26 01:48:12",
        ("track", "duration"): seconds,
        ("track", "favorites"): 0,
        ("track", "genre_top"): genre if genre else np.nan,
        ("track", "genres"): gids,
        ("track", "genres_all"): gids,
        ("track", "interest"): 1000 + tid % 97,
        ("track", "license"): "Attribution-NonCommercial-ShareAlike 3.0 International",
        ("track", "listens"): 500 + tid % 89,
        ("track", "number"): 1,
        ("track", "tags"): "[]",
        ("track", "title"): track.get("title", f"Track {tid}"),
    })
    return row


def write_tracks_csv(path: Path, tracks: list[dict]) -> Path:
    """Write ``tracks`` as FMA's tracks.csv (two header rows, then the ``track_id`` row)."""
    import pandas as pd

    df = pd.DataFrame([_row(t) for t in tracks], index=pd.Index([int(t["track_id"]) for t in tracks],
                                                                   name="track_id"))
    df.columns = pd.MultiIndex.from_tuples(TRACKS_COLUMNS)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path)
    return path


def make_fma_fixture(root: str | os.PathLike[str], *, tracks: list[dict] | None = None,
                     audio_subsets: tuple[str, ...] = ("small",)) -> dict:
    """Write a small FMA-format dataset under ``root``.

    Parameters
    ----------
    root : path-like
        Target folder (``fma_metadata/`` and ``fma_<subset>/`` are created in it).
    tracks : list of dict, optional
        Rows with keys ``track_id, subset, split, genre_top, artist_id,
        artist_name`` and optionally ``title`` and ``kind`` (see
        :data:`DEFAULT_TRACKS`). Default: :data:`DEFAULT_TRACKS`.
    audio_subsets : tuple of str
        For each, write ``fma_<subset>/`` with the audio of every track in that
        subset (FMA's subsets are nested), a ``checksums`` file and README.txt.

    Returns
    -------
    dict
        ``root``, ``tracks`` (the rows), ``tracks_csv``, ``genres_csv``,
        ``audio`` (``{subset: {track_id: Path}}``) and ``checksums``
        (``{subset: {relpath: sha1}}``).
    """
    import pandas as pd

    root = Path(root)
    tracks = [dict(t) for t in (DEFAULT_TRACKS if tracks is None else tracks)]
    meta = root / "fma_metadata"
    tracks_csv = write_tracks_csv(meta / "tracks.csv", tracks)
    genres_csv = meta / "genres.csv"
    pd.DataFrame(GENRES, columns=["genre_id", "#tracks", "parent", "title", "top_level"]).to_csv(
        genres_csv, index=False)
    (meta / "README.txt").write_text("fma_metadata fixture for mir's tests\n")

    rendered: dict[int, bytes] = {}
    audio: dict[str, dict[int, Path]] = {}
    checksums: dict[str, dict[str, str]] = {}
    for subset in audio_subsets:
        folder = root / f"fma_{subset}"
        audio[subset], checksums[subset] = {}, {}
        for t in tracks:
            tid = int(t["track_id"])
            if _SUBSET_RANK[t["subset"]] > _SUBSET_RANK[subset]:
                continue
            data = rendered.get(tid)
            if data is None:
                data = rendered[tid] = render_track(t)
            rel = clip_relpath(tid)
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            audio[subset][tid] = path
            checksums[subset][rel] = sha1_bytes(data)
        (folder / "checksums").write_text("".join(f"{s}  {r}\n" for r, s in sorted(checksums[subset].items())))
        (folder / "README.txt").write_text(
            "This .zip archive is a fixture in the format of the FMA, a dataset for music analysis.\n"
            "The content's integrity can be verified with sha1sum -c checksums.\n")
    return {"root": root, "tracks": tracks, "tracks_csv": tracks_csv, "genres_csv": genres_csv, "audio": audio,
            "checksums": checksums}


def make_zip(root: str | os.PathLike[str], name: str, dest: str | os.PathLike[str]) -> tuple[Path, str]:
    """Zip the folder ``root/<name>`` into ``dest/<name>.zip`` with members ``<name>/...`` (as FMA's archives).

    Returns
    -------
    (Path, str)
        The archive and its SHA-1.
    """
    root, dest = Path(root), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"{name}.zip"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(root / name, f"{name}/")
        for p in sorted((root / name).rglob("*")):
            zf.write(p, p.relative_to(root).as_posix() + ("/" if p.is_dir() else ""))
    return out, sha1_bytes(out.read_bytes())
