"""The occurrence search: where the sample's rhythm plays in the track's fit.

The track's fixed activations (per pitch copy, and per two neighbouring
copies, for a sample between two semitones) are aligned with the sample's
own activations ``H_s`` (:mod:`nmf_helpers.detection.alignment`): every
window of ``min_part_s`` seconds of the track is compared with every window
of the sample played at every tempo ratio of ``tempo_range``, so a chop, a
time-stretch and a record speed-up are found as well as the whole sample at
its own tempo. Both are first square-rooted (so quiet components count too)
and detrended (a moving average is subtracted), so that what must match is
the rhythm inside each bar, not only the slow chord changes that songs in
the same style share. The comparison is a cosine similarity, unchanged when
the track is scaled. From each window above the threshold the alignment
path is followed both ways while it holds, which gives an occurrence: where
in the track, which part of the sample, the tempo ratio (the path's slope)
and the pitch shift (the copies the fit used). Along that alignment the
occurrence holds where the rhythm matches or where the harmony does (which
of the sample's sounds are on, against each other): a pad that barely
moves is still the sample playing. A loop is reported play by play:
occurrences of one part of the sample at a steady period are a loop, whose
missing plays are looked for again at the loop's own alignment, and whose
plays are held to one period each (:func:`_complete_loops`). The track's
silent steps (a record's lead-in and run-out, a gap between songs) match
no sample, and the sample's (a sample cut with silence around it) match
no track (:func:`_with_silence`): a window mostly silent would otherwise
score its few steps of music as if they were the whole window.

Frames here are steps, ``frame_seconds`` long: the pairs of STFT frames
(:data:`~nmf_helpers.detection.bands.FRAMES_PER_STEP`) the track is fitted
on, over which the sample's own activations are averaged to match.
"""

from __future__ import annotations

import functools
import itertools
from typing import NamedTuple

import numpy as np
import scipy.ndimage

from .._numerics import EPS
from .._threads import library_threads
from .alignment import (
    WindowMatch,
    best_windows,
    follow_path,
    stretch_time_unchecked,
    window_scores,
    window_scores_at,
)
from .bands import FRAMES_PER_STEP
from .learning import SampleTemplates
from .settings import DETECTION_THRESHOLD, LOOP_EVIDENCE_SHARE, TEMPO_LIMITS

__all__: list[str] = []  # cores only: the door (door.py) checks every argument

_TEMPO_LIMITS_ARRAY = np.array(TEMPO_LIMITS)

# Width of the moving average removed from activations before correlating:
# shorter than a beat at any usual tempo, so note onsets and the rhythm
# within a bar stay, while the bar-long chord envelope that songs in one
# style share is removed. Much shorter, and the beat itself is averaged
# away; much longer, and the chord envelope stays.
_DETREND_SECONDS = 0.3

# A step of the track is silent (see silent_steps) when its magnitude is
# under this share of its loud steps', the given quantile of all its steps:
# 60 dB down, where digital silence, dither and the end of a fade lie, but
# not a quiet intro or a breakdown.
_SILENCE = 1e-3
_LOUD_QUANTILE = 0.9
# ... for at least this long: a riff rendered alone rests between its notes,
# which is part of the riff, while a record's lead-in or a sample cut with
# room around it is not.
_SILENT_RUN_SECONDS = 0.5

# Spacing of the tempo-ratio grid. Over a 2.5 s window a ratio off by half
# of it drifts 25 ms, well under one step of the activations (a pair of STFT
# frames); the path's slope then corrects the ratio (see _find_occurrences).
_RATIO_STEP = 0.02

# An occurrence is followed along its alignment while its windows score at
# least this share of the threshold: a bar where the new drums or lead cover
# the sample dips below the threshold without ending the occurrence. The
# path is then extended along its line and its ends set where the local
# match (over _LOCAL_SECONDS) stops reaching _TRIM_LEVEL of the
# occurrence's best window score (see _occurrence_extent).
_WALK_LEVEL = 0.75
# An occurrence ends where the local match along its alignment falls below
# this share of its best window's score for longer than _GAP_SECONDS.
_TRIM_LEVEL = 0.4
# An occurrence goes on through a run of frames below that level shorter
# than this (a fill or a break in the new parts that covers the sample).
_GAP_SECONDS = 1.0
# The local match is a cosine over this many seconds: over a beat or less,
# the match of a sample with little rhythm (an ambient pad) dips at random
# below the level and its occurrences end early; over much more than a
# second, the ends blur. bench_detection prints the range errors it gives.
_LOCAL_SECONDS = 0.8

# An occurrence's extent also takes the frames where the sample's sounds are
# on in the sample's own proportions (its harmony, see _harmony) over the same
# local span, with this cosine similarity or more, whatever their rhythm: a
# pad or a sustained chord is the sample playing though nothing in it
# moves, which the rhythm alone cannot see. The alignment is already known
# there, so the level only has to stand above what the same alignment
# scores where the sample does not play (bench_detection prints the ranges
# it gives).
_HARMONY_LEVEL = 0.3

# Loops (see _complete_loops). Occurrences that share more than half of
# their part of the sample, at tempo ratios this close, play one loop: the
# ratio a path's slope gives wanders by a grid step or two from play to play.
_LOOP_RATIO_TOLERANCE = 0.05
# The plays of a loop sit a whole number of periods apart; a play's position,
# read off its extent's line, may be off the grid by this many seconds or by
# this share of the period, whichever is larger (the extent's ends are known
# to about a local span). A missing play's window is looked for as far from
# where the grid puts it.
_LOOP_GRID_SECONDS = 0.3
_LOOP_GRID_SHARE = 0.06
# Plays of a loop back to back fill their period: their parts are at least
# this share of the period's length of the sample.
_LOOP_FILLED = 0.9
# A missing play of a loop is one where the loop's own alignment scores at
# least this share of the threshold. Lower than the walking level: the
# place, the part of the sample, the ratio and the pitch copy are all given
# by the loop's found plays, so a window that reaches this there is the
# loop's play under what covers it, where the open search, free to pick any
# of those, needs the threshold itself. About half the threshold, what music
# without the sample scores (see _LOOP_EVIDENCE_FLOOR), and a little over:
# bench_detection's loops looked for beyond their last play score under it,
# while an ambient pad's plays under a bed 6 dB louder score just over it.
_LOOP_LEVEL = 0.53
# The play right before or after a lone occurrence (see _play_again) must
# reach more: one occurrence does not yet make a loop, and where its trace
# stopped short of a long play, the same part one length on lies inside that
# play, where a self-similar sample (an ambient pad) scores half the
# threshold at the wrong part.
_PLAY_AGAIN_LEVEL = 0.6

