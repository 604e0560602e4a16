"""Sample detection: is a known sample used in a track, and where?

The method follows Gururani & Lerch (2017). KL NMF of the sample's
spectrogram gives F templates ``W_s`` and the sample's own activations
``H_s`` (F, L). Pitch-shifted copies of ``W_s`` (the columns moved along a
log-frequency axis by interpolation, ``-2 .. +2`` semitones by default) are
stacked into one fixed dictionary; the track is then fitted with partially
fixed KL NMF, ``nmf_kl(V_track, K=F * S + n_free, W_fixed=...)``, where the
``n_free`` free components take the drums, vocals and everything else new.

The decision comes from *when* the fixed templates are active, not from how
loud they are. The track's fixed activations (per pitch copy, and per two
neighbouring copies, for a sample between two semitones) are aligned with
the sample's own activations ``H_s`` (:mod:`nmf_helpers.alignment`): every
window of ``min_part_s`` seconds (2.5 s, about one bar) of the track is
compared with every window of the sample played at every tempo ratio of
``tempo_range`` (x0.90..x1.10), so a chop, a time-stretch and a record
speed-up are found as well as the whole sample at its own tempo. Both are
first square-rooted (so quiet components count too) and detrended (a 0.3 s
moving average is subtracted), so that what must match is the rhythm inside
each bar, not only the slow chord changes that songs in the same style
share. The comparison is a cosine similarity, unchanged when the track is
scaled, and scaling V scales H and nothing else in KL NMF, so the score is
gain invariant by construction. The *score* is the best window; from each
window above the threshold the alignment path is followed both ways while
it holds, which gives an :class:`Occurrence`: where in the track, which part
of the sample, the tempo ratio (the path's slope) and the pitch shift (the
copies the fit used). A chop looped four times gives four.

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

import itertools
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.ndimage

from ._numerics import EPS
from ._threads import library_threads
from ._validation import (
    ParameterError,
    check_frame_sizes,
    check_int,
    check_iterations,
    check_matrix,
    check_not_silent,
    check_real,
    check_seed,
    check_signal,
)
from .alignment import best_windows, follow_path, stretch_time_unchecked, window_scores
from .audio import load_audio_unchecked
from .nmf import factorise
from .spectral import DEFAULT_HOP, DEFAULT_WIN, shift_templates_unchecked, spectrogram_unchecked

__all__ = [
    "DEFAULT_SHIFTS",
    "DEFAULT_TEMPO_RANGE",
    "DETECTION_THRESHOLD",
    "MIN_PART_SECONDS",
    "TEMPO_LIMITS",
    "Occurrence",
    "SampleDetection",
    "SampleTemplates",
    "detect_sample",
    "learn_sample",
]

#: Decision threshold on the score (a cosine similarity, in [-1, 1]), set from
#: ``benchmarks/bench_detection.py`` on both of its materials (138 positives,
#: 156 negatives, all "mastered"): the middle of the gap between the highest
#: negative (0.349: the project's own riffs, one synthesiser and style,
#: searched with another riff's templates; real recordings by other
#: musicians that are not the sample score at most 0.25) and the lowest
#: positive but three (0.411). The three below are an ambient field
#: recording under new parts (12 dB down, or chopped to 2.5 s: 0.25-0.36).
#: A stem of the project's same-style unrelated track (its electric piano
#: alone) scores 0.366: 0.36 would have taken it.
DETECTION_THRESHOLD = 0.38

#: Pitch shifts (semitones) of the sample's templates offered to the fit.
#: The half steps are for a record sped up or slowed down by about 3 %
#: (x1.03 moves the pitch half a semitone): between two whole-semitone
#: copies the fit gave much of such a sample to the free components, and a
#: speed-up x1.03 that was also high-passed and quieter scored 0.20-0.38,
#: 0.41-0.71 with the half steps (benchmarks/bench_detection.py).
DEFAULT_SHIFTS = (-2, -1, -0.5, 0, 0.5, 1, 2)

#: Tempo ratios searched by default (track tempo / sample tempo): a
#: time-stretch of x0.90..x1.10, which includes a record speed-up of
#: x0.94..x1.06. A wider range may be asked for, within TEMPO_LIMITS.
DEFAULT_TEMPO_RANGE = (0.90, 1.10)
TEMPO_LIMITS = (0.80, 1.25)
_TEMPO_LIMITS_ARRAY = np.array(TEMPO_LIMITS)

#: The shortest part of the sample that is searched for, in seconds: about
#: one bar at 100 BPM. A shorter part (a single chord) is shared by too much
#: music in the same style to be evidence of sampling.
MIN_PART_SECONDS = 2.5
#: The ``min_part_s`` accepted, in seconds (:func:`check_min_part`; the
#: command line's ``--min-part`` too): from a beat or two to ten minutes.
MIN_PART_RANGE = (1.0, 600.0)

#: Templates learned from a sample (Gururani & Lerch used about 20), and the
#: KL iterations spent learning them (the sample is short, so this is cheap).
DEFAULT_N_COMPONENTS = 20
DEFAULT_SAMPLE_ITERATIONS = 200

# Width of the moving average removed from activations before correlating:
# shorter than a beat at any usual tempo, so note onsets and the rhythm
# within a bar stay, while the bar-long chord envelope that songs in one
# style share is removed. Measured: 0.15 s and 0.5 s separate worse.
_DETREND_SECONDS = 0.3

# Activations are averaged over pairs of frames before aligning (46 ms at
# the default hop): the detrended rhythm has nothing faster, and the search
# costs a quarter as much.
_DECIMATION = 2

# Step of the tempo-ratio grid, then of the refinement around the best
# ratio. Over a 2.5 s window a ratio off by 0.01 drifts 25 ms, well under
# a frame of the decimated activations.
_RATIO_STEP = 0.02
_RATIO_FINE_STEP = 0.005

# An occurrence is followed along its alignment while its windows score at
# least this share of the threshold: a bar where the new drums or lead cover
# the sample dips below the threshold without ending the occurrence. The
# path is then extended along its line and its ends set where the local
# match (over _LOCAL_SECONDS) stops reaching _TRIM_LEVEL of the
# occurrence's best window score (see _trim).
_WALK_LEVEL = 0.75
# An occurrence ends where the local match along its alignment falls below
# this share of its best window's score for longer than _GAP_SECONDS.
_TRIM_LEVEL = 0.4
# An occurrence goes on through a run of frames below that level shorter
# than this (a fill or a break in the new parts that covers the sample).
_GAP_SECONDS = 1.0
# The local match is a cosine over this many seconds. Over half a second
# (about one beat), the match of a sample with little rhythm, such as an
# ambient pad, dipped at random below the level and its occurrences ended
# seconds early. Set from bench_detection's track-range errors with the fits
# held fixed: 90th percentile 0.69 s over 0.5 s, 0.32 s over 0.8 s, and
# 0.32-0.37 s anywhere from 0.7 to 1.0 s.
_LOCAL_SECONDS = 0.8

# The alignment's matrix products are small (a few hundred frames by 20
# components): on one BLAS thread each takes well under a millisecond, while
# waking a second thread cost 15 ms per product on a busy 2-core machine,
# which made the alignment a third of the detector's time.
_ALIGNMENT_THREADS = 1


@dataclass(frozen=True)
class Occurrence:
    """One place where (a part of) the sample plays in the track.

    Attributes
    ----------
    track_start_s, track_end_s : float
        Where it plays in the track, in seconds.
    sample_start_s, sample_end_s : float
        Which part of the sample plays, in seconds of the sample.
    tempo_ratio : float
        Tempo in the track over the sample's tempo: 1.05 means the part is
        played 5 % faster (it lasts ``1 / 1.05`` as long in the track).
    pitch_shift : float
        Semitones the sample is moved up (negative: down), estimated from
        which pitch-shifted templates the fit used; a record sped up by 1.06
        is about +1.
    score : float
        The best window score of this occurrence (the scale of
        :attr:`SampleDetection.score`).
    """

    track_start_s: float
    track_end_s: float
    sample_start_s: float
    sample_end_s: float
    tempo_ratio: float
    pitch_shift: float
    score: float


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
        The best score of a window of ``min_part_s`` seconds of the track
        against any part of the sample, at any tempo ratio and pitch shift
        searched: a cosine similarity of detrended activations, in [-1, 1].
    detected : bool
        ``score >= threshold``.
    threshold : float
    ranges : tuple of (float, float)
        ``(track_start_s, track_end_s)`` of every occurrence, in time order;
        empty when nothing reaches the threshold.
    shift : float
        Pitch shift (semitones) of the best occurrence, rounded to the
        nearest template copy (``0.0`` when nothing is detected).
    tempo_ratio : float
        Tempo ratio of the best occurrence (``1.0`` when nothing is detected).
    occurrences : tuple of Occurrence
        Every occurrence in time order: where in the track, which part of
        the sample, tempo ratio, pitch shift and score.
    similarity : np.ndarray [shape=(n_starts,)]
        Best window score for a window starting at ``similarity_times``.
    similarity_times : np.ndarray [shape=(n_starts,)]
        Start times in seconds of the windows.
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
    tempo_ratio: float
    # The details, the evidence and the fit: left out of the repr, which stays one readable line.
    occurrences: tuple[Occurrence, ...] = field(repr=False)
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
    cosine similarity ignores.
    """
    H = np.sqrt(H.astype(np.float64))
    return H - scipy.ndimage.uniform_filter1d(H, width, axis=1, mode="nearest")


