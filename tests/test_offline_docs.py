"""Data Docs that render offline (mir.validation.offline)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import mir.validation.offline as offline
from mir.validation.features import validate_features
from mir.validation.manifest import validate_manifest
from mir.validation.offline import STYLE_ID, find_external_references, make_offline, vendor_assets

try:  # the manifest suite's fixtures
    from test_validation import LIMITS, make_manifest
except ImportError:  # pragma: no cover - run from another rootdir
    from tests.test_validation import LIMITS, make_manifest

#: Any URL-carrying attribute pointing off the machine: http(s)://, //host, quoted or not.
EXTERNAL = re.compile(r"""\b(?:src|href|srcset|action|poster|data)\s*=\s*\\?["']?\s*(?:https?:)?//""", re.I)
CSS_EXTERNAL = re.compile(r"""url\(\s*["']?\s*(?:https?:)?//|@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//""", re.I)
HAVE_XSTATIC = {"bootstrap_css", "bootstrap_js", "jquery", "fontawesome"} <= set(vendor_assets())


def feature_frame(n: int = 30, *, loud: int | None = None) -> pd.DataFrame:
    rows = []
    for i in range(n):
        rows.append({"clip_id": f"clip{i:04d}", "genre": "rock", "split": "train", "n_mels": 16, "n_frames": 40,
                     "n_nonfinite": 0, "min_db": -90.0, "max_db": 50.0 if i == loud else 10.0,
                     "mean_db": 7.5 if i == loud else -40.0 + 0.01 * i, "std_db": 12.0 + 0.01 * i})
    return pd.DataFrame(rows)


BOUNDS = {"mean_db": (-45.0, -35.0), "std_db": (10.0, 14.0)}


def build_sites(root: Path) -> dict[str, Path]:
    """A failing and a passing suite, each in its own Data Docs folder."""
    bad = make_manifest()
    bad.loc[3, "genre"] = "polka"
    assert not validate_manifest(bad, docs_dir=root / "manifest", **LIMITS).success
    assert validate_features(feature_frame(), n_mels=16, n_frames=40, bounds=BOUNDS,
                             docs_dir=root / "features").success
    failing = validate_features(feature_frame(loud=4), n_mels=16, n_frames=40, bounds=BOUNDS, mostly=1.0,
                                docs_dir=root / "features_bad")
    assert not failing.success
    return {"manifest": root / "manifest", "features": root / "features", "features_bad": root / "features_bad"}


