"""Great Expectations gate on the feature store (mir.validation.features)."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from mir.io import write_csv
from mir.validation.features import feature_table, learn_bounds, validate_features

N_MELS, N_FRAMES = 16, 40
GENRES = ["blues", "jazz", "rock"]


def write_store(path, n: int = 48, *, n_mels: int = N_MELS, n_frames: int = N_FRAMES, seed: int = 0,
                nan_rows=(), loud_rows=(), skip_rows=(), names=None):
    """A tiny feature store as the featurize stage writes it (float16 memmap + index.csv)."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    arr = np.lib.format.open_memmap(path / "logmel.npy", mode="w+", dtype=np.float16, shape=(n, n_mels, n_frames))
    slope = np.linspace(0.0, -30.0, n_mels)[:, None]  # quieter high bands, like music
    for i in range(n):
        arr[i] = np.clip(-30.0 + slope + rng.normal(0.0, 8.0, (n_mels, n_frames)), -100.0, 20.0)
    for i in loud_rows:
        arr[i] = arr[i].astype(np.float32) + 40.0
    for i in nan_rows:
        arr[i, 2, 5:9] = np.nan
    arr.flush()
    del arr
    rows = [i for i in range(n) if i not in set(skip_rows)]  # rejected clips have no index row
    ids = list(names) if names is not None else [f"clip{i:04d}" for i in range(n)]
    index = pd.DataFrame({"row": rows, "clip_id": [ids[i] for i in rows],
                          "genre": [GENRES[i % 3] for i in rows], "split": ["train"] * len(rows)})
    write_csv(path / "index.csv", index)
    return path


def failed(result, label):
    return [f for f in result.failures if f.startswith(label)]


@pytest.fixture(scope="module")
def train(tmp_path_factory):
    table = feature_table(write_store(tmp_path_factory.mktemp("train") / "features", seed=1))
    return table, learn_bounds(table)


def test_feature_table_matches_numpy(tmp_path):
    names = [f"c{i}" for i in range(12)]
    names[4] = "nan"  # read with mir.io.read_table: stays a string
    store = write_store(tmp_path / "f", 12, skip_rows=[2, 7], names=names)
    table = feature_table(store, n_bands=4, chunk=3)
    assert list(table.columns[:10]) == ["clip_id", "genre", "split", "n_mels", "n_frames", "n_nonfinite",
                                        "min_db", "max_db", "mean_db", "std_db"]
    assert list(table.columns[10:]) == [f"band{b}_{s}" for b in range(4) for s in ("mean", "std")]
    assert len(table) == 10 and table["clip_id"].tolist()[3] == "nan" and "c2" not in set(table["clip_id"])
    assert (table["n_mels"] == N_MELS).all() and (table["n_frames"] == N_FRAMES).all()
    assert (table["n_nonfinite"] == 0).all()
    x = np.load(store / "logmel.npy").astype(np.float64)[[i for i in range(12) if i not in (2, 7)]]
    np.testing.assert_allclose(table["mean_db"], x.mean(axis=(1, 2)), atol=1e-4)
    np.testing.assert_allclose(table["std_db"], x.std(axis=(1, 2)), atol=1e-4)
    np.testing.assert_allclose(table["min_db"], x.min(axis=(1, 2)))
    np.testing.assert_allclose(table["max_db"], x.max(axis=(1, 2)))
    for b, idx in enumerate(np.array_split(np.arange(N_MELS), 4)):
        np.testing.assert_allclose(table[f"band{b}_mean"], x[:, idx].mean(axis=(1, 2)), atol=1e-4)
        np.testing.assert_allclose(table[f"band{b}_std"], x[:, idx].std(axis=(1, 2)), atol=1e-4)
    # the chunk size changes nothing
    pd.testing.assert_frame_equal(table, feature_table(store, n_bands=4, chunk=64))


