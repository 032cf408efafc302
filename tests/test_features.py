import numpy as np
import pytest

from conftest import tone, write_audio
from mir.config import FeatureParams


def test_logmel_matches_librosa():
    import librosa

    from mir.features.logmel import logmel

    y = tone(1.5, freq=330.0)
    ours = logmel(y, sr=22050, n_fft=1024, hop_length=256, n_mels=40)
    ref = librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=22050, n_fft=1024, hop_length=256, n_mels=40),
        ref=1.0, amin=1e-10, top_db=None)
    assert ours.shape == ref.shape
    assert np.max(np.abs(ours - ref)) < 1e-3


def test_summary_stats_respond_to_loudness_and_brightness():
    from mir.features.logmel import logmel, summary_stats

    def stats(y):
        return summary_stats(y, logmel(y, sr=22050, n_mels=64), sr=22050, hop_length=512)

    low, high = stats(tone(2.0, freq=200.0)), stats(tone(2.0, freq=4000.0))
    quiet = stats(tone(2.0, freq=200.0, amp=0.03))
    assert high["centroid_mel"] > low["centroid_mel"]
    assert low["rms_db"] - quiet["rms_db"] == pytest.approx(20.0, abs=1.0)


@pytest.mark.parametrize("ext", [".wav", ".mp3", ".ogg", ".flac"])
def test_featurize_file_any_format_rate_and_channels(tmp_path, ext):
    from mir.features.extract import clip_frames, featurize_file

    fp = FeatureParams(n_mels=32, n_fft=1024, clip_seconds=3.0)
    p = write_audio(tmp_path / f"a{ext}", tone(2.0, sr=16000, channels=2), sr=16000)
    S, stats = featurize_file(p, fp=fp)
    assert S.shape == (32, clip_frames(fp))  # padded to clip_seconds
    assert np.isfinite(S).all() and stats["rms_db"] > -30


def test_silent_and_corrupt_files_raise_audio_error(tmp_path):
    from mir.audio import AudioError
    from mir.features.extract import featurize_file

    fp = FeatureParams(n_mels=32, clip_seconds=2.0)
    silent = write_audio(tmp_path / "s.wav", np.zeros(22050, dtype=np.float32))
    with pytest.raises(AudioError, match="silent"):
        featurize_file(silent, fp=fp)
    junk = tmp_path / "junk.mp3"
    junk.write_text("this is not audio")
    with pytest.raises(AudioError, match="unreadable"):
        featurize_file(junk, fp=fp)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError):
        featurize_file(empty, fp=fp)


def test_parallel_equals_serial_and_keeps_order(tmp_path):
    from mir.features.extract import iter_features

    paths = [str(write_audio(tmp_path / f"{i}.wav", tone(1.0, freq=200.0 + 150 * i, seed=i))) for i in range(6)]
    junk = tmp_path / "bad.wav"
    junk.write_bytes(b"RIFF....nope")
    paths.insert(3, str(junk))
    fp = FeatureParams(n_mels=32, clip_seconds=1.0)
    serial = list(iter_features(paths, fp=fp, workers=1))
    parallel = list(iter_features(paths, fp=fp, workers=2))
    assert [e is None for _, _, e in serial] == [True, True, True, False, True, True, True]
    for (a, sa, ea), (b, sb, eb) in zip(serial, parallel):
        assert ea == eb
        if a is not None:
            np.testing.assert_array_equal(a, b)
            assert sa == sb
