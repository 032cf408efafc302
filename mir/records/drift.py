"""``metrics/drift.json``: the monitor stage's verdict on a folder of new music, one schema.

Two shapes, told apart by ``configured``:

- :class:`DriftRecord`: new music was analysed (no ``configured`` key): Evidently's feature-drift
  verdict, the songs flagged unknown (``new_source``) and ``new_genre``, accuracy on labelled new
  music, the OOD calibrations and, once the run is in the Evidently workspace, ``history``;
- :class:`NoNewMusic`: ``configured: false``, with the ``message`` saying why and how to add music.

The monitor writes through these models (``DriftRecord(...).to_json()``, then ``mir.io.write_json``);
:func:`parse_drift` reads either shape back. ``to_json`` keeps exactly the fields that were given, so
the new-genre block (absent for a model without a novelty calibration) and ``history`` (absent until
the run is recorded) round-trip as they were written.

A leaf module: pydantic and the standard library only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter

__all__ = ["DriftRecord", "HistoryError", "HistoryRef", "NoNewMusic", "Rejected", "ScoreCalibration",
           "SplitCalibration", "UnknownSong", "parse_drift"]


class _Record(BaseModel):
    """Strict (no silent coercion: ``"3"`` is not an int), closed (an unknown key is an error), and an
    assignment is validated like the constructor's arguments."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready dict: the fields that were given, nothing added."""
        return self.model_dump(mode="json", exclude_unset=True)


class Rejected(_Record):
    """A new-music file that could not be analysed."""

    path: str
    reason: str


class UnknownSong(_Record):
    """A song flagged unknown (``new_source``), with the genre it is nearest to."""

    song_id: str
    label: str
    predicted: str
    nearest_genre: str
    ood_score: float


class ScoreCalibration(_Record):
    """A novelty score's robust scales and threshold on the calibration clips.

    ``mir.monitoring.ood.Calibration`` (what ``ood.calibrate`` learns) is this model.
    """

    msp_median: float
    msp_iqr: float
    dist_median: float
    dist_iqr: float
    weight_dist: float
    quantile: float
    threshold: float
    n: int


class SplitCalibration(ScoreCalibration):
    """A :class:`ScoreCalibration` as the verdict holds it: rounded to 6 digits, with the split it was learned on."""

    split: str


class HistoryRef(_Record):
    """Where the run went in the Evidently workspace (``mir.monitoring.history.record``)."""

    workspace: str
    project_id: str
    snapshot_id: str
    model_version: str
    timestamp: str
    #: damaged workspace files this run moved aside (``<workspace>/quarantine/…``); absent when none
    quarantined: list[str] | None = None


class HistoryError(_Record):
    """The run could not be added to the workspace (the reports are written all the same)."""

    error: str


class DriftRecord(_Record):
    """The verdict on analysed new music (see the module docstring).

    The ``new_genre`` fields are given together, or not at all (a model without a novelty calibration).
    """

    new_music: str
    n_clips: int
    n_rejected: int
    rejected: list[Rejected]
    drift: bool
    dataset_drift: bool
    unknown_drift: bool
    unknown_excess_p: float
    unknown_expected_share: float
    share_drifted: float
    n_drifted: int
    n_columns: int
    drifted_columns: list[str]
    new_music_accuracy: float | None
    new_music_macro_f1: float | None
    n_labelled_known: int
    n_unlabelled: int
    n_unknown_genre: int
    unknown_genres: list[str]
    predicted_share: dict[str, float]
    n_unknown_flagged: int
    unknown_flagged_share: float
    unknown_songs: list[str]
    unknown_detail: list[UnknownSong]
    unknown_genre_flagged_share: float | None
    n_new_source_flagged: int
    new_source_flagged_share: float
    # the new-genre block (the retrain signal)
    n_new_genre_flagged: int | None = None
    new_genre_flagged_share: float | None = None
    new_genre_songs: list[str] | None = None
    unknown_genre_new_genre_share: float | None = None
    known_genre_new_genre_share: float | None = None
    new_genre_drift: bool | None = None
    new_genre_excess_p: float | None = None
    retrain_suggested: bool | None = None
    new_genre_threshold: float | None = None
    new_genre_calibration: SplitCalibration | None = None
    # the unknown (new-source) calibration and the reference
    ood_threshold: float
    ood_quantile: float
    ood_calibration: SplitCalibration
    n_reference: int
    embedding_pcs: int
    # the two novelty scores in words, as computed (mir.monitoring.reference.novelty_methods)
    new_source_method: str | None = None
    new_genre_method: str | None = None
    history: HistoryRef | HistoryError | None = None


class NoNewMusic(_Record):
    """No new music is configured (or its folder holds no audio yet): ``message`` says why."""

    configured: Literal[False]
    message: str
    drift: None
    n_clips: Literal[0]


def _shape(data: Any) -> str:
    configured = data.get("configured", True) if isinstance(data, dict) else getattr(data, "configured", True)
    return "none" if configured is False else "analysed"


_ADAPTER: TypeAdapter = TypeAdapter(Annotated[Union[Annotated[DriftRecord, Tag("analysed")],
                                                    Annotated[NoNewMusic, Tag("none")]], Discriminator(_shape)])


def parse_drift(data: Any) -> DriftRecord | NoNewMusic:
    """Either shape of ``metrics/drift.json`` (as read by ``mir.io.read_json``) as its model.

    Raises
    ------
    pydantic.ValidationError
        A missing or unknown key, or a value of the wrong type (the message names the field).
    """
    return _ADAPTER.validate_python(data)
