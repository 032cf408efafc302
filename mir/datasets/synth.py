"""The embedded demo dataset (``dataset: synth``): the generator is :mod:`mir.demo`.

This module re-exports its public API, so ``from mir.datasets.synth import GENRES, generate, Shift,
apply_shift, clip_seed`` keeps working. The genre names and :func:`clip_seed` import without numpy;
the rest loads from :mod:`mir.demo` on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mir import demo as _demo
from mir.demo import BASE_GENRES, EXTRA_GENRES, GENRES, clip_seed

if TYPE_CHECKING:
    from mir.demo import FORMATS, GENERATOR_VERSION, Shift, apply_shift, generate, render_clip

__all__ = list(_demo.__all__)


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(_demo, name)
