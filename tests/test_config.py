import subprocess
import sys

import pytest
import yaml

from mir.config import Config, ConfigError, load_config, parse_config


def test_defaults_and_repo_params_are_valid():
    from conftest import ROOT

    cfg = load_config(ROOT / "params.yaml")
    assert isinstance(cfg, Config)
    assert cfg.genres == sorted(cfg.synth.genres)
    assert cfg.features.n_mels == 96 and cfg.train.arch == "musicnn"  # the default model's pretrained input


@pytest.mark.parametrize(
    "raw, key, allowed",
    [
        ({"features": {"n_mels": 0}}, "features.n_mels", "greater than 0"),
        ({"data": {"dataset": "nosuch"}}, "data.dataset", "'synth'"),
        ({"data": {"genres": ["polka", "rock"]}}, "data.genres", "allowed: classical, electronic, jazz, rock"),
        ({"synth": {"genres": ["rock", "polka"]}}, "synth.genres", "allowed: classical"),
        ({"train": {"epochs": "many"}}, "train.epochs", "integer"),
        ({"features": {"hop_length": 4096, "n_fft": 2048}}, "features", "hop_length"),
        ({"data": {"valid_fraction": 0.5, "test_fraction": 0.5}}, "data", "< 1"),
        ({"surprise": 1}, "surprise", "unknown key"),
    ],
)
def test_bad_value_is_one_line_naming_key(raw, key, allowed):
    with pytest.raises(ConfigError) as ei:
        parse_config(raw)
    msg = str(ei.value)
    assert "\n" not in msg
    assert key in msg and allowed in msg


def test_genre_subset_and_label_order():
    cfg = parse_config({"data": {"genres": ["rock", "classical"]}})
    assert cfg.genres == ["classical", "rock"]


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such parameter file"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("features: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_cli_rejects_bad_params_before_any_work(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"features": {"n_mels": 0}}))
    r = subprocess.run([sys.executable, "-m", "mir.cli", "ingest"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "features.n_mels" in lines[0]
    assert not (tmp_path / "data").exists()  # nothing was started
