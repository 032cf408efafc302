"""The base of every parameter section and the one error for bad parameters (pydantic only: a leaf).

:mod:`mir.config` assembles the sections into :class:`~mir.config.Config`; each dataset module
defines its own section (``Params``), so config looks datasets up instead of importing their internals.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigError(ValueError):
    """A bad parameter: one line naming the key and the problem (the CLI exits 2)."""


class Section(BaseModel):
    """A params.yaml section: unknown keys are errors, values are frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)
