"""Nonnegative matrix factorisation by multiplicative updates (Lee & Seung).

``V ~ W H`` with ``V`` of shape (M, N) (frequency bins x frames), ``W`` of
shape (M, K) (one spectral template per column) and ``H`` of shape (K, N)
(one activation row per template). Two objectives are minimised:

* Euclidean: ``||V - W H||_F^2 = sum_mn (V_mn - (WH)_mn)^2``
* generalised Kullback-Leibler:
  ``D(V || W H) = sum_mn V_mn log(V_mn / (WH)_mn) - V_mn + (WH)_mn``

Lee & Seung (2001) proved that their multiplicative updates never increase
either objective, so the loss curves returned here are monotone (to float32
rounding). One engine, :func:`_factorise`, runs every variant: the objective
is a small class whose ``step`` reports the loss of the current factors and
then updates W and H (so each can get its loss from work the update does
anyway), and fixing the first F columns of W just means the W update touches
columns F..K-1 only.

Numerical hazards are handled in one place, with one constant, :data:`EPS`:
denominators get ``+ EPS`` and the KL ratio uses ``max(W H, EPS)``, so zeros
in V, silent frames and all-zero columns give zeros, never NaN or Inf.

References
----------
D. D. Lee and H. S. Seung, "Algorithms for non-negative matrix
factorization", NIPS 13, 2001.

S. Gururani and A. Lerch, "Automatic sample detection in polyphonic music",
ISMIR 2017 (partially fixed W).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
from tqdm.auto import tqdm

from . import _kernels
from ._threads import library_threads, worker_count
from ._validation import ParameterError, check_int, check_matrix, check_seed

__all__ = ["EPS", "nmf_euclidean", "nmf_kl"]

#: Added to every denominator and used as the floor of ``W H`` in the KL
#: ratio. 1e-12 is far below any audible magnitude yet far above float32's
#: smallest normal number (1.2e-38), so ``V / EPS`` cannot overflow for any
#: spectrogram of audio in [-1, 1].
EPS = float(_kernels.EPS)

# Entries that fall below float32's smallest normal number are set to zero.
# They no longer change W H at all, yet arithmetic on subnormal floats is 10
# to 100 times slower on x86 and, once KL NMF has driven some activations
# that low (after ~50 iterations on music with silent passages), it made
# every later iteration 7x slower. A zero stays zero under multiplicative
# updates, which is what such an entry was converging to anyway.
_SMALLEST_NORMAL = np.finfo(np.float32).tiny


def _block_rows(K: int) -> int:
    """Rows of ``W H`` that KL NMF forms at a time (at most), for K components.

    With few components every product is a plain pass over memory, and so is
    each elementwise kernel: blocks of 32 rows (1 MB of a 3-minute
    spectrogram, the block of V beside it another) keep the whole iteration
    in a core's L2 cache. From K = 5 on the products are bound by arithmetic
    and run faster on larger operands, which BLAS packs once per call: with
    the default window (1025 rows) each worker then does its share in one
    block. Measured on a 3-minute spectrogram (benchmarks/bench_core.py's
    input), time over the GEMM floor: K = 3: 1.47 with 32 rows, 1.73 with
    64; K = 10: 1.54 with two blocks of 256 rows per worker, 1.35 with one
    of 513; K = 30: 1.40 and 1.30.
    """
    return 32 if K <= 4 else 1024


def _row_blocks(start: int, stop: int, most_rows: int) -> list[slice]:
    """``range(start, stop)`` cut into the fewest equal blocks of at most ``most_rows``."""
    n_blocks = -(-(stop - start) // most_rows)
    bounds = np.linspace(start, stop, n_blocks + 1).round().astype(int)
    return [slice(low, high) for low, high in pairwise(bounds)]


def _multiplicative_update(factor, numerator, denominator):
    """``factor *= numerator / (denominator + EPS)`` in place; ``numerator`` is consumed.

    ``factor`` may be a view (the free columns of W); ``denominator``
    broadcasts against it.
    """
    numerator /= denominator + np.float32(EPS)
    factor *= numerator
    np.copyto(factor, 0.0, where=factor < _SMALLEST_NORMAL)


class _Euclidean:
    """Squared Frobenius error and its Lee-Seung updates.

    The loss comes from products the H update already has, never from
    ``W @ H``: ``||V||^2 - 2 <H, W^T V> + <W^T W, H H^T>``.
    """

    runs_own_workers = False  # its products use BLAS's own threads

    def __init__(self, V: np.ndarray, K: int, n_workers: int = 1):
        # K and n_workers are part of the objectives' shared constructor;
        # the Euclidean products need neither.
        self.V = V
        self.norm_V_squared = float(np.einsum("ij,ij->", V, V, dtype=np.float64))
        self.WtV = self.WtW = None  # W^T V and W^T W, kept while W does not change

    def close(self):
        pass

    def _products_of_W(self, W):
        if self.WtV is None:
            self.WtV = W.T @ self.V
            self.WtW = W.T @ W

    def step(self, W, H, first_free):
        """The loss at (W, H) as given, then one update of W's free columns and of H."""
        loss = self.loss(W, H)
        free = slice(first_free, None)
        if first_free < W.shape[1]:
            numerator = self.V @ H[free].T
            denominator = W @ (H @ H[free].T)
            _multiplicative_update(W[:, free], numerator, denominator)
            self.WtV = None
        self._products_of_W(W)
        _multiplicative_update(H, self.WtV.copy(), self.WtW @ H)
        return loss

    def loss(self, W, H):
        self._products_of_W(W)
        cross = np.einsum("kn,kn->", H, self.WtV, dtype=np.float64)
        WtW = self.WtW.astype(np.float64)
        HHt = (H @ H.T).astype(np.float64)
        return max(self.norm_V_squared - 2.0 * cross + np.vdot(WtW, HHt), 0.0)


