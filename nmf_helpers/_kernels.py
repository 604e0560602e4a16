"""Fused elementwise kernels for the hot loops (numba).

The NMF and Griffin-Lim loops spend their time in two places: matrix products
(BLAS already does those well) and passes over every one of the M x N entries.
A plain numpy expression such as ``V / (W @ H)`` followed by a separate
``np.log`` allocates temporaries and reads memory several times; the kernels
here read each entry once and write it once. The KL kernels are serial and
release the GIL, because the KL sweep (:mod:`nmf_helpers._kl_sweep`) runs
them on blocks of rows from its own worker threads; the Griffin-Lim
projection is a numba parallel loop.

Every kernel is private: inputs are validated by the public functions in
:mod:`nmf_helpers.nmf` and :mod:`nmf_helpers.spectral`, never here.
"""

from __future__ import annotations

import numba
import numpy as np

from ._numerics import EPS, PHASE_FLOOR

# The floors of nmf_helpers._numerics (the reasoning is there) as float32:
# numba freezes a global as a constant of its own type, and a Python float
# would turn every comparison with it, and the loop around it, into float64.
EPS32 = np.float32(EPS)
PHASE_FLOOR32 = np.float32(PHASE_FLOOR)

_LN2 = np.float32(0.6931471805599453)
# Bits of float32 sqrt(1/2), and their distance to the bits of 1.0.
_SQRT_HALF_BITS = 0x3F3504F3
_SHIFT = 0x3F800000 - _SQRT_HALF_BITS


# Coefficients of P in log(1 + x) = x - x^2 / 2 + x^3 P(x), lowest power first,
# fitted by least squares on Chebyshev nodes of [sqrt(1/2) - 1, sqrt(2) - 1]
# (weighted for relative error) for this package. Evaluated in float32 the
# result is within 1.5e-7 relative error of log(1 + x) on that interval.
_LOG1P_COEFFICIENTS = tuple(
    np.float32(c)
    for c in (
        0.33333973, -0.25000969, 0.19960597, -0.16587949, 0.14950979, -0.14197472, 0.08506953
    )
)  # fmt: skip
_C0, _C1, _C2, _C3, _C4, _C5, _C6 = _LOG1P_COEFFICIENTS


@numba.njit(inline="always", fastmath=True)
def _log_f32(x):
    """Natural log of a positive normal float32, vectorisable by LLVM.

    ``np.log`` inside a numba loop becomes a scalar libm call that LLVM cannot
    vectorise (no SVML here), which makes the KL loss cost as much as a matrix
    product. This splits ``x = m * 2**e`` with integer bit operations, moves
    ``m`` into [sqrt(1/2), sqrt(2)) and evaluates ``log(m)`` as a polynomial
    in ``m - 1``: multiplies and adds only, because a vector division costs
    as much as the rest of the pass (relative error below 2e-7).
    """
    # Adding _SHIFT to the bits carries into the exponent exactly when the
    # mantissa m is at least sqrt(2); taking the mantissa bits back down by it
    # then leaves m in [sqrt(1/2), sqrt(2)), with no compare or select.
    bits = np.float32(x).view(np.int32) + _SHIFT
    mantissa = np.int32((bits & 0x007FFFFF) + _SQRT_HALF_BITS).view(np.float32)
    # Cast to int32 before converting: numba's integer arithmetic is 64-bit,
    # and a 64-bit conversion would run the whole loop in wider vector lanes.
    exponent = np.float32(np.int32((bits >> 23) - 127))
    t = mantissa - np.float32(1.0)
    t2 = t * t
    series = _C0 + t * (_C1 + t * (_C2 + t * (_C3 + t * (_C4 + t * (_C5 + t * _C6)))))
    return t - np.float32(0.5) * t2 + t2 * t * series + exponent * _LN2


# Serial and nogil: the KL sweep calls these from its own worker threads, one
# block of rows each (see nmf_helpers._kl_sweep). error_model="numpy" drops the
# Python zero-division check that otherwise stops LLVM from vectorising.
@numba.njit(fastmath=True, cache=True, nogil=True, error_model="numpy")
def kl_ratio(V, WH):
    """Overwrite ``WH`` with ``V / max(WH, EPS)``.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), float32, C-contiguous]
    WH : np.ndarray [shape=(M, N), float32, C-contiguous], overwritten
    """
    M, N = V.shape
    for m in range(M):
        for n in range(N):
            WH[m, n] = V[m, n] / max(WH[m, n], EPS32)


@numba.njit(fastmath=True, cache=True, nogil=True, error_model="numpy")
def kl_ratio_and_divergence(V, WH):
    """Overwrite ``WH`` with ``V / max(WH, EPS)`` and return ``D(V || WH)``.

    The generalised KL divergence is
    ``D(V || WH) = sum(V log(V / WH) - V + WH)``, summed here term by term.
    Entries with ``V == 0`` contribute ``WH`` (the limit of ``v log v`` is
    0). Each term is rounded in float32, so the absolute error is about
    float32 precision times ``sum(V)``: negligible for any loss curve, but an
    almost exact fit can come out slightly below 0. Row sums are accumulated
    in float64.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), float32, C-contiguous]
    WH : np.ndarray [shape=(M, N), float32, C-contiguous], overwritten

    Returns
    -------
    divergence : float
    """
    M, N = V.shape
    total = 0.0
    for m in range(M):
        acc = np.float32(0.0)
        for n in range(N):
            v = V[m, n]
            wh = WH[m, n]
            ratio = v / max(wh, EPS32)
            WH[m, n] = ratio
            # The floor keeps the log finite (and its input normal) when v is
            # 0 or tiny, so v == 0 contributes exactly 0 here.
            acc += v * (_log_f32(max(ratio, EPS32)) - np.float32(1.0)) + wh
        total += acc  # float64 across rows
    return total


# No fastmath here: it lets LLVM replace ``m / norm`` by ``m * (1 / norm)``,
# which overflows to Inf for subnormal norms and turned whole signals to NaN.
@numba.njit(parallel=True, cache=True)
def phase_projection(target_magnitude, rebuilt, previous, acceleration, out):
    """One fast Griffin-Lim projection, fused (Perraudin et al. 2013).

    ``out = target_magnitude * a / |a|`` with
    ``a = rebuilt - acceleration * previous``. Where ``|a|`` is too small to
    carry a phase (below ``PHASE_FLOOR``) the phase is taken as 0.

    Parameters
    ----------
    target_magnitude : np.ndarray [shape=(N, M), float32]
    rebuilt, previous : np.ndarray [shape=(N, M), complex64]
    acceleration : float
        ``momentum / (1 + momentum)``; 0 is the classic algorithm.
    out : np.ndarray [shape=(N, M), complex64], overwritten
    """
    rows, cols = target_magnitude.shape
    alpha = np.float32(acceleration)
    for r in numba.prange(rows):
        for c in range(cols):
            a = rebuilt[r, c] - alpha * previous[r, c]
            norm = np.abs(a)
            if norm > PHASE_FLOOR32:
                out[r, c] = a * (target_magnitude[r, c] / norm)
            else:
                out[r, c] = target_magnitude[r, c]
