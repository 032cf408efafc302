"""Genre-folder loader: random / dirs / files split modes, artist tags, purity."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from conftest import tone, write_audio
from mir.datasets import folder


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> dict[str, bytes]:
    """One short generated clip per format, written once and copied."""
    d = tmp_path_factory.mktemp("fmt")
    y = tone(0.5, freq=440.0)
    return {ext: write_audio(d / f"x{ext}", y).read_bytes() for ext in (".wav", ".mp3", ".ogg", ".flac")}


def _put(root: Path, rel: str, clip_bytes) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(clip_bytes[p.suffix.lower()])
    return p


def _snapshot(root: Path) -> dict[str, tuple]:
    return {str(p.relative_to(root)): (p.is_dir(), p.stat().st_mtime_ns,
                                       None if p.is_dir() else hashlib.sha1(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*"))} | {".": (True, root.stat().st_mtime_ns, None)}


@pytest.fixture
def flat(tmp_path, clip_bytes) -> Path:
    """``<root>/<genre>/...`` with nesting, odd-case extensions and clutter."""
    root = tmp_path / "music"
    for rel in ["rock/song1.mp3", "rock/live/song2.wav", "rock/Song3.MP3", "jazz/a.ogg", "jazz/b.flac",
                "jazz/deep/er/c.Wav"]:
        _put(root, rel, clip_bytes)
    (root / "rock" / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "rock" / "notes.txt").write_text("liner notes")
    (root / "rock" / "song1.mp3.part").write_bytes(b"partial")
    _put(root, "rock/.song4.mp3", clip_bytes)            # hidden file (e.g. an interrupted copy)
    _put(root, "jazz/.cache/d.wav", clip_bytes)          # inside a hidden folder
    _put(root, ".trash/rock/x.wav", clip_bytes)          # hidden "genre"
    (root / "README.md").write_text("a dataset")
    return root


# ---------------------------------------------------------------- random


def test_random_lists_every_audio_file_and_ignores_clutter(flat):
    clips = folder.list_clips(flat)
    assert [c.clip_id for c in clips] == ["jazz/a", "jazz/b", "jazz/deep/er/c",
                                          "rock/Song3", "rock/live/song2", "rock/song1"]
    assert [c.genre for c in clips] == ["jazz"] * 3 + ["rock"] * 3
    assert all(c.split is None and c.group is None for c in clips)
    assert clips[2].path == flat / "jazz/deep/er/c.Wav"
    assert [c.clip_id for c in folder.list_clips(flat, genres=["rock"])] == ["rock/Song3", "rock/live/song2",
                                                                               "rock/song1"]


def test_errors(tmp_path, flat, clip_bytes):
    with pytest.raises(ValueError, match=r"metal.*available: jazz, rock"):
        folder.list_clips(flat, genres=["rock", "metal"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no audio"):
        folder.list_clips(tmp_path / "empty")
    (tmp_path / "empty" / "pop").mkdir()
    (tmp_path / "empty" / "pop" / "x.txt").write_text("")
    with pytest.raises(ValueError, match="no audio"):
        folder.list_clips(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        folder.list_clips(tmp_path / "missing")
    with pytest.raises(ValueError, match="random, dirs, files"):
        folder.list_clips(flat, split="kfold")
    with pytest.raises(ValueError, match="group_by"):
        folder.list_clips(flat, group_by="album")
    _put(flat, "rock/song1.wav", clip_bytes)  # same id as rock/song1.mp3
    with pytest.raises(ValueError, match="rock/song1"):
        folder.list_clips(flat)


# ---------------------------------------------------------------- dirs


def test_dirs_mode_takes_the_split_from_the_top_folder(tmp_path, clip_bytes):
    root = tmp_path / "ds"
    for rel in ["train/rock/a.mp3", "train/rock/b.mp3", "train/jazz/c.wav", "valid/rock/d.mp3",
                "test/jazz/e.ogg", "test/jazz/sub/f.flac"]:
        _put(root, rel, clip_bytes)
    (root / "train" / "rock" / "cover.png").write_bytes(b"png")
    clips = folder.list_clips(root, split="dirs")
    assert {c.clip_id: c.split for c in clips} == {
        "rock/a": "train", "rock/b": "train", "jazz/c": "train", "rock/d": "valid",
        "jazz/e": "test", "jazz/sub/f": "test"}
    assert [c.clip_id for c in clips] == sorted(c.clip_id for c in clips)
    assert {c.genre for c in clips if c.split == "test"} == {"jazz"}
    assert [c.clip_id for c in folder.list_clips(root, split="dirs", genres=["rock"])] == ["rock/a", "rock/b",
                                                                                          "rock/d"]
    with pytest.raises(ValueError, match="available: jazz, rock"):
        folder.list_clips(root, split="dirs", genres=["pop"])


def test_dirs_mode_valid_and_test_are_optional(tmp_path, clip_bytes):
    root = tmp_path / "ds"
    _put(root, "train/rock/a.mp3", clip_bytes)
    assert [(c.clip_id, c.split) for c in folder.list_clips(root, split="dirs")] == [("rock/a", "train")]
    with pytest.raises(FileNotFoundError, match="train"):
        folder.list_clips(tmp_path / "ds" / "train", split="dirs")


def test_dirs_mode_rejects_an_id_in_two_split_folders(tmp_path, clip_bytes):
    root = tmp_path / "ds"
    _put(root, "train/rock/a.mp3", clip_bytes)
    _put(root, "valid/rock/a.wav", clip_bytes)
    with pytest.raises(ValueError, match="'rock/a'.*train.*valid"):
        folder.list_clips(root, split="dirs")


# ---------------------------------------------------------------- files


def test_files_mode_matches_lists_by_id_and_ignores_listed_extensions(flat, caplog):
    (flat / "train.txt").write_text("# training clips\nrock/song1.mp3\nrock/live/song2\n\njazz/a.wav\n")
    (flat / "valid.txt").write_text("rock/Song3.flac\r\njazz/deep/er/c.wav\r\n")
    (flat / "test.txt").write_text("jazz/missing.wav\n./rock/gone.mp3\n")  # listed but absent: fine
    with caplog.at_level(logging.WARNING, logger="mir.datasets.folder"):
        clips = folder.list_clips(flat, split="files")
    assert {c.clip_id: c.split for c in clips} == {
        "rock/song1": "train", "rock/live/song2": "train", "jazz/a": "train",
        "rock/Song3": "valid", "jazz/deep/er/c": "valid"}
    assert next(c for c in clips if c.clip_id == "jazz/a").path.suffix == ".ogg"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and " 1 clip(s) in no split list" in warnings[0].getMessage()  # jazz/b


def test_files_mode_errors(flat):
    with pytest.raises(ValueError, match="train.txt"):
        folder.list_clips(flat, split="files")
    (flat / "train.txt").write_text("rock/song1\n")
    (flat / "test.txt").write_text("rock/song1.wav\n")
    with pytest.raises(ValueError, match="rock/song1.*train.txt.*test.txt"):
        folder.list_clips(flat, split="files")
    (flat / "test.txt").write_text("pop/x\n")
    (flat / "train.txt").write_text("pop/y\n")
    with pytest.raises(ValueError, match="is listed"):
        folder.list_clips(flat, split="files")


# ---------------------------------------------------------------- artist tags


def _tag_mp3(path: Path, artist: str) -> None:
    from mutagen.id3 import ID3, TPE1

    tags = ID3()
    tags.add(TPE1(encoding=3, text=[artist]))
    tags.save(path)


def _tag_vorbis(path: Path, artist: str) -> None:
    import mutagen

    f = mutagen.File(path)
    f["artist"] = [artist]
    f.save()


def test_read_artist_from_mp3_ogg_flac_and_untagged(tmp_path, clip_bytes):
    mp3 = _put(tmp_path, "a.mp3", clip_bytes)
    ogg = _put(tmp_path, "b.ogg", clip_bytes)
    flac = _put(tmp_path, "c.flac", clip_bytes)
    wav = _put(tmp_path, "d.wav", clip_bytes)
    assert [folder.read_artist(p) for p in (mp3, ogg, flac, wav)] == [None] * 4
    _tag_mp3(mp3, "Muddy Waters")
    _tag_vorbis(ogg, "  Nina Simone ")
    _tag_vorbis(flac, "Bach")
    assert folder.read_artist(mp3) == "Muddy Waters"
    assert folder.read_artist(ogg) == "Nina Simone"
    assert folder.read_artist(flac) == "Bach"
    assert folder.read_artist(wav) is None
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio at all")
    assert folder.read_artist(bad) is None
    assert folder.read_artist(tmp_path / "missing.ogg") is None


def test_group_by_artist(flat):
    _tag_mp3(flat / "rock/song1.mp3", "The Band")
    _tag_vorbis(flat / "jazz/a.ogg", "Coltrane")
    by_id = {c.clip_id: c.group for c in folder.list_clips(flat, group_by="artist")}
    assert by_id == {"jazz/a": "Coltrane", "jazz/b": None, "jazz/deep/er/c": None,
                     "rock/Song3": None, "rock/live/song2": None, "rock/song1": "The Band"}
    assert all(c.group is None for c in folder.list_clips(flat))


# ---------------------------------------------------------------- purity


def test_loader_writes_nothing_into_the_root(flat, tmp_path, clip_bytes):
    _tag_mp3(flat / "rock/song1.mp3", "The Band")
    (flat / "train.txt").write_text("rock/song1\njazz/a.wav\n")
    dirs = tmp_path / "ds"
    _put(dirs, "train/rock/a.mp3", clip_bytes)
    _put(dirs, "valid/jazz/b.ogg", clip_bytes)
    before = _snapshot(flat), _snapshot(dirs)
    for group_by in (None, "artist"):
        folder.list_clips(flat, split="random", group_by=group_by)
        folder.list_clips(flat, split="files", group_by=group_by)
        folder.list_clips(dirs, split="dirs", group_by=group_by)
    assert (_snapshot(flat), _snapshot(dirs)) == before