# A loop's evidence (see _loop_evidence): the best window's part of the
# sample found this many times, a whole number of periods apart, their mean
# score over settings.LOOP_EVIDENCE_SHARE ...
_LOOP_EVIDENCE_PLAYS = 3
# ... each play scoring at least this: half the default threshold. Under it,
# a window is no more like the sample than music without it, and in a track
# with room for three windows only, any three would tile it on a grid. A
# fixed score, not a share of the threshold given, so that the score does
# not depend on the threshold (the scan's first pass compares it with the
# threshold less a margin) ...
_LOOP_EVIDENCE_FLOOR = DETECTION_THRESHOLD / 2
# ... counted through the pitch copies less than this many semitones from the
# sample's own pitch. A copy a whole tone away is the sample in a neighbouring
# key, and music in that key repeats its own bars at a steady period as a
# loop does (bench_detection's same-style riff a tone away is such a loop
# through the -2 copy). A sample moved further must reach the threshold in
# one window.
_LOOP_EVIDENCE_SHIFT = 1.0
# The first pass holds a loop's plays to less than the full check: its short
# fit and coarse ratios score every play lower, and a loop it misses is a
# positive lost, where a negative it keeps only costs a full check
# (bench_scan prints the margin this leaves).
_SCREEN_LOOP_FLOOR = _LOOP_EVIDENCE_FLOOR / 2
# The evidence looks for the part's other plays this many steps of the
# resampled sample either side of the best window's own start.
_LOOP_EVIDENCE_REACH = 2

# The alignment's matrix products are small (a few hundred frames by 20
# components): one BLAS thread does each at once, while waking more threads
# costs more than the product itself on a busy machine.
_ALIGNMENT_THREADS = 1

# The first pass scores every so many track windows: a match is a run of
# windows along one diagonal, and one of them lies within half a stride of
# its best, sharing all but a couple of its steps.
_SCREEN_STRIDE = 4


def coarse_match_unchecked(
    templates: SampleTemplates,
    fixed_H: np.ndarray,
    tempo_range,
    min_part_s: float,
    n_ratios: int,
    silent: np.ndarray | None = None,
) -> float:
    """The best window score at ``n_ratios`` tempo ratios, following no path.

    What a scan's first pass needs: the full search's candidates that add
    two neighbouring pitch copies (each copy is in one or two of them, and
    they carry a sample between two copies whole), at a few ratios,
    scoring every :data:`_SCREEN_STRIDE`-th window of the track only.
    Templates whose copies make no pair (one copy, or copies more than a
    semitone apart) are searched copy by copy.

    Parameters
    ----------
    templates : SampleTemplates
    fixed_H : np.ndarray [shape=(templates.W.shape[1], n_steps)]
        The track fit's activations of the sample's templates.
    tempo_range : (float, float)
    min_part_s : float
    n_ratios : int >= 1
        Tempo ratios tried, evenly from ``tempo_range[0]`` to ``tempo_range[1]``.
    silent : np.ndarray [shape=(n_steps,), bool] or None
        The steps where the track is silent (:func:`silent_steps`), which
        match no sample (:func:`_with_silence`); None: none is.

    Returns
    -------
    float
        The best window score, or the loop's evidence where that is higher
        (:func:`_loop_evidence`, as the full search scores it), in [-1, 1].
    """
    # The pairs of neighbouring copies only (the copies themselves are not aligned).
    sample_features, features, shifts, window, frame_seconds = _alignment_inputs(
        templates, fixed_H, tempo_range, min_part_s, silent, singles=False
    )
    low, high = tempo_range
    # One ratio: the middle of the range (the sample's own tempo by default).
    ratios = np.linspace(low, high, n_ratios) if high > low and n_ratios > 1 else [(low + high) / 2]
    with library_threads(_ALIGNMENT_THREADS):
        match = best_windows(features, sample_features, ratios, window, _SCREEN_STRIDE)
        evidence, *_ = _loop_evidence(
            match, features, shifts, sample_features, frame_seconds, _SCREEN_LOOP_FLOOR
        )
    return max(float(match.score.max()), evidence)


def search_unchecked(
    templates: SampleTemplates,
    fixed_H: np.ndarray,
    tempo_range,
    min_part_s: float,
    threshold,
    silent: np.ndarray | None = None,
) -> tuple[WindowMatch, list, float, float]:
    """Every occurrence of the sample in the track's fixed activations, strongest first.

    ``templates``, ``fixed_H``, ``tempo_range``, ``min_part_s`` and
    ``silent`` are as for :func:`coarse_match_unchecked`; every ratio of the grid is tried, and
    each window reaching ``threshold`` starts an occurrence.

    A loop whose plays each score under ``threshold`` is found through
    :func:`_loop_evidence`: when its three plays' evidence reaches
    ``threshold``, each starts an occurrence as a window over it would,
    unless the search's own occurrences already make a loop (two or more of
    one part at one tempo, :func:`_loops`, after each lone one's neighbours
    are looked for, :func:`_play_again`). A loop with
    one play over the threshold whose trace runs over the next play is
    such a loop: one of its own lengths on, no play is found, but the
    plays together say where the others are. The loops then get their
    missing plays (:func:`_complete_loops`).

    Returns
    -------
    match : WindowMatch
        The best window for each start in the track (every ratio of the grid).
    found : list of (track frames, sample frames, ratio, shift, score)
        Each occurrence (see :func:`_find_occurrences`).
    frame_seconds : float
        The length of one step (a pair of STFT frames), in seconds.
    score : float
        The decision's score: the best window's, or the loop's evidence
        (:func:`_loop_evidence`) where that is higher.
    """
    sample_features, features, candidate_shifts, window, frame_seconds = _alignment_inputs(
        templates, fixed_H, tempo_range, min_part_s, silent
    )
    ratios = _ratio_grid(tempo_range)
    harmonies = _harmonies(templates, fixed_H, silent)
    with library_threads(_ALIGNMENT_THREADS):
        match = best_windows(features, sample_features, ratios, window)
        found = _find_occurrences(
            match,
            features,
            candidate_shifts,
            sample_features,
            fixed_H,
            templates.shifts,
            threshold,
            frame_seconds,
            harmonies,
        )
        found = _play_again(
            found, match, features, sample_features, threshold, frame_seconds, harmonies
        )
        evidence, c, ratio, plays = _loop_evidence(
            match, features, candidate_shifts, sample_features, frame_seconds, _LOOP_EVIDENCE_FLOOR
        )
        if evidence >= threshold and not _loops(found):
            # The loop's plays start occurrences as windows over the threshold would.
            for start, score in plays:
                occurrence = _occurrence(
                    features[c], sample_features, start, ratio, score, match.window, threshold,
                    frame_seconds, fixed_H, templates.shifts, candidate_shifts[c],
                    _harmony_of(harmonies, c),
                )  # fmt: skip
                found = _kept_once(found, occurrence, match.window)
            found = sorted(found, key=lambda play: -play[4])
        found = _complete_loops(
            found, match, features, sample_features, threshold, frame_seconds, harmonies
        )
    return match, found, frame_seconds, max(float(match.score.max()), evidence)