class _KullbackLeibler:
    """Generalised KL divergence D(V || WH) and its Lee-Seung updates.

    Both updates need the ratio ``V / (W H)``, and the loss needs its
    logarithm. One iteration is one sweep over blocks of rows (see
    :func:`_block_rows`), each done while it is in cache: form ``W H`` for
    the block, turn it into the ratio and add up the loss of the current
    (W, H) in the same pass, update the block's rows of W (the W update is
    separable by rows), form the ratio again with the new rows and add their
    share to the numerator of the H update. H is updated once the sweep is
    done. The loss of each iteration's result is therefore reported by the
    next sweep at no extra cost; only the last one needs a pass of its own.

    ``n_workers`` threads share the blocks (numpy's products and the numba
    kernels release the GIL) while BLAS runs on one thread each.
    """

    runs_own_workers = True

    def __init__(self, V: np.ndarray, K: int, n_workers: int = 1):
        self.V = V
        n_shares = min(n_workers, V.shape[0])  # no worker without rows
        bounds = np.linspace(0, V.shape[0], n_shares + 1).round().astype(int)
        self.shares = [_row_blocks(start, stop, _block_rows(K)) for start, stop in pairwise(bounds)]
        rows = max(block.stop - block.start for share in self.shares for block in share)
        # Per worker: a block-sized buffer for W H, then the ratio, and its
        # share of the H update's numerator, with room for one product.
        self.buffers = [np.empty((rows, V.shape[1]), dtype=np.float32) for _ in self.shares]
        self.H_numerators = [np.empty((K, V.shape[1]), dtype=np.float32) for _ in self.shares]
        self.products = [np.empty((K, V.shape[1]), dtype=np.float32) for _ in self.shares]
        self.pool = ThreadPoolExecutor(n_shares) if n_shares > 1 else None

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()

    def _on_each_share(self, work):
        """``[work(worker) for each worker's index]``, run in parallel."""
        if self.pool is None:
            return [work(0)]
        return list(self.pool.map(work, range(len(self.shares))))

    def _product(self, worker, W, H, rows):
        """``W H`` on ``rows``, in the worker's buffer (a view of it)."""
        WH = self.buffers[worker][: rows.stop - rows.start]
        np.matmul(W[rows], H, out=WH)
        return WH

    def step(self, W, H, first_free):
        """The loss at (W, H) as given, then one update of W's free columns and of H."""
        free = slice(first_free, None)
        learns_W = first_free < W.shape[1]
        H_free_T = np.ascontiguousarray(H[free].T)
        W_denominator = H[free].sum(axis=1)

        def work(worker):
            divergence = 0.0
            H_numerator = self.H_numerators[worker]
            for block, rows in enumerate(self.shares[worker]):
                ratio = self._product(worker, W, H, rows)
                divergence += _kernels.kl_ratio_and_divergence(self.V[rows], ratio)
                if learns_W:
                    _multiplicative_update(W[rows, free], ratio @ H_free_T, W_denominator)
                    ratio = self._product(worker, W, H, rows)
                    _kernels.kl_ratio(self.V[rows], ratio)
                if block == 0:
                    np.matmul(W[rows].T, ratio, out=H_numerator)
                else:
                    H_numerator += np.matmul(W[rows].T, ratio, out=self.products[worker])
            return divergence

        divergence = sum(self._on_each_share(work))
        H_numerator = self.H_numerators[0]
        for other in self.H_numerators[1:]:
            H_numerator += other
        _multiplicative_update(H, H_numerator, W.sum(axis=0)[:, None])
        # Every term of the divergence is >= 0; only rounding could dip below.
        return max(divergence, 0.0)

    def loss(self, W, H):
        def work(worker):
            return sum(
                _kernels.kl_ratio_and_divergence(self.V[rows], self._product(worker, W, H, rows))
                for rows in self.shares[worker]
            )

        return max(sum(self._on_each_share(work)), 0.0)


