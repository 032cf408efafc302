import numpy as np
import pandas as pd

from mir.config import FeatureParams
from mir.evaluation.baseline import evaluate_baseline, mfcc_stats, valid_frames


class _Store:
    def __init__(self, X, index):
        self.logmel, self.index = X, index


def test_baseline_separates_distinct_spectra_and_ignores_padding():
    rng = np.random.default_rng(0)
    n, n_mels, T = 40, 32, 60
    X = np.full((n, n_mels, T), -100.0, dtype=np.float16)  # padding floor
    genres = ["low", "high"]
    rows = []
    for i in range(n):
        g = i % 2
        spec = np.linspace(-10, -60, n_mels) if g == 0 else np.linspace(-60, -10, n_mels)
        X[i, :, :40] = spec[:, None] + rng.normal(0, 3, (n_mels, 40))  # 40 real frames, then padding
        rows.append({"row": i, "clip_id": f"c{i}", "genre": genres[g],
                     "split": "test" if i >= 30 else ("valid" if i >= 26 else "train")})
    index = pd.DataFrame(rows)
    fp = FeatureParams(n_mels=n_mels, hop_length=512, sample_rate=22050, clip_seconds=2.0)
    manifest = pd.DataFrame({"clip_id": index["clip_id"], "duration_s": 39 * 512 / 22050})
    m = evaluate_baseline(_Store(X, index), manifest, ["high", "low"], fp=fp, kind="svm")
    assert m["accuracy"] == 1.0 and m["n"] == 10

    vf = valid_frames([39 * 512 / 22050], sample_rate=22050, hop_length=512, n_frames=T)
    assert vf.tolist() == [40]
    with_pad = mfcc_stats(X, [0], [T])[0]
    without = mfcc_stats(X, [0], vf)[0]
    assert not np.allclose(with_pad, without)  # the padding would distort the statistics
