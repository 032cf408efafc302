"""Shared fixtures: tiny generated audio and a tiny, fast parameter set.

No test needs the network or ../shared: all audio is generated here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from mir.env import quiet

ROOT = Path(__file__).resolve().parents[1]

quiet()  # the telemetry switches (mir.env), before any tool is imported
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# absl's log handler (created when TensorFlow is first imported) keeps the sys.stderr of that moment, and its
# close() closes that stream unless it is the sys.stderr of then. Under pytest that is the capture file
# (conftest itself is imported while output is captured), and DVC's logging.config.dictConfig closes every
# handler: in a test with capsys (another sys.stderr) it closed pytest's capture file, and every later test in
# the process failed ("I/O operation on closed file"). Pointed at the real stderr, it never closes it.
import absl.logging  # noqa: E402

absl.logging.get_absl_handler().python_handler.stream = sys.__stderr__


def tone(seconds: float = 2.0, *, sr: int = 22050, freq: float = 440.0, amp: float = 0.3, channels: int = 1,
         seed: int = 0) -> np.ndarray:
    """A sine with a little noise, shape (n,) or (n, channels)."""
    t = np.arange(int(seconds * sr)) / sr
    y = amp * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    y = y.astype(np.float32)
    return y if channels == 1 else np.repeat(y[:, None], channels, axis=1)


def write_audio(path: Path, y: np.ndarray, sr: int = 22050) -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".mp3": "MP3", ".ogg": "OGG", ".wav": "WAV", ".flac": "FLAC"}[path.suffix]
    sub = {"OGG": "VORBIS", "WAV": "PCM_16", "FLAC": "PCM_16", "MP3": None}[fmt]
    sf.write(path, y, sr, format=fmt, subtype=sub)
    return path


TINY = {
    "seed": 7,
    "data": {"dataset": "synth", "genres": None, "valid_fraction": 0.2, "test_fraction": 0.25},
    "synth": {"genres": ["classical", "electronic", "rock"], "clips_per_genre": 8, "seconds": 4.0,
              "sample_rate": 22050, "format": "mp3"},
    "new_music": {"clips_per_genre": 3, "new_genres": [], "seed": 99, "format": "ogg",
                  "shift": {"gain_db": -6.0, "tilt_db_per_octave": -2.0, "snr_db": 20.0, "sample_rate": 16000}},
    "audio": {"min_duration_s": 1.0, "max_duration_s": 60.0, "max_channels": 2},
    "features": {"sample_rate": 22050, "n_fft": 1024, "hop_length": 512, "n_mels": 32, "clip_seconds": 4.0,
                 "workers": 2},
    "train": {"arch": "cnn", "chunk_frames": 32, "crops_per_clip": 2, "epochs": 2, "batch_size": 16, "patience": 2,
              "filters": [8, 16]},
    "monitor": {"drift_share": 0.5},
}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


@pytest.fixture
def tiny_params() -> dict:
    """The repo's params.yaml with tiny sizes (every key present, as DVC requires)."""
    return _merge(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY)


def project_folders(root: Path) -> None:
    """The folders a clone has that dvc.yaml names as dependencies (new_music.root, retrain.labelled_dir)."""
    for d in ("data/incoming", "data/labelled"):
        (root / d).mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / d / "README.md", root / d / "README.md")


def git_repo(root: Path) -> None:
    """``git init`` + ``dvc init`` in ``root`` with a committer identity for this process (what GTO's tags need),
    and a first commit of what is there (a clone's state)."""
    import sys

    for k, v in {"GIT_AUTHOR_NAME": "mir test", "GIT_AUTHOR_EMAIL": "test@example.org",
                 "GIT_COMMITTER_NAME": "mir test", "GIT_COMMITTER_EMAIL": "test@example.org"}.items():
        os.environ.setdefault(k, v)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True, capture_output=True)
    subprocess.run([str(Path(sys.executable).parent / "dvc"), "init", "-q"], cwd=root, check=True)
    for args in (["add", "-A"], ["commit", "-q", "-m", "project"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@contextlib.contextmanager
def tiny_pipeline(root: Path, **train):
    """A tiny project in ``root`` (dvc.yaml, the :data:`TINY` parameters with ``train`` overrides) run through
    every stage in this process; yields its config with the project as the working directory."""
    from mir import stages
    from mir.config import load_config

    project_folders(root)
    shutil.copy(ROOT / "dvc.yaml", root / "dvc.yaml")
    params = _merge(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY)
    params["train"].update(train)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("MIR_PARAMS", raising=False)
        cfg = load_config()
        for s in stages.STAGES:
            stages.run(s.name, cfg, progress=False)
        yield cfg


@pytest.fixture
def project(tmp_path, tiny_params, monkeypatch):
    """A throw-away mir project (dvc.yaml, params.yaml, mir sources) in tmp_path, as cwd."""
    project_folders(tmp_path)
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copytree(ROOT / "mir", tmp_path / "mir", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIR_PARAMS", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def harness():
    """A temporary Prefect API and database (Prefect's test harness), shared by one test module's flow runs."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
