"""The embedded demo dataset's generator: deterministic synthetic music.

Every clip is rendered from musical structure — tempo, drum pattern, bass line,
chord progression in a random key, instrument timbres and mix — with plain
numpy synthesis (additive, subtractive, FM, plucked strings, noise drums), so a
CNN on log-mel spectrograms can learn the genres without any sample files.

The classes overlap on purpose: instruments are shared between genres (piano,
organ, plucked guitar, saw pads), tempo ranges overlap, and each clip gets a
random key, tempo, palette, mix, tone (spectral tilt), background noise,
reverb, loudness and tuning. No single global feature (loudness, spectral
centroid) separates the classes.

Clips are played by artists (:mod:`~mir.demo.artists`): clip ``i`` of a genre is by
artist ``i // CLIPS_PER_ARTIST``, who keeps its palette, tempo window, timing and
production (mix, EQ tilt, room, noise, loudness) across its songs; the artist is the
clip's group, and the demo's split keeps every artist on one side.

A clip depends only on ``(genre, clip seed, seconds, sample rate, artist)``, the clip
seed only on ``(seed, genre, index)`` (:func:`clip_seed`) and the artist only on
``(seed, genre, artist index)``, so adding a genre or more clips later leaves every
existing clip byte-identical.

:class:`Shift` describes "new music" that differs from the training data
(loudness, EQ, noise, sample rate; the codec is :func:`generate`'s ``fmt``),
applied by :func:`apply_shift`.

Modules, in the order a clip is made: :mod:`~mir.demo.seeds` (clip seeds), :mod:`~mir.demo.artists` (who plays it),
:mod:`~mir.demo.song` (timing, harmony, stems), :mod:`~mir.demo.instruments` and
:mod:`~mir.demo.drums` (sounds, on :mod:`~mir.demo.dsp`), :mod:`~mir.demo.arrange_base` and
:mod:`~mir.demo.arrange_extra` (one arranger per genre), :mod:`~mir.demo.render` (mix and
mastering), :mod:`~mir.demo.shift` (new music), :mod:`~mir.demo.writer` (files).

The genre names and :func:`clip_seed` import without numpy; the rest loads on first use.

Example
-------
>>> from mir import demo
>>> y = demo.render_clip("jazz", seed=1, seconds=2.0)
>>> y.dtype, y.shape
(dtype('float32'), (44100,))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mir.demo.genres import BASE_GENRES, EXTRA_GENRES, GENRES
from mir.demo.seeds import clip_seed

if TYPE_CHECKING:
    from mir.demo.render import GENERATOR_VERSION, render_clip
    from mir.demo.shift import Shift, apply_shift
    from mir.demo.writer import FORMATS, generate

__all__ = [
    "BASE_GENRES",
    "EXTRA_GENRES",
    "FORMATS",
    "GENERATOR_VERSION",
    "GENRES",
    "Shift",
    "apply_shift",
    "clip_seed",
    "generate",
    "render_clip",
]

#: the names that need numpy/scipy/soundfile, and their modules (imported on first access)
_LAZY = {
    "GENERATOR_VERSION": "mir.demo.render",
    "render_clip": "mir.demo.render",
    "Shift": "mir.demo.shift",
    "apply_shift": "mir.demo.shift",
    "FORMATS": "mir.demo.writer",
    "generate": "mir.demo.writer",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
