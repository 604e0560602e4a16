"""The detector's view of a spectrogram: log-frequency bands, frames in pairs.

The track's fit costs in proportion to the entries of what it fits, and the
STFT's linear bins are far finer than the detector needs above the bass: a
third of a semitone tells apart every pitch copy of the templates, while
at 5 kHz that is a dozen bins. So bins are summed into bands a third of a
semitone wide (:data:`BANDS_PER_OCTAVE`), every bin its own band where
bins are wider than that (the bass and the low mids). Summing, not
averaging, keeps the KL divergence's meaning: a band's magnitude is the
sum of its bins', and a template's columns still sum to one.

Frames are summed in pairs (:data:`FRAMES_PER_STEP`) for the same reason:
the alignment compares the activations' rhythm on frames of two hops
(nothing faster survives its detrending), so the fit need not resolve
more. The activations of a pair are those of its two frames added up.

:func:`compact` makes the view of a spectrogram, :func:`to_bands` that of
templates; :func:`spread_bins` and :func:`spread_frames` give a fit back
at the spectrogram's own resolution, spread evenly over the bins of each
band and the frames of each pair.
"""

from __future__ import annotations

import functools

import numpy as np

__all__: list[str] = []  # cores of the detector (door.py)

#: Bands per octave above the frequency where one bin is narrower than a band.
BANDS_PER_OCTAVE = 36

#: STFT frames summed into one frame of the fit.
FRAMES_PER_STEP = 2


@functools.lru_cache(maxsize=8)
def band_starts(n_bins: int, sr: int, win: int) -> np.ndarray:
    """The first bin of each band, ascending, starting at bin 0.

    A bin starts a new band when it lies a band's width (a third of a
    semitone) above the start of the current band; below the frequency
    where bins are that wide, every bin does.

    Parameters
    ----------
    n_bins : int
        Bins of the spectrogram (``win // 2 + 1``).
    sr, win : int
        Sample rate and STFT window, which set each bin's frequency.

    Returns
    -------
    starts : np.ndarray [shape=(B,), int]
    """
    frequencies = np.arange(n_bins) * (sr / win)
    ratio = 2.0 ** (1.0 / BANDS_PER_OCTAVE)
    starts = [0]
    for k in range(1, n_bins):
        if frequencies[k] >= frequencies[starts[-1]] * ratio or starts[-1] == 0:
            starts.append(k)
    starts = np.array(starts, dtype=np.intp)
    starts.flags.writeable = False
    return starts


def to_bands(X: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Rows of ``X`` (one per bin) summed over each band.

    Parameters
    ----------
    X : np.ndarray [shape=(n_bins, n)]
    starts : np.ndarray [shape=(B,)]
        :func:`band_starts`.

    Returns
    -------
    np.ndarray [shape=(B, n), X's dtype]
    """
    return np.add.reduceat(X, starts, axis=0)


def compact(V: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The spectrogram the detector fits: bands of :func:`to_bands`, frames summed in pairs.

    An odd last frame stays on its own.

    Parameters
    ----------
    V : np.ndarray [shape=(n_bins, N), float32]
    starts : np.ndarray [shape=(B,)]

    Returns
    -------
    np.ndarray [shape=(B, ceil(N / FRAMES_PER_STEP)), float32]
    """
    banded = to_bands(V, starts)
    return np.add.reduceat(banded, np.arange(0, V.shape[1], FRAMES_PER_STEP), axis=1)


def spread_bins(W: np.ndarray, starts: np.ndarray, n_bins: int) -> np.ndarray:
    """Band-wise rows back on bins: each band's value shared evenly by its bins.

    Parameters
    ----------
    W : np.ndarray [shape=(B, K)]
    starts : np.ndarray [shape=(B,)]
    n_bins : int

    Returns
    -------
    np.ndarray [shape=(n_bins, K), W's dtype], with ``to_bands`` of it equal to ``W``.
    """
    widths = np.diff(np.append(starts, n_bins))
    return np.repeat(W / widths[:, None].astype(W.dtype), widths, axis=0)


def step_of_frames(n_frames: int) -> np.ndarray:
    """The frame pair (step) of each of ``n_frames`` frames, shape (n_frames,)."""
    return np.arange(n_frames) // FRAMES_PER_STEP


def spread_frames(H: np.ndarray, n_frames: int) -> np.ndarray:
    """Activations of frame pairs back on frames: each pair's shared by its two.

    Parameters
    ----------
    H : np.ndarray [shape=(K, ceil(n_frames / FRAMES_PER_STEP))]
    n_frames : int
        Frames of the spectrogram the pairs were made of.

    Returns
    -------
    np.ndarray [shape=(K, n_frames), H's dtype], whose pair sums are ``H``.
    """
    step = step_of_frames(n_frames)
    frames_in_step = np.bincount(step).astype(H.dtype)
    return H[:, step] / frames_in_step[step]
