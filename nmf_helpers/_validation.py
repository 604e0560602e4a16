"""Checks run once at the public edge, with messages that name the problem.

Every public function (a name in its module's ``__all__``) validates its own
arguments with these helpers, then hands them to unchecked cores; nothing
below the public edge checks again. Checks that several rooms share live
here, and every message names the public function, the argument and the
value, e.g. ``nmf_kl: K must be >= 1, got 0``.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping

import numpy as np

__all__ = ["ParameterError"]

#: The most iterations any loop of the package runs (NMF updates, Griffin-Lim
#: projections): far more than any fit needs (hundreds converge), and few enough
#: that the loss history of one run (8 bytes an iteration) stays small.
MAX_ITERATIONS = 1_000_000

# Float32's largest finite number (nmf_helpers._numerics.FLOAT32_MAX; this
# module sits beside that one, not above it, so it reads numpy's own value).
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class ParameterError(ValueError):
    """A bad argument to a public function of :mod:`nmf_helpers`.

    A subclass of :class:`ValueError`, so ``except ValueError`` catches it.
    The message names the function, the argument and the offending value.
    """


def check_int(function: str, name: str, value, *, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an integer in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{function}: {name} must be an integer, got {value!r}")
    if value < minimum:
        raise ParameterError(f"{function}: {name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{function}: {name} must be <= {maximum}, got {value}")
    return int(value)


def check_iterations(function: str, value, *, name: str = "n_iter", minimum: int = 1) -> int:
    """An iteration count in [minimum, :data:`MAX_ITERATIONS`]."""
    return check_int(function, name, value, minimum=minimum, maximum=MAX_ITERATIONS)


def _as_array(function: str, name: str, value) -> np.ndarray:
    """``value`` as an ndarray, refusing what np.asarray would silently misread.

    A scipy.sparse matrix becomes a 0-d object array, and a masked array
    loses its mask: both would give a wrong answer or a numpy error far from
    here, so they are refused by name.
    """
    if type(value).__module__.startswith("scipy.sparse"):
        raise ParameterError(
            f"{function}: {name} is a scipy.sparse {type(value).__name__}, and sparse"
            f" matrices are not accepted; pass {name}.toarray()"
        )
    if isinstance(value, np.ma.MaskedArray):
        masked = int(np.ma.count_masked(value))
        if masked:
            raise ParameterError(
                f"{function}: {name} is a masked array with {masked} masked entries, which"
                f" would be used as if unmasked; fill them first ({name}.filled(0.0))"
            )
        return np.asarray(value.data)
    try:
        return np.asarray(value)
    except Exception as error:  # ragged lists and other non-arrays
        raise ParameterError(f"{function}: {name} is not an array ({error})") from None


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
    """Return ``value`` as a 2-D array after checking finiteness, range, sign and shape.

    ``shape`` entries that are ``None`` are not checked. Every entry must be
    finite and representable in float32 (``|x| <= FLOAT32_MAX``, about
    3.4e38), the precision the package computes in: a float64 value beyond it
    would turn into Inf there, and then into NaN. The array is not copied
    here; callers that write into it make their own copy.
    """
    array = _as_array(function, name, value)
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
    if array.dtype.kind == "c":
        _check_finite(function, name, array)
        if array.dtype.itemsize > 8:  # complex64 holds float32 parts only
            _check_float32_range(function, name, np.abs(array.real).max(), "values")
            _check_float32_range(function, name, np.abs(array.imag).max(), "values")
        return array
    # One pass each for the smallest and the largest entry, both of which
    # propagate NaN and meet any Inf: they check finiteness, range and sign.
    lowest, highest = array.min(), array.max()
    if not (np.isfinite(lowest) and np.isfinite(highest)):
        _check_finite(function, name, array)
    if array.dtype.itemsize > 4 and array.dtype.kind == "f":  # ints and float32 always fit
        _check_float32_range(function, name, max(float(highest), -float(lowest)), "values")
    if nonnegative and lowest < 0:
        raise ParameterError(
            f"{function}: {name} must be nonnegative, got a minimum of {lowest:.4g}"
        )
    return array


def _check_finite(function: str, name: str, array: np.ndarray) -> None:
    if not np.all(np.isfinite(array)):
        bad = np.count_nonzero(~np.isfinite(array))
        raise ParameterError(f"{function}: {name} contains {bad} NaN or Inf entries")


def _check_float32_range(function: str, name: str, peak, what: str) -> None:
    """Refuse a finite ``peak`` (largest magnitude) that float32 cannot hold."""
    if float(peak) > _FLOAT32_MAX:
        raise ParameterError(
            f"{function}: {name} has {what} up to {float(peak):.3g} in magnitude, beyond"
            f" float32's range ({_FLOAT32_MAX:.3g}), in which nmf_helpers computes;"
            " scale it down first"
        )


def check_signal(function: str, name: str, value) -> np.ndarray:
    """Return a 1-D finite float32 waveform, or raise naming what is wrong.

    A sample beyond float32's range (``|x| > FLOAT32_MAX``) is refused: in
    float32 it would be Inf.
    """
    array = _as_array(function, name, value)
    if array.dtype.kind not in "biuf":
        raise ParameterError(f"{function}: {name} must be a real waveform, got {array.dtype}")
    if array.ndim != 1:
        raise ParameterError(
            f"{function}: {name} must be a mono 1-D waveform, got shape {array.shape}"
            " (downmix with load_audio or x.mean(axis=0))"
        )
    if array.size == 0:
        raise ParameterError(f"{function}: {name} is empty (no samples)")
    with np.errstate(over="ignore"):  # a sample beyond float32's range: refused just below
        signal = array.astype(np.float32, copy=False)
    # The float32 copy is finite exactly when x is finite and within range.
    if not np.all(np.isfinite(signal)):
        if not np.all(np.isfinite(array)):
            raise ParameterError(f"{function}: {name} contains NaN or Inf samples")
        _check_float32_range(function, name, np.abs(array).max(), "samples")
    return signal


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


def check_choice(function: str, name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``, or raise naming them."""
    if value not in choices:
        options = " or ".join(repr(choice) for choice in choices)
        raise ParameterError(f"{function}: {name} must be {options}, got {value!r}")
    return value


