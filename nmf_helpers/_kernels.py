"""Fused elementwise kernels for the hot loops (numba).

The NMF and Griffin-Lim loops spend their time in two places: matrix products
(BLAS already does those well) and passes over every one of the M x N entries.
A plain numpy expression such as ``V / (W @ H)`` followed by a separate
``np.log`` allocates temporaries and reads memory several times; the kernels
here read each entry once and write it once. The KL kernels are serial and
release the GIL, because KL NMF runs them on blocks of rows from its own
worker threads; the Griffin-Lim projection is a numba parallel loop.

Every kernel is private: inputs are validated by the public functions in
:mod:`nmf_helpers.nmf` and :mod:`nmf_helpers.spectral`, never here.
"""

from __future__ import annotations

import numba
import numpy as np

# The one epsilon of the package (see nmf_helpers.nmf.EPS for the reasoning).
EPS = np.float32(1e-12)

# Below this a complex STFT value is numerical noise and its phase is arbitrary.
PHASE_FLOOR = np.float32(1e-30)

_LN2 = np.float32(0.6931471805599453)
_SQRT_HALF = np.float32(0.7071067811865476)


@numba.njit(inline="always", fastmath=True)
def _log_f32(x):
    """Natural log of a positive normal float32, vectorisable by LLVM.

    ``np.log`` inside a numba loop becomes a scalar libm call that LLVM cannot
    vectorise (no SVML here), which makes the KL loss cost as much as a matrix
    product. This splits ``x = m * 2**e`` with integer bit operations and
    evaluates ``log(m) = 2 atanh(s)``, ``s = (m - 1) / (m + 1)``, as an odd
    series; for ``m`` in [sqrt(1/2), sqrt(2)) ``|s| < 0.172`` and the series
    converges to float32 precision (relative error below 2e-7).
    """
    bits = np.float32(x).view(np.int32)
    exponent = ((bits >> 23) & 0xFF) - 127
    mantissa = np.int32((bits & 0x007FFFFF) | 0x3F800000).view(np.float32)
    # Move m from [1, 2) to [sqrt(1/2), sqrt(2)) so that |s| stays small.
    if mantissa > np.float32(1.4142135623730951):
        mantissa = mantissa * np.float32(0.5)
        exponent += 1
    s = (mantissa - np.float32(1.0)) / (mantissa + np.float32(1.0))
    s2 = s * s
    series = np.float32(1.0) + s2 * (
        np.float32(1.0 / 3.0)
        + s2 * (np.float32(0.2) + s2 * (np.float32(1.0 / 7.0) + s2 * np.float32(1.0 / 9.0)))
    )
    return np.float32(2.0) * s * series + np.float32(exponent) * _LN2


# Serial and nogil: KL NMF calls these from its own worker threads, one block
# of rows each (see nmf_helpers._threads). error_model="numpy" drops the
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
            WH[m, n] = V[m, n] / max(WH[m, n], EPS)


@numba.njit(fastmath=True, cache=True, nogil=True, error_model="numpy")
def kl_ratio_and_divergence(V, WH):
    """Overwrite ``WH`` with ``V / max(WH, EPS)`` and return ``sum V log(ratio) - V``.

    The generalised KL divergence is
    ``D(V || WH) = sum(V log(V / WH) - V + WH)``; the caller adds ``sum(WH)``,
    which is cheap from the factors. Entries with ``V == 0`` contribute 0 (the
    limit of ``v log v``). Row sums are accumulated in float64.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), float32, C-contiguous]
    WH : np.ndarray [shape=(M, N), float32, C-contiguous], overwritten

    Returns
    -------
    partial : float
        ``sum over V > 0 of V log(V / WH) - V``.
    """
    M, N = V.shape
    total = 0.0
    for m in range(M):
        acc = np.float32(0.0)
        for n in range(N):
            v = V[m, n]
            ratio = v / max(WH[m, n], EPS)
            WH[m, n] = ratio
            # v == 0 would give log(0) = -inf times 0; the select keeps it 0.
            term = v * (_log_f32(max(ratio, EPS)) - np.float32(1.0))
            acc += term if v > 0 else np.float32(0.0)
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
            if norm > PHASE_FLOOR:
                out[r, c] = a * (target_magnitude[r, c] / norm)
            else:
                out[r, c] = target_magnitude[r, c]