def _initial_factors(V, K, rng, W_fixed, W_init, H_init):
    """Random (or given) starting W and H in float32, scaled so mean(WH) = mean(V)."""
    M, N = V.shape
    if W_init is None:
        # 1 - random() lies in (0, 1]: an exact zero would stay zero forever.
        W = (1.0 - rng.random((M, K))).astype(np.float32)
    else:
        W = np.array(W_init, dtype=np.float32, order="C")
    if H_init is None:
        H = (1.0 - rng.random((K, N))).astype(np.float32)
    else:
        H = np.array(H_init, dtype=np.float32, order="C")
    if W_fixed is not None:
        W[:, : W_fixed.shape[1]] = W_fixed
    if W_init is None or H_init is None:
        mean_WH = np.dot(W.sum(axis=0, dtype=np.float64), H.sum(axis=1)) / (M * N)
        scale = V.mean(dtype=np.float64) / max(mean_WH, EPS)
        if H_init is None:
            H *= np.float32(scale)
        else:
            W[:, 0 if W_fixed is None else W_fixed.shape[1] :] *= np.float32(scale)
    return W, H


def _factorise(function, objective_class, V, K, n_iter, seed, W_fixed, W_init, H_init, progress):
    """Validate the arguments once, then run the one multiplicative-update loop."""
    V = check_matrix(function, "V", V)
    M, N = V.shape
    if not V.any():
        raise ParameterError(
            f"{function}: V is all zeros (silence?): there is nothing to factorise"
        )
    K = check_int(function, "K", K, minimum=1)
    n_iter = check_int(function, "n_iter", n_iter, minimum=1)
    n_fixed = 0
    if W_fixed is not None:
        W_fixed = check_matrix(function, "W_fixed", W_fixed, shape=(M, None))
        n_fixed = W_fixed.shape[1]
        if n_fixed > K:
            raise ParameterError(f"{function}: W_fixed has {n_fixed} columns, more than K = {K}")
    if K - n_fixed > min(M, N):
        raise ParameterError(
            f"{function}: K = {K} is out of range: at most min(M, N) = {min(M, N)}"
            f" learned components for V of shape {V.shape}"
        )
    if W_init is not None:
        W_init = check_matrix(function, "W_init", W_init, shape=(M, K))
    if H_init is not None:
        H_init = check_matrix(function, "H_init", H_init, shape=(K, N))
    seed = check_seed(function, seed)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    V = np.ascontiguousarray(V, dtype=np.float32)
    W, H = _initial_factors(V, K, rng, W_fixed, W_init, H_init)
    workers = worker_count(V.size)
    objective = objective_class(V, K, workers)
    # Where the objective runs its own workers, BLAS gets one thread each.
    blas_threads = 1 if objective.runs_own_workers or workers == 1 else None
    # losses[i] is the loss of the i-th iterate; step() reports the loss of
    # the (W, H) it starts from, so the last one is asked for separately.
    losses = np.empty(n_iter + 1, dtype=np.float64)
    with (
        library_threads(blas_threads),
        tqdm(total=n_iter, desc=function, disable=not progress, leave=False) as bar,
    ):
        try:
            for iteration in range(n_iter):
                losses[iteration] = objective.step(W, H, n_fixed)
                bar.update()
                if progress and iteration % 10 == 0:
                    bar.set_postfix(loss=f"{losses[iteration]:.4g}", refresh=False)
            losses[n_iter] = objective.loss(W, H)
        finally:
            objective.close()
    return W, H, losses[1:]


