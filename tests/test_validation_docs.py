"""The Data Docs page of a suite run (mir.validation.docs): offline, escaped, says what failed and why."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from mir.io import MARKER
from mir.validation.docs import GE_SITE_ENTRIES, render_page
from mir.validation.features import validate_features
from mir.validation.manifest import validate_manifest

try:  # the manifest suite's fixtures
    from test_validation import LIMITS, make_manifest
except ImportError:  # pragma: no cover - run from another rootdir
    from tests.test_validation import LIMITS, make_manifest

#: Any URL-carrying attribute pointing off the machine: http(s)://, //host, quoted or not.
EXTERNAL = re.compile(r"""\b(?:src|href|srcset|action|poster|data)\s*=\s*\\?["']?\s*(?:https?:)?//""", re.I)
CSS_EXTERNAL = re.compile(r"""url\(\s*["']?\s*(?:https?:)?//|@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//""", re.I)


def feature_frame(n: int = 30, *, loud: int | None = None) -> pd.DataFrame:
    rows = []
    for i in range(n):
        rows.append({"clip_id": f"clip{i:04d}", "genre": "rock", "split": "train", "n_mels": 16, "n_frames": 40,
                     "n_nonfinite": 0, "min_db": -90.0, "max_db": 50.0 if i == loud else 10.0,
                     "mean_db": 7.5 if i == loud else -40.0 + 0.01 * i, "std_db": 12.0 + 0.01 * i})
    return pd.DataFrame(rows)


BOUNDS = {"mean_db": (-45.0, -35.0), "std_db": (10.0, 14.0)}


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> dict[str, Path]:
    """A failing and a passing suite, each in its own Data Docs folder."""
    root = tmp_path_factory.mktemp("docs")
    bad = make_manifest()
    bad.loc[3, "genre"] = "polka"
    assert not validate_manifest(bad, docs_dir=root / "manifest", **LIMITS).success
    assert validate_features(feature_frame(), n_mels=16, n_frames=40, bounds=BOUNDS,
                             docs_dir=root / "features").success
    failing = validate_features(feature_frame(loud=4), n_mels=16, n_frames=40, bounds=BOUNDS, mostly=1.0,
                                docs_dir=root / "features_bad")
    assert not failing.success
    return {"manifest": root / "manifest", "features": root / "features", "features_bad": root / "features_bad"}


def test_pages_render_offline(sites):
    for site in sites.values():
        assert sorted(p.name for p in site.iterdir()) == ["index.html"]
        text = (site / "index.html").read_text(encoding="utf-8")
        assert not EXTERNAL.findall(text) and not CSS_EXTERNAL.findall(text)
        assert "<script" not in text and "<link" not in text  # nothing to load, nothing to run
        assert text.startswith("<!DOCTYPE html>") and "</html>" in text and "<style>" in text


def test_page_says_what_failed_and_why(sites):
    text = (sites["manifest"] / "index.html").read_text(encoding="utf-8")
    assert "manifest suite: FAILED" in text and "polka" in text and "unexpected" in text
    assert "expect_column_values_to_be_in_set(genre)" in text and "Labels outside the configured genres." in text
    assert "clip0003" in text
    text = (sites["features_bad"] / "index.html").read_text(encoding="utf-8")
    assert "mean_db" in text and "7.5" in text and "unexpected" in text  # the loud clip's mean
    assert "Outside the robust range learned from the training clips." in text
    text = (sites["features"] / "index.html").read_text(encoding="utf-8")
    assert "features suite: passed" in text and "Failed expectations" not in text
    assert text.count("&#10004; passed") == text.count("<tr>") - 1  # every expectation row passed (one header)


def test_page_escapes_every_value_once():
    evil = '<script>alert("x")</script>'
    m = make_manifest(6)
    m.loc[1, "genre"] = evil
    m.loc[2, "genre"] = "R&B"
    res = validate_manifest(m, genres=[*LIMITS["genres"], "R&B"], min_duration_s=1, max_duration_s=100)
    text = render_page(res, n_rows=len(m), now=datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert evil not in text and "<script" not in text and "&lt;script&gt;alert" in text
    assert "R&amp;B" in text and "&amp;amp;" not in text
    assert "6 rows validated, 2025-01-01 00:00:00 UTC" in text
    assert text == render_page(res, n_rows=len(m), now=datetime(2025, 1, 1, tzinfo=timezone.utc))


def test_older_ge_site_is_removed_from_mir_folder(tmp_path):
    """A folder mir wrote with GE's own Data Docs site keeps only the new page."""
    docs = tmp_path / "docs"
    for name in GE_SITE_ENTRIES:
        (docs / name / "sub").mkdir(parents=True)
        (docs / name / "sub" / "page.html").write_text("<html>old</html>")
    (docs / MARKER).write_text("mir")
    validate_manifest(make_manifest(), docs_dir=docs, **LIMITS)
    assert sorted(p.name for p in docs.iterdir()) == [MARKER, "index.html"]
    other = tmp_path / "not-mir"  # no marker: nothing but index.html is touched
    (other / "static").mkdir(parents=True)
    validate_manifest(make_manifest(), docs_dir=other, **LIMITS)
    assert sorted(p.name for p in other.iterdir()) == ["index.html", "static"]