def _decimate(H: np.ndarray) -> np.ndarray:
    """Mean of each run of ``_DECIMATION`` frames (a last partial run is dropped)."""
    F, N = H.shape
    usable = max(N // _DECIMATION, 1) * _DECIMATION
    if usable > N:  # a track of one frame: nothing to average
        return H.astype(np.float64)
    return H[:, :usable].reshape(F, -1, _DECIMATION).mean(axis=2, dtype=np.float64)


def _candidates(activations: np.ndarray, shifts: tuple[float, ...], width: int):
    """Track features to align: one per pitch copy, and one per two neighbouring copies.

    A record sped up by 1.03 moves the pitch by half a semitone, between two
    copies; the fit then spreads the sample over both, and only their sum
    carries the whole rhythm. Returns the features and the pitch of each.
    """
    blocks = np.split(_decimate(activations), len(shifts))
    order = np.argsort(shifts)
    features = [_rhythm(block, width) for block in blocks]
    pitches = [float(s) for s in shifts]
    for i, j in itertools.pairwise(order):
        if shifts[j] - shifts[i] <= 1:
            features.append(_rhythm(blocks[i] + blocks[j], width))
            pitches.append((shifts[i] + shifts[j]) / 2)
    return features, pitches


def _ratio_grid(tempo_range: tuple[float, float]) -> np.ndarray:
    """Ratios from the range's low end to its high end, about ``_RATIO_STEP`` apart."""
    low, high = tempo_range
    count = max(1, int(np.ceil((high - low) / _RATIO_STEP - 1e-9))) + 1
    return np.linspace(low, high, count) if high > low else np.array([low])


def _pitch_estimate(activations, shifts, candidate_pitch, frames) -> float:
    """Pitch of an occurrence: its copies' activation, weighted, around the best candidate.

    The share of activation each copy within one semitone of the candidate's
    pitch takes over the occurrence's frames weights that copy's shift, so a
    sample between two copies lands between them.
    """
    energy = activations[:, frames].reshape(len(shifts), -1).sum(axis=1)
    near = np.abs(np.asarray(shifts) - candidate_pitch) <= 1.0
    weights = np.where(near, energy, 0.0)
    if weights.sum() <= 0:
        return candidate_pitch
    return float(np.dot(weights, shifts) / weights.sum())


def _trim(X, T, ratio, track, sample, window, level, half_width, gap):
    """Frame-level alignment of an occurrence, grown from its path to where the match stops.

    ``track`` and ``sample`` are the window starts along the path; frames
    follow the path, then the last window's frames one to one. The path's
    windows may stop short of the occurrence's true ends (a bar the new
    parts cover scores below the walking level) or overshoot them (a window
    only partly inside can still score high). So the alignment is extended
    on both sides along the path's straight line, as far as the sample and
    the track go, and along it the cosine similarity over a short span
    (``2 half_width + 1`` frames) says where the sample plays: high inside,
    near zero outside. From the path's best frame the occurrence grows both
    ways over frames that reach ``level`` and stops at the first run of
    more than ``gap`` frames that do not.

    Returns the track frames and the resampled sample's frames kept, and a
    mask of those that lie on the path itself (where the slope is measured).
    """
    tail = np.arange(1, window)
    frames_t = np.concatenate((track, track[-1] + tail))
    frames_a = np.concatenate((sample, sample[-1] + tail))
    y_all = stretch_time_unchecked(T, ratio)
    keep = (frames_t < X.shape[1]) & (frames_a < y_all.shape[1])
    frames_t, frames_a = frames_t[keep], frames_a[keep]
    # How far the line goes each way, and whether the sample's own start or
    # end (rather than the track's) is what stops it.
    room_before = (frames_a[0], frames_t[0])
    room_after = (y_all.shape[1] - 1 - frames_a[-1], X.shape[1] - 1 - frames_t[-1])
    before = np.arange(min(room_before), 0, -1)
    after = np.arange(1, min(room_after) + 1)
    on_path = np.concatenate(
        (np.zeros(before.size, bool), np.ones(frames_t.size, bool), np.zeros(after.size, bool))
    )
    frames_t = np.concatenate((frames_t[0] - before, frames_t, frames_t[-1] + after))
    frames_a = np.concatenate((frames_a[0] - before, frames_a, frames_a[-1] + after))
    x, y = X[:, frames_t], y_all[:, frames_a]
    size = 2 * half_width + 1
    dots = scipy.ndimage.uniform_filter1d((x * y).sum(axis=0), size, mode="constant")
    xx = scipy.ndimage.uniform_filter1d((x * x).sum(axis=0), size, mode="constant")
    yy = scipy.ndimage.uniform_filter1d((y * y).sum(axis=0), size, mode="constant")
    local = dots / np.maximum(np.sqrt(xx * yy), EPS)
    # Where the sample itself is nearly still (its last notes ring out, a
    # rest), the local match is noise: those frames neither end nor extend
    # the occurrence.
    quiet = yy < 0.25 * np.median(yy[on_path])
    anchor = int(np.flatnonzero(on_path)[np.argmax(np.where(quiet, -np.inf, local)[on_path])])
    first = last = anchor
    for step, stop, room in ((-1, -1, room_before), (1, local.size, room_after)):
        outside, end = 0, anchor
        for i in range(anchor + step, stop, step):
            if quiet[i]:
                continue
            if local[i] >= level:
                outside, end = 0, i
            else:
                outside += 1
                if outside > gap:
                    break
        else:
            if room[0] <= room[1]:
                # The sample itself ends within a gap of the last match: the
                # dip is its own tail ringing out, still the sample.
                end = stop - step
        first, last = min(first, end), max(last, end)
    kept = slice(first, last + 1)
    return frames_t[kept], frames_a[kept], on_path[kept]


def _find_occurrences(match, features, pitches, T, activations, shifts, threshold, seconds):
    """Every separate stretch of the track whose windows reach ``threshold``, strongest first.

    From the best window, the alignment path is followed both ways
    (:func:`~nmf_helpers.alignment.follow_path`) while the windows score at
    least ``_WALK_LEVEL`` of the threshold, then extended along its line
    and cut where the match stops holding locally (:func:`_trim`); the tempo
    ratio is the grid's ratio times the path's slope. Then the windows lying
    mostly inside that stretch are set aside, and the next best is taken. A
    chop looped four times gives four occurrences, each a path of its own.
    Frames are decimated frames, ``seconds`` long. Returns ``(track frames,
    sample frames, ratio, pitch, score)`` tuples.
    """
    window = match.window
    half_width = max(1, round((_LOCAL_SECONDS / seconds - 1) / 2))
    gap = round(_GAP_SECONDS / seconds)
    remaining = match.score.copy()
    found = []
    while remaining.size and remaining.max() >= threshold:
        t = int(remaining.argmax())
        c, score, grid_ratio = int(match.candidate[t]), float(remaining[t]), float(match.ratio[t])
        remaining[t] = -np.inf  # even if the trimmed stretch ends up elsewhere
        a = int(match.sample_start[t])
        # Twice: the grid's ratio, then the ratio the first path's slope says
        # (a straight path at the right ratio keeps a sharp match to the end).
        ratio = grid_ratio
        for _ in range(2):
            scores = window_scores(features[c], T, ratio, window)
            a = min(a, scores.shape[1] - 1)
            t_best = max(t - 2, 0) + int(scores[max(t - 2, 0) : t + 3, a].argmax())
            track, sample = follow_path(scores, t_best, a, _WALK_LEVEL * threshold)
            frames_t, frames_a, on_path = _trim(
                features[c], T, ratio, track, sample, window, _TRIM_LEVEL * score, half_width, gap
            )
            # The path's slope corrects the ratio (sample frames per track frame).
            fitted = on_path if on_path.sum() > 2 else np.ones_like(on_path)
            slope = (
                np.polyfit(frames_t[fitted], frames_a[fitted], 1)[0] if fitted.sum() > 2 else 1.0
            )
            # Where the matched window sits in the sample resampled at the new ratio.
            new_ratio = float(np.clip(ratio * slope, *_TEMPO_LIMITS_ARRAY))
            a = round(a * ratio / new_ratio)
            part = (frames_a[0] * ratio, (frames_a[-1] + 1) * ratio)
            ratio = new_ratio
        span = (int(frames_t[0]), int(frames_t[-1]) + 1)
        # A window more than half inside this stretch belongs to it.
        remaining[max(span[0] - window // 2, 0) : max(span[1] - window // 2 + 1, 0)] = -np.inf
        if any(_overlap(span, other[0]) > 0.5 for other in found):
            continue  # the same occurrence again, seen from a weaker window
        frames = slice(span[0] * _DECIMATION, span[1] * _DECIMATION)
        pitch = _pitch_estimate(activations, shifts, pitches[c], frames)
        found.append((span, part, ratio, pitch, score))
    return found


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Length of the overlap of two ranges over the length of the shorter."""
    shared = min(a[1], b[1]) - max(a[0], b[0])
    return max(shared, 0) / max(min(a[1] - a[0], b[1] - b[0]), 1)


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
    tempo_range: tuple[float, float] = DEFAULT_TEMPO_RANGE,
    min_part_s: float = MIN_PART_SECONDS,
) -> SampleDetection:
    """Decide whether ``sample`` is used in ``track``, and where.

    The track is fitted with the sample's fixed templates (in pitch-shifted
    copies) plus ``n_free`` free components. The fixed activations are then
    aligned with the sample's own (:mod:`nmf_helpers.alignment`): every
    window of ``min_part_s`` seconds of the track is compared with every
    window of the sample played at every tempo ratio in ``tempo_range``, for
    every pitch copy. The score is the best match; each stretch of the track
    whose windows stay above the threshold along one alignment is one
    :class:`Occurrence` (where in the track, which part of the sample, tempo
    ratio, pitch shift). Only *when* the templates are active counts, never
    how loud, so the score does not change with the track's gain.

    What it finds (measured in ``benchmarks/bench_detection.py``): any part
    of the sample of at least ``min_part_s``, once or looped; time-stretched
    x0.90..x1.10 or sped up like a record x0.94..x1.06; pitch-shifted by
    -2..+2 semitones; low-passed down to 1.5 kHz or high-passed up to
    400 Hz; 12 dB under the other parts; and combinations. The default
    threshold, :data:`DETECTION_THRESHOLD`, comes from the same benchmark,
    whose negatives are music in the sample's style and instruments given
    the same treatments.

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
    n_iter : int in [1, 1_000_000]
        KL NMF iterations on the track.
    threshold : float
        Decision threshold on the score, in [-1, 1].
    seed : int
        Seed of the NMF initialisation (and of :func:`learn_sample`).
    progress : bool
        Show a progress bar for the track's fit.
    tempo_range : (float, float)
        Lowest and highest tempo ratio (track / sample) searched, each in
        [0.8, 1.25] (:data:`TEMPO_LIMITS`); ``(1, 1)`` searches the
        sample's own tempo only.
    min_part_s : float
        Shortest part of the sample searched for, in seconds, at least 1 s
        and at most the sample's length; about one bar of the sample is the
        natural choice (:data:`MIN_PART_SECONDS` is one bar at 96 BPM).

    Returns
    -------
    SampleDetection

    Examples
    --------
    >>> import nmf_helpers as nh
    >>> result = nh.detect_sample(
    ...     nh.clip_path("sample"), nh.clip_path("sampling_track"), n_iter=30
    ... )
    >>> result.detected, [(round(a), round(b)) for a, b in result.ranges]
    (True, [(1, 10), (10, 19)])
    >>> first = result.occurrences[0]
    >>> round(first.sample_start_s, 1), round(first.tempo_ratio, 1), round(first.pitch_shift)
    (0.0, 1.0, 0)

    Learn the sample once to check many tracks:

    >>> templates = nh.learn_sample(nh.clip_path("sample"))
    >>> nh.detect_sample(templates, nh.clip_path("unrelated_track"), n_iter=30).detected
    False
    """
    function = "detect_sample"
    sr = check_int(function, "sr", sr, minimum=1000)
    n_free = check_int(function, "n_free", n_free, minimum=0)
    n_iter = check_iterations(function, n_iter)
    seed = check_seed(function, seed)
    threshold = check_real(function, "threshold", threshold, minimum=-1.0, maximum=1.0)
    tempo_range = check_tempo_range(function, tempo_range)
    min_part_s = check_min_part(function, min_part_s)
    if isinstance(sample, SampleTemplates):
        if sample.sr != sr:
            raise ParameterError(
                f"{function}: sr = {sr} differs from the sample templates' sr = {sample.sr}"
            )
        templates = _check_templates(function, sample)
    else:
        x_sample = _load(function, "sample", sample, sr)
        check_part(function, x_sample.size / sr, min_part_s)
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
    check_part(function, templates.duration_s, min_part_s)
    x = _load(function, "track", track, sr)
    V = track_spectrogram_unchecked(x, templates.win, templates.hop, function=function)
    return detect_in_spectrogram_unchecked(
        templates,
        V,
        x.size / sr,
        n_free=n_free,
        n_iter=n_iter,
        threshold=threshold,
        seed=seed,
        progress=progress,
        tempo_range=tempo_range,
        min_part_s=min_part_s,
    )


def check_tempo_range(function: str, tempo_range) -> tuple[float, float]:
    """``tempo_range`` as (low, high) floats within :data:`TEMPO_LIMITS`, low <= high.

    The check :func:`detect_sample` makes, for the other doors that take a
    tempo range (``scan``, the command line); errors name ``function``.
    """
    low_limit, high_limit = TEMPO_LIMITS
    try:
        low, high = tempo_range
    except (TypeError, ValueError):
        raise ParameterError(
            f"{function}: tempo_range must be two ratios (low, high), got {tempo_range!r}"
        ) from None
    low = check_real(function, "tempo_range[0]", low, minimum=low_limit, maximum=high_limit)
    high = check_real(function, "tempo_range[1]", high, minimum=low_limit, maximum=high_limit)
    if low > high:
        raise ParameterError(
            f"{function}: tempo_range must be (low, high) with low <= high, got {tempo_range!r}"
        )
    return low, high


def check_min_part(function: str, min_part_s) -> float:
    """``min_part_s`` as a float within :data:`MIN_PART_RANGE` (checked as detect_sample does)."""
    low, high = MIN_PART_RANGE
    return check_real(function, "min_part_s", min_part_s, minimum=low, maximum=high)


def check_part(function: str, duration_s: float, min_part_s: float) -> None:
    """Refuse a sample of ``duration_s`` seconds, shorter than the part searched for."""
    if duration_s < min_part_s:
        raise ParameterError(
            f"{function}: the sample lasts {duration_s:.2f} s, shorter than the"
            f" {min_part_s:g} s part the detector searches for (about one bar);"
            " give a longer sample, or a smaller min_part_s (at least 1 s)"
        )


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


def track_spectrogram_unchecked(
    x: np.ndarray, win: int, hop: int, *, function: str = "detect_sample"
) -> np.ndarray:
    """The magnitude spectrogram :func:`detect_sample` fits, of a checked, non-silent waveform.

    Made once per track, it serves every sample checked against the track
    (:func:`detect_in_spectrogram_unchecked`, :func:`coarse_score_unchecked`).

    Parameters
    ----------
    x : np.ndarray [shape=(n_samples,), float32]
        The track, as :func:`~nmf_helpers.load_audio` gives it.
    win, hop : int
        The templates' STFT sizes (``SampleTemplates.win``, ``.hop``).
    function : str
        The public caller, named in the error.

    Returns
    -------
    V : np.ndarray [shape=(win // 2 + 1, N), float32]

    Raises
    ------
    ParameterError
        If the track is shorter than one window.
    """
    if x.size < win:
        raise ParameterError(
            f"{function}: track has {x.size} samples, shorter than one window ({win})"
        )
    return spectrogram_unchecked(x, win, hop)


def _fit(templates, V, n_free, n_iter, seed, progress):
    """The track's partially fixed KL fit: the sample's templates first, then the free ones."""
    if n_free > min(V.shape):
        # Checked here, not at the door: only the track's spectrogram says how many fit.
        M, N = V.shape
        if n_free > M:
            raise ParameterError(
                f"detect_sample: n_free = {n_free} is out of range: at most {M} free"
                f" components (the frequency bins of win = {templates.win})"
            )
        # Too few frames: the track is too short, which the caller may not know is the cause.
        hop, sr = templates.hop, templates.sr
        shortest = (n_free - 1) * hop
        raise ParameterError(
            f"detect_sample: the track is too short: {(N - 1) * hop / sr:.2f} s"
            f" ({N} frames of hop {hop}) leave room for {N} free components, and n_free ="
            f" {n_free} needs a track of at least {shortest / sr:.2f} s ({shortest} samples);"
            " give a longer track or a smaller n_free"
        )
    return factorise(
        V,
        templates.W.shape[1] + n_free,
        loss="kl",
        n_iter=n_iter,
        seed=seed,
        W_fixed=templates.W,
        progress=progress,
        name="detect_sample",
    )


def _alignment_inputs(templates, fixed_H, tempo_range, min_part_s):
    """What the alignment compares: the sample's rhythm, the track's candidates, the window.

    Returns ``(T, features, pitches, window, seconds)``: ``seconds`` is the
    length of one decimated frame.
    """
    seconds = _DECIMATION * templates.hop / templates.sr  # one decimated frame
    width = max(1, round(_DETREND_SECONDS / seconds)) | 1
    T = _rhythm(_decimate(templates.H), width)
    features, pitches = _candidates(fixed_H, templates.shifts, width)
    # The window cannot be longer than the track, nor than the sample at the fastest ratio.
    shortest = int(np.floor((T.shape[1] - 1) / tempo_range[1])) + 1
    window = max(1, min(round(min_part_s / seconds), features[0].shape[1], shortest))
    return T, features, pitches, window, seconds


def coarse_score_unchecked(
    templates: SampleTemplates,
    V: np.ndarray,
    *,
    n_free: int = 20,
    n_iter: int = 15,
    seed: int = 0,
    n_ratios: int = 5,
    tempo_range: tuple[float, float] = DEFAULT_TEMPO_RANGE,
    min_part_s: float = MIN_PART_SECONDS,
) -> float:
    """A rough :attr:`SampleDetection.score`: what a catalogue scan's first pass needs.

    The same fit and alignment as :func:`detect_in_spectrogram_unchecked`,
    with what only a decision near the threshold needs skipped: a short fit
    (``n_iter``), ``n_ratios`` tempo ratios evenly spread over
    ``tempo_range`` instead of a ratio every 0.02, no path following, no
    occurrences, no separated parts, and no argument checks. A ratio 0.025
    off the true one drifts about one decimated frame over a 2.5 s window, so
    the score drops a little rather than vanishing; how far it drops is
    measured by ``benchmarks/bench_scan.py``, which sets the scan's margin.

    Parameters
    ----------
    templates : SampleTemplates
    V : np.ndarray [shape=(M, N), non-negative]
        The track's spectrogram (:func:`track_spectrogram_unchecked`).
    n_free, n_iter, seed
        As for :func:`detect_sample`.
    n_ratios : int >= 1
        Tempo ratios tried, from ``tempo_range[0]`` to ``tempo_range[1]``.
    tempo_range : (float, float)
    min_part_s : float

    Returns
    -------
    float
        The best window score, in [-1, 1].
    """
    _, H, _ = _fit(templates, V, n_free, n_iter, seed, False)
    n_fixed = templates.W.shape[1]
    T, features, _, window, _ = _alignment_inputs(templates, H[:n_fixed], tempo_range, min_part_s)
    low, high = tempo_range
    # One ratio: the middle of the range (the sample's own tempo by default).
    ratios = np.linspace(low, high, n_ratios) if high > low and n_ratios > 1 else [(low + high) / 2]
    with library_threads(_ALIGNMENT_THREADS):
        return float(best_windows(features, T, ratios, window).score.max())


def detect_in_spectrogram_unchecked(
    templates: SampleTemplates,
    V: np.ndarray,
    duration_s: float,
    *,
    n_free: int = 20,
    n_iter: int = 100,
    threshold: float = DETECTION_THRESHOLD,
    seed: int = 0,
    progress: bool = False,
    tempo_range: tuple[float, float] = DEFAULT_TEMPO_RANGE,
    min_part_s: float = MIN_PART_SECONDS,
) -> SampleDetection:
    """:func:`detect_sample` of a track's spectrogram, made once for many samples.

    Nothing is checked: the arguments are what :func:`detect_sample` checks
    (``min_part_s`` at most the sample's length, ``tempo_range`` within
    :data:`TEMPO_LIMITS`). The result is bit for bit that of
    :func:`detect_sample` on the track's waveform.

    Parameters
    ----------
    templates : SampleTemplates
    V : np.ndarray [shape=(M, N), non-negative]
        The track's spectrogram (:func:`track_spectrogram_unchecked`).
    duration_s : float
        The track's length in seconds (``x.size / sr``); occurrences end there.
    n_free, n_iter, threshold, seed, progress, tempo_range, min_part_s
        As for :func:`detect_sample`.

    Returns
    -------
    SampleDetection
    """
    n_fixed = templates.W.shape[1]
    W, H, _ = _fit(templates, V, n_free, n_iter, seed, progress)
    fixed_part = W[:, :n_fixed] @ H[:n_fixed]
    free_part = W[:, n_fixed:] @ H[n_fixed:]
    modelled = fixed_part.sum(axis=0) + free_part.sum(axis=0)
    fixed_share = fixed_part.sum(axis=0) / np.maximum(modelled, EPS)

    T, features, pitches, window, seconds = _alignment_inputs(
        templates, H[:n_fixed], tempo_range, min_part_s
    )
    ratios = _ratio_grid(tempo_range)
    with library_threads(_ALIGNMENT_THREADS):
        match = best_windows(features, T, ratios, window)
        found = _find_occurrences(
            match, features, pitches, T, H[:n_fixed], templates.shifts, threshold, seconds
        )
    occurrences = [
        Occurrence(
            track_start_s=float(track[0] * seconds),
            track_end_s=float(min(track[1] * seconds, duration_s)),
            sample_start_s=float(sample[0] * seconds),
            sample_end_s=float(min(sample[1] * seconds, templates.duration_s)),
            tempo_ratio=float(ratio),
            pitch_shift=float(pitch),
            score=float(score),
        )
        for track, sample, ratio, pitch, score in found
    ]
    occurrences = tuple(sorted(occurrences, key=lambda o: o.track_start_s))
    best = found[0] if found else None
    shifts = np.asarray(templates.shifts, dtype=float)
    F = templates.n_components
    return SampleDetection(
        score=float(match.score.max()),
        detected=bool(match.score.max() >= threshold),
        threshold=threshold,
        ranges=tuple((o.track_start_s, o.track_end_s) for o in occurrences),
        shift=float(shifts[np.abs(shifts - best[3]).argmin()]) if best else 0.0,
        tempo_ratio=best[2] if best else 1.0,
        occurrences=occurrences,
        similarity=match.score,
        similarity_times=np.arange(match.score.size) * seconds,
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
