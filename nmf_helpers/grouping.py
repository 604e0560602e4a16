"""Grouping NMF components into percussive and harmonic without a reference.

Drums are broadband and short: a drum component's template ``W[:, k]`` is
smooth across frequency and its activation ``H[k]`` is a train of spikes.
A pitched instrument is the opposite: its template is a comb of harmonic
peaks and its activation holds each note for a while. Harmonic-percussive
source separation (HPSS, Fitzgerald 2010) tells the two apart by median
filtering a spectrogram along time (keeps what is sustained) and along
frequency (keeps what is broadband). For one NMF component the spectrogram
is rank one, ``S = w h^T``, and both median filters act on one factor only:

* along time: ``median_t(S)[m, n] = w[m] * median(h)[n]``  (harmonic part)
* along frequency: ``median_f(S)[m, n] = median(w)[m] * h[n]``  (percussive part)

So HPSS's soft mask ``P^2 / (P^2 + H^2)`` is known in closed form from
``w``, ``h`` and their median-filtered versions, and
:func:`component_features` reports the **percussive fraction**: the share
of the component's energy that this mask calls percussive. It combines a
feature of W's column (how peaky it is across frequency) with one of H's row
(how spiky it is in time). :func:`percussive_harmonic_groups` puts component
k in the percussive group when that fraction is at least ``threshold``.

Two simpler features are reported for plots and inspection (they do not
decide): the **spectral flatness** of ``W[:, k]`` (geometric over
arithmetic mean, 1 for white noise, near 0 for a comb of harmonics) and the
**onset strength** of ``H[k]`` (the sum of its rises over its sum: near 0 for
a held note, larger for repeated hits).

:func:`split_drums` runs the whole recipe: NMF, features, groups, soft masks.

References
----------
D. Fitzgerald, "Harmonic/percussive separation using median filtering",
DAFx 2010.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from ._numerics import TINY
from ._validation import (
    ParameterError,
    check_audio_for_frames,
    check_choice,
    check_components,
    check_factors,
    check_int,
    check_iterations,
    check_not_silent,
    check_real,
    check_seed,
)
from .analysis import spectral_flatness_unchecked
from .nmf import LOSSES, factorise
from .separation import separate_unchecked
from .spectral import DEFAULT_HOP, DEFAULT_WIN, frame_count, spectrogram_unchecked

__all__ = [
    "ComponentFeatures",
    "DrumSplit",
    "component_features",
    "percussive_harmonic_groups",
    "split_drums",
]

#: Frames used to average the percussive fraction; longer songs are subsampled
#: (after median filtering), which changes the fraction by well under 0.01.
_MAX_FRAMES = 2048

#: Defaults of :func:`split_drums` (and of ``separate`` on the command line).
DEFAULT_K = 20
DEFAULT_LOSS = "kl"
#: Default length of the median filters of :func:`component_features`, in
#: bins and frames (about 180 Hz and 0.4 s at 22050 Hz with the default STFT).
DEFAULT_KERNEL = 17
DEFAULT_THRESHOLD = 0.25


@dataclass(frozen=True)
class ComponentFeatures:
    """Per-component features and the percussive/harmonic decision.

    Attributes
    ----------
    spectral_flatness : np.ndarray [shape=(K,)]
        Of ``W[:, k]``, in [0, 1].
    onset_strength : np.ndarray [shape=(K,)]
        Of ``H[k]``: sum of its rises / its sum.
    percussive_fraction : np.ndarray [shape=(K,)]
        Share of the component's energy that HPSS's soft mask calls percussive.
    threshold : float
        Components with ``percussive_fraction >= threshold`` are percussive.
    """

    spectral_flatness: np.ndarray
    onset_strength: np.ndarray
    percussive_fraction: np.ndarray
    threshold: float

    @property
    def is_percussive(self) -> np.ndarray:
        """Boolean decision per component, shape (K,)."""
        return self.percussive_fraction >= self.threshold


def _percussive_fraction(w, h, w_smooth, h_smooth) -> float:
    """Energy share of ``outer(w, h)`` under the HPSS mask, in closed form."""
    percussive = np.outer(w_smooth, h) ** 2
    harmonic = np.outer(w, h_smooth) ** 2
    total = percussive + harmonic
    mask = np.divide(percussive, total, out=np.full_like(total, 0.5), where=total > 0)
    energy = np.outer(w * w, h * h)
    return float((energy * mask).sum() / max(energy.sum(), TINY))


def component_features(
    W, H, *, threshold: float = DEFAULT_THRESHOLD, kernel: int = DEFAULT_KERNEL
) -> ComponentFeatures:
    """Features of each component and whether it is percussive (see the module notes).

    Parameters
    ----------
    W : np.ndarray [shape=(M, K), non-negative]
    H : np.ndarray [shape=(K, N), non-negative]
    threshold : float in (0, 1)
        Percussive fraction from which a component counts as percussive.
    kernel : int, odd, >= 3
        Length of both median filters, in frequency bins and in frames
        (17 is about 180 Hz and 0.4 s at 22050 Hz, win 2048, hop 512).

    Returns
    -------
    ComponentFeatures

    Examples
    --------
    A flat template hit briefly, and a two-peak template held:

    >>> import numpy as np, nmf_helpers as nh
    >>> W = np.stack([np.ones(64), np.eye(64)[10] + np.eye(64)[20]], axis=1)
    >>> H = np.zeros((2, 100)); H[0, 10::20] = 1.0; H[1, 30:70] = 1.0
    >>> nh.component_features(W, H).is_percussive.tolist()
    [True, False]
    """
    W, H = check_factors("component_features", W, H)
    threshold, kernel = _check_decision("component_features", threshold, kernel)
    return component_features_unchecked(W, H, threshold, kernel)


def _check_decision(function: str, threshold, kernel) -> tuple[float, int]:
    threshold = check_real(function, "threshold", threshold, minimum=1e-3, maximum=1.0)
    kernel = check_int(function, "kernel", kernel, minimum=3)
    if kernel % 2 == 0:
        raise ParameterError(f"{function}: kernel must be odd, got {kernel}")
    return threshold, kernel


def component_features_unchecked(W, H, threshold: float, kernel: int) -> ComponentFeatures:
    """:func:`component_features` for checked arguments (also :mod:`nmf_helpers.long_songs`')."""
    W, H = W.astype(np.float64), H.astype(np.float64)
    W_smooth = median_filter(W, size=(kernel, 1), mode="nearest")
    H_smooth = median_filter(H, size=(1, kernel), mode="nearest")
    frames = slice(None, None, -(-H.shape[1] // _MAX_FRAMES))
    fractions = [
        _percussive_fraction(W[:, k], H[k, frames], W_smooth[:, k], H_smooth[k, frames])
        for k in range(W.shape[1])
    ]
    rises = np.maximum(np.diff(H, axis=1), 0.0).sum(axis=1)
    return ComponentFeatures(
        spectral_flatness=spectral_flatness_unchecked(W),
        onset_strength=rises / np.maximum(H.sum(axis=1), TINY),
        percussive_fraction=np.array(fractions),
        threshold=threshold,
    )


def percussive_harmonic_groups(
    W, H, *, threshold: float = DEFAULT_THRESHOLD, kernel: int = DEFAULT_KERNEL
) -> tuple[list[int], list[int]]:
    """Split the K components into a percussive and a harmonic group.

    Parameters
    ----------
    W : np.ndarray [shape=(M, K)]
    H : np.ndarray [shape=(K, N)]
    threshold, kernel
        See :func:`component_features`.

    Returns
    -------
    percussive, harmonic : list of int
        Disjoint, together ``range(K)``; either may be empty (a song without
        drums, or drums only).

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> W = np.stack([np.ones(64), np.eye(64)[10] + np.eye(64)[20]], axis=1)
    >>> H = np.zeros((2, 100)); H[0, 10::20] = 1.0; H[1, 30:70] = 1.0
    >>> nh.percussive_harmonic_groups(W, H)
    ([0], [1])
    """
    W, H = check_factors("percussive_harmonic_groups", W, H)
    threshold, kernel = _check_decision("percussive_harmonic_groups", threshold, kernel)
    return _groups(component_features_unchecked(W, H, threshold, kernel))


def _groups(features: ComponentFeatures) -> tuple[list[int], list[int]]:
    """Indices of the percussive and of the harmonic components."""
    decision = features.is_percussive
    return [int(k) for k in np.flatnonzero(decision)], [int(k) for k in np.flatnonzero(~decision)]


@dataclass(frozen=True)
class DrumSplit:
    """Result of :func:`split_drums`.

    Attributes
    ----------
    drums, harmonic : np.ndarray [shape=(n_samples,), float32]
        The two estimates; they add up to the input.
    W : np.ndarray [shape=(M, K)]
    H : np.ndarray [shape=(K, N)]
    percussive, harmonic_components : list of int
        The groups.
    features : ComponentFeatures
    losses : np.ndarray [shape=(n_iter,)]
    """

    drums: np.ndarray
    harmonic: np.ndarray
    W: np.ndarray
    H: np.ndarray
    percussive: list[int]
    harmonic_components: list[int]
    features: ComponentFeatures
    losses: np.ndarray


def split_drums(
    x,
    *,
    K: int = DEFAULT_K,
    n_iter: int = 100,
    loss: str = DEFAULT_LOSS,
    power: float = 1.0,
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = 0,
    progress: bool = False,
) -> DrumSplit:
    """Drums and the rest of a song: NMF, features, groups, soft masks.

    Parameters
    ----------
    x : np.ndarray [shape=(n_samples,)]
        Mono waveform (win 2048, hop 512 are used).
    K : int
        Number of NMF components.
    n_iter : int
        NMF iterations.
    loss : {"kl", "euclidean"}
    power : float
        Mask exponent (see :func:`nmf_helpers.soft_masks`).
    threshold : float
        See :func:`component_features`.
    seed : int
    progress : bool
        Show the NMF progress bar.

    Returns
    -------
    DrumSplit

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> x, sr = nh.load_audio(nh.clip_path("groove"))  # doctest: +SKIP
    >>> result = nh.split_drums(x)  # doctest: +SKIP
    >>> nh.save_audio("drums.wav", result.drums, sr)  # doctest: +SKIP
    """
    function = "split_drums"
    x, win, hop = check_audio_for_frames(function, x, DEFAULT_WIN, DEFAULT_HOP)
    check_not_silent(function, "x", x)
    K = check_components(function, K, (win // 2 + 1, frame_count(x.size, win, hop)))
    n_iter = check_iterations(function, n_iter)
    loss = check_choice(function, "loss", loss, LOSSES)
    power = check_real(function, "power", power, minimum=1e-3, maximum=100.0)
    threshold, _ = _check_decision(function, threshold, DEFAULT_KERNEL)
    seed = check_seed(function, seed)
    return split_drums_unchecked(
        x, K=K, n_iter=n_iter, loss=loss, power=power, threshold=threshold, seed=seed,
        progress=progress, name=function,
    )  # fmt: skip


def split_drums_unchecked(
    x: np.ndarray,
    *,
    K: int,
    n_iter: int,
    loss: str,
    power: float,
    threshold: float,
    seed: int | np.random.Generator,
    progress: bool,
    name: str,
) -> DrumSplit:
    """:func:`split_drums` of a checked, non-silent song with checked options.

    ``name`` is the public function the user called (it labels the progress bar).
    """
    win, hop = DEFAULT_WIN, DEFAULT_HOP
    V = spectrogram_unchecked(x, win, hop)
    W, H, losses = factorise(
        V, K, loss=loss, n_iter=n_iter, seed=seed, progress=progress, name=name
    )
    features = component_features_unchecked(W, H, threshold, DEFAULT_KERNEL)
    percussive, harmonic = _groups(features)
    drums, rest = separate_unchecked(x, W, H, [percussive, harmonic], power=power, win=win, hop=hop)
    return DrumSplit(drums, rest, W, H, percussive, harmonic, features, losses)
