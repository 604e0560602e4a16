"""The checks that :mod:`.measures` and :mod:`.tables` share, each in its caller's name.

Their arguments are the notebooks' own shapes of data: a per-bin vector or a
spectrogram, ``{name: array}`` mappings, per-component scores, waveforms.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._validation import ParameterError, check_matrix, check_signal


def check_bins(function: str, A, name: str = "A") -> np.ndarray:
    """A per-bin vector (M,) or a spectrogram (M, N), returned 2-D, with M >= 2."""
    array = np.asarray(A)
    array = array[:, None] if array.ndim == 1 else array
    array = check_matrix(function, name, array)
    if array.shape[0] < 2:
        raise ParameterError(f"{function}: {name} needs at least 2 frequency bins, got 1")
    return array


def check_mapping(function: str, name: str, value) -> Mapping:
    """A non-empty mapping ``{name: array}``."""
    if not isinstance(value, Mapping) or not value:
        raise ParameterError(f"{function}: {name} must be a non-empty {{name: array}} mapping")
    return value


def check_scores(function: str, name: str, scores, K: int | None = None):
    """Names and an (S, K) float64 matrix from a mapping {name: per-component values}."""
    scores = check_mapping(function, name, scores)
    rows = [np.asarray(values) for values in scores.values()]
    if any(row.ndim != 1 for row in rows):
        raise ParameterError(f"{function}: every value of {name} must be 1-D, one per component")
    if len({row.size for row in rows}) != 1:
        raise ParameterError(f"{function}: the values of {name} must all have one length")
    matrix = check_matrix(function, name, np.stack(rows), shape=(None, K), nonnegative=False)
    return list(scores), matrix.astype(np.float64)


def check_waveforms(function: str, name: str, waveforms, n: int | None = None) -> dict:
    """{name: float32 waveform}, all of one length (``n`` if given)."""
    waveforms = check_mapping(function, name, waveforms)
    checked = {key: check_signal(function, f"{name}[{key!r}]", x) for key, x in waveforms.items()}
    lengths = {x.size for x in checked.values()} | ({n} if n is not None else set())
    if len(lengths) != 1:
        raise ParameterError(
            f"{function}: all waveforms must have one length, got {sorted(lengths)}"
        )
    return checked
