"""``metrics/eval.json``: the evaluate stage's record of a model on the test clips."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassScores(_Record):
    """One genre's scores."""

    precision: float = Field(ge=0, le=1)
    recall: float = Field(ge=0, le=1)
    f1: float = Field(ge=0, le=1)
    support: int = Field(ge=0)


class Scores(_Record):
    """Accuracy, macro-F1 and per-genre scores of one set of predictions (:func:`classification_metrics`)."""

    accuracy: float = Field(ge=0, le=1)
    macro_f1: float = Field(ge=0, le=1)
    n: int = Field(ge=0)
    per_class: dict[str, ClassScores] = {}


class BaselineScores(_Record):
    """The MFCC-statistics baseline on the same test clips (``skipped`` says why when it could not run)."""

    kind: str
    accuracy: float | None = Field(default=None, ge=0, le=1)
    macro_f1: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=0)
    skipped: str | None = None


class EvalRecord(_Record):
    """``metrics/eval.json``. ``track`` is per clip (the headline), ``segment`` per chunk."""

    arch: str | None = None
    track: Scores
    segment: Scores
    accuracy: float = Field(ge=0, le=1)          # track accuracy, rounded: what `dvc metrics` shows
    macro_f1: float = Field(ge=0, le=1)
    segment_accuracy: float = Field(ge=0, le=1)
    baseline: BaselineScores | None = None

    @classmethod
    def from_scores(cls, *, arch: str | None, track: dict, segment: dict,
                    baseline: dict | None = None) -> "EvalRecord":
        """The record of ``track`` and ``segment`` scores (dicts of :func:`classification_metrics`)."""
        return cls(arch=arch, track=track, segment=segment, accuracy=round(track["accuracy"], 4),
                   macro_f1=round(track["macro_f1"], 4), segment_accuracy=round(segment["accuracy"], 4),
                   baseline=baseline)

    def dump(self) -> dict:
        """The JSON form (no ``baseline`` key when there is none, as the stage has always written)."""
        out = self.model_dump(mode="json", exclude={"baseline"})
        if self.baseline is not None:
            out["baseline"] = self.baseline.model_dump(mode="json", exclude_none=True)
        return out