def check_frame_sizes(function: str, win, hop) -> tuple[int, int]:
    """Window and hop of an STFT: integers with ``1 <= hop <= win`` and ``win >= 2``."""
    win = check_int(function, "win", win, minimum=2)
    hop = check_int(function, "hop", hop, minimum=1)
    if hop > win:
        raise ParameterError(f"{function}: hop ({hop}) must not exceed win ({win})")
    return win, hop


def shorter_than_window(
    function: str, name: str, n_samples: int, win: int, sr: int | None = None
) -> ParameterError:
    """The error for a waveform shorter than one STFT window: how long, and how long it must be.

    In seconds too where the rate is known (a file is read at the package's
    rate, so its own count of samples is not what the user has).
    """
    if sr is None:
        return ParameterError(
            f"{function}: {name} has {n_samples} samples, shorter than one window (win = {win});"
            f" give at least {win} samples"
        )
    return ParameterError(
        f"{function}: {name} is {n_samples / sr:.3f} s long ({n_samples} samples at {sr} Hz),"
        f" shorter than one window ({win} samples, {win / sr:.3f} s);"
        f" give at least {win / sr:.3f} s of audio"
    )


def check_audio_for_frames(
    function: str, x, win, hop, *, name: str = "x"
) -> tuple[np.ndarray, int, int]:
    """A waveform, ``win`` and ``hop``: valid frame sizes, at least one window of audio."""
    win, hop = check_frame_sizes(function, win, hop)
    x = check_signal(function, name, x)
    if x.size < win:
        raise shorter_than_window(function, name, x.size, win)
    return x, win, hop