def _loop_evidence(match, features, candidate_shifts, sample_features, frame_seconds, floor):
    """How strongly the best window's part of the sample plays as a loop, and its plays.

    The best window's alignment (its pitch candidate, ratio and part of the
    sample, within ``_LOOP_EVIDENCE_REACH`` steps) is scored along the whole
    track, and its ``_LOOP_EVIDENCE_PLAYS`` best windows that do not overlap
    are taken: the loop's plays. The evidence is their mean score over
    ``LOOP_EVIDENCE_SHARE`` (at most 1), on the scale of one window's
    score. There is none (minus infinity):

    - through a pitch copy ``_LOOP_EVIDENCE_SHIFT`` semitones or more from
      the sample's own pitch;
    - in a track with no room for the plays;
    - when a play scores under ``floor`` (``_LOOP_EVIDENCE_FLOOR``, or the
      first pass's ``_SCREEN_LOOP_FLOOR``);
    - when the plays do not sit a whole number of periods apart
      (:func:`_steady_period`).

    Returns
    -------
    evidence : float
        On the scale of a window's score, at most 1, or minus infinity.
    candidate : int
        The alignment's pitch candidate: an index into ``features``.
    ratio : float
        The alignment's tempo ratio.
    plays : list of ((int, int), float)
        Each play's window ``(track start, resampled sample start)`` and its
        score; empty when there is no evidence.
    """
    window = match.window
    t = int(np.argmax(match.score))
    c, ratio, a = int(match.candidate[t]), float(match.ratio[t]), int(match.sample_start[t])
    if abs(candidate_shifts[c]) >= _LOOP_EVIDENCE_SHIFT:
        return -np.inf, c, ratio, []
    low = max(a - _LOOP_EVIDENCE_REACH, 0)
    n_columns = stretch_time_unchecked(sample_features[:1], ratio).shape[1]  # a row is enough
    high = min(a + _LOOP_EVIDENCE_REACH + 1, n_columns - window + 1)
    near = window_scores_at(features[c], sample_features, ratio, window, low, high)
    profile, columns = near.max(axis=1), low + near.argmax(axis=1)
    plays = []
    while len(plays) < _LOOP_EVIDENCE_PLAYS and np.isfinite(profile).any():
        start = int(np.argmax(profile))
        plays.append(((start, int(columns[start])), float(profile[start])))
        profile[max(start - window + 1, 0) : start + window] = -np.inf  # no overlap
    if len(plays) < _LOOP_EVIDENCE_PLAYS:
        return -np.inf, c, ratio, []
    if min(score for _, score in plays) < floor:
        return -np.inf, c, ratio, []
    if _steady_period([start[0] for start, _ in plays], window, frame_seconds) is None:
        return -np.inf, c, ratio, []
    # Every play reached a floor above 0, so the mean is positive and the share raises it.
    evidence = min(float(np.mean([score for _, score in plays])) / LOOP_EVIDENCE_SHARE, 1.0)
    return evidence, c, ratio, plays


def _steady_period(starts, window, frame_seconds):
    """The period (steps) of plays starting at ``starts``, if they are on one grid; else ``None``.

    The closest two plays are taken to be one period apart (a shorter
    period, a whole fraction of theirs, would fit almost any plays); every
    play must then lie within :func:`_grid_tolerance` of the grid that all
    of them together fit best, whose period is at least a ``window`` (the
    shortest a play can be). Unlike :func:`_loop_grid`, whose plays are
    traced occurrences of known length, these are windows alone: the
    closest two may be a period and a fraction of a window apart, which
    only the line through all of them corrects.
    """
    ordered = np.sort(np.asarray(starts, dtype=float))
    steps = np.diff(ordered)
    if steps.size == 0 or steps.min() <= 0:
        return None
    multiples = np.round(steps / steps.min())
    index = np.concatenate(([0.0], np.cumsum(multiples)))
    period, offset = np.polyfit(index, ordered, 1)
    tolerance = _grid_tolerance(period, frame_seconds)
    if period < window - tolerance or np.abs(ordered - (offset + period * index)).max() > tolerance:
        return None
    return float(period)


def _rhythm(H: np.ndarray, width: int) -> np.ndarray:
    """sqrt(H) minus its moving average over ``width`` frames, in float64.

    The square root keeps quiet components (keys under a loud bass) from
    being drowned by loud ones; it only rescales a gain change, which the
    cosine similarity ignores.
    """
    H = np.sqrt(H.astype(np.float64))
    return H - scipy.ndimage.uniform_filter1d(H, width, axis=1, mode="nearest")


def _harmony(H: np.ndarray) -> np.ndarray:
    """sqrt(H) minus its mean over the components at each frame, in float64.

    Which of the sample's sounds are on, and how loud against each other:
    the chord and the timbre, unchanged by a gain on the whole frame (a
    fade, the track's own level) once compared by cosine similarity.
    Nothing is taken from neighbouring frames, so the match stays where
    the sample plays.
    """
    H = np.sqrt(H.astype(np.float64))
    return H - H.mean(axis=0, keepdims=True)


class _Harmonies(NamedTuple):
    """The harmony (:func:`_harmony`) of each pitch candidate, and the sample's."""

    track: list
    sample: np.ndarray

    def of(self, candidate: int) -> tuple[np.ndarray, np.ndarray]:
        """``(track harmony, sample harmony)`` of one candidate."""
        return self.track[candidate], self.sample


def _harmonies(templates: SampleTemplates, fixed_H: np.ndarray, silent=None) -> _Harmonies:
    """The harmonies of the full search's candidates (:func:`_candidates`), in their order.

    ``silent`` is :func:`coarse_match_unchecked`'s (:func:`_with_silence`).
    """
    track, _ = _candidates(fixed_H, templates.shifts, _harmony)
    sample_H = _decimate(templates.H)
    return _Harmonies(
        *_with_silence(track, _harmony(sample_H), silent, _sample_silence(templates, sample_H))
    )


