"""The KL objective's step, made fast: blocks of rows, worker threads, buffers.

:mod:`nmf_helpers.nmf` states what one step of KL NMF computes (and shows it
in plain numpy, ``_KullbackLeibler.reference_step``)::

    R = V / WH                                 the ratio, with WH floored at EPS
    loss = sum(V log R - V + WH)               D(V || WH) of the factors given
    W <- W * (R H^T) / (1 H^T)                 free columns of W only
    R = V / WH                                 again, with the new W
    H <- H * (W^T R) / (W^T 1)

:class:`KLSweep` computes the same, in one sweep over blocks of rows, each
done while it is in cache: form ``W H`` for the block, turn it into the ratio
and add up the loss in the same fused pass (:mod:`nmf_helpers._kernels`),
update the block's rows of W (the W update is separable by rows), form the
ratio again with the new rows and add their share to the numerator of the H
update. H is updated once the sweep is done. When W has many fixed columns (a
sample's templates, learned elsewhere), the fixed columns' product is formed
once per block and kept: ``W H`` before and after the W update is that plus
the free columns' product, which spares one of the step's three large
products (:func:`_splits_product`). Worker threads share the blocks
(numpy's products and the numba kernels release the GIL) while BLAS and numba
run on one thread each.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np

from ._kernels import kl_ratio, kl_ratio_and_divergence
from ._numerics import multiplicative_update
from ._threads import library_threads, worker_count

__all__ = ["KLSweep"]


#: Fixed columns from which their product is kept through a step (:func:`_splits_product`);
#: ``benchmarks/bench_core.py --split`` times the step both ways.
_FEWEST_KEPT_FIXED = 64


def _block_rows(K: int) -> int:
    """Rows of ``W H`` that the sweep forms at a time (at most), for K components.

    With few components every product is a plain pass over memory, and so is
    each elementwise kernel: small blocks (32 rows of a 3-minute spectrogram
    are 1 MB, the block of V beside them another) keep the whole iteration in
    a core's L2 cache, where larger ones spill. From K = 5 on the products
    are bound by arithmetic and run faster on larger operands, which BLAS
    packs once per call: with the default window (1025 rows) each worker then
    does its share in one block. ``benchmarks/bench_core.py`` times both
    regimes (K = 3 and K = 30).
    """
    return 32 if K <= 4 else 1024


def _splits_product(K: int, first_free: int) -> bool:
    """Whether a step forms ``W H`` as the fixed columns' product plus the free columns'.

    The fixed product is kept from the first ``W H`` of a block to the
    second, so the step multiplies ``first_free + 2 (K - first_free)``
    columns instead of ``2 K``, but adds two passes over the block (the
    sums) and a product with few columns, which runs far below the speed of
    a large one. That pays only when the fixed columns are many
    (:data:`_FEWEST_KEPT_FIXED`) and at least twice the free ones, as in a
    sample's templates with their pitch copies (the detector).
    """
    return first_free >= max(_FEWEST_KEPT_FIXED, 2 * (K - first_free)) and first_free < K


def _row_blocks(start: int, stop: int, most_rows: int) -> list[slice]:
    """``range(start, stop)`` cut into the fewest equal blocks of at most ``most_rows``."""
    n_blocks = -(-(stop - start) // most_rows)
    bounds = np.linspace(start, stop, n_blocks + 1).round().astype(int)
    return [slice(low, high) for low, high in pairwise(bounds)]


class KLSweep:
    """One KL step, or the divergence alone, on V: blocked and threaded.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), float32, C-contiguous, non-negative]
    K : int
        Number of components (sizes the buffers and the blocks).

    Use it inside a ``with`` block, which starts the worker threads and holds
    BLAS and numba to one thread each, and ends both::

        with KLSweep(V, K) as sweep:
            loss = sweep.step(W, H, first_free)  # D(V || WH), then W and H updated
            loss = sweep.loss(W, H)              # D(V || WH) only

    The number of workers comes from :func:`nmf_helpers._threads.worker_count`:
    one on short clips, every usable core on long songs.
    """

    def __init__(self, V: np.ndarray, K: int):
        self.V = V
        n_shares = min(worker_count(V.size), V.shape[0])  # no worker without rows
        bounds = np.linspace(0, V.shape[0], n_shares + 1).round().astype(int)
        self.shares = [_row_blocks(start, stop, _block_rows(K)) for start, stop in pairwise(bounds)]
        rows = max(block.stop - block.start for share in self.shares for block in share)
        # Per worker: a block-sized buffer for W H, then the ratio, and its
        # share of the H update's numerator, with room for one product.
        self.buffers = [np.empty((rows, V.shape[1]), dtype=np.float32) for _ in self.shares]
        self.H_numerators = [np.empty((K, V.shape[1]), dtype=np.float32) for _ in self.shares]
        self.products = [np.empty((K, V.shape[1]), dtype=np.float32) for _ in self.shares]
        self._rows = rows
        self.fixed_products = None  # per worker, made by the first step that splits
        self.pool = None  # started by ``with``
        self._held = contextlib.ExitStack()

    def __enter__(self) -> KLSweep:
        with contextlib.ExitStack() as held:
            # The workers are the parallelism: two thread pools on the same
            # cores slow each other down (see nmf_helpers._threads).
            held.enter_context(library_threads(1))
            if len(self.shares) > 1:
                self.pool = held.enter_context(ThreadPoolExecutor(len(self.shares)))
            self._held = held.pop_all()
        return self

    def __exit__(self, *exc_info) -> None:
        self._held.close()
        self.pool = None

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

    def _free_product(self, worker, W, H, rows, first_free, fixed_product):
        """``W H`` on ``rows`` as ``fixed_product`` plus the free columns' product."""
        WH = self.buffers[worker][: rows.stop - rows.start]
        np.matmul(W[rows, first_free:], H[first_free:], out=WH)
        WH += fixed_product
        return WH

    def step(self, W: np.ndarray, H: np.ndarray, first_free: int) -> float:
        """``D(V || W H)`` at (W, H) as given, then one update of ``W[:, first_free:]`` and H.

        W and H (float32, C-contiguous) are updated in place.
        """
        free = slice(first_free, None)
        learns_W = first_free < W.shape[1]
        H_free_T = np.ascontiguousarray(H[free].T)
        W_denominator = H[free].sum(axis=1)  # 1 H^T: the same for every row
        splits = _splits_product(W.shape[1], first_free)
        if splits and self.fixed_products is None:
            self.fixed_products = [
                np.empty((self._rows, self.V.shape[1]), dtype=np.float32) for _ in self.shares
            ]

        def work(worker):
            divergence = 0.0
            H_numerator = self.H_numerators[worker]
            for block, rows in enumerate(self.shares[worker]):
                if splits:
                    fixed_product = self.fixed_products[worker][: rows.stop - rows.start]
                    np.matmul(W[rows, :first_free], H[:first_free], out=fixed_product)
                    ratio = self._free_product(worker, W, H, rows, first_free, fixed_product)
                else:
                    ratio = self._product(worker, W, H, rows)
                divergence += kl_ratio_and_divergence(self.V[rows], ratio)
                if learns_W:
                    multiplicative_update(W[rows, free], ratio @ H_free_T, W_denominator)
                    if splits:
                        ratio = self._free_product(worker, W, H, rows, first_free, fixed_product)
                    else:
                        ratio = self._product(worker, W, H, rows)
                    kl_ratio(self.V[rows], ratio)
                # This block's share of W^T R.
                if block == 0:
                    np.matmul(W[rows].T, ratio, out=H_numerator)
                else:
                    H_numerator += np.matmul(W[rows].T, ratio, out=self.products[worker])
            return divergence

        divergence = sum(self._on_each_share(work))
        # The workers' shares, always added in the same order: a result does
        # not depend on which worker finished first.
        H_numerator = self.H_numerators[0]
        for other in self.H_numerators[1:]:
            H_numerator += other
        multiplicative_update(H, H_numerator, W.sum(axis=0)[:, None])
        # Every term of the divergence is >= 0; only rounding could dip below.
        return max(divergence, 0.0)

    def loss(self, W: np.ndarray, H: np.ndarray) -> float:
        """``D(V || W H)``, with nothing updated."""

        def work(worker):
            return sum(
                kl_ratio_and_divergence(self.V[rows], self._product(worker, W, H, rows))
                for rows in self.shares[worker]
            )

        return max(sum(self._on_each_share(work)), 0.0)
