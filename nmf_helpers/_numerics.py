"""The package's numerical floors, defined once, each with its reason.

Zeros in V, zeros in ``W H`` and numbers too small for float32 are handled
with the constants below and nowhere else with a literal of their own, and
every multiplicative update ends in :func:`multiplicative_update`, the one
place where the floors meet the updates. The numba kernels keep float32
copies of the constants (see :mod:`nmf_helpers._kernels`) so that their
arithmetic stays in float32. Inputs far from audio's magnitudes, where
float32's range or the floors would get in the way, are first brought into
:data:`UNSCALED_RANGE` by a power of two (:func:`scaled_into_range`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "EPS",
    "FLOAT32_MAX",
    "LOG_FLOOR",
    "PHASE_FLOOR",
    "SMALLEST_NORMAL",
    "TINY",
    "UNSCALED_RANGE",
    "multiplicative_update",
    "passes_float32_range",
    "rescaling_exponent",
    "scaled_into_range",
]

#: Added to every denominator of the multiplicative updates and used as the
#: floor of ``W H`` in the KL ratio ``V / max(W H, EPS)``. 1e-12 is far below
#: any audible magnitude yet far above float32's smallest normal number
#: (1.2e-38), so ``V / EPS`` cannot overflow for any spectrogram of audio in
#: [-1, 1].
EPS = 1e-12

#: Float32's smallest normal number. Factors that fall below it are set to
#: zero: they no longer change ``W H`` at all, yet arithmetic on subnormal
#: floats leaves the processor's fast path (on x86 by orders of magnitude),
#: and KL NMF of music with silent passages drives some activations that low,
#: after which every iteration would pay for them. A zero stays zero under
#: multiplicative updates, which is what such an entry was converging to
#: anyway.
SMALLEST_NORMAL = np.finfo(np.float32).tiny

#: Float64's smallest normal number: the floor of a float64 denominator that
#: is 0 only when every term of it is (an all-zero template or activation),
#: where any positive floor gives the right answer, 0 / TINY = 0, and a
#: larger one would bias ratios of small but genuine sums.
TINY = float(np.finfo(np.float64).tiny)

#: Relative floor before a logarithm of magnitudes: 1e-10 of the largest
#: (-200 dB), far below anything audible, so a template's exact zeros weigh
#: in a geometric mean (spectral flatness) as "silent", not as minus infinity.
LOG_FLOOR = 1e-10

#: Float32's largest finite number, about 3.4e38: the package computes in
#: float32, so a value beyond it (or a product that would pass it) is Inf.
FLOAT32_MAX = float(np.finfo(np.float32).max)

#: Peaks (largest magnitudes) that the NMF loop, Griffin-Lim and the soft masks
#: use as they are. Outside this range an input is first scaled by a power of
#: two to a peak in [0.5, 1) and the result scaled back (see
#: :func:`rescaling_exponent`). Above 1e12, Euclidean NMF's products, which grow
#: as ``N * max(V)**2`` (``H H^T``, ``V H^T``), would come within reach of
#: FLOAT32_MAX on long songs; below 1e-3, EPS in the denominators is no longer
#: negligible (Euclidean NMF's ``W H H^T`` is then about ``N * 1e-6``). The
#: spectrogram of any audio in [-1, 1] peaks far inside the range (at most
#: ``win / 2``), so ordinary inputs are never scaled: their results are bit for
#: bit those of the plain computation.
UNSCALED_RANGE = (1e-3, 1e12)

#: Below this magnitude a complex STFT value is numerical noise and its phase
#: is arbitrary: Griffin-Lim takes the phase as 0 there rather than divide by
#: a (possibly subnormal) magnitude.
PHASE_FLOOR = 1e-30


def multiplicative_update(factor: np.ndarray, numerator: np.ndarray, denominator) -> None:
    """``factor <- factor * numerator / (denominator + EPS)``, in place.

    The one step every multiplicative update of the package ends with, and so
    the one place where its floors apply: ``EPS`` keeps the quotient finite
    where the denominator is 0 (a silent frame, an all-zero template), and
    entries that fall below :data:`SMALLEST_NORMAL` become exact zeros.

    Parameters
    ----------
    factor : np.ndarray [float32], updated in place
        W, H, or a view of them (the free columns of W, a block of rows).
    numerator : np.ndarray [same shape as ``factor``, float32], overwritten
        Consumed as scratch space.
    denominator : np.ndarray [float32]
        Broadcasts against ``factor``.
    """
    numerator /= denominator + np.float32(EPS)
    factor *= numerator
    np.copyto(factor, 0.0, where=factor < SMALLEST_NORMAL)


def rescaling_exponent(peak: float) -> int:
    """The power of two to divide an input by: ``e`` with ``peak / 2**e`` in [0.5, 1).

    0 (use the input as it is) when ``peak`` lies in :data:`UNSCALED_RANGE`
    or is 0.

    Parameters
    ----------
    peak : float
        The largest magnitude of the input, finite and >= 0.
    """
    low, high = UNSCALED_RANGE
    if peak == 0 or low <= peak <= high:
        return 0
    return int(np.frexp(peak)[1])


def scaled_into_range(array: np.ndarray) -> tuple[np.ndarray, int]:
    """``(array / 2**e, e)`` with the peak of ``array / 2**e`` in [0.5, 1), or ``(array, 0)``.

    ``e`` is :func:`rescaling_exponent` of the largest magnitude, so an array
    whose peak lies in :data:`UNSCALED_RANGE` comes back as it is (not
    copied). A power of two changes no digit of a float (``np.ldexp``), so a
    computation that is linear or scale-free gives, on the scaled array, its
    result on ``array`` divided by ``2**e`` (or by a power of it); only the
    floors above, where they apply, see the difference, which is the point.

    Parameters
    ----------
    array : np.ndarray [real, finite]
    """
    exponent = rescaling_exponent(max(float(array.max()), -float(array.min())))
    return (np.ldexp(array, -exponent), exponent) if exponent else (array, 0)


def passes_float32_range(array: np.ndarray, exponent: int) -> bool:
    """True if ``array * 2**exponent`` would pass float32's range (become Inf).

    The way back from :func:`scaled_into_range`: the result of a computation
    on the scaled input may be too large for float32 once scaled back.
    """
    peak = max(float(array.max()), -float(array.min()))
    # peak = m * 2**p, m in [0.5, 1): float32 holds m * 2**(p + exponent) while p + exponent <= 128
    return int(np.frexp(peak)[1]) + exponent > np.finfo(np.float32).maxexp
