"""The documentation site (issue 24 item 2): it builds with no warning, its references are complete.

The configuration reference is generated from ``mir.config.Config`` and ``params.yaml``'s comments
(``docs/_ext/mirdocs.py``); these tests check it holds exactly params.yaml's keys, each with a meaning,
and that the built site (``sphinx -W``: a warning, e.g. a broken reference, fails) lists every key and
every command.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import mirdocs  # noqa: E402


def test_config_reference_holds_exactly_the_keys_of_params_yaml():
    ref = {key for key, *_ in mirdocs.config_rows()}
    params = mirdocs.params_yaml_keys()
    assert sorted(params - ref) == [], "keys in params.yaml missing from the reference"
    assert sorted(ref - params) == [], "keys in the reference missing from params.yaml"
    assert [key for key, _, _, meaning in mirdocs.config_rows() if not meaning] == [], "keys without a meaning"


def test_fixed_paths_are_documented_and_not_parameters():
    from mir.config import Paths

    fixed = {key for key, _, _, meaning in mirdocs.config_rows(fixed=True) if meaning}
    assert fixed == {f"paths.{name}" for name in Paths.model_fields}
    assert not fixed & mirdocs.params_yaml_keys()


def test_a_key_without_a_comment_has_no_meaning(tmp_path, monkeypatch):
    """The meanings really come from params.yaml's comments (the check above can fail)."""
    text = (ROOT / "params.yaml").read_text()
    stripped = re.sub(r"^(  n_mels: 96)\s+#.*$", r"\1", text, flags=re.M)
    assert stripped != text
    (tmp_path / "params.yaml").write_text(stripped)
    monkeypatch.setattr(mirdocs, "PARAMS", tmp_path / "params.yaml")
    monkeypatch.setattr(mirdocs.params_yaml_comments, "__defaults__", (tmp_path / "params.yaml",))
    rows = {key: meaning for key, _, _, meaning in mirdocs.config_rows()}
    assert rows["features.n_mels"] == ""
    assert rows["features.n_fft"] == "STFT window (samples)"


def test_readme_is_short_and_points_into_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    assert "make demo" in readme.split("---")[0] and "make test" in readme.split("---")[0]
    pages = [t for t in re.findall(r"\]\((docs/[^)#]+)\)", readme) if not t.endswith(".png")]
    assert len(pages) >= 15
    for target in pages:
        assert (ROOT / target).exists(), target


def _commands(parser: argparse.ArgumentParser, name: str = "mir") -> list[str]:
    out = [name]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                out += _commands(p, f"{name} {sub}")
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if importlib.util.find_spec("sphinx") is None:
        if os.environ.get("CI"):
            pytest.fail("sphinx is not installed (make test installs the `docs` extra)")
        pytest.skip("sphinx is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                        "-d", str(out / ".doctrees"), str(ROOT / "docs"), str(out / "html")],
                       capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert r.returncode == 0, f"sphinx -W failed:\n{r.stderr[-4000:]}"
    assert "WARNING" not in r.stderr and "ERROR" not in r.stderr, r.stderr[-4000:]
    return out / "html"


def test_docs_build_with_no_warning_and_list_every_key_and_command(site):
    from mir.cli import _parser

    config = (site / "reference" / "config.html").read_text()
    for key, *_ in mirdocs.config_rows() + mirdocs.config_rows(fixed=True):
        assert f">{key}<" in config, key
    cli = re.sub(r"<[^>]+>", "", (site / "reference" / "cli.html").read_text())
    for command in _commands(_parser()):
        assert f"\n{command}¶" in cli, command  # a heading per command
    api = (site / "reference" / "api" / "core.html").read_text()
    assert 'id="mir.config.load_config"' in api
    for page in ("getting-started", "tutorials/gtzan", "tutorials/fma", "guide/datasets", "benchmarks"):
        assert (site / f"{page}.html").is_file(), page