def is_silent(x: np.ndarray) -> bool:
    """Whether the waveform ``x`` is silent: all its samples are zero (the package's one rule).

    Exact, so gain-invariant like NMF itself: a quiet waveform is separated,
    scored and drawn as it would be at full scale; only a waveform with no
    signal at all has nothing to factorise.
    """
    return not np.any(x)


def check_not_silent(function: str, name: str, x: np.ndarray) -> np.ndarray:
    """``x`` unless it is silent (:func:`is_silent`): silence has nothing to factorise."""
    if is_silent(x):
        raise ParameterError(f"{function}: {name} is silent (all samples are zero)")
    return x


def check_factors(function: str, W, H) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative, finite W (M, K) and H (K, N) that can be multiplied."""
    W = check_matrix(function, "W", W)
    H = check_matrix(function, "H", H, shape=(W.shape[1], None))
    return W, H


def check_time_range(function: str, name: str, time_range, duration: float):
    """``(start, end)`` in seconds with ``0 <= start < end <= duration``, as floats.

    Messages call the two ends START and END, as the command line writes a
    range (``--vocals-from START:END``).
    """
    try:
        start, end = (float(t) for t in time_range)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{function}: {name} must be (start, end) in seconds, got {time_range!r}"
        ) from None
    if not np.isfinite(start) or start < 0:
        raise ParameterError(
            f"{function}: {name} {start:g}:{end:g}: START must be a finite number >= 0"
        )
    if not np.isfinite(end):
        raise ParameterError(f"{function}: {name} {start:g}:{end:g}: END must be a finite number")
    if end <= start:
        raise ParameterError(
            f"{function}: {name} {start:g}:{end:g} is empty; END must be greater than START"
        )
    if end > duration + 1e-6:
        raise ParameterError(
            f"{function}: {name} {start:g}:{end:g} ends after the song,"
            f" which lasts {duration:.3f} s"
        )
    return start, end


def check_components(function: str, K, shape: tuple[int, int], *, n_fixed: int = 0) -> int:
    """K as an int: at least 1, at least ``n_fixed``, and at most ``min(M, N)`` learned ones."""
    K = check_int(function, "K", K, minimum=1)
    if n_fixed > K:
        raise ParameterError(f"{function}: W_fixed has {n_fixed} columns, more than K = {K}")
    if K - n_fixed > min(shape):
        raise ParameterError(
            f"{function}: K = {K} is out of range: at most min(M, N) = {min(shape)}"
            f" learned components for V of shape {tuple(shape)}"
        )
    return K


#: A byte of a file name that is not UTF-8, as ``repr`` shows it once Python has decoded the
#: name with surrogateescape (PEP 383): ``\udce9`` for the byte 0xE9.
_ESCAPED_BYTE = re.compile(r"\\udc([89a-f][0-9a-f])")


def printable(text: str) -> str:
    """``text`` with every byte of a file name that is not UTF-8 shown as ``\\xe9``, as ``ls`` does.

    Such a name reaches Python with a surrogate for each odd byte
    (``caf\\udce9.wav``): printed raw it fails on a strict UTF-8 stream, and
    matplotlib refuses it; ``repr`` in a message shows ``\\udce9``, which no
    user recognises. Both forms become ``\\xe9``.

    Parameters
    ----------
    text : str
        A message or a name.

    Returns
    -------
    str
        The same text, encodable as UTF-8.

    Examples
    --------
    >>> printable("caf\\udce9.wav"), printable(repr("caf\\udce9.wav"))
    ('caf\\\\xe9.wav', "'caf\\\\xe9.wav'")
    """
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no byte stands for
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _ESCAPED_BYTE.sub(r"\\x\1", text)


# -- the shapes of data the notebooks' measures and tables take (nmf_helpers.analysis) --------


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
