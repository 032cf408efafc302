"""The FMA loader on a generated fixture in FMA's real on-disk format (no download)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from fma_fixture import DEFAULT_TRACKS, TRACKS_COLUMNS, make_fma_fixture
from mir.datasets import fma
from mir.datasets.base import SPLITS, Clip


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict:
    return make_fma_fixture(tmp_path_factory.mktemp("fma"))


@pytest.fixture(scope="module")
def root(fx) -> Path:
    return fx["root"]


def _small_ids() -> set[int]:
    return {t["track_id"] for t in DEFAULT_TRACKS if t["subset"] == "small" and t["genre_top"]}


# -- constants ---------------------------------------------------------------------------------------------------


def test_constants():
    assert fma.SUBSETS == ("small", "medium", "large", "full")
    assert len(fma.TOP_GENRES) == 16 and len(set(fma.TOP_GENRES)) == 16
    assert {"Hip-Hop", "Old-Time / Historic", "Soul-RnB", "Easy Listening"} <= set(fma.TOP_GENRES)
    assert {99134, 108925, 133297, 98565, 98567, 98569, 1486, 143992} <= fma.KNOWN_BROKEN
    assert fma.ARCHIVES["metadata"] == ("fma_metadata.zip", "f0df49ffe5f2a6008d7dc83c6915b31835dfe733")
    assert fma.ARCHIVES["small"] == ("fma_small.zip", "ade154f733639d52e35e32f5593efe5be76c6d70")
    assert set(fma.ARCHIVES) == {"metadata", *fma.SUBSETS}
    assert all(len(sha) == 40 for _, sha in fma.ARCHIVES.values())
    assert fma.DEFAULT_BASE_URL == "https://os.unil.cloud.switch.ch/fma/"


def test_audio_path_format(tmp_path):
    assert fma.audio_path(tmp_path, 2, subset="small") == tmp_path / "fma_small" / "000" / "000002.mp3"
    assert fma.audio_path(tmp_path, 99134, subset="medium") == tmp_path / "fma_medium" / "099" / "099134.mp3"
    assert fma.audio_path(str(tmp_path), 155320, subset="full") == tmp_path / "fma_full" / "155" / "155320.mp3"
    assert fma.clip_id(1482) == "001/001482"
    with pytest.raises(ValueError, match="subset"):
        fma.audio_path(tmp_path, 2, subset="tiny")


# -- metadata ----------------------------------------------------------------------------------------------------


def test_tracks_csv_has_fma_header_layout(fx):
    lines = fx["tracks_csv"].read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(",album,album,")
    assert lines[1].startswith(",comments,date_created,date_released,")
    assert lines[2] == "track_id" + "," * len(TRACKS_COLUMNS)
    assert lines[3].startswith("2,")


def test_load_tracks_round_trip(fx, root):
    tracks = fma.load_tracks(root)
    assert tracks.columns.nlevels == 2
    assert list(tracks.columns) == TRACKS_COLUMNS
    assert tracks.index.name == "track_id"
    assert list(tracks.index) == [t["track_id"] for t in DEFAULT_TRACKS]
    sub = tracks[("set", "subset")]
    assert sub.dtype.ordered and list(sub.cat.categories) == ["small", "medium", "large"]
    assert tracks.loc[2, ("track", "genre_top")] == "Hip-Hop"
    assert tracks.loc[2, ("artist", "name")] == "AWOL"
    assert tracks.loc[140, ("artist", "name")] == 'Les "Bons" Garçons, et al.'  # quoted, non-ASCII
    assert tracks.loc[1482, ("set", "split")] == "validation"
    assert tracks[("track", "genre_top")].isna().sum() == 2


def test_load_genres(root):
    genres = fma.load_genres(root)
    assert genres.index.name == "genre_id"
    assert list(genres.columns) == ["#tracks", "parent", "title", "top_level"]
    assert genres.loc[21, "title"] == "Hip-Hop"
    top = genres[genres["parent"] == 0]["title"]
    assert set(top) == set(fma.TOP_GENRES)


def test_missing_metadata_names_path_and_command(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        fma.load_tracks(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "fma_metadata" / "tracks.csv") in msg and "mir data download fma --subset" in msg
    with pytest.raises(FileNotFoundError, match=r"mir data download fma --subset medium"):
        fma.list_clips(tmp_path, subset="medium")
    with pytest.raises(FileNotFoundError, match="genres.csv"):
        fma.load_genres(tmp_path)


# -- list_clips --------------------------------------------------------------------------------------------------


def test_list_clips_small(root):
    clips = fma.list_clips(root)
    assert all(isinstance(c, Clip) for c in clips)
    assert {int(c.clip_id.split("/")[1]) for c in clips} == _small_ids()
    assert [c.clip_id for c in clips] == sorted(c.clip_id for c in clips)
    c = next(c for c in clips if c.clip_id == "000/000002")
    assert c.path == root / "fma_small" / "000" / "000002.mp3" and c.path.is_file()
    assert (c.genre, c.split, c.group) == ("Hip-Hop", "train", "1")
    assert {c.genre for c in clips} == {"Hip-Hop", "Rock", "Folk", "Instrumental"}


def test_subsets_are_nested(root):
    small = {c.clip_id for c in fma.list_clips(root, subset="small")}
    medium = fma.list_clips(root, subset="medium")
    large = {c.clip_id for c in fma.list_clips(root, subset="large")}
    full = {c.clip_id for c in fma.list_clips(root, subset="full")}
    assert small < {c.clip_id for c in medium} < large <= full
    assert {c.clip_id for c in medium} - small == {"003/003000", "003/003001", "003/003002"}  # 3003 has no genre
    assert all(c.path.parent.parent == root / "fma_medium" for c in medium)
    assert "Pop" in {c.genre for c in medium}
    assert "140/140000" in large  # Jazz, large only; 140001 has no genre_top
    assert "140/140001" not in full


def test_official_split_mapping(root):
    clips = fma.list_clips(root, subset="medium")
    want = {"training": "train", "validation": "valid", "test": "test"}
    by_id = {t["track_id"]: t for t in DEFAULT_TRACKS}
    for c in clips:
        assert c.split == want[by_id[int(c.clip_id[-6:])]["split"]]
    assert {c.split for c in clips} == set(SPLITS)


def test_group_is_the_artist_id(root):
    clips = {c.clip_id: c for c in fma.list_clips(root)}
    # Two artists share the name "Noise Unit": grouping is by id, so they stay distinct.
    assert clips["000/000182"].group == "70" and clips["000/000190"].group == "71"


def test_genre_selection(root):
    clips = fma.list_clips(root, genres=["Rock", "Folk"])
    assert {c.genre for c in clips} == {"Rock", "Folk"}
    assert len(clips) == sum(1 for t in DEFAULT_TRACKS if t["subset"] == "small" and t["genre_top"] in {"Rock", "Folk"})
    assert {c.genre for c in fma.list_clips(root, subset="medium", genres=("Pop",))} == {"Pop"}


def test_genre_errors(root):
    with pytest.raises(ValueError) as err:
        fma.list_clips(root, genres=["Rock", "rock", "Metal"])
    msg = str(err.value)
    assert "'rock'" in msg and "'Metal'" in msg and "Old-Time / Historic" in msg and "Hip-Hop" in msg
    with pytest.raises(ValueError, match=r"'Pop'.*no track in subset 'small'"):
        fma.list_clips(root, genres=["Rock", "Pop"])
    with pytest.raises(ValueError, match="subset"):
        fma.list_clips(root, subset="huge")


def test_balance(root):
    clips = fma.list_clips(root, balance=True, seed=0)
    cells = Counter((c.split, c.genre) for c in clips)
    full = Counter((c.split, c.genre) for c in fma.list_clips(root))
    for split in SPLITS:
        counts = {g: n for (s, g), n in full.items() if s == split}
        for g in counts:
            assert cells[(split, g)] == min(counts.values()), (split, g)
    assert cells[("train", "Rock")] == 2 and cells[("test", "Rock")] == 1
    assert [c.clip_id for c in clips] == sorted(c.clip_id for c in clips)
    # deterministic per seed, and a subset of the unbalanced listing
    assert clips == fma.list_clips(root, balance=True, seed=0)
    assert {c.clip_id for c in clips} <= {c.clip_id for c in fma.list_clips(root)}
    picks = {tuple(c.clip_id for c in fma.list_clips(root, balance=True, seed=s)) for s in range(8)}
    assert len(picks) > 1


def test_broken_files_are_listed_not_filtered(root, fx):
    ids = {c.clip_id for c in fma.list_clips(root)}
    assert {"099/099134", "098/098565"} <= ids  # the pipeline rejects them by decoding, not by id
    from mir.audio import AudioError, probe

    with pytest.raises(AudioError):
        probe(fx["audio"]["small"][99134])
    assert probe(fx["audio"]["small"][98565]).duration_s < 1.5


def test_missing_audio_is_still_listed(tmp_path):
    fx = make_fma_fixture(tmp_path, tracks=[t for t in DEFAULT_TRACKS if t["track_id"] in (2, 182)])
    fx["audio"]["small"][182].unlink()
    clips = fma.list_clips(tmp_path)
    assert [c.clip_id for c in clips] == ["000/000002", "000/000182"]
    assert not clips[1].path.exists()


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def test_list_clips_never_writes_into_root(tmp_path):
    make_fma_fixture(tmp_path)
    before = _snapshot(tmp_path)
    for subset in fma.SUBSETS:
        fma.list_clips(tmp_path, subset=subset)
    fma.list_clips(tmp_path, balance=True, genres=["Rock", "Folk"])
    fma.load_genres(tmp_path)
    assert _snapshot(tmp_path) == before


# -- checksums ---------------------------------------------------------------------------------------------------


def test_read_checksums(fx, root, tmp_path):
    sums = fma.read_checksums(root / "fma_small" / "checksums")
    assert sums == fx["checksums"]["small"]
    assert "000/000002.mp3" in sums and all(len(v) == 40 for v in sums.values())
    odd = tmp_path / "checksums"
    odd.write_text("# comment\n\n" + "A" * 40 + " *000/000002.mp3\n" + "b" * 40 + "  dir with space/x.mp3\n")
    assert fma.read_checksums(odd) == {"000/000002.mp3": "a" * 40, "dir with space/x.mp3": "b" * 40}
    odd.write_text("nothex  000/000002.mp3\n")
    with pytest.raises(ValueError, match=":1:"):
        fma.read_checksums(odd)


def test_verify_checksums(tmp_path):
    fx = make_fma_fixture(tmp_path, tracks=[t for t in DEFAULT_TRACKS if t["track_id"] in (2, 3, 5, 140)])
    audio_dir = tmp_path / "fma_small"
    sums = fma.read_checksums(audio_dir / "checksums")
    assert fma.verify_checksums(audio_dir, sums, progress=False) == []

    p = fx["audio"]["small"][3]
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    fx["audio"]["small"][140].unlink()
    failures = fma.verify_checksums(audio_dir, sums, progress=False)
    assert [rel for rel, _ in failures] == ["000/000003.mp3", "000/000140.mp3"]
    assert "sha1 mismatch" in failures[0][1] and sums["000/000003.mp3"] in failures[0][1]
    assert failures[1][1] == "missing"

    # `only`: check just the files present (a partial copy), plus an unlisted one
    only = {"000/000002.mp3", "000/000005.mp3", "000/999999.mp3"}
    assert fma.verify_checksums(audio_dir, sums, only=only, progress=False) == [
        ("000/999999.mp3", "not listed in checksums")]
