"""Figures: spectrograms in dB, loss curves, grids. Plotting never computes.

Each function draws what it is given onto a matplotlib Axes (made if not
given) and returns that Axes or Figure, so a notebook cell can add titles or
save the figure. Converting magnitudes to dB is the only arithmetic here,
and it is part of showing, not of the method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_losses", "plot_spectrogram", "plot_spectrograms"]


def plot_spectrogram(
    V,
    *,
    sr: int = 22050,
    hop: int = 512,
    ax=None,
    title: str | None = None,
    ref: float | None = None,
    top_db: float = 80.0,
    colorbar: bool = True,
):
    """Draw a magnitude spectrogram in dB with time (s) and frequency (Hz) axes.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), non-negative]
        Magnitudes, e.g. ``spectrogram(x)`` or ``W @ H``.
    sr, hop : int
        Sample rate and hop used for ``V``, for the axes.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    ref : float, optional
        Magnitude shown as 0 dB; default ``V.max()``. Give several plots the
        same ``ref`` to compare their levels.
    top_db : float
        Dynamic range shown below ``ref``.
    colorbar : bool

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.5))
    V = np.asarray(V)
    reference = float(V.max()) if ref is None else ref
    decibels = librosa.amplitude_to_db(V, ref=max(reference, 1e-12), top_db=None)
    image = librosa.display.specshow(
        decibels,
        sr=sr,
        hop_length=hop,
        x_axis="time",
        y_axis="log",
        ax=ax,
        vmin=-top_db,
        vmax=0.0,
        cmap="magma",
    )
    if colorbar:
        ax.figure.colorbar(image, ax=ax, format="%+2.0f dB")
    if title:
        ax.set_title(title)
    return ax


def plot_losses(
    losses, *, ax=None, title: str | None = None, log_scale: bool = True, ylabel="loss"
):
    """Draw one or several loss curves against the iteration number.

    Parameters
    ----------
    losses : array-like or Mapping[str, array-like]
        One curve, or a ``{label: curve}`` mapping for several.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    log_scale : bool
        Logarithmic y axis, which shows the late, slow decrease.
    ylabel : str

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    curves = losses if isinstance(losses, Mapping) else {None: losses}
    for label, curve in curves.items():
        curve = np.asarray(curve)
        ax.plot(np.arange(1, curve.size + 1), curve, label=label)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    if any(label is not None for label in curves):
        ax.legend()
    if title:
        ax.set_title(title)
    return ax


def plot_spectrograms(
    spectrograms: Mapping[str, np.ndarray] | Sequence[tuple[str, np.ndarray]],
    *,
    sr: int = 22050,
    hop: int = 512,
    ncols: int = 2,
    shared_ref: bool = True,
    width: float = 14.0,
    row_height: float = 3.0,
):
    """Draw several titled spectrograms in a grid with shared axes.

    Parameters
    ----------
    spectrograms : Mapping[str, np.ndarray] or sequence of (title, V)
    sr, hop : int
    ncols : int
    shared_ref : bool
        One 0 dB reference (the largest magnitude of all) so levels compare.
    width, row_height : float
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    items = list(spectrograms.items() if isinstance(spectrograms, Mapping) else spectrograms)
    nrows = -(-len(items) // ncols)
    figure, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(width, row_height * nrows),
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    ref = max(float(np.max(V)) for _, V in items) if shared_ref else None
    for ax, (title, V) in zip(axes.flat, items, strict=False):
        plot_spectrogram(V, sr=sr, hop=hop, ax=ax, title=title, ref=ref, colorbar=False)
    for ax in axes.flat[len(items) :]:
        ax.set_visible(False)
    return figure