_COMMON_DOC = """
    Parameters
    ----------
    V : np.ndarray [shape=(M, N), non-negative, finite]
        The matrix to factorise, typically a magnitude spectrogram. Not modified.
    K : int >= 1
        Number of components (columns of W, rows of H).
    n_iter : int >= 1
        Number of multiplicative-update iterations (each updates W, then H).
    seed : int or np.random.Generator
        Seed of the random initialisation. The default is fixed, so two runs
        give bit-identical results on the same machine.
    W_fixed : np.ndarray [shape=(M, F), non-negative], F <= K, optional
        Templates kept fixed: they become ``W[:, :F]`` and are never updated
        (bit-identical to ``W_fixed`` cast to float32). ``F == K`` learns H
        only ("fully fixed W"); ``F < K`` also learns ``K - F`` free columns.
    W_init : np.ndarray [shape=(M, K)], optional
        Warm start for W (its first F columns are replaced by ``W_fixed``).
    H_init : np.ndarray [shape=(K, N)], optional
        Warm start for H.
    progress : bool
        Show a tqdm progress bar (a widget in Jupyter).

    Returns
    -------
    W : np.ndarray [shape=(M, K), float32]
    H : np.ndarray [shape=(K, N), float32]
    losses : np.ndarray [shape=(n_iter,), float64]
        The objective after each iteration; it never increases.
"""


def nmf_euclidean(
    V,
    K,
    *,
    n_iter: int = 100,
    seed: int | np.random.Generator = 0,
    W_fixed=None,
    W_init=None,
    H_init=None,
    progress: bool = False,
):
    """Euclidean NMF: minimise ``||V - W H||_F^2`` with Lee-Seung updates.

    ``W <- W * (V H^T) / (W H H^T)`` then ``H <- H * (W^T V) / (W^T W H)``.
    The loss is computed from the small products the updates already form,
    so tracking it every iteration costs no extra pass over V. Those products
    are float32, so the tracked value is accurate to about ``1e-6 ||V||_F^2``:
    exact enough for any loss curve, but for a near-perfect fit compute
    ``np.sum((V - W @ H) ** 2)`` in float64 if you need the last digits.
    {common}
    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V = np.random.default_rng(1).random((64, 40))
    >>> W, H, losses = nh.nmf_euclidean(V, K=4, n_iter=50)
    >>> W.shape, H.shape, len(losses)
    ((64, 4), (4, 40), 50)
    >>> bool(np.all(np.diff(losses) <= 1e-4 * losses[0]))
    True
    """
    return _factorise(
        "nmf_euclidean", _Euclidean, V, K, n_iter, seed, W_fixed, W_init, H_init, progress
    )


def nmf_kl(
    V,
    K,
    *,
    n_iter: int = 100,
    seed: int | np.random.Generator = 0,
    W_fixed=None,
    W_init=None,
    H_init=None,
    progress: bool = False,
):
    """KL NMF: minimise ``D(V || W H) = sum V log(V / WH) - V + WH`` (Lee-Seung).

    ``W <- W * ((V / WH) H^T) / (1 H^T)`` then
    ``H <- H * (W^T (V / WH)) / (W^T 1)``. The divergence is evaluated at
    every iteration in the same fused pass that forms ``V / WH``.
    {common}
    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V = np.random.default_rng(1).random((64, 40))
    >>> W, H, losses = nh.nmf_kl(V, K=4, n_iter=50)
    >>> bool(losses[-1] < losses[0])
    True

    Learn templates on one clip, then fit another with them fixed plus two
    free components:

    >>> V2 = np.random.default_rng(2).random((64, 30))
    >>> W2, H2, _ = nh.nmf_kl(V2, K=6, W_fixed=W)
    >>> bool(np.array_equal(W2[:, :4], W))
    True
    """
    return _factorise(
        "nmf_kl", _KullbackLeibler, V, K, n_iter, seed, W_fixed, W_init, H_init, progress
    )


nmf_euclidean.__doc__ = nmf_euclidean.__doc__.replace("{common}", _COMMON_DOC)
nmf_kl.__doc__ = nmf_kl.__doc__.replace("{common}", _COMMON_DOC)
