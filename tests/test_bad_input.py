"""Every kind of bad input is named in a rejection table with its reason; the run goes on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import tone, write_audio
from mir.config import parse_config


def _bad_files(d):
    """(file, expected reason fragment, stage) for each bad-input case, plus good clips."""
    import soundfile as sf

    d.mkdir(parents=True, exist_ok=True)
    cases = []
    full = write_audio(d / "full.mp3", tone(8.0, freq=300))
    trunc = d / "truncated.mp3"
    trunc.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    cases.append((trunc, "truncated", "featurize"))
    corrupt = d / "corrupt.mp3"
    corrupt.write_bytes(full.read_bytes()[:300])
    cases.append((corrupt, "unreadable", "ingest"))
    zero = d / "zero.mp3"
    zero.write_bytes(b"")
    cases.append((zero, "empty file", "ingest"))
    text = d / "notes.mp3"
    text.write_text("these are my liner notes, not audio\n" * 50)
    cases.append((text, "unreadable", "ingest"))
    cases.append((write_audio(d / "silence.wav", np.zeros(22050 * 6, dtype=np.float32)), "silent", "featurize"))
    cases.append((write_audio(d / "one_second.wav", tone(1.0)), "too short", "ingest"))
    cases.append((write_audio(d / "lofi.wav", tone(6.0, sr=8000, freq=300), sr=8000), "sample rate 8000", "ingest"))
    cases.append((write_audio(d / "hires.wav", tone(6.0, sr=96000, freq=300), sr=96000), "sample rate 96000",
                  "ingest"))
    cases.append((write_audio(d / "surround.wav", tone(6.0, channels=6)), "6 channels", "ingest"))
    y = tone(6.0)
    y[5000:5100] = np.nan
    y[9000] = np.inf
    nan = d / "nan.wav"
    sf.write(nan, y, 22050, subtype="FLOAT")
    cases.append((nan, "non-finite", "featurize"))
    good = [write_audio(d / f"good{i}.wav", tone(6.0, freq=200 + 50 * i, seed=i)) for i in range(12)]
    return cases, good


@pytest.mark.parametrize("engine_workers", [1, 2])
def test_every_bad_input_is_rejected_with_its_reason(project, tiny_params, engine_workers):
    from mir import stages
    from mir.config import load_config

    cases, good = _bad_files(project / "music")
    before = {p: p.read_bytes() for p, *_ in cases} | {p: p.read_bytes() for p in good}
    clips = pd.DataFrame(
        [{"clip_id": p.stem, "path": str(p), "genre": "a" if i % 2 else "b"} for i, (p, *_) in enumerate(cases)]
        + [{"clip_id": p.stem, "path": str(p), "genre": "a" if i % 2 else "b"} for i, p in enumerate(good)])
    clips["split"], clips["group"], clips["source"] = None, None, None
    (project / "data/raw").mkdir(parents=True)
    clips.to_csv(project / "data/raw/clips.csv", index=False)
    import yaml

    tiny_params["data"].update({"genres": ["a", "b"], "max_reject_fraction": 1.0})
    tiny_params["audio"].update({"min_duration_s": 5.0, "min_sample_rate": 16000, "max_sample_rate": 48000})
    tiny_params["features"].update({"clip_seconds": 6.0, "workers": engine_workers})
    tiny_params["data"]["dataset"] = "folder"
    tiny_params["folder"]["root"] = str(project / "music")
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params))
    cfg = load_config()
    stages.run("ingest", cfg, progress=False)
    stages.run("featurize", cfg, progress=False)

    from mir.io import read_table

    rej = pd.concat([read_table(project / "data/rejected.csv"), read_table(project / "data/features/rejected.csv")])
    reasons = dict(zip(rej["clip_id"], zip(rej["stage"], rej["reason"])))
    for path, fragment, stage in cases:
        assert path.stem in reasons, f"{path.name} was not rejected"
        got_stage, reason = reasons[path.stem]
        assert fragment in reason and got_stage == stage, (path.name, got_stage, reason)
    index = read_table(project / "data/features/index.csv")
    assert sorted(index["clip_id"]) == sorted(p.stem for p in good)  # everything good went through
    assert {p: p.read_bytes() for p, *_ in cases} | {p: p.read_bytes() for p in good} == before  # untouched


def test_too_many_rejects_fail_the_stage_but_still_write_the_table(project, tiny_params):
    import yaml

    from mir import stages
    from mir.config import load_config

    cases, good = _bad_files(project / "music")
    rows = [{"clip_id": p.stem, "path": str(p), "genre": "a" if i % 2 else "b", "split": None, "group": None,
             "source": None} for i, p in enumerate([c[0] for c in cases] + good[:4])]
    (project / "data/raw").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(project / "data/raw/clips.csv", index=False)
    tiny_params["data"].update({"genres": ["a", "b"], "max_reject_fraction": 0.2, "dataset": "folder"})
    tiny_params["folder"]["root"] = str(project / "music")
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params))
    with pytest.raises(ValueError, match=r"clips rejected .* > data.max_reject_fraction 20%"):
        stages.run("ingest", load_config(), progress=False)
    assert len(pd.read_csv(project / "data/rejected.csv")) == 6  # 1-s minimum duration here
    assert not (project / "data/manifest.csv").exists()


def test_audio_policy_bounds_are_validated():
    from mir.config import ConfigError

    with pytest.raises(ConfigError, match="min_sample_rate"):
        parse_config({"audio": {"min_sample_rate": 48000, "max_sample_rate": 16000}})
