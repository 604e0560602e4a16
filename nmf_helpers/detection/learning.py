"""Learning a sample: its templates, in pitch-shifted copies, and its own activations.

KL NMF of the sample's spectrogram gives R templates ``W_s`` and the
sample's activations ``H_s`` (R, L). Copies of ``W_s`` moved along a
log-frequency axis (:func:`~nmf_helpers.shift_templates`, ``-2 .. +2``
semitones by default) are stacked into the one fixed dictionary a track is
fitted with (:mod:`nmf_helpers.detection.door`); ``H_s`` is what the
track's activations are aligned with (:mod:`nmf_helpers.detection.search`).
Learned once, the templates serve every track.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._numerics import EPS
from .._validation import (
    ParameterError,
    check_frame_sizes,
    check_int,
    check_iterations,
    check_not_silent,
    check_real,
    check_seed,
    check_signal,
    shorter_than_window,
)
from ..audio import load_audio_unchecked
from ..nmf import factorise
from ..spectral import DEFAULT_HOP, DEFAULT_WIN, shift_templates_unchecked, spectrogram_unchecked
from .copies import whiten_unchecked
from .settings import (
    DEFAULT_N_COMPONENTS,
    DEFAULT_SAMPLE_ITERATIONS,
    DEFAULT_SHIFTS,
    SAMPLE_RATE,
)

__all__ = ["SampleTemplates", "learn_sample"]


@dataclass(frozen=True, eq=False)
class SampleTemplates:
    """What is learned from the sample once and reused for every track.

    Attributes
    ----------
    W : np.ndarray [shape=(M, R * S), float32]
        The sample's R templates (unit-sum columns) in S pitch-shifted
        copies, shift-major: columns ``s * R .. s * R + R - 1`` are shifted
        by ``shifts[s]`` semitones.
    H : np.ndarray [shape=(R, L), float32]
        The sample's own activations over its L frames.
    shifts : tuple of float
        Semitones of each copy.
    sr, win, hop : int
        Sample rate and STFT sizes the templates belong to.
    n_samples : int
        Length of the sample in samples.
    white : np.ndarray [shape=(ceil(n_samples / 4),), float32] or None
        The sample's whitened waveform, what an exact copy of it is found by
        (:func:`~nmf_helpers.detection.copies.whiten_unchecked`); None for
        templates made without a waveform, which are then searched for in
        the activations only.
    """

    W: np.ndarray = field(repr=False)
    H: np.ndarray = field(repr=False)
    shifts: tuple[float, ...]
    sr: int
    win: int
    hop: int
    n_samples: int
    white: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_components(self) -> int:
        """R, the number of templates per pitch shift."""
        return self.H.shape[0]

    @property
    def duration_s(self) -> float:
        """Length of the sample in seconds."""
        return self.n_samples / self.sr


def load_waveform(function: str, name: str, value, sr: int) -> np.ndarray:
    """A waveform from a path (loaded at ``sr``) or an array, checked and not silent.

    The check of the ``sample`` and ``track`` arguments of the doors that
    take audio (:func:`learn_sample`, :func:`~nmf_helpers.detect_sample`, a
    scan's samples); errors name ``function`` and ``name``.
    """
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
            check_real(function, f"shifts[{i}]", shift, minimum=-12, maximum=12)
            for i, shift in enumerate(shifts)
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
    sr: int = SAMPLE_RATE,
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
        R, templates learned from the sample (Gururani & Lerch used about 20).
    shifts : sequence of float
        Semitones of the copies offered to the track's fit, each in [-12, 12].
    n_iter : int in [1, 1_000_000]
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
    ((1025, 140), (20, 383))
    """
    function = "learn_sample"
    sr = check_int(function, "sr", sr, minimum=1000)
    n_components = check_int(function, "n_components", n_components, minimum=1)
    shifts = _check_shifts(function, shifts)
    n_iter = check_iterations(function, n_iter)
    seed = check_seed(function, seed)
    win, hop = check_frame_sizes(function, win, hop)
    x = load_waveform(function, "sample", sample, sr)
    return learn_from_waveform(
        x, sr, n_components, shifts, n_iter, win, hop, seed, function=function
    )


def learn_from_waveform(
    x, sr, n_components, shifts, n_iter, win, hop, seed, *, function, name="sample"
) -> SampleTemplates:
    """:func:`learn_sample` of a checked, non-silent waveform.

    Only what the waveform's spectrogram decides is judged here: a waveform
    shorter than one window, or too short for ``n_components`` templates.
    Errors name ``function``, the public caller, and ``name``, the waveform
    as the caller knows it.
    """
    if x.size < win:
        raise shorter_than_window(function, name, x.size, win, sr)
    V = spectrogram_unchecked(x, win, hop)
    if n_components > min(V.shape):
        what = (
            f"n_components = {n_components}:"
            if function == "learn_sample"
            else (f"the {name} is too short for its {n_components} templates:")
        )
        raise ParameterError(
            f"{function}: {what} the sample's spectrogram of shape {V.shape} allows at most"
            f" {min(V.shape)}; give a longer sample, or fewer templates"
            " (learn_sample(sample, n_components=...))"
        )
    W, H, _ = factorise(V, n_components, loss="kl", n_iter=n_iter, seed=seed, name=function)
    W, H = _unit_columns(W, H)
    copies = [
        _unit_columns(shift_templates_unchecked(W, shift)) if shift else W for shift in shifts
    ]
    return SampleTemplates(np.hstack(copies), H, shifts, sr, win, hop, x.size, whiten_unchecked(x))
