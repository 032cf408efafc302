"""Great Expectations gate on the ingest manifest.

The ``ingest`` stage writes one row per audio clip::

    clip_id  path  genre  split  duration_s  sample_rate  channels  checksum  n_bytes

:func:`manifest_suite` describes what a valid manifest is, as data
(:class:`~mir.validation.runner.Expect` specs: schema, identifiers, label
vocabulary, split names, audio properties, duplicate audio), and
:func:`validate_manifest` runs it (:func:`mir.validation.runner.run_suite`)
and returns a JSON-friendly :class:`~mir.validation.results.ValidationResult`,
optionally with its Data Docs page.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mir.datasets.base import MANIFEST_COLUMNS, SPLITS
from mir.validation.results import ValidationResult
from mir.validation.runner import Expect, run_suite

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "DEFAULT_SPLITS",
    "MANIFEST_COLUMNS",
    "SHA256_REGEX",
    "ValidationResult",
    "manifest_suite",
    "validate_manifest",
]

#: Allowed values of the ``split`` column.
DEFAULT_SPLITS: tuple[str, ...] = SPLITS
#: A lower-case SHA-256 hex digest (what :func:`hashlib.sha256().hexdigest` gives).
SHA256_REGEX = r"^[0-9a-f]{64}$"

#: The checks that need no configuration: the columns, a row at least, no empty field, a unique clip_id.
_SCHEMA: tuple[Expect, ...] = (
    Expect("ExpectTableColumnsToMatchSet", "The ingest stage must write every manifest column "
           "(extra columns are allowed).", {"column_set": list(MANIFEST_COLUMNS), "exact_match": False}),
    Expect("ExpectTableRowCountToBeBetween", "An empty manifest means ingest found no audio.", {"min_value": 1}),
    *(Expect("ExpectColumnValuesToNotBeNull", "Every clip needs every manifest field.", {"column": c})
      for c in MANIFEST_COLUMNS),
    Expect("ExpectColumnValuesToBeUnique", "clip_id is the primary key.", {"column": "clip_id"}),
)


def _names(values: Iterable[str], what: str) -> list[str]:
    names = [values] if isinstance(values, str) else [str(v) for v in values]
    if not names:
        raise ValueError(f"{what} must list at least one {what[:-1]}")
    return names


def _check_bounds(*, min_duration_s: float, max_duration_s: float, max_channels: int) -> None:
    if not (min_duration_s >= 0):
        raise ValueError(f"min_duration_s must be >= 0, got {min_duration_s!r}")
    if not (max_duration_s >= min_duration_s):
        raise ValueError(f"max_duration_s ({max_duration_s!r}) must be >= min_duration_s ({min_duration_s!r})")
    if int(max_channels) < 1:
        raise ValueError(f"max_channels must be >= 1, got {max_channels!r}")


def manifest_suite(
    *,
    genres: Iterable[str],
    splits: Iterable[str] = DEFAULT_SPLITS,
    min_duration_s: float,
    max_duration_s: float,
    sample_rates: Iterable[int] | None = None,
    max_channels: int = 2,
    checksum_regex: str | None = SHA256_REGEX,
) -> list[Expect]:
    """The expectations a valid manifest must meet, in report order.

    Parameters
    ----------
    genres : iterable of str
        The configured genre labels; any other ``genre`` value fails.
    splits : iterable of str, default ("train", "valid", "test")
        Allowed ``split`` values.
    min_duration_s, max_duration_s : float
        Inclusive bounds on ``duration_s`` (seconds).
    sample_rates : iterable of int, optional
        Allowed ``sample_rate`` values; not checked when None.
    max_channels : int, default 2
        ``channels`` must lie in ``[1, max_channels]``.
    checksum_regex : str or None, default :data:`SHA256_REGEX`
        Pattern every ``checksum`` must match; None skips the format check.

    Returns
    -------
    list of Expect
        Table-level checks, non-null checks for every column of
        :data:`MANIFEST_COLUMNS`, then per-column value checks.

    Raises
    ------
    ValueError
        If the arguments are inconsistent (no genres, ``min > max``, ...).
    """
    genre_list, split_list = _names(genres, "genres"), _names(splits, "splits")
    _check_bounds(min_duration_s=min_duration_s, max_duration_s=max_duration_s, max_channels=max_channels)
    rates = None if sample_rates is None else [int(r) for r in sample_rates]
    if rates == []:
        raise ValueError("sample_rates, when given, must list at least one rate")
    return [
        *_SCHEMA,
        Expect("ExpectColumnValuesToBeInSet", "Labels outside the configured genres.",
               {"column": "genre", "value_set": genre_list}),
        Expect("ExpectColumnValuesToBeInSet", "Split names other than the configured ones.",
               {"column": "split", "value_set": split_list}),
        *_audio_specs(min_duration_s=float(min_duration_s), max_duration_s=float(max_duration_s), rates=rates,
                      max_channels=int(max_channels), checksum_regex=checksum_regex),
    ]


def _audio_specs(*, min_duration_s: float, max_duration_s: float, rates: list[int] | None, max_channels: int,
                 checksum_regex: str | None) -> list[Expect]:
    """The checks on what ingest measured of each file: duration, sample rate, channels, checksum, size."""
    specs = [Expect("ExpectColumnValuesToBeBetween", "Truncated or runaway audio files.",
                    {"column": "duration_s", "min_value": min_duration_s, "max_value": max_duration_s})]
    if rates is not None:
        specs.append(Expect("ExpectColumnValuesToBeInSet", "Sample rates the audio policy does not accept.",
                            {"column": "sample_rate", "value_set": rates}))
    specs += [
        Expect("ExpectColumnValuesToBeBetween", "More channels than the audio policy allows.",
               {"column": "channels", "min_value": 1, "max_value": max_channels}),
        Expect("ExpectColumnValuesToBeUnique", "The same audio twice: duplicates, and train/test leakage when "
               "the copies sit in different splits.", {"column": "checksum"}),
    ]
    if checksum_regex:
        specs.append(Expect("ExpectColumnValuesToMatchRegex", "A checksum that is not a SHA-256 hex digest.",
                            {"column": "checksum", "regex": checksum_regex}))
    specs.append(Expect("ExpectColumnValuesToBeBetween", "Empty files cannot be decoded.",
                        {"column": "n_bytes", "min_value": 0, "strict_min": True}))
    return specs


def validate_manifest(
    manifest: pd.DataFrame,
    *,
    genres: Iterable[str],
    min_duration_s: float,
    max_duration_s: float,
    sample_rates: Iterable[int] | None = None,
    max_channels: int = 2,
    splits: Iterable[str] = DEFAULT_SPLITS,
    checksum_regex: str | None = SHA256_REGEX,
    docs_dir: str | os.PathLike[str] | None = None,
    suite_name: str = "manifest",
) -> ValidationResult:
    """Validate the ingest manifest with Great Expectations.

    Parameters
    ----------
    manifest : pandas.DataFrame
        One row per clip, columns :data:`MANIFEST_COLUMNS` (extra columns are ignored).
    genres, min_duration_s, max_duration_s, sample_rates, max_channels, splits, checksum_regex
        What :func:`manifest_suite` checks.
    docs_dir : path-like, optional
        If given, the suite's Data Docs page (``index.html``, renders offline) is written there.
    suite_name : str, default "manifest"
        Name of the suite (in the summary and the Data Docs page).

    Returns
    -------
    ValidationResult
        ``success`` is False when any expectation fails; ``failures`` names
        each failing expectation and a few offending values and clips.

    Raises
    ------
    TypeError
        If ``manifest`` is not a DataFrame.
    ValueError
        If the bounds or vocabularies are inconsistent.
    """
    specs = manifest_suite(genres=genres, splits=splits, min_duration_s=min_duration_s,
                           max_duration_s=max_duration_s, sample_rates=sample_rates, max_channels=max_channels,
                           checksum_regex=checksum_regex)
    return run_suite(manifest, specs, suite_name=suite_name, docs_dir=docs_dir)
