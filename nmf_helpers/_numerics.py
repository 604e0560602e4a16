"""The package's numerical floors, defined once, each with its reason.

Zeros in V, zeros in ``W H`` and numbers too small for float32 are handled
with the constants below and nowhere else with a literal of their own, and
every multiplicative update ends in :func:`multiplicative_update`, the one
place where the floors meet the updates. The numba kernels keep float32
copies of the constants (see :mod:`nmf_helpers._kernels`) so that their
arithmetic stays in float32.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "EPS",
    "LOG_FLOOR",
    "PHASE_FLOOR",
    "SMALLEST_NORMAL",
    "TINY",
    "multiplicative_update",
]

#: Added to every denominator of the multiplicative updates and used as the
#: floor of ``W H`` in the KL ratio ``V / max(W H, EPS)``. 1e-12 is far below
#: any audible magnitude yet far above float32's smallest normal number
#: (1.2e-38), so ``V / EPS`` cannot overflow for any spectrogram of audio in
#: [-1, 1].
EPS = 1e-12

#: Float32's smallest normal number. Factors that fall below it are set to
#: zero: they no longer change ``W H`` at all, yet arithmetic on subnormal
#: floats is 10 to 100 times slower on x86, and once KL NMF has driven some
#: activations that low (music with silent passages does, after some tens of
#: iterations) every later iteration slowed down several times. A zero stays
#: zero under multiplicative updates, which is what such an entry was
#: converging to anyway.
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
