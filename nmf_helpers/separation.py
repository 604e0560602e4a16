"""Hearing single NMF components: the column view of W H.

``W H = sum_k W[:, k] H[k, :]``: the product is a sum of K rank-one
spectrograms, one per component. Keeping W and zeroing every row of H but
row k leaves exactly the k-th term, the part of the mixture that component k
explains.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import ParameterError, check_matrix

__all__ = ["component", "components"]


def _check_factors(function: str, W, H) -> tuple[np.ndarray, np.ndarray]:
    W = check_matrix(function, "W", W)
    H = check_matrix(function, "H", H, shape=(W.shape[1], None))
    return W, H


def _check_indices(function: str, ks, K: int) -> list[int]:
    if isinstance(ks, numbers.Integral) and not isinstance(ks, bool):
        ks = [ks]
    try:
        indices = [int(k) for k in ks]
    except TypeError:
        raise ParameterError(f"{function}: ks must be integers, got {ks!r}") from None
    if not indices:
        raise ParameterError(f"{function}: ks is empty; give at least one component")
    bad = [k for k in indices if not -K <= k < K]
    if bad:
        raise ParameterError(f"{function}: component index {bad[0]} out of range for K = {K}")
    return indices


def components(W, H, ks) -> np.ndarray:
    """Spectrogram of a group of components: ``W H`` with only rows ``ks`` of H kept.

    Parameters
    ----------
    W : np.ndarray [shape=(M, K), non-negative]
    H : np.ndarray [shape=(K, N), non-negative]
    ks : int or sequence of int
        Component indices (negative indices count from the end).

    Returns
    -------
    np.ndarray [shape=(M, N)]
        ``sum over k in ks of outer(W[:, k], H[k, :])``; equal to ``W @ H_k``
        where ``H_k`` is H with every other row set to zero.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> W, H = np.ones((4, 3)), np.arange(6.0).reshape(3, 2)
    >>> np.allclose(sum(nh.component(W, H, k) for k in range(3)), W @ H)
    True
    """
    W, H = _check_factors("components", W, H)
    indices = sorted(set(k % W.shape[1] for k in _check_indices("components", ks, W.shape[1])))
    return W[:, indices] @ H[indices, :]


def component(W, H, k: int) -> np.ndarray:
    """Spectrogram ``W[:, k] H[k, :]`` of one component (see :func:`components`).

    Parameters
    ----------
    W : np.ndarray [shape=(M, K)]
    H : np.ndarray [shape=(K, N)]
    k : int
        Component index.

    Returns
    -------
    np.ndarray [shape=(M, N)]
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise ParameterError(f"component: k must be an integer, got {k!r}")
    W, H = _check_factors("component", W, H)
    _check_indices("component", [k], W.shape[1])
    return np.outer(W[:, k], H[k, :])
