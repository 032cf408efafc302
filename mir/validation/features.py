"""Great Expectations gate on the feature store.

The ``featurize`` stage writes ``data/features/`` with ``logmel.npy`` (float16,
``(clips, n_mels, frames)``, log-mel dB with a −100 dB floor) and ``index.csv``
(``row, clip_id, genre, split`` for every clip featurised OK). A spectrogram
array is too big for GE, so the suite runs on a per-clip summary table:

- :func:`feature_table` streams the memmap ``chunk`` clips at a time (memory
  is flat in the number of clips) and returns one row per clip: shape,
  count of non-finite values, dB range, mean/std and mean/std of ``n_bands``
  coarse mel bands;
- :func:`learn_bounds` learns robust per-column bounds (median ± k·MAD) from
  the training rows;
- :func:`feature_suite` describes the expected shape, the dB range and those
  bounds as data (:class:`~mir.validation.runner.Expect` specs), and
  :func:`validate_features` runs it and returns a
  :class:`~mir.validation.results.ValidationResult` (Data Docs page optional).

numpy, pandas and Great Expectations are imported inside the functions.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mir.validation.runner import Expect, run_suite

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from mir.validation.results import ValidationResult

__all__ = [
    "BOUNDED_COLUMNS_REGEX",
    "feature_suite",
    "feature_table",
    "learn_bounds",
    "validate_features",
]

#: Columns :func:`learn_bounds` learns bounds for.
BOUNDED_COLUMNS_REGEX = r"^(mean_db|std_db|band\d+_(mean|std))$"
#: Scale factor that makes the MAD a consistent estimator of a normal's standard deviation.
_MAD_TO_SIGMA = 1.4826
_ID_COLUMNS = ("clip_id", "genre", "split")
_IN_SET, _BETWEEN = "ExpectColumnValuesToBeInSet", "ExpectColumnValuesToBeBetween"


def _band_slices(n_mels: int, n_bands: int) -> list[slice]:
    """Contiguous mel-axis slices, as ``np.array_split(np.arange(n_mels), n_bands)``."""
    import numpy as np

    return [slice(int(p[0]), int(p[-1]) + 1) for p in np.array_split(np.arange(n_mels), n_bands)]


def feature_table(features_dir: str | os.PathLike[str], *, n_bands: int = 8, chunk: int = 64) -> pd.DataFrame:
    """Summarise every featurised clip of a feature store, one row per clip.

    Parameters
    ----------
    features_dir : path-like
        A folder written by the featurize stage, with ``logmel.npy`` and
        ``index.csv``.
    n_bands : int, default 8
        Number of coarse mel bands (``np.array_split`` over the mel axis).
    chunk : int, default 64
        Clips read from the memory-mapped array at a time; peak memory is
        at most about ``chunk × n_mels × frames × 8`` bytes (a float32 copy
        of the chunk and its finite mask), whatever the number of clips.

    Returns
    -------
    pandas.DataFrame
        In ``index.csv`` order, columns ``clip_id, genre, split, n_mels,
        n_frames, n_nonfinite, min_db, max_db, mean_db, std_db`` then
        ``band{i}_mean, band{i}_std`` for ``i`` in ``range(n_bands)``. Non-finite
        values (NaN, ±inf) are counted in ``n_nonfinite`` and left out of the
        statistics (all NaN when a clip has no finite value). Standard
        deviations are population ones (``ddof=0``).

    Raises
    ------
    FileNotFoundError
        If ``logmel.npy`` or ``index.csv`` is missing.
    ValueError
        If the array is not 3-D, an index row is outside it, or ``n_bands`` /
        ``chunk`` is out of range.
    """
    import numpy as np
    import pandas as pd

    n_bands, chunk = int(n_bands), int(chunk)
    logmel, index = _open_store(Path(features_dir), n_bands=n_bands, chunk=chunk)
    n_mels, n_frames = (int(d) for d in logmel.shape[1:])
    rows = index["row"].to_numpy(dtype=np.int64)
    stats = _table_stats(logmel, rows, _band_slices(n_mels, n_bands), chunk=chunk)
    table = index.loc[:, list(_ID_COLUMNS)].reset_index(drop=True)
    table.insert(3, "n_mels", n_mels)
    table.insert(4, "n_frames", n_frames)
    table["n_nonfinite"] = stats[:, 0].astype(np.int64)
    for j, name in enumerate(("min_db", "max_db", "mean_db", "std_db"), start=1):
        table[name] = stats[:, j]
    for b in range(n_bands):
        table[f"band{b}_mean"] = stats[:, 5 + 2 * b]
        table[f"band{b}_std"] = stats[:, 6 + 2 * b]
    return pd.DataFrame(table)


def _open_store(root: Path, *, n_bands: int, chunk: int):
    """The memory-mapped ``logmel.npy`` and ``index.csv`` of a feature store, checked against each other."""
    import numpy as np

    from mir.io import read_table

    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    for name in ("logmel.npy", "index.csv"):
        if not (root / name).is_file():
            raise FileNotFoundError(f"{root / name} is missing (run the featurize stage)")
    logmel = np.load(root / "logmel.npy", mmap_mode="r")
    if logmel.ndim != 3:
        raise ValueError(f"{root / 'logmel.npy'}: expected (clips, n_mels, frames), got shape {logmel.shape}")
    n_clips, n_mels = int(logmel.shape[0]), int(logmel.shape[1])
    if not 1 <= n_bands <= n_mels:
        raise ValueError(f"n_bands must be in [1, n_mels={n_mels}], got {n_bands}")
    index = read_table(root / "index.csv")
    missing = [c for c in ("row", *_ID_COLUMNS) if c not in index.columns]
    if missing:
        raise ValueError(f"{root / 'index.csv'}: missing columns {missing}")
    rows = index["row"].to_numpy(dtype=np.int64)
    bad = (rows < 0) | (rows >= n_clips)
    if bad.any():
        raise ValueError(f"{root / 'index.csv'}: rows {rows[bad][:5].tolist()} outside logmel.npy ({n_clips} clips)")
    return logmel, index


def _table_stats(logmel, rows: np.ndarray, bands: list[slice], *, chunk: int) -> np.ndarray:
    """:func:`_block_stats` of the given rows, read ``chunk`` clips at a time."""
    import numpy as np

    stats = np.full((len(rows), 5 + 2 * len(bands)), np.nan)  # n_nonfinite, min, max, mean, std, band stats
    for start in range(0, len(rows), chunk):
        sel = rows[start : start + chunk]
        if sel.size and np.all(np.diff(sel) == 1):  # contiguous rows: a plain slice of the memmap
            block = logmel[int(sel[0]) : int(sel[-1]) + 1]
        else:
            block = logmel[sel]
        stats[start : start + len(sel)] = _block_stats(np.asarray(block, dtype=np.float32), bands)
        del block
    return stats


def _block_stats(x, bands: list[slice]):
    """Per-clip statistics of a ``(clips, n_mels, frames)`` float32 block.

    Returns an array ``(clips, 5 + 2·bands)``: non-finite count, min, max, mean,
    std, then mean and std per band. Two passes per band (sum, then sum of
    squared deviations) accumulated in float64; the clip's std combines the
    bands' (Chan et al.). Non-finite values are left out (NaN where nothing
    is left). Temporaries are at most one band of the block.
    """
    import numpy as np

    n = x.shape[0]
    out = np.full((n, 5 + 2 * len(bands)), np.nan)
    finite = np.isfinite(x)
    n_good = finite.sum(axis=(1, 2))
    out[:, 0] = x[0].size - n_good if n else 0
    broken = bool(n) and bool((n_good < x[0].size).any())
    if broken:  # slow path, only for broken clips: mask out the bad values
        x = np.where(finite, x, np.float32(np.nan))
        with warnings.catch_warnings():  # "All-NaN slice": a clip with no finite value
            warnings.simplefilter("ignore", RuntimeWarning)
            out[:, 1] = np.nanmin(x, axis=(1, 2))
            out[:, 2] = np.nanmax(x, axis=(1, 2))
    else:
        out[:, 1] = x.min(axis=(1, 2))
        out[:, 2] = x.max(axis=(1, 2))
    band_n, band_mean, band_m2 = [], [], []
    with np.errstate(invalid="ignore", divide="ignore"):
        for sl in bands:
            xb = x[:, sl, :]
            if broken:
                cnt = finite[:, sl, :].sum(axis=(1, 2)).astype(np.float64)
                s = np.nansum(xb, axis=(1, 2), dtype=np.float64)
            else:
                cnt = np.full(n, float(xb[0].size))
                s = xb.sum(axis=(1, 2), dtype=np.float64)
            mean = s / np.where(cnt > 0, cnt, np.nan)
            d = xb - mean.astype(np.float32)[:, None, None]
            np.square(d, out=d)
            m2 = np.nansum(d, axis=(1, 2), dtype=np.float64) if broken else d.sum(axis=(1, 2), dtype=np.float64)
            band_n.append(cnt)
            band_mean.append(mean)
            band_m2.append(m2)
        cnt = np.stack(band_n)  # (bands, clips)
        mean = np.stack(band_mean)
        m2 = np.stack(band_m2)
        safe = np.where(cnt > 0, cnt, np.nan)
        out[:, 5::2] = mean.T
        out[:, 6::2] = np.sqrt(m2 / safe).T
        total = cnt.sum(axis=0)
        grand = np.nansum(mean * cnt, axis=0) / np.where(total > 0, total, np.nan)
        total_m2 = np.nansum(m2 + cnt * (mean - grand) ** 2, axis=0)
        out[:, 3] = grand
        out[:, 4] = np.sqrt(total_m2 / np.where(total > 0, total, np.nan))
    return out


def learn_bounds(train: pd.DataFrame, *, k: float = 6.0, min_mad: float = 0.01) -> dict[str, tuple[float, float]]:
    """Learn robust bounds for the loudness columns from training clips.

    Parameters
    ----------
    train : pandas.DataFrame
        :func:`feature_table` rows of the training split (the caller selects
        them). Non-finite values are ignored.
    k : float, default 6.0
        Half-width of the interval in robust standard deviations.
    min_mad : float, default 0.01
        Lower limit on the MAD (dB), so a column that is constant in training
        still gets an interval of non-zero width.

    Returns
    -------
    dict of str to (float, float)
        For ``mean_db``, ``std_db`` and every ``band{i}_mean`` / ``band{i}_std``
        present: ``(median − k·1.4826·MAD, median + k·1.4826·MAD)`` with MAD the
        median absolute deviation. Plain Python floats: JSON-serialisable (a
        JSON round trip turns the tuples into lists, which
        :func:`validate_features` accepts). A few outliers in ``train`` move the
        median and MAD very little, so they do not widen the bounds.

    Raises
    ------
    TypeError
        If ``train`` is not a DataFrame.
    ValueError
        If ``k`` is not positive, no bounded column is present, or a column
        has no finite value.
    """
    import numpy as np
    import pandas as pd

    if not isinstance(train, pd.DataFrame):
        raise TypeError(f"train must be a pandas DataFrame, got {type(train).__name__}")
    if not (k > 0):
        raise ValueError(f"k must be > 0, got {k!r}")
    columns = [c for c in train.columns if re.match(BOUNDED_COLUMNS_REGEX, str(c))]
    if not columns:
        raise ValueError("train has none of the columns mean_db, std_db, band{i}_mean, band{i}_std")
    bounds: dict[str, tuple[float, float]] = {}
    for col in columns:
        values = pd.to_numeric(train[col], errors="coerce").to_numpy(dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            raise ValueError(f"column {col!r} has no finite value in the training rows")
        med = float(np.median(values))
        mad = max(float(np.median(np.abs(values - med))), float(min_mad))
        half = float(k) * _MAD_TO_SIGMA * mad
        bounds[col] = (med - half, med + half)
    return bounds


def feature_suite(
    *,
    n_mels: int,
    n_frames: int,
    bounds: Mapping[str, Sequence[float]],
    db_range: tuple[float, float] = (-100.0, 60.0),
    mostly: float = 0.99,
) -> list[Expect]:
    """The expectations a valid feature table must meet, in report order.

    Parameters
    ----------
    n_mels, n_frames : int
        The configured spectrogram shape.
    bounds : mapping of str to (float, float)
        Column → ``(low, high)``, as :func:`learn_bounds` returns.
    db_range : (float, float), default (-100.0, 60.0)
        Every value must lie in this range (``min_db`` ≥ low, ``max_db`` ≤ high).
    mostly : float, default 0.99
        Fraction of rows that must lie within each column's ``bounds``.

    Returns
    -------
    list of Expect
        Table checks, shape, non-finite values, dB range, then one bound per
        column of ``bounds`` (sorted by name, bands in numeric order).

    Raises
    ------
    ValueError
        If an argument is out of range or a bound has ``low > high``.
    """
    lo_db, hi_db = _check_args(n_mels=n_mels, n_frames=n_frames, db_range=db_range, mostly=mostly)
    checked = _checked_bounds(bounds)
    required = [*_ID_COLUMNS, "n_mels", "n_frames", "n_nonfinite", "min_db", "max_db", *checked]
    return [
        Expect("ExpectTableColumnsToMatchSet", "Columns written by mir.validation.features.feature_table.",
               {"column_set": required, "exact_match": False}),
        Expect("ExpectTableRowCountToBeBetween", "No clip was featurised.", {"min_value": 1}),
        Expect(_IN_SET, "Mel bands differ from features.n_mels.", {"column": "n_mels", "value_set": [int(n_mels)]}),
        Expect(_IN_SET, "Frames per clip differ from the configured length.",
               {"column": "n_frames", "value_set": [int(n_frames)]}),
        Expect(_IN_SET, "NaN or inf in a spectrogram (corrupt audio or features).",
               {"column": "n_nonfinite", "value_set": [0]}),
        Expect(_BETWEEN, "Below the log-mel floor: not a dB spectrogram.", {"column": "min_db", "min_value": lo_db}),
        Expect(_BETWEEN, "Implausibly loud: clipping, wrong scaling or a gain bug.",
               {"column": "max_db", "max_value": hi_db}),
        *(Expect(_BETWEEN, "Outside the robust range learned from the training clips.",
                 {"column": col, "min_value": lo, "max_value": hi, "mostly": float(mostly)})
          for col, (lo, hi) in checked.items()),
    ]


def _check_args(*, n_mels: int, n_frames: int, db_range: tuple[float, float], mostly: float) -> tuple[float, float]:
    """Raise ValueError for an argument out of range; return the dB range as floats."""
    if int(n_mels) < 1 or int(n_frames) < 1:
        raise ValueError(f"n_mels and n_frames must be >= 1, got {n_mels!r}, {n_frames!r}")
    lo_db, hi_db = (float(v) for v in db_range)
    if not lo_db < hi_db:
        raise ValueError(f"db_range must be (low, high) with low < high, got {db_range!r}")
    if not 0.0 < float(mostly) <= 1.0:
        raise ValueError(f"mostly must be in (0, 1], got {mostly!r}")
    return lo_db, hi_db


def _checked_bounds(bounds: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, float]]:
    """``bounds`` as finite float pairs, sorted by column name (``band10`` after ``band9``)."""
    checked: dict[str, tuple[float, float]] = {}
    for col, pair in sorted(bounds.items(), key=lambda kv: _natural_key(kv[0])):
        lo, hi = (float(v) for v in pair)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"bounds[{col!r}] must be finite (low, high) with low <= high, got {pair!r}")
        checked[str(col)] = (lo, hi)
    return checked


def validate_features(
    table: pd.DataFrame,
    *,
    n_mels: int,
    n_frames: int,
    bounds: Mapping[str, Sequence[float]],
    db_range: tuple[float, float] = (-100.0, 60.0),
    mostly: float = 0.99,
    suite_name: str = "features",
    docs_dir: str | os.PathLike[str] | None = None,
) -> ValidationResult:
    """Validate a feature summary table with Great Expectations.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per clip, as :func:`feature_table` returns.
    n_mels, n_frames : int
        Every row must have exactly this shape.
    bounds : mapping of str to (float, float)
        Column → ``(low, high)``, usually :func:`learn_bounds` of the training
        rows (lists, as read back from JSON, are fine).
    db_range : (float, float), default (-100.0, 60.0)
        ``min_db`` must be ≥ the first and ``max_db`` ≤ the second value.
    mostly : float, default 0.99
        Fraction of rows that must lie within each column's bounds (GE's
        ``mostly``); the shape, non-finite and dB-range checks hold for all rows.
    suite_name : str, default "features"
        Name of the expectation suite.
    docs_dir : path-like, optional
        If given, the suite's Data Docs page (``index.html``, renders offline)
        is written there.

    Returns
    -------
    ValidationResult
        ``success`` is False when any expectation fails; failure lines name
        the offending ``clip_id`` values.

    Raises
    ------
    TypeError, ValueError
        A ``table`` that is not a DataFrame; an argument out of range.
    """
    specs = feature_suite(n_mels=n_mels, n_frames=n_frames, bounds=bounds, db_range=db_range, mostly=mostly)
    return run_suite(table, specs, suite_name=suite_name, docs_dir=docs_dir)


def _natural_key(name: str) -> list:
    """Sort key that puts ``band10`` after ``band9``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(name))]
