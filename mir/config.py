"""One typed configuration, loaded from ``params.yaml`` and validated up front.

Every stage takes a :class:`Config`. A bad value is reported as one line that
names the key and the allowed values, before any work starts::

    mir: params.yaml: features.n_mels: must be > 0 (got 0)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from mir.datasets.fma import Params as FmaParams
from mir.datasets.folder import Params as FolderParams
from mir.datasets.gtzan import Params as GtzanParams
from mir.datasets.synth import Params as SynthParams
from mir.datasets.registry import NAMES as DATASETS
from mir.section import ConfigError
from mir.section import Section as _Section

__all__ = ["DATASETS", "Config", "ConfigError", "FeatureParams", "FmaParams", "FolderParams", "GtzanParams",
           "SynthParams", "load_config", "parse_config"]


class Paths(_Section):
    """Where every stage reads and writes (relative to the project root).

    dvc.yaml names the same paths (a test checks they agree).
    """

    ALL_PATHS = True

    raw: str = Field(default="data/raw", description="the data stage's copy of the clips (and clips.csv)")
    new_music: str = Field(default="data/new", description="the new_music stage's snapshot of the new music")
    manifest: str = Field(default="data/manifest.csv", description="ingest's table of usable clips and their split")
    rejected: str = Field(default="data/rejected.csv", description="ingest's rejected clips, each with its reason")
    features: str = Field(default="data/features", description="featurize's memory-mapped feature store")
    models: str = Field(default="models", description="the trained model (a ModelBundle)")
    metrics: str = Field(default="metrics", description="the stages' JSON metrics (git-tracked)")
    plots: str = Field(default="plots", description="the stages' plot data (git-tracked CSVs)")
    reports: str = Field(default="reports", description="the HTML reports")
    dvclive: str = Field(default="dvclive", description="DVCLive's training curves")


class ShiftParams(_Section):
    """How "new music" differs from the training data (see mir.demo.Shift)."""

    gain_db: float = 0.0
    tilt_db_per_octave: float = 0.0
    lowpass_hz: float | None = Field(default=None, gt=0)
    snr_db: float | None = None
    sample_rate: int | None = Field(default=None, ge=4000, le=192000)


class NewMusicParams(_Section):
    """The new music the monitor stage analyses.

    ``source: synth`` renders a shifted synth set: the known genres and ``new_genres`` by new artists
    (another seed) from a new studio (``shift``, ``format``). With another dataset it would be
    unrelated music, so nothing is rendered and the monitor stage says no new music is configured;
    ``source: folder`` snapshots ``root`` (``<root>/<genre>/**`` labelled, ``<root>/*`` unlabelled)
    into ``paths.new_music`` (``snapshot: false`` reads it in place).
    """

    source: Literal["synth", "folder"] = "synth"
    root: str | None = None  # source folder: the user's new-music folder (a DVC dependency of the new_music stage)
    snapshot: bool = True  # copy the folder's audio into data/new (versioned by DVC); False: read it in place
    clips_per_genre: int = Field(default=12, ge=1)
    new_genres: list[str] = ["metal"]  # source synth: genres the model never saw, added to the known ones
    seed: int = 1001
    format: Literal["wav", "flac", "ogg", "mp3"] = "ogg"
    shift: ShiftParams = ShiftParams(gain_db=-8.0, tilt_db_per_octave=-2.0, snr_db=20.0, sample_rate=16000)

    @field_validator("new_genres")
    @classmethod
    def _synth_genres(cls, v: list[str]) -> list[str]:
        from mir.demo.genres import check_genres

        return check_genres(v)


class DataParams(_Section):
    """Which dataset, which genres to classify, how to split, what to do with bad clips."""

    dataset: Literal[DATASETS] = "synth"  # type: ignore[valid-type]
    genres: list[str] | None = None  # None: every genre the dataset has
    valid_fraction: float = Field(default=0.15, ge=0, lt=1)
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    snapshot: bool = True  # copy the selected clips into data/raw (versioned by DVC); False: read them in place
    max_reject_fraction: float = Field(default=0.1, ge=0, le=1)  # more rejected clips than this fails the stage

    @model_validator(mode="after")
    def _fractions(self) -> "DataParams":
        if self.valid_fraction + self.test_fraction >= 1:
            raise ValueError("valid_fraction + test_fraction must be < 1 (nothing left to train on)")
        return self


class AudioParams(_Section):
    """What counts as usable audio. Ingest rejects the rest (named, with the reason); the
    Great Expectations suite checks the manifest against the same bounds."""

    min_duration_s: float = Field(default=5.0, ge=0)
    max_duration_s: float = Field(default=900.0, gt=0)
    min_sample_rate: int = Field(default=16000, ge=1000)
    max_sample_rate: int = Field(default=48000, ge=1000)
    max_channels: int = Field(default=2, ge=1)
    silence_db: float = Field(default=-60.0, le=0)

    @model_validator(mode="after")
    def _bounds(self) -> "AudioParams":
        if self.min_duration_s >= self.max_duration_s:
            raise ValueError("audio: min_duration_s must be < max_duration_s")
        if self.min_sample_rate > self.max_sample_rate:
            raise ValueError("audio: min_sample_rate must be <= max_sample_rate")
        return self


class FeatureParams(_Section):
    """Log-mel spectrogram parameters (and the fixed clip length they are computed over)."""

    sample_rate: int = Field(default=16000, ge=4000, le=192000)  # defaults: musicnn's (the default model)
    n_fft: int = Field(default=512, ge=64)
    hop_length: int = Field(default=256, ge=16)
    n_mels: int = Field(default=96, gt=0, le=512)
    fmin: float = Field(default=0.0, ge=0)
    fmax: float | None = Field(default=None, gt=0)
    clip_seconds: float = Field(default=30.0, gt=0, le=600)
    n_mfcc: int = Field(default=0, ge=0, le=128)  # > 0: also store MFCCs (mfcc.npy)
    workers: int = Field(default=0, ge=0)  # 0: all cores
    engine: Literal["process", "dask"] = "process"
    dask_address: str | None = None  # engine dask: a scheduler address; None: a local cluster
    cache_dir: str = "data/cache/features"  # content-addressed per-clip cache (not a DVC output)

    @model_validator(mode="after")
    def _consistent(self) -> "FeatureParams":
        if self.hop_length > self.n_fft:
            raise ValueError(f"hop_length ({self.hop_length}) must be <= n_fft ({self.n_fft})")
        nyquist = self.sample_rate / 2
        if self.fmax is not None and self.fmax > nyquist:
            raise ValueError(f"fmax ({self.fmax}) must be <= sample_rate/2 ({nyquist})")
        if self.fmin >= (self.fmax or nyquist):
            raise ValueError("fmin must be below fmax")
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc ({self.n_mfcc}) must be <= n_mels ({self.n_mels})")
        return self

    def cache_key(self) -> str:
        """Hash of every parameter that changes a clip's features (not workers/engine/cache_dir)."""
        import hashlib
        import json

        keep = self.model_dump(exclude={"workers", "engine", "dask_address", "cache_dir"})
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


class AugmentParams(_Section):
    """Training-time augmentation of the random crops (see mir.model.data.augment)."""

    spec_masks: int = Field(default=2, ge=0, le=8)  # SpecAugment: frequency + time masks per crop
    mixup_alpha: float = Field(default=0.0, ge=0)  # 0 = no mixup
    gain_db: float = Field(default=6.0, ge=0)  # random level offset in ±gain_db


class TrainParams(_Section):
    """Keras training (architectures: mir.model.architectures)."""

    arch: Literal["musicnn", "shortchunk_res", "cnn", "fma_cnn", "melgram_cnn", "crnn"] = "musicnn"
    # arch musicnn: the frozen pretrained bodies (mir.model.pretrained.BODIES) whose features feed one head
    bodies: list[Literal["msd_musicnn", "mtt_musicnn", "msd_vgg", "mtt_vgg"]] = Field(
        default=["msd_musicnn"], min_length=1)
    chunk_frames: int | None = Field(default=None, ge=8)  # null: the architecture's default
    crops_per_clip: int = Field(default=8, ge=1)
    epochs: int = Field(default=30, ge=1)
    batch_size: int = Field(default=32, ge=1)
    optimizer: Literal["adam", "sgd", "adagrad"] = "adam"
    learning_rate: float = Field(default=1e-3, gt=0, lt=1)
    lr_schedule: Literal["plateau", "step", "none"] = "plateau"
    lr_factor: float = Field(default=0.5, gt=0, le=1)  # plateau: ×factor after lr_patience; step: ×factor per step
    lr_patience: int = Field(default=3, ge=1)
    lr_step_epochs: int = Field(default=10, ge=1)
    patience: int = Field(default=8, ge=1)  # early stopping on val_loss (best weights kept)
    min_delta: float = Field(default=0.0, ge=0)
    # frozen-body models: refit the head on train + valid for the best epoch count found on valid
    final_fit: bool = False
    dropout: float = Field(default=0.3, ge=0, lt=1)
    filters: list[int] | None = Field(default=None, min_length=1)  # null: the architecture's default widths
    balance: bool = True  # draw every genre equally often
    augment: AugmentParams = AugmentParams()
    mixed_precision: Literal["auto", "on", "off"] = "auto"  # auto: mixed_float16 on a GPU
    distribute: Literal["auto", "none", "mirrored"] = "auto"  # auto: MirroredStrategy with > 1 GPU


class ValidateParams(_Section):
    """Great Expectations gates: which suites stop the pipeline, and the feature suite's tolerance."""

    blocking: list[Literal["manifest", "features"]] = ["manifest", "features"]
    feature_bounds_k: float = Field(default=6.0, gt=0)  # band mean/std within median ± k·MAD of training clips
    feature_bounds_min_clips: int = Field(default=30, ge=1)  # fewer training clips: no band bounds (can't learn them)
    feature_mostly: float = Field(default=0.99, gt=0, le=1)  # share of clips that must be within those bounds
    db_min: float = -100.0
    db_max: float = 80.0

    @model_validator(mode="after")
    def _db_range(self) -> "ValidateParams":
        if self.db_min >= self.db_max:
            raise ValueError(f"validate.db_min ({self.db_min:g}) must be < validate.db_max ({self.db_max:g})")
        return self


class EvaluateParams(_Section):
    """Evaluation: the baseline reported beside the CNN."""

    baseline: Literal["svm", "logreg", "none"] = "svm"
    baseline_n_mfcc: int = Field(default=20, ge=1, le=128)


class MonitorParams(_Section):
    """Evidently drift report: training features vs new music."""

    drift_share: float = Field(default=0.5, gt=0, le=1)
    embedding_pcs: int = Field(default=3, ge=0, le=16)  # PCA components of the model embedding in the drift report
    ood_quantile: float = Field(default=0.95, gt=0, lt=1)  # unknown-genre threshold: this quantile on valid clips
    ood_weight_dist: float = Field(default=1.0, ge=0, le=1)  # OOD score: distance to the classes vs (1 - max softmax)
    ood_features: Literal["layers", "embedding"] = "layers"  # distance on every conv block's statistics, or the embedding
    ood_shrinkage: float = Field(default=0.5, gt=0, le=1)  # covariance shrinkage of those distances
    unknown_alpha: float = Field(default=0.001, gt=0, lt=1)  # drift too when this many flagged unknown is this unlikely
    max_reference_clips: int = Field(default=2000, ge=10)  # training clips in the reference (seeded sample)
    # new_genre: cosine 5-NN in these pretrained taggers' tag space (with musicnn's features; [] or other
    # features: the relative Mahalanobis distance on the model's own layers)
    tag_bodies: list[Literal["msd_musicnn", "mtt_musicnn", "msd_vgg", "mtt_vgg"]] = ["msd_musicnn", "msd_vgg"]
    workspace: str = "evidently"  # local Evidently workspace: one snapshot per monitor run (git-ignored, not DVC)
    project: str = "mir new music"  # the workspace project (dashboard) the runs are added to


class InferenceParams(_Section):
    """The inference engine every stage uses (mir.model.inference)."""

    runtime: Literal["auto", "openvino", "onnxruntime", "keras"] = "auto"  # auto: the fastest that is installed
    threads: int = Field(default=0, ge=0)  # 0: features.workers (0: all cores)
    batch_size: int = Field(default=32, ge=1, le=4096)  # chunks per runtime call
    cache_dir: str = "data/cache/inference"  # ONNX exports + per-clip body outputs (not a DVC output)
    cache_max_mb: float = Field(default=4096, gt=0)  # least recently used body entries are evicted past this


class RegistryParams(_Section):
    """The model registry (mir.registry: a DVC artifact + GTO tags) and when a retrained model replaces the champion."""

    dir: str = "registry"  # <dir>/genre-classifier/<version>.json: each version's metadata (git-tracked)
    champion_dir: str = "registry/champion"  # cache of the champion's model files (git-ignored, rebuilt by MD5)
    tolerance: float = Field(default=0.02, ge=0, le=1)  # largest accepted drop on the old genres
    commit: Literal["auto", "off"] = "auto"  # auto: commit dvc.lock, metrics, registry/ before tagging
    push: bool = False  # push the commit, the tags and the model (dvc push) after registering


class RetrainParams(_Section):
    """Retraining on genres that arrive with labelled new music (flows/monitor.py, flows/retrain.py)."""

    min_clips_per_genre: int = Field(default=3, ge=3)  # labelled songs of an unknown genre needed to retrain on it
    labelled_dir: str = "data/labelled"  # mir-managed copies of those songs: <dir>/<genre>/*, a data-stage dependency


class Config(_Section):
    """The whole of params.yaml."""

    seed: int = 42
    paths: Paths = Paths()
    data: DataParams = DataParams()
    synth: SynthParams = SynthParams()
    new_music: NewMusicParams = NewMusicParams()
    folder: FolderParams = FolderParams()
    gtzan: GtzanParams = GtzanParams()
    fma: FmaParams = FmaParams()
    audio: AudioParams = AudioParams()
    features: FeatureParams = FeatureParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    monitor: MonitorParams = MonitorParams()
    inference: InferenceParams = InferenceParams()
    registry: RegistryParams = RegistryParams()
    retrain: RetrainParams = RetrainParams()
    validate_: ValidateParams = Field(default=ValidateParams(), alias="validate")  # `validate` is pydantic's

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def validate(self) -> ValidateParams:  # type: ignore[override]
        """The ``validate:`` section (``validate`` is also a pydantic method name)."""
        return self.validate_

    @model_validator(mode="after")
    def _features_fit_arch(self) -> "Config":
        if self.train.arch == "musicnn":
            b = self.train.bodies
            if len(set(b)) != len(b):
                raise ValueError(f"train.bodies: each body once, got {b}")
            if any(x.endswith("_vgg") for x in b) and self.train.chunk_frames not in (None, 187):
                raise ValueError(f"train.bodies: the vgg bodies take 187-frame chunks only; train.chunk_frames is "
                                 f"{self.train.chunk_frames} (set it to null or 187)")
            from mir.model.pretrained import MUSICNN_FEATURES

            f = self.features
            wrong = {k: getattr(f, k) for k, v in MUSICNN_FEATURES.items() if getattr(f, k) != v}
            if wrong:
                raise ValueError(
                    "train.arch musicnn: its pretrained weights need features "
                    + ", ".join(f"{k} {v}" for k, v in MUSICNN_FEATURES.items())
                    + f" (got {', '.join(f'{k} {v}' for k, v in wrong.items())})")
        return self

    @model_validator(mode="after")
    def _new_music_source(self) -> "Config":
        if self.new_music.source == "folder" and not self.new_music.root:
            raise ValueError("new_music.root: required when new_music.source is 'folder' "
                             "(<root>/<genre>/*.mp3 labelled, <root>/*.mp3 unlabelled)")
        return self

    @model_validator(mode="after")
    def _genres_exist(self) -> "Config":
        if self.data.dataset == "folder" and not self.folder.root:
            raise ValueError("folder.root: required when data.dataset is 'folder' (a <root>/<genre>/*.mp3 tree)")
        available = self.available_genres()
        if available is None:  # a folder: the data stage checks its genres (existence first, then count; exit 2)
            return self
        for g in self.data.genres or []:
            if g not in available:
                raise ValueError(
                    f"data.genres: {g!r} is not in dataset {self.data.dataset!r}; allowed: {', '.join(available)}"
                )
        if self.data.genres is not None and len(self.data.genres) < 2:
            raise ValueError("data.genres: a classifier needs at least 2 genres")
        return self

    def available_genres(self) -> list[str] | None:
        """Genres the configured dataset can provide (``None`` for a folder: known once read)."""
        from mir.datasets.registry import configured

        return configured(self).genres(self)

    @property
    def genres(self) -> list[str]:
        """The label set, sorted (the model's output order).

        For ``dataset: folder`` without ``data.genres`` this is read from the data
        stage's clip list (``data/raw/clips.csv``).
        """
        from mir.datasets.clips import labelled_genres, snapshot_genres
        from mir.datasets.registry import configured, is_rendered

        extra = labelled_genres(self)  # genres handed over from labelled new music (retrain.labelled_dir)
        if self.data.genres:
            return sorted(set(self.data.genres) | set(extra))
        ds = configured(self)
        if is_rendered(ds):  # generated: exactly its configured genres
            return sorted(set(ds.genres(self)) | set(extra))
        return snapshot_genres(self)


def _one_line(err: ValidationError) -> str:
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"] if p != "__root__")
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown key"
    elif "input" in e and e["type"] not in ("missing",) and not isinstance(e["input"], dict):
        msg = f"{msg} (got {e['input']!r})"
    # model-level errors already name their key
    if loc and not msg.startswith(loc.split(".")[0] + "."):
        return f"{loc}: {msg}"
    return msg


def parse_config(raw: dict[str, Any] | None, *, source: str = "params.yaml") -> Config:
    """Validate a params mapping; raise :class:`ConfigError` with one line on the first problem."""
    try:
        return Config.model_validate(raw or {})
    except ValidationError as err:
        extra = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        raise ConfigError(f"{source}: {_one_line(err)}{extra}") from None


class DuplicateKeyError(yaml.YAMLError):
    """A mapping with the same key twice (YAML would silently keep the last one)."""

    def __init__(self, key: Any, line: int, first: int):
        super().__init__(f"duplicate key {key!r}")
        self.key, self.line, self.first = key, line, first


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys in a mapping."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not None:
                    raise DuplicateKeyError(key, key_node.start_mark.line + 1, first)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate ``params.yaml`` (or ``$MIR_PARAMS``).

    Parameters
    ----------
    path : path-like, optional
        The parameter file; default ``$MIR_PARAMS`` or ``params.yaml`` in the working directory.

    Raises
    ------
    ConfigError
        One line naming the file, the key and what is allowed.
    """
    p = Path(path or os.environ.get("MIR_PARAMS", "params.yaml"))
    try:
        raw = yaml.load(p.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such parameter file (run mir from the project root)") from None
    except DuplicateKeyError as err:
        raise ConfigError(f"{p}: line {err.line}: duplicate key {err.key!r} (first on line {err.first}): "
                          "keep one of them") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{p}:{where} not valid YAML") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{p}: must be a mapping of sections, got {type(raw).__name__}")
    return parse_config(raw, source=str(p))
