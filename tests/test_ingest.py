import numpy as np
import pandas as pd

from conftest import tone, write_audio
from mir.config import AudioParams
from mir.datasets.ingest import MANIFEST_COLUMNS, assign_splits, build_manifest


def _clips(root, genres, n):
    out = []
    for k, g in enumerate(genres):
        for i in range(n):
            p = write_audio(root / g / f"{g}.{i:03d}.wav", tone(0.5, freq=200 + 40 * i + 7 * k, seed=i))
            out.append((p, g))
    return out


def test_manifest_columns_checksums_and_rejections(tmp_path):
    clips = _clips(tmp_path, ["a", "b"], 5)
    bad = tmp_path / "a" / "broken.mp3"
    bad.write_text("not audio")
    empty = tmp_path / "b" / "empty.wav"
    empty.write_bytes(b"")
    before = {p: p.read_bytes() for p, _ in clips}
    table = pd.DataFrame([{"clip_id": p.relative_to(tmp_path).with_suffix("").as_posix(), "path": str(p), "genre": g}
                          for p, g in clips + [(bad, "a"), (empty, "b")]])
    m, rej = build_manifest(table, audio=AudioParams(min_duration_s=0.1), seed=0, valid_fraction=0.2,
                            test_fraction=0.2, progress=False)
    assert tuple(m.columns) == MANIFEST_COLUMNS
    assert len(m) == 10 and m["checksum"].is_unique and (m["duration_s"] > 0.49).all()
    assert set(rej["path"]) == {str(bad), str(empty)}
    assert rej["reason"].str.len().gt(0).all()
    assert {p: p.read_bytes() for p, _ in clips} == before  # raw data untouched


def test_splits_are_stratified_seeded_and_stable_when_a_genre_arrives():
    ids = [f"{g}/{i}" for g in "abc" for i in range(20)]
    genres = [i.split("/")[0] for i in ids]
    s1 = assign_splits(ids, genres, seed=1, valid_fraction=0.15, test_fraction=0.2)
    df = pd.DataFrame({"g": genres, "s": s1})
    counts = df.groupby(["g", "s"]).size().unstack()
    assert (counts["test"] == 4).all() and (counts["valid"] == 3).all() and (counts["train"] == 13).all()
    assert s1 == assign_splits(ids, genres, seed=1, valid_fraction=0.15, test_fraction=0.2)
    assert s1 != assign_splits(ids, genres, seed=2, valid_fraction=0.15, test_fraction=0.2)
    more = ids + [f"d/{i}" for i in range(20)]
    s2 = assign_splits(more, [i.split("/")[0] for i in more], seed=1, valid_fraction=0.15, test_fraction=0.2)
    assert s2[: len(ids)] == s1


def test_group_aware_split_keeps_each_artist_on_one_side():
    ids = [f"c{i}" for i in range(200)]
    artists = [f"artist{i % 23}" for i in range(200)]
    genres = ["a" if i % 2 else "b" for i in range(200)]
    s = assign_splits(ids, genres, seed=3, valid_fraction=0.15, test_fraction=0.2, groups=artists)
    by_artist = pd.DataFrame({"artist": artists, "split": s}).groupby("artist")["split"].nunique()
    assert (by_artist == 1).all()
    assert set(s) == {"train", "valid", "test"}


def test_ingest_stage_keeps_dataset_splits_and_writes_manifest(project, tiny_params):
    from mir import stages
    from mir.config import load_config

    cfg = load_config()
    rows = []
    for k, g in enumerate(cfg.synth.genres):
        for i in range(4):
            p = write_audio(project / "data/raw/synth" / g / f"{g}.{i}.wav", tone(1.5, freq=300 + 50 * i + 7 * k, seed=i))
            rows.append({"clip_id": f"{g}/{g}.{i}", "path": str(p), "genre": g, "split": "test" if i == 0 else None,
                         "group": None, "source": None})
    pd.DataFrame(rows).to_csv(project / "data/raw/clips.csv", index=False)
    stages.run("ingest", cfg, progress=False)
    m = pd.read_csv(project / "data/manifest.csv")
    assert sorted(m["genre"].unique()) == cfg.genres
    assert set(m["split"]) <= {"train", "valid", "test"}
    assert np.all(m.groupby("genre")["split"].apply(lambda s: (s == "test").sum()) >= 1)
    assert (m[m["clip_id"].str.endswith(".0")]["split"] == "test").all()  # the dataset's own split is kept


def test_dataset_split_without_test_part_uses_valid_as_test(tmp_path):
    rows = []
    for k, g in enumerate("ab"):
        for i in range(10):
            p = write_audio(tmp_path / g / f"{i}.wav", tone(0.5, freq=200 + 30 * i + 7 * k, seed=i))
            rows.append({"clip_id": f"{g}/{i}", "path": str(p), "genre": g, "split": "valid" if i < 3 else "train"})
    m, _ = build_manifest(pd.DataFrame(rows), audio=AudioParams(min_duration_s=0.1), seed=0, valid_fraction=0.25,
                          test_fraction=0.2, progress=False)
    s = m.set_index("clip_id")["split"]
    assert (s[[f"{g}/{i}" for g in "ab" for i in range(3)]] == "test").all()
    rest = s[[f"{g}/{i}" for g in "ab" for i in range(3, 10)]]
    assert set(rest) == {"train", "valid"}  # no train clip is moved into test
