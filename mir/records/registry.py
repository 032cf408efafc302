"""One entry of the model registry (``registry.path``, default ``registry/models.json``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mir.records.evaluation import Scores

#: The registry file's format version.
SCHEMA = 1
Status = Literal["champion", "challenger", "rejected", "retired"]
STATUSES: tuple[str, ...] = ("champion", "challenger", "rejected", "retired")


class Comparison(BaseModel):
    """Challenger against champion on the champion's genres (the retrain flow's decision basis)."""

    model_config = ConfigDict(extra="forbid")

    genres: list[str]
    n: int | None = None
    basis: str
    champion: Scores | None = None
    challenger: Scores


class RegistryEntry(BaseModel):
    """A registered model version: its metrics, its provenance and the decision taken on it."""

    model_config = ConfigDict(extra="forbid")

    version: str
    created: str
    status: Status
    genres: list[str] = Field(min_length=1)
    metrics: Scores
    params: dict[str, Any]
    params_hash: str
    data_hash: dict[str, str] = {}
    models_hash: str | None = None
    model_md5: str
    git_commit: str | None = None
    reason: str = ""
    # set by the retrain flow
    run_id: str | None = None
    new_genres: list[str] | None = None
    comparison: Comparison | None = None
    compared_with: str | None = None
    new_music_run: dict[str, Any] | None = None
    # set by status changes
    promoted: str | None = None
    retired: str | None = None

    def dump(self) -> dict[str, Any]:
        """The JSON form: unset optional fields are left out (entries stay short and diffs readable)."""
        return self.model_dump(mode="json", exclude_unset=True)


class RegistryFile(BaseModel):
    """The registry file: ``{"schema": 1, "versions": [entry, …]}``, oldest first."""

    model_config = ConfigDict(extra="forbid")

    schema_: int = Field(default=SCHEMA, alias="schema")
    versions: list[RegistryEntry] = []
