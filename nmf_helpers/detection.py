"""Sample detection: is a known sample used in a track, and where?

The method follows Gururani & Lerch (2017). KL NMF of the sample's
spectrogram gives F templates ``W_s`` and the sample's own activations
``H_s`` (F, L). Pitch-shifted copies of ``W_s`` (the columns moved along a
log-frequency axis by interpolation, ``-2 .. +2`` semitones by default) are
stacked into one fixed dictionary; the track is then fitted with partially
fixed KL NMF, ``nmf_kl(V_track, K=F * S + n_free, W_fixed=...)``, where the
``n_free`` free components take the drums, vocals and everything else new.

The decision comes from *when* the fixed templates are active, not from how
loud they are. For every start time and every pitch shift, the Pearson
correlation between the track's fixed activations over the next L frames and
the sample's own activations ``H_s`` (all F rows at once) measures whether
the sample's sequence of notes and chords plays there. Both are first
square-rooted (so quiet components count too) and detrended (a 0.3 s moving
average is subtracted), so that what must match is the rhythm inside each
bar, not only the slow chord changes that songs in the same style share.
A correlation is unchanged when the track is scaled, and scaling V scales H
and nothing else in KL NMF, so the score is gain invariant by construction.
The *score* is the largest correlation; every separate peak above the
threshold is one occurrence of the sample, which gives the time ranges (a
sample looped four times gives four).

The share of each frame's magnitude explained by the fixed part is returned
as well, but it does not decide: same-instrument music is partly explained by
the sample's templates too, so the shares of positives and negatives
overlap (``benchmarks/bench_detection.py`` prints both).

References
----------
S. Gururani and A. Lerch, "Automatic sample detection in polyphonic music",
ISMIR 2017.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.ndimage
import scipy.signal

from ._numerics import EPS
from ._validation import (
    ParameterError,
    check_frame_sizes,
    check_int,
    check_matrix,
    check_not_silent,
    check_real,
    check_seed,
    check_signal,
)
from .audio import load_audio_unchecked
from .nmf import factorise
from .spectral import DEFAULT_HOP, DEFAULT_WIN, shift_templates_unchecked, spectrogram_unchecked

__all__ = [
    "DEFAULT_SHIFTS",
    "DETECTION_THRESHOLD",
    "SampleDetection",
    "SampleTemplates",
    "detect_sample",
    "learn_sample",
]

#: Decision threshold on the score (a correlation, in [-1, 1]): midway between
#: the lowest positive and the highest negative score of
#: ``benchmarks/bench_detection.py``, which prints both and the margin.
DETECTION_THRESHOLD = 0.23

#: Pitch shifts (semitones) of the sample's templates offered to the fit.
DEFAULT_SHIFTS = (-2, -1, 0, 1, 2)

#: Templates learned from a sample (Gururani & Lerch used about 20), and the
#: KL iterations spent learning them (the sample is short, so this is cheap).
DEFAULT_N_COMPONENTS = 20
DEFAULT_SAMPLE_ITERATIONS = 200

# Width of the moving average removed from activations before correlating:
# shorter than a beat at any usual tempo, so note onsets and the rhythm
# within a bar stay, while the bar-long chord envelope that songs in one
# style share is removed. Measured: 0.15 s and 0.5 s separate worse.
_DETREND_SECONDS = 0.3


@dataclass(frozen=True, eq=False)
class SampleTemplates:
    """What is learned from the sample once and reused for every track.

    Attributes
    ----------
    W : np.ndarray [shape=(M, F * S), float32]
        The sample's F templates (unit-sum columns) in S pitch-shifted
        copies, shift-major: columns ``s * F .. s * F + F - 1`` are shifted
        by ``shifts[s]`` semitones.
    H : np.ndarray [shape=(F, L), float32]
        The sample's own activations over its L frames.
    shifts : tuple of float
        Semitones of each copy.
    sr, win, hop : int
        Sample rate and STFT sizes the templates belong to.
    n_samples : int
        Length of the sample in samples.
    """

    W: np.ndarray = field(repr=False)
    H: np.ndarray = field(repr=False)
    shifts: tuple[float, ...]
    sr: int
    win: int
    hop: int
    n_samples: int

    @property
    def n_components(self) -> int:
        """F, the number of templates per pitch shift."""
        return self.H.shape[0]

    @property
    def duration_s(self) -> float:
        """Length of the sample in seconds."""
        return self.n_samples / self.sr


@dataclass(frozen=True, eq=False)
class SampleDetection:
    """The outcome of :func:`detect_sample`: decision, evidence and fitted parts.

    Attributes
    ----------
    score : float
        Largest correlation between the track's fixed activations and the
        sample's own, over start times and pitch shifts, in [-1, 1].
    detected : bool
        ``score >= threshold``.
    threshold : float
    ranges : tuple of (float, float)
        ``(start_s, end_s)`` of every occurrence found, in time order; empty
        when nothing reaches the threshold.
    shift : float
        Pitch shift (semitones) of the best match.
    similarity : np.ndarray [shape=(n_starts,)]
        Correlation for a sample starting at ``similarity_times`` (best shift).
    similarity_times : np.ndarray [shape=(n_starts,)]
        Start times in seconds (they begin before 0 s and end after the
        track's end by half the sample, so cut-off copies are found too).
    fixed_share : np.ndarray [shape=(N,)]
        Share of each frame's modelled magnitude explained by the fixed part.
    activations : np.ndarray [shape=(F, N)]
        Fixed-part activations, summed over the pitch-shifted copies.
    fixed_part, free_part : np.ndarray [shape=(M, N)]
        Spectrograms of the fixed (sample) part and of the free part.
    W : np.ndarray [shape=(M, K)]
    H : np.ndarray [shape=(K, N)]
        The full fit; the first ``n_fixed`` components are the sample's, so
        ``separate(x, W, H, [range(n_fixed)])`` gives the sample as audio.
    n_fixed : int
    sr, hop : int
    """

    score: float
    detected: bool
    threshold: float
    ranges: tuple[tuple[float, float], ...]
    shift: float
    # The evidence and the fit: left out of the repr, which stays one readable line.
    similarity: np.ndarray = field(repr=False)
    similarity_times: np.ndarray = field(repr=False)
    fixed_share: np.ndarray = field(repr=False)
    activations: np.ndarray = field(repr=False)
    fixed_part: np.ndarray = field(repr=False)
    free_part: np.ndarray = field(repr=False)
    W: np.ndarray = field(repr=False)
    H: np.ndarray = field(repr=False)
    n_fixed: int = field(repr=False)
    sr: int = field(repr=False)
    hop: int = field(repr=False)

    @property
    def times(self) -> np.ndarray:
        """Frame times in seconds, shape (N,)."""
        return np.arange(self.H.shape[1]) * self.hop / self.sr


def _load(function: str, name: str, value, sr: int) -> np.ndarray:
    """A waveform from a path (loaded at ``sr``) or an array, checked and not silent."""
    if isinstance(value, str | os.PathLike):
        value, _ = load_audio_unchecked(Path(value), sr)
    elif not isinstance(value, np.ndarray | Sequence):
        raise ParameterError(
            f"{function}: {name} must be a path or a waveform, got {type(value).__name__}"
        )
    return check_not_silent(function, name, check_signal(function, name, value))


def _check_shifts(function: str, shifts) -> tuple[float, ...]:
    if isinstance(shifts, numbers.Real):
        shifts = (shifts,)
    try:
        values = tuple(
            check_real(function, f"shifts[{i}]", s, minimum=-12, maximum=12)
            for i, s in enumerate(shifts)
        )
    except TypeError:
        raise ParameterError(f"{function}: shifts must be numbers, got {shifts!r}") from None
    if not values or len(set(values)) != len(values):
        raise ParameterError(f"{function}: shifts must be distinct and non-empty, got {shifts!r}")
    return values


def _unit_columns(W: np.ndarray, H: np.ndarray | None = None):
    """Scale W's columns to sum 1 and H's rows inversely, so W H is unchanged."""
    norms = np.maximum(W.sum(axis=0), EPS)
    W = (W / norms).astype(np.float32)
    return W if H is None else (W, (H * norms[:, None]).astype(np.float32))


def learn_sample(
    sample,
    *,
    sr: int = 22050,
    n_components: int = DEFAULT_N_COMPONENTS,
    shifts: Sequence[float] = DEFAULT_SHIFTS,
    n_iter: int = DEFAULT_SAMPLE_ITERATIONS,
    win: int = DEFAULT_WIN,
    hop: int = DEFAULT_HOP,
    seed: int = 0,
) -> SampleTemplates:
    """Learn the sample's templates and activations, with pitch-shifted copies.

    Parameters
    ----------
    sample : str, os.PathLike or np.ndarray [shape=(n_samples,)]
        The sample: an audio file (loaded at ``sr``) or a mono waveform at ``sr``.
    sr : int
        Sample rate.
    n_components : int >= 1
        F, templates learned from the sample (Gururani & Lerch used about 20).
    shifts : sequence of float
        Semitones of the copies offered to the track's fit, each in [-12, 12].
    n_iter : int >= 1
        KL NMF iterations on the sample.
    win, hop : int
        STFT sizes.
    seed : int
        Seed of the NMF initialisation.

    Returns
    -------
    SampleTemplates

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> templates = nh.learn_sample(nh.clip_path("sample"), n_iter=20)
    >>> templates.W.shape, templates.H.shape
    ((1025, 100), (20, 383))
    """
    function = "learn_sample"
    sr = check_int(function, "sr", sr, minimum=1000)
    n_components = check_int(function, "n_components", n_components, minimum=1)
    shifts = _check_shifts(function, shifts)
    n_iter = check_int(function, "n_iter", n_iter, minimum=1)
    seed = check_seed(function, seed)
    win, hop = check_frame_sizes(function, win, hop)
    x = _load(function, "sample", sample, sr)
    return _learn(x, sr, n_components, shifts, n_iter, win, hop, seed, function=function)


def _learn(x, sr, n_components, shifts, n_iter, win, hop, seed, *, function) -> SampleTemplates:
    """:func:`learn_sample` of a checked, non-silent waveform (``function``: the public caller)."""
    if x.size < win:
        raise ParameterError(
            f"{function}: sample has {x.size} samples, shorter than one window (win = {win})"
        )
    V = spectrogram_unchecked(x, win, hop)
    if n_components > min(V.shape):
        what = (
            f"n_components = {n_components}:"
            if function == "learn_sample"
            else (f"the sample is too short for its {n_components} templates:")
        )
        raise ParameterError(
            f"{function}: {what} the sample's spectrogram of shape {V.shape} allows at most"
            f" {min(V.shape)}; give a longer sample, or fewer templates"
            " (learn_sample(sample, n_components=...))"
        )
    W, H, _ = factorise(V, n_components, loss="kl", n_iter=n_iter, seed=seed, name=function)
    W, H = _unit_columns(W, H)
    copies = [_unit_columns(shift_templates_unchecked(W, s)) if s else W for s in shifts]
    return SampleTemplates(np.hstack(copies), H, shifts, sr, win, hop, x.size)


def _rhythm(H: np.ndarray, width: int) -> np.ndarray:
    """sqrt(H) minus its moving average over ``width`` frames, in float64.

    The square root keeps quiet components (keys under a loud bass) from
    being drowned by loud ones; it only rescales a gain change, which the
    correlation ignores.
    """
    H = np.sqrt(H.astype(np.float64))
    return H - scipy.ndimage.uniform_filter1d(H, width, axis=1, mode="nearest")


def _sliding_correlation(X: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Pearson correlation of ``T`` (F, L) with every window ``X[:, t:t+L]``.

    Each row is centred within its window, so a component that is merely
    louder on average does not count; windows are compared as a whole (all
    rows together). Returns shape (N - L + 1,).
    """
    L = T.shape[1]
    T = T - T.mean(axis=1, keepdims=True)
    products = scipy.signal.fftconvolve(X, T[:, ::-1], mode="valid", axes=1).sum(axis=0)
    cumulative = np.pad(np.cumsum(X, axis=1), ((0, 0), (1, 0)))
    cumulative_sq = np.pad(np.cumsum(X * X, axis=1), ((0, 0), (1, 0)))
    sums = cumulative[:, L:] - cumulative[:, :-L]
    sums_sq = cumulative_sq[:, L:] - cumulative_sq[:, :-L]
    variance = np.maximum(sums_sq - sums * sums / L, 0.0).sum(axis=0)
    return products / np.maximum(np.sqrt(variance) * np.linalg.norm(T), EPS)


def _similarity(activations: np.ndarray, templates: SampleTemplates):
    """Correlation per start frame (best shift), that shift's index, and the padding.

    ``activations`` is the fixed part of H, (F * S, N). The track is padded
    with half the sample on both sides (zeros after detrending mean "no
    evidence"), so a copy cut off by the track's start or end still matches.
    """
    F, L = templates.H.shape
    width = max(1, round(_DETREND_SECONDS * templates.sr / templates.hop)) | 1
    T = _rhythm(templates.H, width)
    pad = L // 2  # 2 * pad + 1 >= L: at least one start even for a track of one frame
    per_shift = []
    for block in np.split(activations, len(templates.shifts)):
        X = np.pad(_rhythm(block, width), ((0, 0), (pad, pad)))
        per_shift.append(_sliding_correlation(X, T))
    per_shift = np.array(per_shift)
    best = per_shift.argmax(axis=0)
    return per_shift[best, np.arange(best.size)], best, pad


def _occurrences(similarity: np.ndarray, threshold: float, L: int) -> list[int]:
    """Start indices of the separate peaks >= threshold, strongest first.

    Two occurrences must start at least 3/4 of the sample apart: a sample
    looped back to back gives one peak per copy, and the weaker match of a
    window straddling two copies (half of each, which a loop whose halves
    share chords produces) is not counted as a third.
    """
    remaining = similarity.copy()
    reach = (3 * L) // 4
    starts = []
    while remaining.size and remaining.max() >= threshold:
        start = int(remaining.argmax())
        starts.append(start)
        remaining[max(0, start - reach + 1) : start + reach] = -np.inf
    return starts


def detect_sample(
    sample,
    track,
    *,
    sr: int = 22050,
    n_free: int = 20,
    n_iter: int = 100,
    threshold: float = DETECTION_THRESHOLD,
    seed: int = 0,
    progress: bool = False,
) -> SampleDetection:
    """Decide whether ``sample`` is used in ``track``, and where.

    The track is fitted with the sample's fixed templates (in pitch-shifted
    copies) plus ``n_free`` free components; the score is the best
    correlation between the fixed activations and the sample's own over
    start times and shifts (see the module docstring).

    The default threshold, :data:`DETECTION_THRESHOLD`, lies midway between
    the scores of positives and negatives in ``benchmarks/bench_detection.py``:
    the sample pitch-shifted by -2..+2 semitones, quiet or loud under new
    drums and lead, at several track gains, against music in the same style
    and with the same instruments (``unrelated_track`` even has the sample's
    chord progression a whole tone up). The benchmark prints the scores,
    ROC AUC, precision and recall, the error of the ranges and the time per
    minute of track.

    Parameters
    ----------
    sample : str, os.PathLike, np.ndarray [shape=(n,)] or SampleTemplates
        The sample as a file, a waveform at ``sr``, or learned templates
        (:func:`learn_sample`, to reuse them across tracks).
    track : str, os.PathLike or np.ndarray [shape=(n_samples,)]
        The track to search, a file or a waveform at ``sr``.
    sr : int
        Sample rate; must equal the templates' when ``sample`` is one.
    n_free : int >= 0
        Free components for everything that is not the sample.
    n_iter : int >= 1
        KL NMF iterations on the track.
    threshold : float
        Decision threshold on the score, in [-1, 1].
    seed : int
        Seed of the NMF initialisation (and of :func:`learn_sample`).
    progress : bool
        Show a progress bar for the track's fit.

    Returns
    -------
    SampleDetection

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> result = nh.detect_sample(
    ...     nh.clip_path("sample"), nh.clip_path("sampling_track"), n_iter=30
    ... )
    >>> result.detected, [(round(a, 1), round(b, 1)) for a, b in result.ranges]
    (True, [(1.1, 10.0), (10.0, 18.9)])

    Learn the sample once to check many tracks:

    >>> templates = nh.learn_sample(nh.clip_path("sample"))
    >>> nh.detect_sample(templates, nh.clip_path("unrelated_track"), n_iter=30).detected
    False
    """
    function = "detect_sample"
    sr = check_int(function, "sr", sr, minimum=1000)
    n_free = check_int(function, "n_free", n_free, minimum=0)
    n_iter = check_int(function, "n_iter", n_iter, minimum=1)
    seed = check_seed(function, seed)
    threshold = check_real(function, "threshold", threshold, minimum=-1.0, maximum=1.0)
    if isinstance(sample, SampleTemplates):
        if sample.sr != sr:
            raise ParameterError(
                f"{function}: sr = {sr} differs from the sample templates' sr = {sample.sr}"
            )
        templates = _check_templates(function, sample)
    else:
        x_sample = _load(function, "sample", sample, sr)
        templates = _learn(
            x_sample,
            sr,
            DEFAULT_N_COMPONENTS,
            DEFAULT_SHIFTS,
            DEFAULT_SAMPLE_ITERATIONS,
            DEFAULT_WIN,
            DEFAULT_HOP,
            seed,
            function=function,
        )
    x = _load(function, "track", track, sr)
    if x.size < templates.win:
        raise ParameterError(
            f"{function}: track has {x.size} samples, shorter than one window ({templates.win})"
        )
    V = spectrogram_unchecked(x, templates.win, templates.hop)
    if n_free > min(V.shape):
        raise ParameterError(
            f"{function}: n_free = {n_free} is out of range: the track's spectrogram of"
            f" shape {V.shape} allows at most {min(V.shape)} free components"
        )
    return _decide(templates, V, x.size / sr, n_free, n_iter, threshold, seed, progress)


def _check_templates(function: str, templates: SampleTemplates) -> SampleTemplates:
    """Templates made by :func:`learn_sample`, or edited copies that still fit together."""
    win, hop = check_frame_sizes(function, templates.win, templates.hop)
    F = templates.n_components
    W = check_matrix(function, "sample.W", templates.W, shape=(win // 2 + 1, None))
    check_matrix(function, "sample.H", templates.H)
    if W.shape[1] != F * len(templates.shifts):
        raise ParameterError(
            f"{function}: sample.W has {W.shape[1]} columns, but {F} templates in"
            f" {len(templates.shifts)} pitch shifts make {F * len(templates.shifts)}"
        )
    return templates


def _decide(templates, V, duration_s, n_free, n_iter, threshold, seed, progress) -> SampleDetection:
    """Fit the track with the fixed templates and read the evidence off the fit."""
    n_fixed = templates.W.shape[1]
    W, H, _ = factorise(
        V,
        n_fixed + n_free,
        loss="kl",
        n_iter=n_iter,
        seed=seed,
        W_fixed=templates.W,
        progress=progress,
        name="detect_sample",
    )
    fixed_part = W[:, :n_fixed] @ H[:n_fixed]
    free_part = W[:, n_fixed:] @ H[n_fixed:]
    modelled = fixed_part.sum(axis=0) + free_part.sum(axis=0)
    fixed_share = fixed_part.sum(axis=0) / np.maximum(modelled, EPS)
    similarity, best_shift, pad = _similarity(H[:n_fixed], templates)
    L = templates.H.shape[1]
    starts = sorted(_occurrences(similarity, threshold, L))
    seconds = templates.hop / templates.sr
    ranges = tuple(
        (max(0.0, (s - pad) * seconds), min(duration_s, (s - pad) * seconds + templates.duration_s))
        for s in starts
    )
    peak = int(similarity.argmax())
    F = templates.n_components
    return SampleDetection(
        score=float(similarity[peak]),
        detected=bool(similarity[peak] >= threshold),
        threshold=threshold,
        ranges=ranges,
        shift=float(templates.shifts[best_shift[peak]]),
        similarity=similarity,
        similarity_times=(np.arange(similarity.size) - pad) * seconds,
        fixed_share=fixed_share,
        activations=H[:n_fixed].reshape(len(templates.shifts), F, -1).sum(axis=0),
        fixed_part=fixed_part,
        free_part=free_part,
        W=W,
        H=H,
        n_fixed=n_fixed,
        sr=templates.sr,
        hop=templates.hop,
    )
