"""Where does a part of one activation sequence play in another, and how fast?

:mod:`nmf_helpers.detection.door` fits a track with a sample's fixed templates and
then has to find the sample's sequence of activations, ``sample`` (R, L: R
features by L frames), inside the track's, ``track`` (R, N). A producer may use
any part of the sample (a "chop"), at a slightly different tempo, so what is
searched for is a *local* match: a window of the track, of at least ``window``
frames, that lines up with some part of the sample played ``ratio`` times faster.

This is the subsequence alignment of Gururani & Lerch (2017), who align the
activations with subsequence dynamic time warping
(``librosa.sequence.dtw(subseq=True)``). Here the warping path is held
straight: a time-stretch or a record speed-up changes the tempo by one
constant ratio, and a path free to bend finds a good-looking alignment in
music that merely shares the sample's chords (a free path may linger on any
chord until the next matches), which is exactly what a hard negative offers.
For each ratio of a grid the sample is resampled in time, every pair of
(track frame, sample frame) is scored by the dot product of their
activations, and the scores are summed along each diagonal over ``window``
frames: the result, divided by the two windows' norms, is the cosine
similarity of a track window and a sample window. Every diagonal, start and
ratio is tried, which is what DTW's subsequence mode does for the start and
end, at the cost of one matrix product per ratio.

References
----------
S. Gururani and A. Lerch, "Automatic sample detection in polyphonic music",
ISMIR 2017. M. Müller, *Fundamentals of Music Processing*, 2nd ed. (2021),
section 7.2.3 (subsequence DTW).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .._numerics import EPS

__all__: list[str] = []  # cores only: the door (door.py) checks every argument


@dataclass(frozen=True)
class WindowMatch:
    """The best window match for each start frame of the track.

    All arrays have shape ``(n_starts,)``, one entry per track frame ``t``
    where a window of ``window`` frames can start; ``score[t]`` is the
    largest cosine similarity of the track window ``track[:, t:t+window]`` with
    any window of the sample at any ratio and candidate, and the other
    arrays say which: candidate index, ratio, and the sample window's start
    in frames of the *resampled* sample (multiply by the ratio for frames of
    the sample).
    """

    score: np.ndarray
    candidate: np.ndarray
    ratio: np.ndarray
    sample_start: np.ndarray
    window: int


@numba.njit(cache=True)
def _diagonal_prefix_sums(P):  # pragma: no cover - compiled; tested through its callers
    """``C[t + 1, a + 1] = P[t, a] + P[t - 1, a - 1] + ...`` back to the first row or column.

    Row by row, each from the one above shifted by a column: every read and
    write runs along a row, where walking the diagonals themselves would
    jump a row at every step. A row and a column of zeros lead, so a
    window's sum is the difference of two entries, with no case for edges.
    """
    N, L = P.shape
    C = np.zeros((N + 1, L + 1))
    for t in range(N):
        for a in range(L):
            C[t + 1, a + 1] = P[t, a] + C[t, a]
    return C


@numba.njit(cache=True)
def _diagonal_window_sums(P, window):  # pragma: no cover - compiled; the numpy twin is tested
    """``out[t, a] = sum(P[t + k, a + k] for k in range(window))``, in O(N L)."""
    N, L = P.shape
    C = _diagonal_prefix_sums(P)
    w = window
    out = np.empty((N - w + 1, L - w + 1))
    for t in range(N - w + 1):
        for a in range(L - w + 1):
            out[t, a] = C[t + w, a + w] - C[t, a]
    return out


@numba.njit(cache=True)
def _best_diagonal_windows(P, window, track_norms, sample_norms, stride):  # pragma: no cover
    """For each scored track start, the best window cosine over sample starts, and where.

    The sums of :func:`_diagonal_window_sums`, each divided by its two
    windows' norms as :func:`window_scores` does, kept only when it beats
    the row's best so far: no matrix of scores is made. ``>`` keeps, on a
    tie, the smallest sample start, as ``argmax`` would. Every
    ``stride``-th track start is scored; the others stay at minus infinity.
    """
    N, L = P.shape
    C = _diagonal_prefix_sums(P)
    w = window
    best = np.full(N - w + 1, -np.inf)
    where = np.zeros(N - w + 1, dtype=np.int64)
    for t in range(0, N - w + 1, stride):
        for a in range(L - w + 1):
            score = (C[t + w, a + w] - C[t, a]) / max(track_norms[t] * sample_norms[a], EPS)
            if score > best[t]:
                best[t], where[t] = score, a
    return best, where


def diagonal_window_sums(P: np.ndarray, window: int) -> np.ndarray:
    """Sums of ``P`` along every diagonal over ``window`` entries.

    Parameters
    ----------
    P : np.ndarray [shape=(N, L)]
    window : int, 1 <= window <= min(N, L)

    Returns
    -------
    np.ndarray [shape=(N - window + 1, L - window + 1)]
        ``out[t, a] = P[t, a] + P[t + 1, a + 1] + ... + P[t + window - 1, a + window - 1]``.
    """
    return _diagonal_window_sums(np.ascontiguousarray(P, dtype=np.float64), int(window))


def stretch_time_unchecked(sample: np.ndarray, ratio: float) -> np.ndarray:
    """``sample`` played ``ratio`` times faster: its columns read every ``ratio`` frames.

    Linear interpolation between columns; ``ratio > 1`` gives fewer columns.

    Parameters
    ----------
    sample : np.ndarray [shape=(R, L)]
    ratio : float > 0

    Returns
    -------
    np.ndarray [shape=(R, floor((L - 1) / ratio) + 1)]
    """
    L = sample.shape[1]
    positions = np.arange(int(np.floor((L - 1) / ratio + 1e-9)) + 1) * ratio
    left = np.minimum(np.floor(positions).astype(int), L - 1)
    right = np.minimum(left + 1, L - 1)
    fraction = positions - left
    return sample[:, left] * (1.0 - fraction) + sample[:, right] * fraction


def _window_norms(track: np.ndarray, window: int) -> np.ndarray:
    """Frobenius norm of every window ``track[:, t:t+window]``, shape (N - window + 1,)."""
    energy = np.concatenate(([0.0], np.cumsum((track * track).sum(axis=0))))
    return np.sqrt(np.maximum(energy[window:] - energy[:-window], 0.0))


def window_scores(track: np.ndarray, sample: np.ndarray, ratio: float, window: int) -> np.ndarray:
    """Cosine similarity of every track window with every window of the resampled sample.

    Parameters
    ----------
    track : np.ndarray [shape=(R, N)]
        The track's features.
    sample : np.ndarray [shape=(R, L)]
        The sample's features (R features per frame).
    ratio : float
        Tempo of the track over the sample's (1.05: the sample played 5 % faster).
    window : int
        Window length in track frames, at most N and the resampled sample's length.

    Returns
    -------
    np.ndarray [shape=(N - window + 1, L_r - window + 1)]
        ``scores[t, a]``, in [-1, 1], for the track window starting at ``t``
        and the resampled sample's window starting at ``a``.
    """
    stretched = stretch_time_unchecked(sample, ratio)
    sums = diagonal_window_sums(track.T @ stretched, window)
    norms = np.outer(_window_norms(track, window), _window_norms(stretched, window))
    return sums / np.maximum(norms, EPS)


def window_scores_at(
    track: np.ndarray, sample: np.ndarray, ratio: float, window: int, first: int, stop: int
) -> np.ndarray:
    """Columns ``first:stop`` of :func:`window_scores`: the track against a few sample windows.

    What a loop's plays need (a few starts around one part of the sample) at
    a fraction of the whole matrix's cost: the product and the diagonal sums
    cover only the sample frames those windows read.

    Parameters
    ----------
    track : np.ndarray [shape=(R, N)]
    sample : np.ndarray [shape=(R, L)]
    ratio : float
    window : int
    first, stop : int
        Window starts in the resampled sample, ``0 <= first < stop <= L_r - window + 1``.

    Returns
    -------
    np.ndarray [shape=(N - window + 1, stop - first)]
        ``window_scores(track, sample, ratio, window)[:, first:stop]``, to rounding.
    """
    part = stretch_time_unchecked(sample, ratio)[:, first : stop - 1 + window]
    sums = diagonal_window_sums(track.T @ part, window)
    norms = np.outer(_window_norms(track, window), _window_norms(part, window))
    return sums / np.maximum(norms, EPS)


def best_windows(
    candidates, sample: np.ndarray, ratios, window: int, stride: int = 1
) -> WindowMatch:
    """For each track start, the best window over candidates, ratios and sample starts.

    Parameters
    ----------
    candidates : sequence of np.ndarray [shape=(R, N)]
        Versions of the track's features to try (one per pitch shift).
    sample : np.ndarray [shape=(R, L)]
        The sample's features (R features per frame).
    ratios : sequence of float
        Tempo ratios to try.
    window : int
        Window length in track frames; shorter than N and than ``sample`` resampled
        at the largest ratio.
    stride : int >= 1
        Score every ``stride``-th track start only (the others get minus
        infinity): any alignment then has a scored window within
        ``stride // 2`` frames along its diagonal, which shares all but those
        frames with the best.

    Returns
    -------
    WindowMatch
    """
    n_starts = candidates[0].shape[1] - window + 1
    score = np.full(n_starts, -np.inf)
    candidate = np.zeros(n_starts, dtype=int)
    ratio = np.ones(n_starts)
    sample_start = np.zeros(n_starts, dtype=int)
    # The sample at each ratio, and its window norms, serve every candidate.
    stretched = [stretch_time_unchecked(sample, r) for r in ratios]
    sample_norms = [_window_norms(one, window) for one in stretched]
    for c, track in enumerate(candidates):
        rows = np.ascontiguousarray(track.T, dtype=np.float64)
        track_norms = _window_norms(track, window)
        for r, one, norms in zip(ratios, stretched, sample_norms, strict=True):
            values, best = _best_diagonal_windows(
                rows @ one, int(window), track_norms, norms, int(stride)
            )
            better = values > score
            score[better], candidate[better] = values[better], c
            ratio[better], sample_start[better] = r, best[better]
    return WindowMatch(score, candidate, ratio, sample_start, window)


def follow_path(scores: np.ndarray, start: int, sample_start: int, level: float):
    """The alignment path through ``scores`` from one matched window, both ways.

    From window ``(start, sample_start)``, each step moves one track frame
    and 0, 1 or 2 frames of the (resampled) sample, whichever window scores
    best: the steps of dynamic time warping, followed greedily from a match
    already found instead of solved for the whole matrix. The path bends
    where the tempo ratio on the grid is slightly off (a straight diagonal
    drifts off a sharp match within a few seconds) and stops, at either
    end, when the best next window scores below ``level``.

    Parameters
    ----------
    scores : np.ndarray [shape=(n_t, n_a)]
        Window scores, as :func:`window_scores` returns them.
    start, sample_start : int
        The matched window the path goes through.
    level : float
        Lowest window score the path may step on.

    Returns
    -------
    track, sample : np.ndarray [shape=(P,), int]
        Window starts along the path, in increasing order.
    """
    n_t, n_a = scores.shape
    steps = {1: (0, 1, 2), -1: (0, -1, -2)}
    halves = []
    for direction in (-1, 1):
        t, a, half = start, sample_start, []
        while 0 <= t + direction < n_t:
            options = [a + step for step in steps[direction] if 0 <= a + step < n_a]
            if not options:
                break
            best = max(options, key=lambda b: scores[t + direction, b])
            if scores[t + direction, best] < level:
                break
            t, a = t + direction, best
            half.append((t, a))
        halves.append(half)
    path = halves[0][::-1] + [(start, sample_start)] + halves[1]
    track, sample = np.array(path, dtype=int).T
    return track, sample
