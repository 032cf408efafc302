"""The misclassified-clips review page: playable, offline, and metadata shown as text."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from tests.conftest import tone, write_audio

EVIL = '<script>alert("owned")</script>'


def test_review_page_is_offline_and_shows_script_titles_as_text(tmp_path):
    import mutagen

    from mir.evaluation.review import write_review

    genres = ["jazz", "rock", EVIL]
    paths = {}
    for i, g in enumerate(("jazz", "rock", "jazz")):
        p = write_audio(tmp_path / "audio" / f"clip{i}.ogg", tone(3.0, freq=220.0 * (i + 1)))
        f = mutagen.File(p)
        f["title"] = f"{EVIL} no. {i}"
        f["artist"] = "Band & <b>Co</b>"
        f.save()
        paths[f"clip{i}"] = str(p)
    preds = pd.DataFrame({"clip_id": ["clip0", "clip1", "clip2"], "actual": ["jazz", "rock", "jazz"],
                          "predicted": ["rock", "rock", EVIL], "confidence": [0.7, 0.9, 0.6]})
    probs = np.array([[0.2, 0.7, 0.1], [0.05, 0.9, 0.05], [0.3, 0.1, 0.6]])
    metrics = {"track": {"accuracy": 1 / 3, "macro_f1": 0.3, "n": 3,
                         "per_class": {g: {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 1} for g in genres}},
               "segment": {"accuracy": 0.4, "macro_f1": 0.3, "n": 9,
                           "per_class": {g: {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 3}
                                         for g in genres}},
               "baseline": {"kind": f"svm {EVIL}", "accuracy": 0.5}}
    page = write_review(tmp_path / "eval", preds=preds, probs=probs, genres=genres, cm=np.eye(3, dtype=int),
                        metrics=metrics, paths=paths, extra_png={"PCA <i>": b"\x89PNG fake"})
    html = page.read_text()
    assert "<script>" not in html and "<b>Co" not in html
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; no. 0" in html  # the title, as text
    assert html.count("<audio") == 2  # both misclassified clips are playable …
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html)  # … from inline data, nothing external
    assert "@import" not in html and "url(http" not in html
    assert "top-3" in html and "rock 0.70" in html  # top-3 with confidences
    assert "Per genre (segment level)" in html and "PCA &lt;i&gt;" in html
    wrong = pd.read_csv(tmp_path / "eval/misclassified.csv")
    assert wrong["clip_id"].tolist() == ["clip0", "clip2"]