@pytest.fixture(scope="module", params=["fallback", "xstatic"])
def sites(request, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    if request.param == "fallback":
        mp.setattr(offline, "vendor_assets", lambda: {})
    elif not HAVE_XSTATIC:
        pytest.skip("XStatic-Bootstrap 4.x / XStatic-jQuery / XStatic-Font-Awesome not installed")
    try:
        yield request.param, build_sites(tmp_path_factory.mktemp(request.param))
    finally:
        mp.undo()


def pages(site: Path) -> list[Path]:
    found = sorted(site.rglob("*.html"))
    assert found, f"no pages under {site}"
    return found


def without_scripts(text: str) -> str:
    return re.sub(r"<script\b.*?</script\s*>", "", text, flags=re.S | re.I)


def test_no_external_references(sites):
    _, built = sites
    for site in built.values():
        for page in pages(site):
            text = page.read_text(encoding="utf-8")
            assert not EXTERNAL.findall(text), (page, EXTERNAL.findall(text)[:3])
            assert not CSS_EXTERNAL.findall(text), (page, CSS_EXTERNAL.findall(text)[:3])
            assert find_external_references(text) == []
            assert "<html" in text and "</html>" in text and f'id="{STYLE_ID}"' in text


def test_failure_text_survives(sites):
    _, built = sites
    (page,) = (built["manifest"] / "validations").rglob("*.html")
    text = page.read_text(encoding="utf-8")
    assert "polka" in text and "unexpected" in text
    (page,) = (built["features_bad"] / "validations").rglob("*.html")
    text = page.read_text(encoding="utf-8")
    assert "mean_db" in text and "7.5" in text and "unexpected" in text  # the loud clip's mean


def test_relative_links_resolve(sites):
    _, built = sites
    for site in built.values():
        for page in pages(site):
            text = without_scripts(page.read_text(encoding="utf-8"))
            for value in re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", text):
                if not value or value.startswith(("#", "data:", "javascript:", "mailto:")):
                    continue
                target = (page.parent / value.split("#")[0].split("?")[0]).resolve()
                assert target.is_file(), (page.relative_to(site), value)
                assert target.is_relative_to(site.resolve())


def test_index_lists_runs_without_javascript(sites):
    _, built = sites
    for name, site in built.items():
        index = without_scripts((site / "index.html").read_text(encoding="utf-8"))
        (validation,) = (site / "validations").rglob("*.html")
        (suite,) = (site / "expectations").glob("*.html")
        assert f'href="{validation.relative_to(site).as_posix()}"' in index, name
        assert f'href="{suite.relative_to(site).as_posix()}"' in index, name
        raw = (site / "index.html").read_text(encoding="utf-8")
        assert not re.search(r"bootstrapTable\(\s*Object\.assign", raw)  # no table is left to JavaScript
        assert 'data-toggle="table"' not in raw
        status = "Failed" if name in ("manifest", "features_bad") else "Success"
        assert f'mir-status text-{"danger" if status == "Failed" else "success"}">{status}<' in index


def test_assets_come_from_installed_packages(sites):
    mode, built = sites
    site = built["manifest"]
    index = (site / "index.html").read_text(encoding="utf-8")
    vendored = sorted(p.relative_to(site).as_posix() for p in (site / "static").rglob("*") if p.is_file()
                      and "vendor" in p.parts)
    if mode == "fallback":
        assert vendored == []
        assert "border-collapse" in index and "font-family" in index  # the compact stylesheet
        assert "<script src=" not in index
    else:
        assert any(v.endswith("bootstrap.min.css") for v in vendored)
        assert any(v.endswith("jquery.min.js") for v in vendored)
        assert any(v.endswith(".woff2") for v in vendored)
        for ref in re.findall(r'(?:src|href)="(static/vendor/[^"]+)"', index):
            assert (site / ref).is_file(), ref
        assert 'src="static/vendor/jquery-' in index


def test_make_offline_is_idempotent(sites):
    _, built = sites
    site = built["features"]
    before = {p: p.read_bytes() for p in pages(site)}
    assert make_offline(site) == 0
    assert {p: p.read_bytes() for p in pages(site)} == before


def test_make_offline_on_handwritten_page(tmp_path, monkeypatch):
    monkeypatch.setattr(offline, "vendor_assets", lambda: {})
    (tmp_path / "static" / "images").mkdir(parents=True)
    (tmp_path / "static" / "images" / "logo.png").write_bytes(b"png")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "page.html").write_text("<html><body>child</body></html>", encoding="utf-8")
    page = tmp_path / "index.html"
    page.write_text(
        """<!DOCTYPE html><html><head>
<link rel="stylesheet" href="https://cdn.example.org/bootstrap/4.3.1/css/bootstrap.min.css"/>
<link rel='stylesheet' href='//cdn.example.org/x.css'>
<link rel=preload href=https://cdn.example.org/font.woff2>
<script src="https://code.example.org/jquery-3.7.1.min.js" integrity="sha384-x" crossorigin="anonymous"></script>
<script>var s = '<img src="https://example.org/a.png">';</script>
<style>@import url("https://fonts.example.org/css");
.a { background: url('https://x.example.org/b.png') no-repeat; }</style>
</head><body>
<a href="https://example.org">Example</a> <a href="sub/page.html">child</a>
<img src="https://assets.example.org/logo.png?d=1" alt="logo"> <img src="//x.example.org/other.png" alt="o">
<div style="background-image: url(http://x.example.org/c.png)">failed: 3 rows</div>
</body></html>
""",
        encoding="utf-8",
    )
    assert make_offline(tmp_path) == 11
    text = page.read_text(encoding="utf-8")
    assert not EXTERNAL.findall(text) and not CSS_EXTERNAL.findall(text)
    assert '<a>Example</a> <a href="sub/page.html">child</a>' in text
    assert '<img src="static/images/logo.png" alt="logo">' in text and '<img alt="o">' in text
    assert "failed: 3 rows" in text and "<script src" not in text
    assert text.count(f'id="{STYLE_ID}"') == 1 and "</html>" in text
    child = (tmp_path / "sub" / "page.html").read_text(encoding="utf-8")
    assert f'id="{STYLE_ID}"' in child
    assert make_offline(tmp_path) == 0
    assert page.read_text(encoding="utf-8") == text
    with pytest.raises(FileNotFoundError):
        make_offline(tmp_path / "missing")
