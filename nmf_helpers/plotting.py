"""Figures and audio players: spectrograms in dB, loss curves, grids. Plotting never computes.

Each plotting function draws what it is given onto a matplotlib Axes (made if
not given) and returns that Axes or Figure, so a notebook cell can add titles
or save the figure. Every time axis is in seconds and every spectrogram grid
has a colour bar in dB. Converting magnitudes to dB is the only arithmetic
here, and it is part of showing, not of the method.

The players (:func:`audio_player`, :func:`players`) play every signal on one
shared scale, never normalised one by one, so that what sounds louder is louder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import librosa
import numpy as np

from ._numerics import EPS
from ._validation import ParameterError, check_int, check_real, check_signal, printable

__all__ = [
    "audio_player",
    "audio_scale",
    "players",
    "plot_activation",
    "plot_alignment",
    "plot_component",
    "plot_detection",
    "plot_fits",
    "plot_grouping",
    "plot_losses",
    "plot_spectrogram",
    "plot_spectrograms",
    "plot_template",
]

TIME_LABEL = "Time (s)"  # every time axis, in seconds
DB_FORMAT = "%+2.0f dB"  # every colour bar of a spectrogram


def _pyplot():
    """``matplotlib.pyplot``, imported on the first figure, not with the package.

    pyplot and librosa.display take one to two seconds to import, which a
    command-line run, a grading kernel or a scan worker that draws nothing
    should not pay at start-up.
    """
    import matplotlib.pyplot

    return matplotlib.pyplot


def _printable(text):
    """``text`` with a file name's bytes that are not UTF-8 shown as ``\\xe9`` (None kept).

    matplotlib's font code raises a TypeError on the surrogates such a name
    carries (:func:`nmf_helpers._validation.printable`).
    """
    return printable(text) if isinstance(text, str) else text


def _decibels(magnitudes: np.ndarray, reference: float) -> np.ndarray:
    """``20 log10(magnitudes / reference)``, floored 200 dB down, for magnitudes of any size.

    Not librosa.amplitude_to_db, which squares the magnitudes first: in
    float32 that passes its range from about 1.8e19 up (the spectrogram of a
    very loud float file), and the figure came out empty or not at all. The
    floor lies far below any range shown, so audio's figures are unchanged.
    """
    reference = reference if reference > 0 else 1.0  # all zeros: drawn at the floor
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ratio = magnitudes / reference
        return 20.0 * np.log10(np.maximum(ratio, 1e-10))


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
        _, ax = _pyplot().subplots(figsize=(10, 3.5))
    V = np.asarray(V)
    decibels = _decibels(V, float(V.max()) if ref is None else ref)
    from librosa.display import specshow  # on first use, as pyplot (see _pyplot)

    image = specshow(
        decibels,
        sr=sr,
        hop_length=hop,
        x_axis="s",
        y_axis="log",
        ax=ax,
        vmin=-top_db,
        vmax=0.0,
        cmap="magma",
    )
    ax.set_xlabel(TIME_LABEL)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, format=DB_FORMAT)
    if title:
        ax.set_title(_printable(title))
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
        Name the divergence, e.g. ``"KL divergence D(V‖WH)"``; the default
        ``"loss"`` says nothing about which one.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> nh.plot_losses([3.0, 2.0, 1.5], ylabel="KL divergence D(V‖WH)").get_ylabel()
    'KL divergence D(V‖WH)'
    """
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(6, 3.5))
    curves = losses if isinstance(losses, Mapping) else {None: losses}
    for label, curve in curves.items():
        curve = np.asarray(curve)
        ax.plot(np.arange(1, curve.size + 1), curve, label=_printable(label))
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel(_printable(ylabel))
    ax.grid(True, which="both", alpha=0.3)
    if any(label is not None for label in curves):
        ax.legend()
    if title:
        ax.set_title(_printable(title))
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
    """Draw several titled spectrograms in a grid with shared axes and one colour bar.

    With ``shared_ref`` (the default) every panel has the same 0 dB level, so
    one colour bar in dB, beside the grid, reads every panel.

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
    figure, axes = _pyplot().subplots(
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
    # One bar for the grid when the panels share their 0 dB; otherwise one per panel.
    if shared_ref:
        figure.colorbar(axes.flat[0].collections[0], ax=axes, format=DB_FORMAT, aspect=40)
    else:
        for ax in axes.flat[: len(items)]:
            figure.colorbar(ax.collections[0], ax=ax, format=DB_FORMAT)
    return figure


def plot_template(
    w,
    *,
    sr: int = 22050,
    ax=None,
    title: str | None = None,
    top_db: float = 80.0,
    vertical: bool = False,
):
    """Draw one spectral template (a column of W) in dB against frequency.

    Used by notebook 2 (one spectrum per component) through :func:`plot_component`.

    Parameters
    ----------
    w : np.ndarray [shape=(M,), non-negative]
        One column ``W[:, k]``; bin m is at ``m * sr / (2 * (M - 1))`` Hz.
    sr : int
        Sample rate of the spectrogram W was learned from.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    top_db : float
        Range shown below the template's peak (0 dB).
    vertical : bool
        Frequency on the y axis, to sit beside a spectrogram that shares it;
        otherwise on a logarithmic x axis.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> ax = nh.plot_template(np.linspace(1.0, 0.1, 1025))
    >>> ax.get_xscale()
    'log'
    """
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(6, 3))
    w = np.asarray(w)
    frequencies = librosa.fft_frequencies(sr=sr, n_fft=2 * (w.size - 1))
    decibels = _decibels(w, float(w.max()))
    # The 0 Hz bin has no place on a logarithmic axis.
    if vertical:
        ax.plot(decibels, frequencies)
        ax.set_xlim(-top_db, 3.0)
        ax.set_xlabel("dB")
        ax.set_ylabel("Hz")
    else:
        ax.plot(frequencies[1:], decibels[1:])
        ax.set_xscale("log")
        ax.set_ylim(-top_db, 3.0)
        ax.set_xlabel("Hz")
        ax.set_ylabel("dB")
    ax.grid(True, which="both", alpha=0.3)
    if title:
        ax.set_title(_printable(title))
    return ax


def plot_activation(h, *, sr: int = 22050, hop: int = 512, ax=None, title: str | None = None):
    """Draw one activation (a row of H) against time in seconds.

    Used by notebook 2 through :func:`plot_component`.

    Parameters
    ----------
    h : np.ndarray [shape=(N,), non-negative]
        One row ``H[k, :]``; frame n is at ``n * hop / sr`` seconds.
    sr, hop : int
        Sample rate and hop of the spectrogram H was learned from.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> ax = nh.plot_activation(np.ones(44))
    >>> ax.get_xlabel()
    'Time (s)'
    """
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(10, 2))
    h = np.asarray(h)
    times = librosa.frames_to_time(np.arange(h.size), sr=sr, hop_length=hop)
    ax.plot(times, h, linewidth=0.8)
    ax.fill_between(times, h, alpha=0.3)
    ax.set_xlim(times[0], times[-1])
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("activation")
    if title:
        ax.set_title(_printable(title))
    return ax


def plot_component(
    w,
    h,
    C,
    *,
    sr: int = 22050,
    hop: int = 512,
    title: str | None = None,
    ref: float | None = None,
):
    """Draw a component as NMF sees it: template, activation and their product.

    The template ``w`` stands beside the spectrogram ``C`` on the same
    frequency axis and the activation ``h`` above it on the same time axis,
    so ``C = outer(w, h)`` can be read off the picture; a colour bar gives the
    spectrogram's dB. Used by notebook 2.

    Parameters
    ----------
    w : np.ndarray [shape=(M,)]
        ``W[:, k]``.
    h : np.ndarray [shape=(N,)]
        ``H[k, :]``.
    C : np.ndarray [shape=(M, N)]
        The component's spectrogram, e.g. ``component(W, H, k)``.
    sr, hop : int
    title : str, optional
        Figure title.
    ref : float, optional
        0 dB level of the spectrogram; give all components the same one
        (e.g. ``V.max()``) to compare their loudness.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> w, h = np.linspace(1.0, 0.1, 1025), np.ones(44)
    >>> figure = nh.plot_component(w, h, np.outer(w, h))
    >>> len(figure.axes)  # template, activation, spectrogram and its colour bar
    4
    """
    figure, axes = _pyplot().subplot_mosaic(
        [[".", "activation"], ["template", "spectrogram"]],
        figsize=(12, 4.5),
        width_ratios=[1, 4],
        height_ratios=[1, 2.5],
        layout="constrained",
    )
    axes["activation"].sharex(axes["spectrogram"])
    axes["template"].sharey(axes["spectrogram"])
    plot_spectrogram(C, sr=sr, hop=hop, ax=axes["spectrogram"], ref=ref, colorbar=False)
    plot_template(w, sr=sr, ax=axes["template"], vertical=True)
    plot_activation(h, sr=sr, hop=hop, ax=axes["activation"])
    axes["activation"].set_xlabel("")
    axes["spectrogram"].set_ylabel("")
    axes["template"].set_title("template W[:, k]")
    axes["activation"].set_title("activation H[k, :]")
    figure.colorbar(axes["spectrogram"].collections[0], ax=axes["spectrogram"], format=DB_FORMAT)
    if title:
        figure.suptitle(_printable(title))
    return figure


def plot_fits(
    fits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    sr: int = 22050,
    hop: int = 512,
    width: float = 14.0,
    row_height: float = 2.8,
    log_scale: bool = True,
    ylabel: str = "loss",
):
    """Draw several fits, one row each: the ``W H`` spectrogram and its loss curve.

    All spectrograms share one 0 dB reference and their axes; all loss
    curves share their axes, so rows compare at a glance. Used by notebook 1.

    Parameters
    ----------
    fits : Mapping[str, (np.ndarray [shape=(M, N)], np.ndarray [shape=(n_iter,)])]
        ``{label: (W @ H, losses)}``.
    sr, hop : int
    width, row_height : float
        Figure size in inches.
    log_scale : bool
        Logarithmic loss axis.
    ylabel : str
        The loss axes' label: name the divergence, e.g. ``"KL divergence D(V‖WH)"``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> fits = {f"K = {K}": (np.ones((1025, 44)), np.arange(9.0, 0.0, -1)) for K in (3, 10)}
    >>> nh.plot_fits(fits).axes[1].get_yscale()
    'log'
    """
    items = list(fits.items())
    figure, axes = _pyplot().subplots(
        len(items),
        2,
        figsize=(width, row_height * len(items)),
        width_ratios=[2.5, 1],
        sharex="col",
        sharey="col",
        squeeze=False,
        layout="constrained",
    )
    ref = max(float(np.max(WH)) for _, (WH, _) in items)
    for (label, (WH, losses)), (spectrogram_ax, loss_ax) in zip(items, axes, strict=True):
        plot_spectrogram(
            WH, sr=sr, hop=hop, ax=spectrogram_ax, title=f"{label}: W H", ref=ref, colorbar=False
        )
        plot_losses(losses, ax=loss_ax, title=f"{label}: loss", log_scale=log_scale, ylabel=ylabel)
    for ax in axes[:-1].flat:
        ax.set_xlabel("")
    figure.colorbar(axes[0, 0].collections[0], ax=axes[:, 0], format=DB_FORMAT, aspect=40)
    return figure


def plot_detection(
    result,
    *,
    true_ranges=(),
    ax=None,
    title: str | None = None,
    show_similarity: bool = True,
):
    """Draw a sample detection: the fixed part's activations over the track's time.

    Rows are the sample's components (square-root magnitudes, for showing
    quiet ones too; a colour bar on the right reads them); cyan dashed lines
    and a cyan bar at the bottom mark the true ranges, a green bar at the top
    the detected ones, named in a legend above the picture, outside the data.
    With ``show_similarity``, the best score of a window (``min_part_s`` long)
    starting at each time is drawn in white on a right-hand axis, with the
    threshold dashed. Used by notebook 6.

    Parameters
    ----------
    result : nmf_helpers.SampleDetection
        What :func:`nmf_helpers.detect_sample` returned.
    true_ranges : sequence of (float, float)
        Known ``(start_s, end_s)`` of the sample in the track, if any.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    show_similarity : bool

    Returns
    -------
    matplotlib.axes.Axes
        The activations' axes (the similarity's twin is ``ax.figure.axes[-1]``).

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> from types import SimpleNamespace
    >>> result = SimpleNamespace(activations=np.ones((4, 100)), sr=22050, hop=512,
    ...     ranges=((0.5, 1.5),), similarity=np.zeros(80), threshold=0.23,
    ...     similarity_times=np.linspace(-0.4, 1.4, 80))
    >>> nh.plot_detection(result, true_ranges=[(0.5, 1.5)]).get_xlabel()
    'Time (s)'
    """
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        _, ax = _pyplot().subplots(figsize=(12, 4), layout="constrained")
    activations = np.sqrt(np.asarray(result.activations))
    F, N = activations.shape
    image = ax.imshow(
        activations / max(float(activations.max()), EPS),
        aspect="auto",
        origin="lower",
        cmap="magma",
        # Frame n is centred on n * hop / sr, as the detection's times are.
        extent=(-0.5 * result.hop / result.sr, (N - 0.5) * result.hop / result.sr, -0.5, F - 0.5),
        interpolation="nearest",
        vmin=0.0,
        vmax=1.0,
    )
    for number, (start, end) in enumerate(true_ranges):
        label = "true range" if number == 0 else None
        ax.axvline(start, color="cyan", linestyle="--", linewidth=1.5, label=label)
        ax.axvline(end, color="cyan", linestyle=":", linewidth=1)
        ax.axvspan(start, end, ymin=0.0, ymax=0.04, facecolor="cyan", edgecolor="black")
    for number, (start, end) in enumerate(result.ranges):
        label = "detected" if number == 0 else None
        ax.axvspan(
            start, end, ymin=0.96, ymax=1.0, facecolor="limegreen", edgecolor="black", label=label
        )
    ax.set_xlim(0.0, N * result.hop / result.sr)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("sample component")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    # Beyond the right-hand axis of the score when there is one, so neither covers the other.
    _activation_colour_bar(ax, image, right_of_twin=show_similarity)
    if show_similarity:
        twin = ax.twinx()
        twin.plot(result.similarity_times, result.similarity, color="white", linewidth=1)
        twin.axhline(result.threshold, color="white", linestyle="--", linewidth=0.8)
        twin.set_ylim(-0.3, 1.0)
        twin.set_ylabel("score of a copy starting here\n(white; dashed: the threshold)")
        ax.set_xlim(0.0, N * result.hop / result.sr)
    if true_ranges or result.ranges:
        _legend_above(ax)
    if title:
        ax.set_title(_printable(title), loc="left")
    return ax


def _activation_colour_bar(ax, image, *, right_of_twin: bool):
    """A colour bar for the activations, right of ``ax`` (and of its twin's labels).

    It lives in an inset of ``ax`` (not a new axes of the figure, so
    ``ax.figure.axes[-1]`` stays the twin) placed a fixed distance in inches
    right of the axes, and ``ax``'s layout keeps room for it.
    """
    from matplotlib.transforms import ScaledTranslation

    gap_inches = 0.85 if right_of_twin else 0.15
    shift = ScaledTranslation(gap_inches, 0.0, ax.figure.dpi_scale_trans)
    cax = ax.inset_axes(  # labelled as matplotlib labels the colour bars it places itself
        [1.0, 0.0, 0.012, 1.0], transform=ax.transAxes + shift, label="<colorbar>"
    )
    bar = ax.figure.colorbar(image, cax=cax)
    bar.set_label("activation (square root, / its peak)")
    return bar


def _legend_above(ax):
    """The legend in one row above the axes' right end, outside the data (title on the left)."""
    handles, labels = ax.get_legend_handles_labels()
    return ax.legend(
        handles,
        labels,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=max(len(labels), 1),
        fontsize="small",
        frameon=False,
        borderaxespad=0.2,
    )


def plot_grouping(features, *, axes=None, title: str | None = None):
    """Show each component's features and the percussive/harmonic decision.

    Left: the percussive fraction of every component, the bar coloured by
    the group it went to, and the threshold that decided. Right: spectral
    flatness of ``W[:, k]`` against onset strength of ``H[k]``, each point
    labelled with k, in the same colours.

    Parameters
    ----------
    features : nmf_helpers.ComponentFeatures
        From :func:`nmf_helpers.component_features` (or ``split_drums(x).features``).
    axes : pair of matplotlib.axes.Axes, optional
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if axes is None:
        _, axes = _pyplot().subplots(1, 2, figsize=(12, 3.8), layout="constrained")
    left, right = axes
    percussive = np.asarray(features.is_percussive)
    colours = np.where(percussive, "tab:red", "tab:blue")
    ks = np.arange(percussive.size)
    left.bar(ks, features.percussive_fraction, color=colours)
    left.axhline(features.threshold, color="black", linestyle="--", linewidth=1, label="threshold")
    left.set_xticks(ks)
    left.set_xlabel("component k")
    left.set_ylabel("percussive fraction")
    left.set_ylim(0.0, 1.0)
    left.legend(loc="upper left", fontsize="small")
    for group, colour, flag in [("percussive", "tab:red", True), ("harmonic", "tab:blue", False)]:
        chosen = percussive == flag
        right.scatter(
            features.spectral_flatness[chosen],
            features.onset_strength[chosen],
            color=colour,
            label=f"{group} ({int(chosen.sum())})",
        )
    for k in ks:
        right.annotate(
            str(k), (features.spectral_flatness[k], features.onset_strength[k]), fontsize=8
        )
    right.set_xscale("log")
    right.set_xlabel("spectral flatness of W[:, k]")
    right.set_ylabel("onset strength of H[k]")
    right.legend(loc="best", fontsize="small")
    right.grid(True, alpha=0.3)
    if title:
        left.figure.suptitle(_printable(title))
    return left.figure


# ---------------------------------------------------------------- audio players


def audio_scale(*signals) -> float:
    """The largest peak ``max |x|`` of the signals: one scale for all their players.

    Give it every signal a notebook compares (e.g. the mixture and the parts)
    and pass the result as ``scale`` to :func:`audio_player` or :func:`players`:
    the loudest then plays at full scale and the others by the same factor.
    1.0 if every signal is silent.

    Parameters
    ----------
    *signals : np.ndarray [shape=(n_samples,)]
        Waveforms, of any lengths.

    Returns
    -------
    float > 0

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> nh.audio_scale(np.array([0.1, -0.5]), np.array([0.25]))
    0.5
    """
    if not signals:
        raise ParameterError("audio_scale: give at least one signal")
    checked = [check_signal("audio_scale", f"signals[{i}]", x) for i, x in enumerate(signals)]
    peak = max(float(np.abs(x).max()) for x in checked)
    return peak if peak > 0 else 1.0


def _check_scale(function: str, scale, peak: float) -> float:
    scale = check_real(function, "scale", scale, minimum=0.0, maximum=np.inf)
    if scale <= 0:
        raise ParameterError(f"{function}: scale must be > 0, got {scale}")
    if peak > scale:
        raise ParameterError(
            f"{function}: a signal peaks at {peak:.4g}, above scale {scale:.4g} (it would clip);"
            " pass one scale for all the players compared, e.g. scale=nh.audio_scale(x, y, ...)"
        )
    return scale


def _player(x: np.ndarray, sr: int, scale: float):
    from IPython.display import Audio

    # normalize=False: IPython would otherwise stretch each player to full scale on its own.
    return Audio(x / np.float32(scale), rate=sr, normalize=False)


def audio_player(x, *, sr: int, scale: float = 1.0):
    """A notebook audio player for ``x`` at its true level relative to ``scale``.

    The player plays ``x / scale`` without normalising it (IPython's
    ``Audio`` would otherwise scale every player to full loudness on its
    own, so a quiet part would sound as loud as the mixture). Give every
    player that the text compares the same ``scale``, e.g.
    ``nh.audio_scale(x, y)``.

    Used in notebooks 0 to 6.

    Parameters
    ----------
    x : np.ndarray [shape=(n_samples,)]
        A waveform.
    sr : int > 0
        Its sample rate.
    scale : float > 0, >= max |x|
        The magnitude played at full scale; 1.0 plays ``x`` as it is.

    Returns
    -------
    IPython.display.Audio

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> x = 0.25 * np.sin(np.linspace(0, 2000, 22050))
    >>> player = nh.audio_player(x, sr=22050, scale=nh.audio_scale(x, 2 * x))
    >>> "<audio" in player._repr_html_()
    True
    """
    x = check_signal("audio_player", "x", x)
    sr = check_int("audio_player", "sr", sr, minimum=1)
    scale = _check_scale("audio_player", scale, float(np.abs(x).max()))
    return _player(x, sr, scale)


def players(signals: Mapping[str, np.ndarray], *, sr: int, scale: float | None = None):
    """Labelled audio players, one per signal, all on one scale.

    Every signal is played divided by the same ``scale`` (by default the
    largest peak of them all, :func:`audio_scale`), so their loudness
    compares: the loudest plays at full scale, a part half as loud sounds
    half as loud. The caption says which scale was used.

    Used in notebooks 0, 1, 2, 3, 5 and 6.

    Parameters
    ----------
    signals : Mapping[str, np.ndarray [shape=(n_samples,)]]
        ``{label: waveform}``, in the order to show them.
    sr : int > 0
        Their sample rate.
    scale : float > 0, optional
        The magnitude played at full scale, at least the largest peak; give
        the same one to several cells to compare across them.

    Returns
    -------
    IPython.display.HTML
        A table of labelled players; displayed when it ends a notebook cell.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> x = 0.5 * np.sin(np.linspace(0, 2000, 22050))
    >>> html = nh.players({"loud": x, "quiet": x / 10}, sr=22050).data
    >>> html.count("<audio")
    2
    """
    if not isinstance(signals, Mapping) or not signals:
        raise ParameterError("players: signals must be a non-empty {label: waveform} mapping")
    checked = {
        label: check_signal("players", f"signals[{label!r}]", x) for label, x in signals.items()
    }
    sr = check_int("players", "sr", sr, minimum=1)
    peak = max(float(np.abs(x).max()) for x in checked.values())
    if scale is None:
        scale = peak if peak > 0 else 1.0
    scale = _check_scale("players", scale, peak)
    return _players_html(checked, sr, scale)


def _players_html(signals: dict, sr: int, scale: float):
    from html import escape

    from IPython.display import HTML

    rows = "".join(
        f"<tr><td style='text-align:left'><b>{escape(str(label))}</b></td>"
        f"<td>{_player(x, sr, scale)._repr_html_()}</td></tr>"
        for label, x in signals.items()
    )
    caption = (
        f"<caption style='caption-side:bottom;text-align:left'>one scale for all players:"
        f" every signal divided by {scale:.3g}, so that their loudness compares</caption>"
    )
    return HTML(f"<table>{caption}{rows}</table>")


def plot_alignment(result, *, sample_duration_s: float | None = None, ax=None, title=None):
    """Draw the alignment path of each occurrence on the fixed activations.

    The rows are the sample's templates (whole numbers on the left-hand axis);
    each occurrence is a line from where it starts to where it ends, in the
    track's time (bottom) against the sample's time (right). Used by notebook 6.

    Parameters
    ----------
    result : nmf_helpers.SampleDetection
        What :func:`nmf_helpers.detect_sample` returned (``activations``,
        ``sr``, ``hop`` and ``occurrences`` are used).
    sample_duration_s : float, optional
        Length of the sample, the top of the right-hand axis (default: the
        latest sample end among the occurrences).
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        The activations' axes; the sample-time axis is ``ax.figure.axes[-1]``.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> from types import SimpleNamespace
    >>> chop = nh.Occurrence(1.0, 3.5, 2.0, 4.7, 1.08, 0.0, 0.6)
    >>> result = SimpleNamespace(activations=np.ones((4, 200)), sr=22050, hop=512,
    ...     occurrences=(chop,))
    >>> nh.plot_alignment(result, sample_duration_s=8.9).figure.axes[-1].get_ylabel()
    'Time in the sample (s)'
    """
    from matplotlib.ticker import MaxNLocator

    if sample_duration_s is not None:
        sample_duration_s = check_real(
            "plot_alignment", "sample_duration_s", sample_duration_s, minimum=EPS, maximum=np.inf
        )
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(12, 4))
    activations = np.sqrt(np.asarray(result.activations))
    F, N = activations.shape
    frame = result.hop / result.sr
    ax.imshow(
        activations / max(float(activations.max()), EPS),
        aspect="auto",
        origin="lower",
        cmap="magma",
        extent=(-0.5 * frame, (N - 0.5) * frame, -0.5, F - 0.5),
        interpolation="nearest",
    )
    ax.set_xlabel("Time in the track (s)")
    ax.set_ylabel("Sample template")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # a template has a whole number
    twin = ax.twinx()
    for o in result.occurrences:
        twin.plot(
            [o.track_start_s, o.track_end_s],
            [o.sample_start_s, o.sample_end_s],
            color="cyan",
            linewidth=2.5,
        )
        twin.annotate(
            f"x{o.tempo_ratio:.2f}, {o.pitch_shift:+.1f} st",
            (o.track_start_s, o.sample_end_s),
            color="white",
            fontsize=9,
            va="bottom",
        )
    ends = [o.sample_end_s for o in result.occurrences]
    top = sample_duration_s if sample_duration_s is not None else max(ends, default=1.0)
    twin.set_ylim(0.0, top)
    twin.set_ylabel("Time in the sample (s)")
    ax.set_xlim(0.0, N * frame)
    if title:
        ax.set_title(_printable(title))
    return ax
