"""A trained model and what it needs to be used: the one way to load and save a model folder.

A model folder (``paths.models``, the champion directory, a registry checkout) holds
``model.keras`` and ``labels.json``, the *model card*: the label order, the feature
parameters the model was trained on, its chunk length in frames and its architecture.
Every stage loads it through :meth:`ModelBundle.load`, so the card's schema
(:class:`ModelCard`) lives here and nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mir.config import FeatureParams

if TYPE_CHECKING:
    from mir.config import Config
    from mir.model.inference import Engine

#: The model's weights and graph (Keras 3 format).
MODEL_FILE = "model.keras"
#: The model card (JSON, :class:`ModelCard`).
CARD_FILE = "labels.json"
#: The files of a model folder, in the order they are written.
MODEL_FILES = (MODEL_FILE, CARD_FILE)


class ModelCard(BaseModel):
    """``labels.json``: what a model expects and what its outputs mean."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    genres: list[str] = Field(min_length=1)
    features: FeatureParams
    chunk_frames: int = Field(gt=0)
    arch: str | None = None
    #: the frozen pretrained bodies of a ``musicnn`` model, in the order their features feed the head
    bodies: list[str] | None = None

    @field_validator("features", mode="before")
    @classmethod
    def _known_feature_keys(cls, v: Any) -> Any:
        """Cards written by other mir versions may carry feature keys this one does not know."""
        if isinstance(v, dict):
            return {k: x for k, x in v.items() if k in FeatureParams.model_fields}
        return v


def model_files(model_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(model.keras, labels.json)`` of a model folder."""
    d = Path(model_dir)
    return d / MODEL_FILE, d / CARD_FILE


def read_card(model_dir: str | os.PathLike[str]) -> ModelCard:
    """The model card of a model folder, without loading the model (no Keras import)."""
    from mir.io import read_json

    path = model_files(model_dir)[1]
    if not path.is_file():
        raise FileNotFoundError(f"no model card {path} (run `mir train` or `dvc repro`)")
    return ModelCard.model_validate(read_json(path))


def _load_keras(keras, path: Path):
    """``keras.models.load_model``, with what is wrong said as it is: Keras reports any file that is not a
    ``.keras`` zip archive (a damaged or replaced one too) as "File not found"."""
    import zipfile

    if not path.is_file():
        raise FileNotFoundError(f"no model {path} (run `mir train` or `dvc repro`)")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a Keras model (not a .keras zip archive: damaged or replaced); "
                         "train it again (`dvc repro train`, or `dvc checkout models`)")
    try:
        return keras.models.load_model(path)
    except Exception as err:  # noqa: BLE001 - a damaged archive fails in many ways; one line says which file
        raise ValueError(f"{path}: the Keras model can't be loaded ({type(err).__name__}: {err}); "
                         "train it again (`dvc repro train`, or `dvc checkout models`)") from None


@dataclass
class ModelBundle:
    """A Keras model with its card: label order, feature parameters, chunk length, architecture."""

    model: Any
    genres: list[str]
    features: FeatureParams
    chunk_frames: int
    arch: str | None = None
    bodies: list[str] | None = None

    @property
    def card(self) -> ModelCard:
        return ModelCard(genres=list(self.genres), features=self.features, chunk_frames=self.chunk_frames,
                         arch=self.arch, bodies=self.bodies)

    @property
    def tag_bodies(self) -> list[str]:
        """The pretrained bodies whose tags (taggrams) this model can give: ``[]`` for a model trained from
        scratch; a ``musicnn`` model of an older card is MSD_musicnn alone."""
        if self.arch != "musicnn":
            return []
        return list(self.bodies or ["msd_musicnn"])

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str]) -> "ModelBundle":
        """Load ``model.keras`` and its card from ``model_dir``."""
        from mir.model import keras_backend

        keras_backend()  # registers mir's custom layers
        import keras

        card = read_card(model_dir)
        path = model_files(model_dir)[0]
        model = _load_keras(keras, path)
        return cls(model=model, genres=list(card.genres), features=card.features, chunk_frames=card.chunk_frames,
                   arch=card.arch, bodies=card.bodies)

    def save(self, model_dir: str | os.PathLike[str]) -> Path:
        """Write ``model.keras`` and ``labels.json`` atomically (each file); returns the model's path."""
        from mir.io import atomic_path, write_json

        model_path, card_path = model_files(model_dir)
        model_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(model_path) as tmp:
            self.model.save(tmp)
        card = self.card.model_dump(mode="json")
        if card.get("bodies") is None:  # a model without pretrained bodies: the card says nothing about them
            card.pop("bodies", None)
        write_json(card_path, card)
        return model_path

    def engine(self, cfg: "Config | None" = None, **kwargs: Any) -> "Engine":
        """The inference engine of this model (``cfg.inference``'s settings), shared per model and process."""
        from mir.model.inference import Engine

        return Engine.for_model(self.model, cfg, **kwargs)