def test_good_table_passes(tmp_path, train):
    _, bounds = train
    table = feature_table(write_store(tmp_path / "f", seed=2))
    bounds = json.loads(json.dumps(bounds))  # as read back from a params/metrics file: lists
    result = validate_features(table, n_mels=N_MELS, n_frames=N_FRAMES, bounds=bounds)
    assert result.success, result.summary_line()
    assert result.suite == "features"
    kinds = {(r["type"], r["column"]) for r in result.results}
    for expected in [
        ("expect_table_row_count_to_be_between", None),
        ("expect_column_values_to_be_in_set", "n_mels"),
        ("expect_column_values_to_be_in_set", "n_frames"),
        ("expect_column_values_to_be_in_set", "n_nonfinite"),
        ("expect_column_values_to_be_between", "min_db"),
        ("expect_column_values_to_be_between", "max_db"),
        ("expect_column_values_to_be_between", "mean_db"),
        ("expect_column_values_to_be_between", "band7_std"),
    ]:
        assert expected in kinds
    band = next(r for r in result.results if r["column"] == "band3_mean")
    assert band["kwargs"]["mostly"] == 0.99
    json.dumps(result.to_dict())


def test_nan_clip_fails_and_is_named(tmp_path, train):
    _, bounds = train
    table = feature_table(write_store(tmp_path / "f", seed=3, nan_rows=[5]))
    bad = table.set_index("clip_id").loc["clip0005"]
    assert bad["n_nonfinite"] == 4 and np.isfinite(bad["mean_db"])  # NaN-safe statistics
    result = validate_features(table, n_mels=N_MELS, n_frames=N_FRAMES, bounds=bounds)
    assert not result.success
    (line,) = failed(result, "expect_column_values_to_be_in_set(n_nonfinite)")
    assert "1 of 48 rows unexpected" in line and "clip0005" in line
    assert result.n_failed == 1, result.failures


def test_all_nan_clip_still_yields_a_row(tmp_path):
    store = write_store(tmp_path / "f", 4)
    arr = np.load(store / "logmel.npy", mmap_mode="r+")
    arr[1] = np.nan
    arr[2, 0, 0] = np.inf
    arr.flush()
    del arr
    table = feature_table(store, chunk=2)
    assert table["n_nonfinite"].tolist() == [0, N_MELS * N_FRAMES, 1, 0]
    assert table.loc[1, ["min_db", "max_db", "mean_db", "std_db"]].isna().all()
    assert np.isfinite(table.loc[2, ["min_db", "max_db", "mean_db", "std_db", "band0_mean"]].astype(float)).all()


def test_wrong_n_mels_fails(tmp_path, train):
    _, bounds = train
    table = feature_table(write_store(tmp_path / "f", seed=4))
    result = validate_features(table, n_mels=128, n_frames=N_FRAMES, bounds=bounds)
    assert not result.success
    (line,) = failed(result, "expect_column_values_to_be_in_set(n_mels)")
    assert "48 of 48 rows unexpected, e.g. [16]" in line
    assert not failed(result, "expect_column_values_to_be_in_set(n_frames)")


def test_loud_clip_fails_band_bounds(tmp_path, train):
    _, bounds = train
    table = feature_table(write_store(tmp_path / "f", seed=5, loud_rows=[7]))
    result = validate_features(table, n_mels=N_MELS, n_frames=N_FRAMES, bounds=bounds)
    assert not result.success
    band_lines = failed(result, "expect_column_values_to_be_between(band")
    assert len([f for f in band_lines if "_mean)" in f]) == 8, result.failures
    assert all("1 of 48 rows unexpected" in f and "clip0007" in f for f in band_lines)
    assert failed(result, "expect_column_values_to_be_between(mean_db)")
    # the same clip is tolerated when `mostly` allows one outlier in 48
    lenient = validate_features(table, n_mels=N_MELS, n_frames=N_FRAMES, bounds=bounds, mostly=0.95)
    assert lenient.success, lenient.summary_line()


def test_learn_bounds_is_robust_and_json_friendly():
    rng = np.random.default_rng(0)
    clean = pd.DataFrame({"mean_db": rng.normal(-40.0, 3.0, 200), "std_db": rng.normal(12.0, 1.0, 200),
                          "band0_mean": rng.normal(-30.0, 4.0, 200), "band0_std": rng.normal(9.0, 1.0, 200),
                          "n_frames": 40})
    dirty = clean.copy()
    dirty.loc[0, ["mean_db", "band0_mean"]] = [1e6, -1e6]  # one absurd training clip
    dirty.loc[1, "std_db"] = np.nan
    a, b = learn_bounds(clean), learn_bounds(dirty)
    assert set(a) == {"mean_db", "std_db", "band0_mean", "band0_std"}  # only the loudness columns
    for col in a:
        lo, hi = b[col]
        assert np.isfinite([lo, hi]).all() and lo < hi
        width = a[col][1] - a[col][0]
        assert abs(lo - a[col][0]) < 0.05 * width and abs(hi - a[col][1]) < 0.05 * width, col
    med = clean["mean_db"].median()
    mad = (clean["mean_db"] - med).abs().median()
    assert a["mean_db"] == pytest.approx((med - 6 * 1.4826 * mad, med + 6 * 1.4826 * mad))
    lo, hi = learn_bounds(clean, k=3.0)["mean_db"]
    assert hi - lo == pytest.approx((a["mean_db"][1] - a["mean_db"][0]) / 2)
    assert json.loads(json.dumps(b)) == {k: list(v) for k, v in b.items()}
    with pytest.raises(ValueError, match="none of the columns"):
        learn_bounds(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ValueError, match="k must be"):
        learn_bounds(clean, k=0)


