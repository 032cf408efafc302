"""The base of every parameter section and the one error for bad parameters (pydantic only: a leaf).

:mod:`mir.config` assembles the sections into :class:`~mir.config.Config`; each dataset module
defines its own section (``Params``), so config looks datasets up instead of importing their internals.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class ConfigError(ValueError):
    """A bad parameter: one line naming the key and the problem (the CLI exits 2)."""


class Section(BaseModel):
    """A params.yaml section: unknown keys are errors, values are frozen once loaded.

    Every float must be finite (``.inf``/``.nan`` are refused), and every path key — each field of a
    section with ``ALL_PATHS``, and any ``root``, ``*_dir`` or ``workspace`` — must not be empty or
    root-like (:func:`mir.io.root_like`: the project folder, the home folder, ``/``, or above them).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    ALL_PATHS: ClassVar[bool] = False  # every field is a path (``paths:``)

    @field_validator("*", mode="after")
    @classmethod
    def _not_root_like(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if isinstance(value, str) and (cls.ALL_PATHS or name == "root" or name.endswith("_dir")
                                       or name == "workspace"):
            from mir.io import root_like

            why = root_like(value)
            if why:
                raise ValueError(why)
        return value
