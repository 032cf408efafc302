"""metrics/drift.json's schema (mir.records.drift): both shapes round-trip; a wrong value is a clear error."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from mir.records.drift import DriftRecord, HistoryError, HistoryRef, NoNewMusic, parse_drift

CALIBRATION = {"msp_median": 8.8e-05, "msp_iqr": 0.000604, "dist_median": 0.307588, "dist_iqr": 1.095309,
               "weight_dist": 1.0, "quantile": 0.95, "threshold": 0.938677, "n": 36, "split": "valid"}
NEW_GENRE = {"n_new_genre_flagged": 1, "new_genre_flagged_share": 0.3333, "new_genre_songs": ["polka/p1"],
             "unknown_genre_new_genre_share": 1.0, "known_genre_new_genre_share": 0.0, "new_genre_drift": False,
             "new_genre_excess_p": 0.143, "retrain_suggested": False, "new_genre_threshold": 1.612895,
             "new_genre_calibration": {**CALIBRATION, "threshold": 1.612895}}


def sample_record(**fields) -> dict:
    """A whole analysed-music verdict as metrics/drift.json holds it (``fields`` replace or add keys)."""
    out = {
        "new_music": "data/new", "n_clips": 3, "n_rejected": 1, "rejected": [{"path": "bad.mp3", "reason": "empty"}],
        "drift": True, "dataset_drift": False, "unknown_drift": True, "unknown_excess_p": 1.967e-05,
        "unknown_expected_share": 0.05, "share_drifted": 0.25, "n_drifted": 1, "n_columns": 4,
        "drifted_columns": ["rms_db"], "new_music_accuracy": 0.5, "new_music_macro_f1": None, "n_labelled_known": 2,
        "n_unlabelled": 0, "n_unknown_genre": 1, "unknown_genres": ["polka"],
        "predicted_share": {"jazz": 0.6667, "rock": 0.3333}, "n_unknown_flagged": 1, "unknown_flagged_share": 0.3333,
        "unknown_songs": ["polka/p1"],
        "unknown_detail": [{"song_id": "polka/p1", "label": "polka", "predicted": "jazz", "nearest_genre": "jazz",
                            "ood_score": 1.7387}],
        "unknown_genre_flagged_share": 1.0, "n_new_source_flagged": 1, "new_source_flagged_share": 0.3333,
        **NEW_GENRE, "ood_threshold": 0.938677, "ood_quantile": 0.95, "ood_calibration": CALIBRATION,
        "n_reference": 156, "embedding_pcs": 3,
    }
    return {**out, **fields}


def test_an_analysed_verdict_round_trips_key_for_key_through_json():
    data = sample_record(history={"workspace": "evidently", "project_id": "p", "snapshot_id": "s",
                                  "model_version": "v2", "timestamp": "2026-12-01T11:42:43"})
    rec = parse_drift(json.loads(json.dumps(data)))
    assert isinstance(rec, DriftRecord) and isinstance(rec.history, HistoryRef)
    assert rec.unknown_detail[0].nearest_genre == "jazz" and rec.new_genre_calibration.threshold == 1.612895
    assert rec.to_json() == data
    assert json.dumps(rec.to_json(), sort_keys=True) == json.dumps(data, sort_keys=True)


def test_optional_blocks_stay_absent_and_history_is_set_once_recorded():
    data = {k: v for k, v in sample_record().items() if k not in NEW_GENRE}
    rec = DriftRecord(**data)
    assert rec.to_json() == data  # no new-genre keys, no history: as written today without them
    rec.history = {"error": "disk full"}
    assert isinstance(rec.history, HistoryError) and rec.to_json() == {**data, "history": {"error": "disk full"}}
    assert rec.to_json()["new_music_macro_f1"] is None  # an explicit None stays


def test_the_no_new_music_shape():
    data = {"configured": False, "message": "no new music is configured", "drift": None, "n_clips": 0}
    rec = parse_drift(data)
    assert isinstance(rec, NoNewMusic) and rec.to_json() == data
    with pytest.raises(ValidationError, match="n_clips"):
        parse_drift({**data, "n_clips": 3})


@pytest.mark.parametrize(("key", "value"), [("n_clips", "3"), ("drift", "yes"), ("predicted_share", {"jazz": "x"}),
                                            ("ood_calibration", {**CALIBRATION, "n": 1.5})])
def test_a_wrong_type_names_the_field(key, value):
    with pytest.raises(ValidationError, match=key):
        parse_drift(sample_record(**{key: value}))


def test_a_missing_or_unknown_key_is_an_error():
    data = sample_record()
    del data["n_columns"]
    with pytest.raises(ValidationError, match="n_columns"):
        DriftRecord.model_validate(data)
    with pytest.raises(ValidationError, match="n_drfited"):
        DriftRecord.model_validate(sample_record(n_drfited=1))


def test_the_history_summary_reads_fields_of_the_record():
    from mir.monitoring.history import SUMMARY, summary_of

    assert {key for _, key, _ in SUMMARY} <= set(DriftRecord.model_fields)
    s = summary_of(sample_record(), genres=["jazz", "rock", "polka"], version="v3")
    assert s["mir_share_drifted"] == 0.25 and s["mir_drift"] == 1.0 and "mir_macro_f1" not in s
    assert s["mir_pred_share_polka"] == 0.0 and s["mir_model_version"] == 3.0
    with pytest.raises(ValidationError):
        summary_of({"share_drifted": 0.5}, genres=[], version="v1")