def test_feature_table_memory_is_flat(tmp_path):
    n, n_mels, n_frames = 200, 32, 512
    store = write_store(tmp_path / "f", n, n_mels=n_mels, n_frames=n_frames)
    array_bytes = n * n_mels * n_frames * 2
    tracemalloc.start()
    try:
        table = feature_table(store, chunk=8)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(table) == n
    assert peak < array_bytes / 4, f"peak {peak / 1e6:.2f} MB for a {array_bytes / 1e6:.2f} MB array"


def test_bad_arguments(tmp_path, train):
    table, bounds = train
    with pytest.raises(FileNotFoundError, match="logmel.npy"):
        feature_table(tmp_path)
    with pytest.raises(ValueError, match="n_bands"):
        feature_table(write_store(tmp_path / "f", 2), n_bands=N_MELS + 1)
    with pytest.raises(ValueError, match="low <= high"):
        validate_features(table, n_mels=N_MELS, n_frames=N_FRAMES, bounds={"mean_db": (1.0, 0.0)})
    with pytest.raises(ValueError, match="mostly"):
        validate_features(table, n_mels=N_MELS, n_frames=N_FRAMES, bounds=bounds, mostly=0)
    with pytest.raises(TypeError):
        validate_features(table.to_dict(), n_mels=N_MELS, n_frames=N_FRAMES, bounds=bounds)  # type: ignore[arg-type]


def test_empty_table_fails(train):
    table, bounds = train
    result = validate_features(table.iloc[:0], n_mels=N_MELS, n_frames=N_FRAMES, bounds=bounds)
    assert not result.success
    assert failed(result, "expect_table_row_count_to_be_between")


def test_gate_learns_bounds_only_from_enough_training_clips(tmp_path, monkeypatch):
    """The validate_features stage: a handful of training clips → no band bounds, the basic checks still run."""
    import yaml

    from mir.config import load_config
    from mir.io import read_json
    from mir.validation.gate import validate_features as stage

    monkeypatch.chdir(tmp_path)
    n, n_mels, T = 12, 16, 20
    rng = np.random.default_rng(0)
    feats = tmp_path / "data/features"
    feats.mkdir(parents=True)
    X = np.lib.format.open_memmap(feats / "logmel.npy", mode="w+", dtype=np.float16, shape=(n, n_mels, T))
    X[:] = rng.normal(-30, 10, size=(n, n_mels, T))
    X[3, :, :] = -30 + 40 * (np.arange(n) == 3)[3]  # one much louder clip
    X.flush()
    pd.DataFrame({"row": range(n), "clip_id": [f"c{i}" for i in range(n)], "genre": ["g"] * n,
                  "split": ["train"] * 8 + ["test"] * 4}).to_csv(feats / "index.csv", index=False)
    params = {"features": {"sample_rate": 22050, "n_fft": 2048, "hop_length": 512, "n_mels": n_mels,
                           "clip_seconds": (T - 1) * 512 / 22050},
              "train": {"arch": "cnn"},  # the default (musicnn) takes only its own 96-mel features
              "validate": {"feature_bounds_min_clips": 30}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    stage(load_config(), progress=False)
    assert read_json(tmp_path / "metrics/feature_validation.json")["bounds"] == {}
    params["validate"]["feature_bounds_min_clips"] = 5
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    from mir.validation.gate import DataValidationError

    with pytest.raises(DataValidationError, match=r"band0_mean.*\['c3'\]"):  # bounds learned: the loud clip fails
        stage(load_config(), progress=False)
    assert "band0_mean" in read_json(tmp_path / "metrics/feature_validation.json")["bounds"]
