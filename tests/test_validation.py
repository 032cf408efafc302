"""Great Expectations gate on the ingest manifest (mir.validation.manifest)."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from mir.validation.manifest import MANIFEST_COLUMNS, ValidationResult, validate_manifest

GENRES = ["blues", "classical", "jazz", "metal", "pop", "rock"]
LIMITS = dict(genres=GENRES, min_duration_s=5.0, max_duration_s=60.0, sample_rates=[22050], max_channels=2)


def make_manifest(n: int = 60) -> pd.DataFrame:
    splits = ["train", "train", "train", "valid", "test"]
    return pd.DataFrame(
        {
            "clip_id": [f"clip{i:04d}" for i in range(n)],
            "path": [f"data/raw/{GENRES[i % len(GENRES)]}/{i:04d}.wav" for i in range(n)],
            "genre": [GENRES[i % len(GENRES)] for i in range(n)],
            "split": [splits[i % len(splits)] for i in range(n)],
            "duration_s": [30.0 + (i % 7) * 0.01 for i in range(n)],
            "sample_rate": [22050] * n,
            "channels": [1 + (i % 2) for i in range(n)],
            "checksum": [hashlib.sha256(f"audio-{i}".encode()).hexdigest() for i in range(n)],
            "n_bytes": [1_323_044 + i for i in range(n)],
        }
    )


def failed(result: ValidationResult, label: str) -> list[str]:
    return [f for f in result.failures if f.startswith(label)]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Run every test from an empty cwd, and check GE left nothing behind in it."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work
    assert sorted(p.name for p in work.iterdir()) == [], "validation wrote into the working directory"


def test_good_manifest_passes():
    result = validate_manifest(make_manifest(), **LIMITS)
    assert result.success, result.summary_line()
    assert result.n_failed == 0 and result.failures == []
    assert result.n_expectations == len(result.results) >= 15
    assert result.summary_line() == f"manifest suite: passed all {result.n_expectations} expectations"
    kinds = {(r["type"], r["column"]) for r in result.results}
    for expected in [
        ("expect_table_columns_to_match_set", None),
        ("expect_column_values_to_be_unique", "clip_id"),
        ("expect_column_values_to_be_unique", "checksum"),
        ("expect_column_values_to_be_in_set", "genre"),
        ("expect_column_values_to_be_in_set", "split"),
        ("expect_column_values_to_be_in_set", "sample_rate"),
        ("expect_column_values_to_be_between", "duration_s"),
        ("expect_column_values_to_be_between", "channels"),
        ("expect_column_values_to_be_between", "n_bytes"),
        ("expect_column_values_to_not_be_null", "path"),
    ]:
        assert expected in kinds
    json.dumps(result.to_dict())  # JSON-serialisable


def test_unknown_genre_fails():
    m = make_manifest()
    m.loc[[3, 8, 13], "genre"] = "polka"
    result = validate_manifest(m, **LIMITS)
    assert not result.success
    (line,) = failed(result, "expect_column_values_to_be_in_set(genre)")
    assert "3 of 60 rows unexpected" in line and "'polka'" in line and "clip0003" in line
    assert result.n_failed == 1
    assert "FAILED 1 of" in result.summary_line() and "polka" in result.summary_line()


def test_duplicate_checksum_fails():
    m = make_manifest()
    m.loc[10, "checksum"] = m.loc[2, "checksum"]  # the same audio twice (e.g. train and test)
    result = validate_manifest(m, **LIMITS)
    assert not result.success
    (line,) = failed(result, "expect_column_values_to_be_unique(checksum)")
    assert "2 of 60 rows unexpected" in line
    assert "clip0002" in line and "clip0010" in line
    rec = next(r for r in result.results if r["type"] == "expect_column_values_to_be_unique" and r["column"] == "checksum")
    assert rec["success"] is False and rec["unexpected_count"] == 2
    assert rec["partial_unexpected_list"] == [m.loc[2, "checksum"]] * 2


def test_too_short_duration_fails():
    m = make_manifest()
    m.loc[5, "duration_s"] = 0.4
    result = validate_manifest(m, **LIMITS)
    assert not result.success
    (line,) = failed(result, "expect_column_values_to_be_between(duration_s)")
    assert "1 of 60 rows unexpected, e.g. [0.4]" in line


def test_bad_split_fails():
    m = make_manifest()
    m.loc[0, "split"] = "holdout"
    result = validate_manifest(m, **LIMITS)
    assert not result.success
    assert failed(result, "expect_column_values_to_be_in_set(split)")
    assert result.to_dict()["success"] is False


def test_other_checks_fail():
    m = make_manifest()
    m.loc[1, "n_bytes"] = 0
    m.loc[2, "channels"] = 6
    m.loc[3, "sample_rate"] = 44100
    m.loc[4, "clip_id"] = "clip0005"
    m.loc[6, "path"] = None
    result = validate_manifest(m, **LIMITS)
    for label in [
        "expect_column_values_to_be_between(n_bytes)",
        "expect_column_values_to_be_between(channels)",
        "expect_column_values_to_be_in_set(sample_rate)",
        "expect_column_values_to_be_unique(clip_id)",
        "expect_column_values_to_not_be_null(path)",
    ]:
        assert failed(result, label), (label, result.failures)
    assert result.n_failed == 5


def test_missing_column_is_named():
    result = validate_manifest(make_manifest().drop(columns=["checksum"]), **LIMITS)
    assert not result.success
    (line,) = failed(result, "expect_table_columns_to_match_set")
    assert "['checksum']" in line
    # expectations on the missing column fail (cannot be evaluated) instead of crashing
    assert failed(result, "expect_column_values_to_be_unique(checksum)")


def test_sample_rate_unchecked_by_default():
    m = make_manifest()
    m["sample_rate"] = 44100
    limits = {k: v for k, v in LIMITS.items() if k != "sample_rates"}
    assert validate_manifest(m, **limits).success


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_duration_s"):
        validate_manifest(make_manifest(), genres=GENRES, min_duration_s=10, max_duration_s=5)
    with pytest.raises(ValueError, match="genres"):
        validate_manifest(make_manifest(), genres=[], min_duration_s=1, max_duration_s=5)
    with pytest.raises(TypeError):
        validate_manifest(make_manifest().to_dict(), **LIMITS)  # type: ignore[arg-type]


def test_data_docs(tmp_path):
    docs = tmp_path / "reports" / "data_docs"
    m = make_manifest()
    m.loc[3, "genre"] = "polka"
    result = validate_manifest(m, docs_dir=docs, **LIMITS)
    index = docs / "index.html"
    assert index.is_file()
    assert result.docs_index == str(index.resolve())
    text = index.read_text(encoding="utf-8")
    assert "manifest" in text
    # the validation is rendered on the page: the failed expectation, its offending value and why it matters
    assert "expect_column_values_to_be_in_set(genre)" in text and "polka" in text
    assert "Labels outside the configured genres." in text


def test_columns_constant():
    assert MANIFEST_COLUMNS == (
        "clip_id", "path", "genre", "split", "duration_s", "sample_rate", "channels", "checksum", "n_bytes",
    )  # fmt: skip


def test_metadata_in_data_docs_is_escaped_and_checks_are_unchanged(tmp_path):
    """A genre named <script>… is shown as text in Data Docs (GE itself inserts values raw)."""
    import re

    evil = '<script>alert("x")</script>'
    import pandas as pd

    m = pd.DataFrame({"clip_id": ["a/1", "b/2", "c/3"], "path": ["p1", "p2", "p3"],
                      "genre": ["R&B", "jazz", "jazz"], "split": ["train", "test", "valid"],
                      "duration_s": [30.0] * 3, "sample_rate": [22050] * 3, "channels": [1] * 3,
                      "checksum": ["a" * 64, "b" * 64, "c" * 64], "n_bytes": [10] * 3})
    ok = validate_manifest(m.assign(genre=["R&B", "jazz", "jazz"]), genres=["R&B", "jazz"], min_duration_s=1,
                           max_duration_s=100)
    assert ok.success  # "R&B" is still in the set after escaping
    bad = m.assign(genre=["R&B", "jazz", evil], clip_id=["a/1", "b/2", f"{evil}/3"])
    res = validate_manifest(bad, genres=["R&B", "jazz"], min_duration_s=1, max_duration_s=100,
                            docs_dir=tmp_path / "docs")
    assert not res.success
    assert any(evil in f for f in res.failures)  # the terminal line shows the real value
    for page in (tmp_path / "docs").rglob("*.html"):
        text = page.read_text()
        assert evil not in text, page
        assert not re.search(r"<script>alert", text), page
