"""One call, one table: everything the stages read about a set of clips, from one pass through the bodies.

:func:`clip_table` runs clips through the model's engine once (each clip's body outputs come from the
per-clip cache when they are there) and returns a :class:`ClipTable`: per clip the genre log-probabilities,
the ``embedding``, each convolutional layer's channel statistics, and the 50 tag probabilities of every
pretrained tagger asked for. A tagger that is one of the model's own bodies is read from the same body
entries as the genre head (its slice of the pooled features); another tagger runs through its own engine and
cache (the taggers do not depend on the trained head, so a retrained head reuses them).

Monitoring computes from these tables only (:mod:`mir.monitoring.reference`, :mod:`mir.monitoring.monitor`):
one call per clip set — the reference, the calibration clips, each batch of new songs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from mir.config import Config
    from mir.model.bundle import ModelBundle

__all__ = ["ClipTable", "clip_table"]


@dataclass(frozen=True)
class ClipTable:
    """Per clip (rows in the order asked): what the model and the taggers say about it."""

    logp: np.ndarray  # (n, genres): the mean over the clip's chunks of the genre log-probabilities
    embedding: np.ndarray  # (n, d): the mean of the ``embedding`` layer over the clip's chunks
    layer_stats: dict[str, np.ndarray]  # {layer: (n, 2c)}: channel means ‖ standard deviations
    tags: dict[str, np.ndarray] = field(default_factory=dict)  # {tagger body: (n, 50)}: tag probabilities

    def __len__(self) -> int:
        return len(self.logp)

    @property
    def probs(self) -> np.ndarray:
        """The genre probabilities, ``(n, genres)``."""
        from mir.model.inference import softmax_rows

        return softmax_rows(self.logp)

    def tag_matrix(self) -> np.ndarray | None:
        """Every tagger's tag probabilities side by side (in the order asked), or ``None`` without a tagger."""
        return np.concatenate(list(self.tags.values()), axis=1) if self.tags else None

    def layers(self, names) -> dict[str, np.ndarray]:
        """The statistics of the layers ``names`` (in that order)."""
        return {n: self.layer_stats[n] for n in names}


@functools.cache
def tagger_model(body: str):
    """Body ``body`` alone, frozen, as a model an engine can run (its head is never used)."""
    from mir.model.architectures import pretrained_model

    return pretrained_model(bodies=[body], n_classes=2)


def _tags_of(body: str, cols: slice):
    """A per-clip function of a body entry: body ``body``'s tag probabilities (sigmoid of the clip's mean
    tag logits, :func:`mir.model.pretrained.tag_logits`) from its slice ``cols`` of the pooled features."""
    from mir.model.pretrained import body_weights, tag_logits

    w = body_weights(body)
    return lambda entry: 1.0 / (1.0 + np.exp(-tag_logits(body, entry["features"][:, cols], w).mean(axis=0)))


def clip_table(cfg: "Config", bundle: "ModelBundle", X, rows, *, taggers=(), desc: str = "embed",
               progress: bool = False) -> ClipTable:
    """Clips ``rows`` of ``X`` through the model (and the ``taggers``), one body pass each.

    Parameters
    ----------
    cfg : Config
        Validated parameters (``inference.*``: runtime, cache).
    bundle : ModelBundle
        The trained model.
    X : array (clips, n_mels, frames)
        Log-mel spectrograms in dB (a memory map is fine).
    rows : sequence of int
        Which clips.
    taggers : sequence of str
        Pretrained bodies whose tag probabilities the table holds (``monitor.tag_bodies``).

    Returns
    -------
    ClipTable
    """
    from mir.model.inference import Engine
    from mir.model.pretrained import feature_slices

    own = bundle.tag_bodies
    slices = feature_slices(own) if own else {}
    mine = {b: _tags_of(b, slices[b]) for b in taggers if b in own}
    o = bundle.engine(cfg).clip_outputs(X, rows, desc=desc, progress=progress, per_clip=mine)
    tags = {}
    for b in taggers:
        if b not in mine:
            o[b] = Engine.for_model(tagger_model(b), cfg).clip_outputs(X, rows, desc=f"{desc} ({b} tags)",
                                                                      per_clip={b: _tags_of(b, slice(None))})[b]
        tags[b] = o[b] if len(o[b]) else np.zeros((0, 50))
    return ClipTable(logp=o["logp"], embedding=o["embedding"], layer_stats=o["layer_stats"], tags=tags)