def _decimate(H: np.ndarray) -> np.ndarray:
    """The sample's activations on steps: the mean of each run of ``FRAMES_PER_STEP`` frames.

    A last partial run is dropped; a sample of one frame is kept as it is.
    """
    rows, N = H.shape
    usable = max(N // FRAMES_PER_STEP, 1) * FRAMES_PER_STEP
    if usable > N:
        return H.astype(np.float64)
    return H[:, :usable].reshape(rows, -1, FRAMES_PER_STEP).mean(axis=2, dtype=np.float64)


def _candidates(activations: np.ndarray, shifts: tuple[float, ...], feature, singles: bool = True):
    """Track features to align: one per pitch copy, and one per two neighbouring copies.

    A record sped up by 1.03 moves the pitch by half a semitone, between two
    copies; the fit then spreads the sample over both, and only their sum
    carries the whole rhythm. ``feature`` makes one from activations
    (:func:`_rhythm` at a width, or :func:`_harmony`). Returns the features
    and the shift of each: the copies first, then the pairs. Without
    ``singles`` (the first pass), the pairs only, unless there are none (one
    copy, or copies more than a semitone apart): then the copies.
    """
    blocks = np.split(activations.astype(np.float64), len(shifts))
    order = np.argsort(shifts)
    pairs = [(i, j) for i, j in itertools.pairwise(order) if shifts[j] - shifts[i] <= 1]
    features, candidate_shifts = [], []
    if singles or not pairs:
        features += [feature(block) for block in blocks]
        candidate_shifts += [float(s) for s in shifts]
    for i, j in pairs:
        features.append(feature(blocks[i] + blocks[j]))
        candidate_shifts.append((shifts[i] + shifts[j]) / 2)
    return features, candidate_shifts


def _ratio_grid(tempo_range: tuple[float, float]) -> np.ndarray:
    """Ratios from the range's low end to its high end, about ``_RATIO_STEP`` apart."""
    low, high = tempo_range
    count = max(1, int(np.ceil((high - low) / _RATIO_STEP - 1e-9))) + 1
    return np.linspace(low, high, count) if high > low else np.array([low])


def _shift_estimate(activations, shifts, candidate_shift, frames) -> float:
    """Pitch shift of an occurrence: its copies' activation, weighted, around the best candidate.

    The share of activation each copy within one semitone of the candidate's
    shift takes over the occurrence's frames weights that copy's shift, so a
    sample between two copies lands between them.
    """
    energy = activations[:, frames].reshape(len(shifts), -1).sum(axis=1)
    near = np.abs(np.asarray(shifts) - candidate_shift) <= 1.0
    weights = np.where(near, energy, 0.0)
    if weights.sum() <= 0:
        return candidate_shift
    return float(np.dot(weights, shifts) / weights.sum())


def _occurrence_extent(
    track_features, sample_features, ratio, track, sample, window, level, half_width, gap,
    harmony=None,
):  # fmt: skip
    """Where an occurrence starts and ends: its path grown or cut to where the match holds.

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
    more than ``gap`` frames that do not: the occurrence may end up longer
    than its path, or shorter. Given ``harmony``, ``(track harmony, sample
    harmony)`` of the same candidate (:func:`_harmony`), a frame whose
    harmony matches over the same span by ``_HARMONY_LEVEL`` reaches it too.

    Returns the track frames and the resampled sample's frames kept, and a
    mask of those that lie on the path itself (where the slope is measured).
    """
    tail = np.arange(1, window)
    frames_t = np.concatenate((track, track[-1] + tail))
    frames_a = np.concatenate((sample, sample[-1] + tail))
    y_all = stretch_time_unchecked(sample_features, ratio)
    keep = (frames_t < track_features.shape[1]) & (frames_a < y_all.shape[1])
    frames_t, frames_a = frames_t[keep], frames_a[keep]
    # How far the line goes each way, and whether after the path the
    # sample's own end (rather than the track's) is what stops it.
    room_before = (frames_a[0], frames_t[0])
    room_after = (y_all.shape[1] - 1 - frames_a[-1], track_features.shape[1] - 1 - frames_t[-1])
    before = np.arange(min(room_before), 0, -1)
    after = np.arange(1, min(room_after) + 1)
    on_path = np.concatenate(
        (np.zeros(before.size, bool), np.ones(frames_t.size, bool), np.zeros(after.size, bool))
    )
    frames_t = np.concatenate((frames_t[0] - before, frames_t, frames_t[-1] + after))
    frames_a = np.concatenate((frames_a[0] - before, frames_a, frames_a[-1] + after))
    size = 2 * half_width + 1
    local, yy = _local_match(track_features[:, frames_t], y_all[:, frames_a], size)
    chord_holds = np.zeros(local.size, bool)
    if harmony is not None:
        track_harmony, sample_harmony = harmony
        sample_harmony = stretch_time_unchecked(sample_harmony, ratio)
        chord, _ = _local_match(track_harmony[:, frames_t], sample_harmony[:, frames_a], size)
        chord_holds = chord >= _HARMONY_LEVEL
    holds = (local >= level) | chord_holds
    # Where the sample's rhythm is nearly still (its last notes ring out, a
    # rest), the local match is noise: those frames neither end nor extend
    # the occurrence, unless its harmony matches there (a held chord).
    still = yy < 0.25 * np.median(yy[on_path])
    anchor = int(np.flatnonzero(on_path)[np.argmax(np.where(still, -np.inf, local)[on_path])])
    quiet = still & ~chord_holds
    first = last = anchor
    for step, stop in ((-1, -1), (1, local.size)):
        outside, end = 0, anchor
        for i in range(anchor + step, stop, step):
            if quiet[i]:
                continue
            if holds[i]:
                outside, end = 0, i
            else:
                outside += 1
                if outside > gap:
                    break
        else:
            if step == 1 and room_after[0] <= room_after[1]:
                # The sample itself ends within a gap of the last match: the
                # dip is its own tail ringing out, still the sample. (Its start
                # does not ring out: a chop starting within a gap of the
                # sample's start would grow back over what plays before it.)
                end = stop - step
        first, last = min(first, end), max(last, end)
    kept = slice(first, last + 1)
    return frames_t[kept], frames_a[kept], on_path[kept]


def _local_match(x: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of ``x`` and ``y`` (same shape) over ``size`` columns around each.

    Returns the similarity and ``y``'s energy over the same columns, each of
    shape ``(x.shape[1],)``; columns past either end count as zeros.
    """
    dots = scipy.ndimage.uniform_filter1d((x * y).sum(axis=0), size, mode="constant")
    xx = scipy.ndimage.uniform_filter1d((x * x).sum(axis=0), size, mode="constant")
    yy = scipy.ndimage.uniform_filter1d((y * y).sum(axis=0), size, mode="constant")
    # Running means leave rounding errors, a little under or over zero, where zeros
    # follow large values (silence after music, in the track or in the sample): there
    # nothing plays, and nothing matches, rather than a NaN or a residue over EPS.
    rounding = 1e-12 * max(float(xx.max(initial=0.0)), float(yy.max(initial=0.0)), EPS)
    playing = (xx > rounding) & (yy > rounding)
    norms = np.sqrt(np.where(playing, xx * yy, 1.0))
    return np.where(playing, dots / norms, 0.0), np.maximum(yy, 0.0)


def _trace(
    feature, sample_features, start, ratio, score, window, threshold, spans, harmony=None
):  # fmt: skip
    """One occurrence from a matched window: its stretch of the track, its part and its ratio.

    ``start`` is the matched window ``(track start, resampled sample start)``
    at ``ratio``, which scores ``score``; ``spans`` is ``(half_width, gap)``
    of :func:`_occurrence_extent`. The path is followed from the best window
    within two track frames (:func:`~nmf_helpers.detection.alignment.follow_path`)
    while it scores ``_WALK_LEVEL`` of the threshold, grown or cut where the
    local match holds, and traced twice: at ``ratio``, then at the ratio the
    first path's slope says (a straight path at the right ratio keeps a sharp
    match to the end). ``harmony`` is :func:`_occurrence_extent`'s.

    Returns
    -------
    span : (int, int)
        Track frames ``[start, stop)``.
    part : (float, float)
        The sample's frames it plays (frames of the sample, not resampled).
    ratio : float
        The corrected tempo ratio.
    """
    t, a = start
    half_width, gap = spans
    for _ in range(2):
        scores = window_scores(feature, sample_features, ratio, window)
        a = min(a, scores.shape[1] - 1)
        t_best = max(t - 2, 0) + int(scores[max(t - 2, 0) : t + 3, a].argmax())
        track, sample = follow_path(scores, t_best, a, _WALK_LEVEL * threshold)
        frames_t, frames_a, on_path = _occurrence_extent(
            feature,
            sample_features,
            ratio,
            track,
            sample,
            window,
            _TRIM_LEVEL * score,
            half_width,
            gap,
            harmony,
        )
        # The path's slope corrects the ratio (sample frames per track frame).
        fitted = on_path if on_path.sum() > 2 else np.ones_like(on_path)
        slope = np.polyfit(frames_t[fitted], frames_a[fitted], 1)[0] if fitted.sum() > 2 else 1.0
        # Where the matched window sits in the sample resampled at the new ratio.
        new_ratio = float(np.clip(ratio * slope, *_TEMPO_LIMITS_ARRAY))
        a = round(a * ratio / new_ratio)
        part = (frames_a[0] * ratio, (frames_a[-1] + 1) * ratio)
        ratio = new_ratio
    return (int(frames_t[0]), int(frames_t[-1]) + 1), part, ratio


def _find_occurrences(
    match,
    features,
    candidate_shifts,
    sample_features,
    activations,
    shifts,
    threshold,
    frame_seconds,
    harmonies=None,
):
    """Every separate stretch of the track whose windows reach ``threshold``, strongest first.

    From the best window, the alignment path is followed both ways
    (:func:`~nmf_helpers.detection.alignment.follow_path`) while the windows score at
    least ``_WALK_LEVEL`` of the threshold, then extended along its line
    and cut where the match stops holding locally (:func:`_occurrence_extent`); the tempo
    ratio is the grid's ratio times the path's slope. Then the windows lying
    mostly inside that stretch are set aside, and the next best is taken; a
    stretch that repeats one found before is dropped, or takes its place if
    it reaches further (:func:`_kept_once`). A chop looped four times gives
    four occurrences, each a path of its own.
    Frames are steps, ``frame_seconds`` long; ``harmonies``
    (:func:`_harmonies`) help set the extents. Returns ``(track frames,
    sample frames, ratio, shift, score)`` tuples.
    """
    window = match.window
    remaining = match.score.copy()
    found = []
    while remaining.size and remaining.max() >= threshold:
        t = int(remaining.argmax())
        c, score, grid_ratio = int(match.candidate[t]), float(remaining[t]), float(match.ratio[t])
        remaining[t] = -np.inf  # even if the trimmed stretch ends up elsewhere
        occurrence = _occurrence(
            features[c], sample_features, (t, int(match.sample_start[t])), grid_ratio, score,
            window, threshold, frame_seconds, activations, shifts, candidate_shifts[c],
            _harmony_of(harmonies, c),
        )  # fmt: skip
        span = occurrence[0]
        # A window more than half inside this stretch belongs to it.
        remaining[max(span[0] - window // 2, 0) : max(span[1] - window // 2 + 1, 0)] = -np.inf
        found = _kept_once(found, occurrence, window)
    return found


def _occurrence(
    feature, sample_features, start, ratio, score, window, threshold, frame_seconds,
    activations, shifts, candidate_shift, harmony=None,
):  # fmt: skip
    """The occurrence traced from the window ``start`` (:func:`_trace`), with its pitch shift.

    ``feature`` is the pitch candidate's, whose shift is ``candidate_shift``;
    ``activations`` and ``shifts`` are the fit's, which say the shift
    (:func:`_shift_estimate`); ``harmony`` is :func:`_occurrence_extent`'s.
    Returns ``(track frames, sample frames, ratio, shift, score)``.
    """
    span, part, traced_ratio = _trace(
        feature, sample_features, start, ratio, score, window, threshold,
        _spans(frame_seconds), harmony,
    )  # fmt: skip
    shift = _shift_estimate(activations, shifts, candidate_shift, slice(*span))
    return span, part, traced_ratio, shift, score


def _kept_once(found, occurrence, window):
    """``found`` with ``occurrence`` added, unless it is one of them seen again.

    An occurrence sharing more than half of the shorter of the two with one
    already found is that one seen from a weaker window. Its trace may reach
    further, though: a riff that repeats within the sample lets the first
    window align with the wrong repeat, whose line runs out of sample
    mid-play, and a covered bar may have ended the first trace early. A
    trace longer by at least a ``window`` than every occurrence it repeats
    takes their place (the first's), with the best score among them.
    """
    span = occurrence[0]
    same = [i for i, other in enumerate(found) if _overlap(span, other[0]) > 0.5]
    if not same:
        return [*found, occurrence]
    longest = max(found[i][0][1] - found[i][0][0] for i in same)
    if span[1] - span[0] < longest + window:
        return found
    score = max(found[i][4] for i in same)
    kept = [other for i, other in enumerate(found) if i not in same[1:]]
    kept[same[0]] = (*occurrence[:4], score)
    return kept


def _play_again(
    found, match, features, sample_features, threshold, frame_seconds, harmonies=None
):  # fmt: skip
    """``found`` with the play right before or after each lone occurrence, where there is one.

    A loop whose other plays the new parts cover shows one occurrence only,
    and :func:`_complete_loops` needs two to see a loop. A chop looped back
    to back plays again one of its own lengths (its part over its ratio)
    after itself, or started one before: the occurrence's own alignment is
    scored there, as a loop's missing play is, and a play that reaches
    ``_PLAY_AGAIN_LEVEL`` of the threshold is traced and kept. The loop's search
    then finds any further plays. ``harmonies`` are :func:`_find_occurrences`'.
    """
    lone = [found[group[0]] for group in _groups(found) if len(group) == 1]
    found = list(found)
    for play in lone:
        _, part, ratio, _, _ = play
        c, (t_ref, a_ref) = _best_window(match, play)
        scores = window_scores(features[c], sample_features, ratio, match.window)
        period = (part[1] - part[0]) / ratio
        for direction in (1, -1):
            start = (t_ref + direction * period, a_ref)
            again = _play_near(
                features[c], sample_features, scores, start, play, match.window, threshold,
                frame_seconds, _PLAY_AGAIN_LEVEL, _harmony_of(harmonies, c),
            )  # fmt: skip
            if again is not None and not any(_overlap(again[0], other[0]) > 0.5 for other in found):
                found.append(again)
    return sorted(found, key=lambda play: -play[4])


def _play_near(
    feature, sample_features, scores, start, like, window, threshold, frame_seconds,
    level=None, harmony=None,
):  # fmt: skip
    """A play of ``like``'s part, ratio and copy near the window ``start``, or ``None``.

    ``scores`` are the window scores of ``like``'s candidate ``feature`` at
    its ratio; ``start`` is a window ``(track, resampled sample)`` where the
    play should be. The best window within ``_LOOP_GRID_SECONDS`` of it must
    reach ``level`` of the threshold (``_LOOP_LEVEL`` unless given); the
    play is then traced from it (:func:`_trace`, with ``harmony``) and
    keeps ``like``'s pitch shift.
    """
    _, part, ratio, shift, _ = like
    reach = _grid_reach(frame_seconds)
    target = _window_near(scores, start, reach, part, ratio, window)
    level = _LOOP_LEVEL if level is None else level
    if target is None or scores[target] < level * threshold:
        return None
    score = float(scores[target])
    span, new_part, new_ratio = _trace(
        feature, sample_features, target, ratio, score, window, threshold,
        _spans(frame_seconds), harmony,
    )  # fmt: skip
    return span, new_part, new_ratio, shift, score


def _harmony_of(harmonies, candidate: int):
    """``harmonies.of(candidate)``, or ``None`` without harmonies."""
    return None if harmonies is None else harmonies.of(candidate)


def _grid_reach(frame_seconds: float) -> int:
    """Steps from where a loop's grid puts a play that its window is looked for (at least 1)."""
    return max(1, round(_LOOP_GRID_SECONDS / frame_seconds))


def _spans(frame_seconds: float) -> tuple[int, int]:
    """``(half_width, gap)`` of :func:`_occurrence_extent`, in steps ``frame_seconds`` long."""
    half_width = max(1, round((_LOCAL_SECONDS / frame_seconds - 1) / 2))
    return half_width, round(_GAP_SECONDS / frame_seconds)


def _complete_loops(
    found, match, features, sample_features, threshold, frame_seconds, harmonies=None
):  # fmt: skip
    """``found`` with each loop's missing plays looked for again, and its plays kept apart.

    A loop is two or more occurrences of the same part of the sample at one
    tempo ratio (:func:`_loops`), a whole number of periods apart
    (:func:`_loop_grid`), or half that period where the plays' traces ran
    over the next play (:func:`_halved_period`). Where the loop's grid puts a
    play that no occurrence reports (between the found plays, or before or after them
    within the track), the loop's own alignment (the same part of the sample,
    at the ratio and pitch copy of its best play) is scored there: a play
    the new parts cover scores under the threshold, but its window still
    stands out at the very alignment the other plays say. If it reaches
    ``_LOOP_LEVEL`` of the threshold, it is a play, traced like any other
    (:func:`_trace`). Beyond the first and last plays found, the loop goes
    on play by play: the first position outward without a play ends it, so
    that a long track's grid does not pick a window of music that merely
    sounds alike far from the loop. Then
    the plays of a loop played back to back are held to one period each
    (:func:`_fit_to_loop`): the sample's own continuation past a chop often
    sounds like the chop's start, which plays next, so an extent can grow
    over its neighbour.

    ``found`` is as :func:`_find_occurrences` returns it; the result too,
    strongest first. Frames are steps, ``frame_seconds`` long; ``harmonies``
    are :func:`_find_occurrences`'.
    """
    window = match.window
    n_frames = features[0].shape[1]
    found = list(found)
    for members in _loops(found):
        plays = [found[i] for i in members]
        anchors, period = _loop_grid(plays, window, n_frames, frame_seconds)
        if period is None:
            continue
        best = max(plays, key=lambda play: play[4])
        c, (t_ref, a_ref) = _best_window(match, best)
        scores = window_scores(features[c], sample_features, best[2], window)
        origin = anchors[plays.index(best)]
        reference = (t_ref - origin, a_ref)
        period = _halved_period(plays, anchors, period, scores, reference, best, window,
                                threshold, frame_seconds)  # fmt: skip

        missing = _missing_plays(anchors, period, best, window, n_frames)
        low, high = anchors.min(), anchors.max()
        # Between its found plays every position is looked at; beyond them the loop
        # plays on one play at a time, so the first position without a play ends it.
        outward = [p for p in missing if p > high] + [p for p in missing if p < low][::-1]
        ended = set()
        for anchor in [p for p in missing if low < p < high] + outward:
            side = int(anchor > high) - int(anchor < low)  # 1 after, -1 before, 0 between
            if side in ended:
                continue
            start = (t_ref + anchor - origin, a_ref)
            play = _play_near(
                features[c], sample_features, scores, start, best, window, threshold,
                frame_seconds, harmony=_harmony_of(harmonies, c),
            )  # fmt: skip
            if play is not None and abs(_anchor(play, _centre(plays)) - anchor) > period / 2:
                play = None  # the path wandered off to another play
            if play is None:
                if side:
                    ended.add(side)
                continue
            # The loop's own plays are kept apart below; another occurrence is not:
            # it reports that position, so the loop may still go on past it.
            others = [other for other in found if other not in plays]
            if any(_overlap(play[0], other[0]) > 0.5 for other in others):
                continue
            found.append(play)
            plays.append(play)
        fitted = _fit_to_loop(plays, period, n_frames, sample_features.shape[1])
        found = [play for play in found if play not in plays] + fitted
    return sorted(found, key=lambda play: -play[4])


def _halved_period(plays, anchors, period, scores, reference, best, window, threshold,
                   frame_seconds):  # fmt: skip
    """The loop's period, or half of it where a play starts halfway between every two found.

    A sample that sounds alike from one second to the next (an ambient pad)
    lets a play's trace run on over the next play, along the sample's own
    continuation: two plays then look one play apart, and the grid's period
    is twice the loop's. Halfway between two found plays a period apart, the
    loop's own alignment (``scores``, the best play's; ``reference`` is its
    window's ``(track start - its position, resampled sample start)``) then
    scores what a loop's play scores (``_LOOP_LEVEL`` of the threshold) and
    more than the earlier play's line continued there (its best window as
    near that line as the midpoint's is to the grid, at the best play's
    ratio, which ``scores`` are at). A sample that repeats within itself (a
    riff playing one figure twice) scores well at the loop's alignment too,
    but its continuation, which is what plays, scores better. Every such
    midpoint must say so, and the half period must still hold a window.
    """
    half = period / 2
    if half < window - _grid_tolerance(half, frame_seconds):
        return period
    shift, a_ref = reference
    reach = _grid_reach(frame_seconds)
    order = np.argsort(anchors)
    tested = False
    for i, j in itertools.pairwise(order):
        if round((anchors[j] - anchors[i]) / period) != 1:
            continue  # plays between them missing: their midpoint is no test
        target = _window_near(
            scores, (shift + anchors[i] + half, a_ref), reach, best[1], best[2], window
        )
        if target is None or scores[target] < _LOOP_LEVEL * threshold:
            return period
        span, part, ratio, _, _ = plays[i]
        # The earlier play's line at the same track window, in the sample's frames, then in
        # the columns of ``scores`` (the sample resampled at the best play's ratio).
        column = round((part[0] + (target[0] - span[0]) * ratio) / best[2])
        columns = slice(max(column - reach, 0), max(column + reach + 1, 0))
        line = scores[target[0], columns]
        if line.size and line.max() >= scores[target]:
            return period
        tested = True
    return half if tested else period


def _loops(found) -> list[list[int]]:
    """Occurrences playing one part of the sample at one tempo: groups of two or more indices."""
    return [group for group in _groups(found) if len(group) > 1]


def _groups(found) -> list[list[int]]:
    """``found``'s indices grouped by the part of the sample they play and their tempo.

    Each joins the first group whose strongest occurrence shares more than
    half of its part of the sample, at a tempo ratio within
    ``_LOOP_RATIO_TOLERANCE``; an occurrence like no other is a group of one.
    """
    groups: list[list[int]] = []
    for i, (_, part, ratio, _, _) in enumerate(found):
        for group in groups:
            _, first_part, first_ratio, _, _ = found[group[0]]
            if (
                _overlap(part, first_part) > 0.5
                and abs(ratio / first_ratio - 1) <= _LOOP_RATIO_TOLERANCE
            ):
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


def _centre(plays) -> float:
    """The middle of a loop's part of the sample (frames of the sample): its plays' median."""
    return float(np.median([(part[0] + part[1]) / 2 for _, part, _, _, _ in plays]))


def _anchor(play, centre: float) -> float:
    """The track frame where ``play``'s line reaches the sample's frame ``centre``."""
    span, part, ratio, _, _ = play
    return span[0] + (centre - part[0]) / ratio


def _loop_grid(plays, window, n_frames, frame_seconds):
    """Each play's position (track frame of the loop's centre) and the loop's period.

    The period is ``None`` unless the plays sit a whole number of periods
    apart, each within ``_LOOP_GRID_SECONDS`` or ``_LOOP_GRID_SHARE`` of a
    period. The closest two plays may be several periods apart (the plays
    between them missed): the plays' median length, not counting plays cut
    by the track's ends, says how many (the median, as one trace may stop
    short where new parts cover its play, or grow over the next).
    """
    centre = _centre(plays)
    anchors = np.array([_anchor(play, centre) for play in plays])
    lengths = [span[1] - span[0] for span, *_ in plays]
    whole = [
        n for n, (span, *_) in zip(lengths, plays, strict=True) if 0 < span[0] < span[1] < n_frames
    ]
    ordered = np.sort(anchors)
    steps = np.diff(ordered)
    period = steps.min() / max(1, round(steps.min() / max(np.median(whole or lengths), 1)))
    tolerance = _grid_tolerance(period, frame_seconds)
    multiples = np.round(steps / period)
    # A play lasts at least a window, or it would not have been found. The steps are
    # judged against this period, not a line refitted to them: it may be a fraction of the
    # closest plays' distance, and a line with so short a period bends to fit most plays.
    if period < window - tolerance or np.any(np.abs(steps - multiples * period) > tolerance):
        return anchors, None
    # All the plays together say the period best.
    index = np.concatenate(([0.0], np.cumsum(multiples)))
    return anchors, float(np.polyfit(index, ordered, 1)[0])


def _grid_tolerance(period: float, frame_seconds: float) -> float:
    """How far (steps) a play may sit off a loop's grid of ``period`` steps.

    ``_LOOP_GRID_SECONDS`` or ``_LOOP_GRID_SHARE`` of the period, whichever
    is larger: a play's position is known to about a local span.
    """
    return max(_LOOP_GRID_SECONDS / frame_seconds, _LOOP_GRID_SHARE * period)


def _best_window(match, play):
    """The pitch candidate and the window ``(track, resampled sample)`` of a play's best score."""
    span, part, ratio, _, _ = play
    starts = np.arange(span[0], max(min(span[1], match.score.size), span[0] + 1))
    starts = np.minimum(starts, match.score.size - 1)
    t = int(starts[np.argmax(match.score[starts])])
    return int(match.candidate[t]), (t, round(part[0] / ratio + t - span[0]))


def _missing_plays(anchors, period, best, window, n_frames):
    """Positions on the loop's grid, within the track, where no play is reported.

    A position counts when at least a window of its play, to half a frame,
    lies in the track; a play is reported there when a found play's position
    is within half a period of it.
    """
    # A found play lasts at least a window, whatever its extent says.
    length = max((best[1][1] - best[1][0]) / best[2], window)
    first = anchors.min() - period * np.floor((anchors.min() + length / 2) / period)
    positions = np.arange(first, n_frames + length / 2, period)
    # Positions fall between frames: a play one window long, wholly inside,
    # may come out a hair under a window, and a play is never placed finer
    # than a frame (_window_near rounds it).
    return [
        float(p)
        for p in positions
        if min(p + length / 2, n_frames) - max(p - length / 2, 0) >= window - 0.5
        and np.abs(anchors - p).min() > period / 2
    ]


def _window_near(scores, start, reach, part, ratio, window):
    """The best window within ``reach`` frames of ``start``, inside the track and the loop's part.

    ``start`` is ``(track, resampled sample)``; ``part`` is in frames of the
    sample. A start past the part's last window slides back along its line to
    it; where the track's ends cut the play, the window slides along the line
    to stay inside; ``None`` if no window of the part fits.
    """
    n_t, n_a = scores.shape
    t, a = round(start[0]), round(start[1])
    # The part's ends are known to about ``reach`` frames, and a found play
    # may be shorter than a window.
    first = max(0, round(part[0] / ratio) - reach)
    last = min(n_a - 1, max(round(part[1] / ratio) - window, round(part[0] / ratio)) + reach)
    # A play shorter than a window may have its best window start past the
    # part's last: the same line's window inside the part is looked at.
    if a > last:
        t, a = t - (a - last), last
    slide = int(np.clip(t, 0, n_t - 1)) - t
    t, a = t + slide, a + slide
    if not first <= a <= last:
        return None
    rows = slice(max(t - reach, 0), min(t + reach + 1, n_t))
    cols = slice(max(a - reach, first), min(a + reach + 1, last + 1))
    block = scores[rows, cols]
    if block.size == 0:
        return None
    i, j = np.unravel_index(int(block.argmax()), block.shape)
    return rows.start + int(i), cols.start + int(j)


def _fit_to_loop(plays, period, n_frames, sample_frames=np.inf):
    """A loop's plays held to one period of the loop's part each, and grown to the part.

    A play of a loop lasts at most a period. Played back to back (the plays'
    parts fill the period), the loop's part starts at the median of what the
    plays say: their parts' starts, and their ends less a period (a play cut
    by the track's ends says nothing there), and lasts the whole period.
    With rests between the plays, the period is centred on the middle of the
    plays' parts, and the loop's part is the median of the plays' starts and
    of their ends, within it. Each play keeps at most the period; one whose
    trace stopped short (a play under the threshold, whose local match dips
    where new parts cover it) grows along its own line to the loop's part,
    within the track's ``n_frames`` and the sample's ``sample_frames``: every
    play of a loop plays the same part. Where two plays' lines (which agree
    to a grid tolerance) grow them into each other, they meet halfway
    (:func:`_kept_apart`). A play that would keep no frame of the period is
    kept as found.
    """
    ratio = float(np.median([play[2] for play in plays]))
    lengths = [part[1] - part[0] for _, part, _, _, _ in plays]
    # What the plays say of the part's ends: a play cut by the track's ends says nothing there.
    starts = [part[0] for span, part, *_ in plays if span[0] > 0]
    ends = [part[1] for span, part, *_ in plays if span[1] < n_frames]
    ends_less_period = [end - period * ratio for end in ends]
    back_to_back = bool(np.median(lengths) >= _LOOP_FILLED * period * ratio and (starts or ends))
    if back_to_back:
        first = float(np.median(starts + ends_less_period))
        last = first + period * ratio
        part_start, part_end = first, last
    else:
        first = _centre(plays) - period * ratio / 2
        last = first + period * ratio
        part_start = max(first, float(np.median(starts))) if starts else None
        part_end = min(last, float(np.median(ends))) if ends else None
    fitted = []
    for span, part, play_ratio, shift, score in plays:
        cut_start = round((first - part[0]) / play_ratio)
        cut_end = round((part[1] - last) / play_ratio)
        if span[1] - span[0] - max(cut_start, 0) - max(cut_end, 0) < 1:
            fitted.append((span, part, play_ratio, shift, score))
            continue
        # A negative cut grows the play, as far as the track and the sample go.
        if cut_start <= 0:
            grow = 0 if part_start is None else round((part_start - part[0]) / play_ratio)
            cut_start = max(min(grow, 0), -span[0], -int(part[0] / play_ratio))
        if cut_end <= 0:
            grow = 0 if part_end is None else round((part[1] - part_end) / play_ratio)
            # Never by more than the track: no play of it could grow further.
            room = min((sample_frames - part[1]) / play_ratio, n_frames)
            cut_end = max(min(grow, 0), min(span[1] - n_frames, 0), -int(room))
        fitted.append(
            (
                (span[0] + cut_start, span[1] - cut_end),
                (part[0] + cut_start * play_ratio, part[1] - cut_end * play_ratio),
                play_ratio,
                shift,
                score,
            )
        )
    return _kept_apart(fitted, plays)


def _kept_apart(fitted, found):
    """``fitted`` with plays grown into each other (from ``found``) meeting halfway.

    Where two neighbouring plays overlap and at least one of them grew there,
    they meet at the middle of the overlap, but neither gives up a frame it
    was found on (a play's original span is its own).
    """
    fitted = list(fitted)
    order = sorted(range(len(fitted)), key=lambda i: fitted[i][0][0])
    for i, j in itertools.pairwise(order):
        (span_i, part_i, ratio_i, *rest_i), (span_j, part_j, ratio_j, *rest_j) = (
            fitted[i],
            fitted[j],
        )
        if span_i[1] <= span_j[0]:
            continue
        own_end = min(found[i][0][1], span_i[1])  # where i ends without growing
        own_start = max(found[j][0][0], span_j[0])
        if own_end > own_start:
            continue  # overlapping where they were found: not the growth's doing
        meet = int(np.clip(round((span_i[1] + span_j[0]) / 2), own_end, own_start))
        fitted[i] = (
            (span_i[0], meet),
            (part_i[0], part_i[1] - (span_i[1] - meet) * ratio_i),
            ratio_i,
            *rest_i,
        )
        fitted[j] = (
            (meet, span_j[1]),
            (part_j[0] + (meet - span_j[0]) * ratio_j, part_j[1]),
            ratio_j,
            *rest_j,
        )
    return fitted


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Length of the overlap of two ranges over the length of the shorter."""
    shared = min(a[1], b[1]) - max(a[0], b[0])
    return max(shared, 0) / max(min(a[1] - a[0], b[1] - b[0]), 1)


def silent_steps(V: np.ndarray, min_run: int = 1) -> np.ndarray:
    """The steps where a track (or a sample) is silent: far under its loud parts, for a while.

    Parameters
    ----------
    V : np.ndarray [shape=(n_bands, n_steps), non-negative]
        The spectrogram the track is fitted on (bands, steps), or a
        sample's activations on steps (their sum follows its magnitude).
    min_run : int >= 1
        Steps a silence must last: the rests between a riff's notes are
        not silence, a record's lead-in is.

    Returns
    -------
    np.ndarray [shape=(n_steps,), bool]
        True where a step's magnitude is under ``_SILENCE`` of the loud
        steps' (the ``_LOUD_QUANTILE`` of all steps), in a run of at least
        ``min_run``: digital silence, dither, the end of a fade, but not a
        quiet intro, however quiet the whole track is.
    """
    magnitude = V.sum(axis=0, dtype=np.float64)
    if magnitude.size == 0:
        return np.zeros(0, dtype=bool)
    quiet = magnitude < _SILENCE * np.quantile(magnitude, _LOUD_QUANTILE)
    # Where each run of quiet steps starts and stops (pairs of edges); short runs stay loud.
    edges = np.flatnonzero(np.diff(np.concatenate(([False], quiet, [False])).astype(np.int8)))
    silent = np.zeros_like(quiet)
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start >= min_run:
            silent[start:stop] = True
    return silent


def silent_run(templates: SampleTemplates) -> int:
    """The steps of the templates' fit (pairs of their frames) that make ``_SILENT_RUN_SECONDS``."""
    return max(1, round(_SILENT_RUN_SECONDS * templates.sr / (FRAMES_PER_STEP * templates.hop)))


def _sample_silence(templates: SampleTemplates, sample_H: np.ndarray) -> np.ndarray:
    """The sample's silent steps (:func:`silent_steps`) from its activations on steps."""
    return silent_steps(sample_H, silent_run(templates))


def _silence_row(features: np.ndarray, silent: np.ndarray) -> np.ndarray:
    """A row over ``features``' steps: its typical step norm where ``silent``, else 0.

    The typical norm is the root mean square of the norms of the steps
    that are not silent (0 when every step is).
    """
    loud = ~silent
    norms = np.square(features).sum(axis=0)
    level = float(np.sqrt(norms[loud].mean())) if loud.any() else 0.0
    return np.where(silent, level, 0.0)[None, :]


def _with_silence(features: list, sample: np.ndarray, silent, sample_silent=None):
    """The track's features and the sample's with two more rows: the silence of each.

    A window whose steps are mostly silent holds a few steps of music, and a
    cosine, blind to how little is there, scores those few as if they were
    the window: a track's silent ends, or a sample cut with a few seconds
    of silence around it, would score like windows a fraction of
    ``min_part_s`` long. The first extra row gives each silent step of a
    track feature that feature's typical step norm (:func:`_silence_row`),
    and the sample nothing there; the second does the same for the sample's
    silent steps, and gives the track nothing there. A silent step of
    either then weighs in a window as a step of music unlike the other
    does, and silence matches nothing, not even silence. With no silent
    step on either side (``silent`` and ``sample_silent`` None or all
    False) nothing changes.

    Returns ``(features, sample)``.
    """
    steps = features[0].shape[1] if features else 0
    silent = np.zeros(steps, dtype=bool) if silent is None else silent
    sample_silent = (
        np.zeros(sample.shape[1], dtype=bool) if sample_silent is None else sample_silent
    )
    if not (silent.any() or sample_silent.any()):
        return features, sample
    features = [
        np.vstack((track, _silence_row(track, silent), np.zeros((1, steps)))) for track in features
    ]
    sample = np.vstack(
        (sample, np.zeros((1, sample.shape[1])), _silence_row(sample, sample_silent))
    )
    return features, sample


def _alignment_inputs(templates, fixed_H, tempo_range, min_part_s, silent=None, singles=True):
    """What the alignment compares: the sample's rhythm, the track's candidates, the window.

    Returns ``(sample_features, features, candidate_shifts, window,
    frame_seconds)``: ``frame_seconds`` is the length of one step;
    ``silent`` is :func:`coarse_match_unchecked`'s (:func:`_with_silence`),
    ``singles`` :func:`_candidates`'.
    """
    frame_seconds = FRAMES_PER_STEP * templates.hop / templates.sr  # one step
    width = max(1, round(_DETREND_SECONDS / frame_seconds)) | 1
    features, candidate_shifts = _candidates(
        fixed_H, templates.shifts, functools.partial(_rhythm, width=width), singles
    )
    sample_H = _decimate(templates.H)
    features, sample_features = _with_silence(
        features, _rhythm(sample_H, width), silent, _sample_silence(templates, sample_H)
    )
    # The window cannot be longer than the track, nor than the sample at the fastest ratio.
    shortest = int(np.floor((sample_features.shape[1] - 1) / tempo_range[1])) + 1
    window = max(1, min(round(min_part_s / frame_seconds), features[0].shape[1], shortest))
    return sample_features, features, candidate_shifts, window, frame_seconds
