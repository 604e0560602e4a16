"""Checks run once at the public edge, with messages that name the problem.

Every public function validates its own arguments with these helpers and then
trusts them; nothing below the public edge checks again.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["ParameterError"]


class ParameterError(ValueError):
    """A bad argument to a public function of :mod:`nmf_helpers`.

    A subclass of :class:`ValueError`, so ``except ValueError`` catches it.
    The message names the function, the argument and the offending value.
    """


def check_int(function: str, name: str, value, *, minimum: int) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{function}: {name} must be an integer, got {value!r}")
    if value < minimum:
        raise ParameterError(f"{function}: {name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(function: str, name: str, value, *, minimum: float, maximum: float) -> float:
    """Return ``value`` as a float, or raise if it is not a number in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ParameterError(f"{function}: {name} must be a finite number, got {value!r}")
    if not minimum <= value <= maximum:
        raise ParameterError(
            f"{function}: {name} must be between {minimum} and {maximum}, got {value}"
        )
    return float(value)


def check_matrix(
    function: str,
    name: str,
    value,
    *,
    shape: tuple[int | None, int | None] = (None, None),
    nonnegative: bool = True,
    allow_complex: bool = False,
) -> np.ndarray:
    """Return ``value`` as a 2-D array after checking finiteness, sign and shape.

    ``shape`` entries that are ``None`` are not checked. The array is not
    copied here; callers that write into it make their own copy.
    """
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged lists and other non-arrays
        raise ParameterError(f"{function}: {name} is not an array ({error})") from None
    kinds = "biufc" if allow_complex else "biuf"
    if array.dtype.kind not in kinds:
        raise ParameterError(f"{function}: {name} must be a numeric array, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ParameterError(
            f"{function}: {name} must be 2-D, got {array.ndim}-D with shape {array.shape}"
        )
    if array.size == 0:
        raise ParameterError(f"{function}: {name} is empty (shape {array.shape})")
    for axis, expected in enumerate(shape):
        if expected is not None and array.shape[axis] != expected:
            wanted = ", ".join("?" if size is None else str(size) for size in shape)
            raise ParameterError(
                f"{function}: {name} must have shape ({wanted}), got {array.shape}"
            )
    if not np.all(np.isfinite(array)):
        bad = np.count_nonzero(~np.isfinite(array))
        raise ParameterError(f"{function}: {name} contains {bad} NaN or Inf entries")
    if nonnegative and array.dtype.kind != "c" and array.min() < 0:
        raise ParameterError(
            f"{function}: {name} must be nonnegative, got a minimum of {array.min():.4g}"
        )
    return array


def check_signal(function: str, name: str, value) -> np.ndarray:
    """Return a 1-D finite float32 waveform, or raise naming what is wrong."""
    try:
        array = np.asarray(value)
    except Exception as error:
        raise ParameterError(f"{function}: {name} is not an array ({error})") from None
    if array.dtype.kind not in "biuf":
        raise ParameterError(f"{function}: {name} must be a real waveform, got {array.dtype}")
    if array.ndim != 1:
        raise ParameterError(
            f"{function}: {name} must be a mono 1-D waveform, got shape {array.shape}"
            " (downmix with load_audio or x.mean(axis=0))"
        )
    if array.size == 0:
        raise ParameterError(f"{function}: {name} is empty (no samples)")
    if not np.all(np.isfinite(array)):
        raise ParameterError(f"{function}: {name} contains NaN or Inf samples")
    return array.astype(np.float32, copy=False)


def check_seed(function: str, value) -> np.random.Generator | int:
    """A Generator as it is, or an int seed in [0, 2**32 - 1] (what every numpy RNG accepts)."""
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(
            f"{function}: seed must be an integer or a numpy Generator, got {value!r}"
        )
    if not 0 <= value < 2**32:
        raise ParameterError(f"{function}: seed must be between 0 and 2**32 - 1, got {value}")
    return int(value)
