"""GTZAN loader: the shipped artist-filtered split, every accepted layout, purity."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from conftest import tone
from mir.datasets import gtzan

ID_RE = re.compile(r"^([a-z]+)/\1\.\d{5}$")


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> dict[str, bytes]:
    """One short generated clip per format, written once and copied (file contents are never decoded here)."""
    import soundfile as sf

    d = tmp_path_factory.mktemp("fmt")
    y = tone(0.5, freq=330.0)
    out = {}
    for ext, fmt, sub in [(".wav", "WAV", "PCM_16"), (".au", "AU", "PCM_16"), (".flac", "FLAC", "PCM_16"),
                          (".ogg", "OGG", "VORBIS"), (".mp3", "MP3", None)]:
        sf.write(d / f"x{ext}", y, 22050, format=fmt, subtype=sub)
        out[ext] = (d / f"x{ext}").read_bytes()
    return out


def _make(base: Path, names: list[str], clip_bytes, ext: str = ".wav") -> list[Path]:
    """``names`` like ``"blues/blues.00029"`` written under ``base`` with extension ``ext``."""
    out = []
    for n in names:
        p = base / f"{n}{ext}"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(clip_bytes[ext])
        out.append(p)
    return out


def _snapshot(root: Path) -> dict[str, tuple]:
    return {str(p.relative_to(root)): (p.is_dir(), p.stat().st_mtime_ns,
                                       None if p.is_dir() else hashlib.sha1(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*"))} | {".": (True, root.stat().st_mtime_ns, None)}


# ---------------------------------------------------------------- the shipped split


def test_shipped_lists_are_the_kereliuk_split():
    lists = gtzan.split_lists()
    assert list(lists) == ["train", "valid", "test"]
    assert {s: len(v) for s, v in lists.items()} == {"train": 443, "valid": 197, "test": 290}
    for s, ids in lists.items():
        assert len(set(ids)) == len(ids), s
        assert all(ID_RE.match(i) for i in ids), s
        assert {i.split("/")[0] for i in ids} == set(gtzan.GENRES), s
        assert ids == sorted(ids), f"{s} is in the source's (genre, number) order"
    tr, va, te = (set(v) for v in lists.values())
    assert not (tr & va) and not (tr & te) and not (va & te)
    assert len(tr | va | te) == 930
    # spot checks against the source lists
    assert "blues/blues.00029" in tr and "blues/blues.00000" in va and "blues/blues.00012" in te
    assert "jazz/jazz.00054" in tr
    assert "classical/classical.00042" not in tr | va | te  # a filtered-out clip
    # a fresh copy each call: callers cannot corrupt the cache
    lists["train"].clear()
    assert len(gtzan.split_lists()["train"]) == 443


def test_split_files_are_plain_ids():
    base = Path(gtzan.__file__).parent / "splits" / "gtzan"
    for name in ("train_filtered.txt", "valid_filtered.txt", "test_filtered.txt"):
        lines = (base / name).read_text().splitlines()
        assert lines and all(ID_RE.match(line) for line in lines)
    assert (base / "SOURCE.md").is_file()


# ---------------------------------------------------------------- layouts


@pytest.mark.parametrize("sub, ext", [
    ("genres", ".au"),                  # the original archive
    ("genres_original", ".wav"),        # the Kaggle copy
    ("Data/genres_original", ".wav"),   # the Kaggle zip, unpacked as is
    (".", ".wav"),                      # <root>/<genre>/ directly
    (".", ".mp3"), (".", ".ogg"), (".", ".flac"),  # re-encoded copies
])
def test_each_layout_is_found(tmp_path, clip_bytes, sub, ext):
    base = tmp_path if sub == "." else tmp_path / sub
    names = ["blues/blues.00029", "jazz/jazz.00002", "rock/rock.00012"]
    paths = _make(base, names, clip_bytes, ext)
    assert gtzan.audio_root(tmp_path) == base
    clips = gtzan.list_clips(tmp_path)
    assert [c.clip_id for c in clips] == names
    assert [c.path for c in clips] == paths
    assert [c.genre for c in clips] == ["blues", "jazz", "rock"]
    assert [c.split for c in clips] == ["train", "valid", "test"]
    assert all(c.group is None for c in clips)
    # the genres/ folder itself is accepted as root too
    assert [c.clip_id for c in gtzan.list_clips(base)] == names


def test_audio_root_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gtzan.audio_root(tmp_path / "nope")
    (tmp_path / "music" / "electronic").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="genres_original"):
        gtzan.audio_root(tmp_path)
    with pytest.raises(FileNotFoundError):
        gtzan.list_clips(tmp_path)


def test_one_clip_in_several_formats_is_listed_once(tmp_path, clip_bytes):
    _make(tmp_path / "genres", ["blues/blues.00000"], clip_bytes, ".au")
    _make(tmp_path / "genres", ["blues/blues.00000", "blues/blues.00001"], clip_bytes, ".wav")
    clips = gtzan.list_clips(tmp_path)
    assert [(c.clip_id, c.path.suffix) for c in clips] == [("blues/blues.00000", ".wav"),
                                                          ("blues/blues.00001", ".wav")]


# ---------------------------------------------------------------- split modes


@pytest.fixture
def gtzan_root(tmp_path, clip_bytes) -> Path:
    """A partial GTZAN copy: listed clips of each split, unlisted ones, no jazz.00054, and clutter."""
    base = tmp_path / "genres_original"
    _make(base, ["blues/blues.00029", "blues/blues.00000", "blues/blues.00012",  # train, valid, test
                 "classical/classical.00042",                                       # in no list
                 "country/country.00008", "country/country.00019",                  # unlisted, train
                 "jazz/jazz.00053", "jazz/jazz.00055"], clip_bytes)                 # jazz.00054 missing
    (base / "blues" / ".blues.00030.wav").write_bytes(clip_bytes[".wav"])  # hidden
    (base / "blues" / "blues.00031.txt").write_text("not audio")
    (base / "blues" / "notes.wav").write_bytes(clip_bytes[".wav"])         # not a GTZAN name
    (base / "blues" / "blues.00031.WAV").write_bytes(clip_bytes[".wav"])   # upper-case extension: accepted
    (base / "electronic").mkdir()                                          # not a GTZAN genre: ignored
    (base / "electronic" / "electronic.00000.wav").write_bytes(clip_bytes[".wav"])
    return tmp_path


def test_artist_filtered_assigns_the_list_split_and_drops_unlisted(gtzan_root):
    clips = gtzan.list_clips(gtzan_root, split="artist_filtered")
    got = {c.clip_id: c.split for c in clips}
    assert got == {
        "blues/blues.00000": "valid", "blues/blues.00012": "test", "blues/blues.00029": "train",
        "blues/blues.00031": "train", "country/country.00019": "train",
        "jazz/jazz.00053": "train", "jazz/jazz.00055": "train",
    }
    assert [c.clip_id for c in clips] == sorted(got)
    assert all(c.genre == c.clip_id.split("/")[0] for c in clips)


def test_random_keeps_every_clip_without_a_split(gtzan_root):
    clips = gtzan.list_clips(gtzan_root, split="random")
    assert len(clips) == 9
    assert {"classical/classical.00042", "country/country.00008"} <= {c.clip_id for c in clips}
    assert all(c.split is None and c.group is None for c in clips)


def test_genre_selection_and_errors(gtzan_root):
    assert {c.genre for c in gtzan.list_clips(gtzan_root, genres=["jazz", "blues"])} == {"blues", "jazz"}
    with pytest.raises(ValueError, match="allowed: blues, classical, country") as e:
        gtzan.list_clips(gtzan_root, genres=["blues", "electronic"])
    assert "'electronic'" in str(e.value)
    with pytest.raises(ValueError, match=r"metal.*available: blues, classical, country, jazz"):
        gtzan.list_clips(gtzan_root, genres=["metal"])
    with pytest.raises(ValueError, match="artist_filtered, random"):
        gtzan.list_clips(gtzan_root, split="fault_filtered")


def test_missing_listed_file_does_not_crash(gtzan_root):
    clips = gtzan.list_clips(gtzan_root, genres=["jazz"])
    assert [c.clip_id for c in clips] == ["jazz/jazz.00053", "jazz/jazz.00055"]


def test_loader_writes_nothing_into_the_root(gtzan_root):
    before = _snapshot(gtzan_root)
    for split in gtzan.SPLIT_MODES:
        gtzan.list_clips(gtzan_root, split=split)
    gtzan.audio_root(gtzan_root)
    assert _snapshot(gtzan_root) == before
