"""A registered model version's metadata: ``registry/genre-classifier/<version>.json`` (git-tracked).

The version itself, its champion stage and its deprecation are GTO's git tags (:mod:`mir.registry`); this file
holds what mir adds: the decision and its reason, the comparison on the old genres, the metrics per genre, the
params and their hash, the DVC hashes of the data and the model. It is committed in the very commit the
version's tag points to, so ``git show genre-classifier@v2.0.0:registry/genre-classifier/v2.0.0.json`` reads it
without mir.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mir.records.evaluation import Scores

#: The metadata file's format version.
SCHEMA = 2
Decision = Literal["promoted", "rejected", "registered"]
#: What ``mir registry show`` reports per version (derived from GTO's tags, not stored).
STATUSES: tuple[str, ...] = ("champion", "retired", "rejected", "registered", "interrupted")


class Comparison(BaseModel):
    """Challenger against champion on the champion's genres (the retrain flow's decision basis)."""

    model_config = ConfigDict(extra="forbid")

    genres: list[str]
    n: int | None = None
    basis: str
    champion: Scores | None = None
    challenger: Scores


class VersionRecord(BaseModel):
    """One registered model version: its metrics, its provenance and the decision taken on it."""

    model_config = ConfigDict(extra="forbid")

    schema_: int = Field(default=SCHEMA, alias="schema")
    artifact: str
    version: str
    created: str
    decision: Decision
    reason: str = ""
    genres: list[str] = Field(min_length=1)
    metrics: Scores
    params: dict[str, Any]
    params_hash: str
    data_hash: dict[str, str] = {}
    models_hash: str | None = None
    model_md5: str
    trained_from: str | None = None  # the commit HEAD was on when the model was registered
    # set by the retrain flow
    run_id: str | None = None
    run_page: str | None = None
    new_genres: list[str] | None = None
    comparison: Comparison | None = None
    compared_with: str | None = None
    new_music_run: dict[str, Any] | None = None
    # set by `mir registry migrate`
    migrated: dict[str, Any] | None = None

    def dump(self) -> dict[str, Any]:
        """The JSON form: unset optional fields are left out (files stay short and diffs readable)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True) | {"schema": self.schema_}
