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
and the pitch shift (the copies the fit used).

Frames here are steps, ``frame_seconds`` long: the pairs of STFT frames
(:data:`~nmf_helpers.detection.bands.FRAMES_PER_STEP`) the track is fitted
on, over which the sample's own activations are averaged to match.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.ndimage

from .._numerics import EPS
from .._threads import library_threads
from .alignment import WindowMatch, best_windows, follow_path, stretch_time_unchecked, window_scores
from .bands import FRAMES_PER_STEP
from .learning import SampleTemplates
from .settings import TEMPO_LIMITS

__all__: list[str] = []  # cores only: the door (door.py) checks every argument

_TEMPO_LIMITS_ARRAY = np.array(TEMPO_LIMITS)

# Width of the moving average removed from activations before correlating:
# shorter than a beat at any usual tempo, so note onsets and the rhythm
# within a bar stay, while the bar-long chord envelope that songs in one
# style share is removed. Much shorter, and the beat itself is averaged
# away; much longer, and the chord envelope stays.
_DETREND_SECONDS = 0.3

# Step of the tempo-ratio grid. Over a 2.5 s window a ratio off by half a
# step drifts 25 ms, well under a frame of the decimated activations; the
# path's slope then corrects the ratio (see _find_occurrences).
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

# The alignment's matrix products are small (a few hundred frames by 20
# components): one BLAS thread does each at once, while waking more threads
# costs more than the product itself on a busy machine.
_ALIGNMENT_THREADS = 1

# The first pass scores every so many track windows: a match is a run of
# windows along one diagonal, and one of them lies within half a stride of
# its best, sharing all but a couple of its steps.
_SCREEN_STRIDE = 4


def coarse_match_unchecked(
    templates: SampleTemplates, fixed_H: np.ndarray, tempo_range, min_part_s: float, n_ratios: int
) -> float:
    """The best window score at ``n_ratios`` tempo ratios, following no path.

    What a scan's first pass needs: the candidates of the full search, at a
    few ratios, scoring every :data:`_SCREEN_STRIDE`-th window of the track
    only.

    Parameters
    ----------
    templates : SampleTemplates
    fixed_H : np.ndarray [shape=(templates.W.shape[1], n_steps)]
        The track fit's activations of the sample's templates.
    tempo_range : (float, float)
    min_part_s : float
    n_ratios : int >= 1
        Tempo ratios tried, evenly from ``tempo_range[0]`` to ``tempo_range[1]``.

    Returns
    -------
    float
        The best window score, in [-1, 1].
    """
    sample_features, features, _, window, _ = _alignment_inputs(
        templates, fixed_H, tempo_range, min_part_s
    )
    low, high = tempo_range
    # One ratio: the middle of the range (the sample's own tempo by default).
    ratios = np.linspace(low, high, n_ratios) if high > low and n_ratios > 1 else [(low + high) / 2]
    with library_threads(_ALIGNMENT_THREADS):
        match = best_windows(features, sample_features, ratios, window, _SCREEN_STRIDE)
    return float(match.score.max())


def search_unchecked(
    templates: SampleTemplates, fixed_H: np.ndarray, tempo_range, min_part_s: float, threshold
) -> tuple[WindowMatch, list, float]:
    """Every occurrence of the sample in the track's fixed activations, strongest first.

    ``templates``, ``fixed_H``, ``tempo_range`` and ``min_part_s`` are as for
    :func:`coarse_match_unchecked`; every ratio of the grid is tried, and
    each window reaching ``threshold`` starts an occurrence.

    Returns
    -------
    match : WindowMatch
        The best window for each start in the track (every ratio of the grid).
    found : list of (track frames, sample frames, ratio, shift, score)
        Each occurrence (see :func:`_find_occurrences`).
    frame_seconds : float
        The length of one decimated frame, in seconds.
    """
    sample_features, features, candidate_shifts, window, frame_seconds = _alignment_inputs(
        templates, fixed_H, tempo_range, min_part_s
    )
    ratios = _ratio_grid(tempo_range)
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
        )
    return match, found, frame_seconds


def _rhythm(H: np.ndarray, width: int) -> np.ndarray:
    """sqrt(H) minus its moving average over ``width`` frames, in float64.

    The square root keeps quiet components (keys under a loud bass) from
    being drowned by loud ones; it only rescales a gain change, which the
    cosine similarity ignores.
    """
    H = np.sqrt(H.astype(np.float64))
    return H - scipy.ndimage.uniform_filter1d(H, width, axis=1, mode="nearest")


def _decimate(H: np.ndarray) -> np.ndarray:
    """The sample's activations on steps: the mean of each run of ``FRAMES_PER_STEP`` frames.

    A last partial run is dropped; a sample of one frame is kept as it is.
    """
    rows, N = H.shape
    usable = max(N // FRAMES_PER_STEP, 1) * FRAMES_PER_STEP
    if usable > N:
        return H.astype(np.float64)
    return H[:, :usable].reshape(rows, -1, FRAMES_PER_STEP).mean(axis=2, dtype=np.float64)


def _candidates(activations: np.ndarray, shifts: tuple[float, ...], width: int):
    """Track features to align: one per pitch copy, and one per two neighbouring copies.

    A record sped up by 1.03 moves the pitch by half a semitone, between two
    copies; the fit then spreads the sample over both, and only their sum
    carries the whole rhythm. Returns the features and the shift of each.
    """
    blocks = np.split(activations.astype(np.float64), len(shifts))
    order = np.argsort(shifts)
    features = [_rhythm(block, width) for block in blocks]
    candidate_shifts = [float(s) for s in shifts]
    for i, j in itertools.pairwise(order):
        if shifts[j] - shifts[i] <= 1:
            features.append(_rhythm(blocks[i] + blocks[j], width))
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
    track_features, sample_features, ratio, track, sample, window, level, half_width, gap
):
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
    than its path, or shorter.

    Returns the track frames and the resampled sample's frames kept, and a
    mask of those that lie on the path itself (where the slope is measured).
    """
    tail = np.arange(1, window)
    frames_t = np.concatenate((track, track[-1] + tail))
    frames_a = np.concatenate((sample, sample[-1] + tail))
    y_all = stretch_time_unchecked(sample_features, ratio)
    keep = (frames_t < track_features.shape[1]) & (frames_a < y_all.shape[1])
    frames_t, frames_a = frames_t[keep], frames_a[keep]
    # How far the line goes each way, and whether the sample's own start or
    # end (rather than the track's) is what stops it.
    room_before = (frames_a[0], frames_t[0])
    room_after = (y_all.shape[1] - 1 - frames_a[-1], track_features.shape[1] - 1 - frames_t[-1])
    before = np.arange(min(room_before), 0, -1)
    after = np.arange(1, min(room_after) + 1)
    on_path = np.concatenate(
        (np.zeros(before.size, bool), np.ones(frames_t.size, bool), np.zeros(after.size, bool))
    )
    frames_t = np.concatenate((frames_t[0] - before, frames_t, frames_t[-1] + after))
    frames_a = np.concatenate((frames_a[0] - before, frames_a, frames_a[-1] + after))
    x, y = track_features[:, frames_t], y_all[:, frames_a]
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


def _find_occurrences(
    match,
    features,
    candidate_shifts,
    sample_features,
    activations,
    shifts,
    threshold,
    frame_seconds,
):
    """Every separate stretch of the track whose windows reach ``threshold``, strongest first.

    From the best window, the alignment path is followed both ways
    (:func:`~nmf_helpers.detection.alignment.follow_path`) while the windows score at
    least ``_WALK_LEVEL`` of the threshold, then extended along its line
    and cut where the match stops holding locally (:func:`_occurrence_extent`); the tempo
    ratio is the grid's ratio times the path's slope. Then the windows lying
    mostly inside that stretch are set aside, and the next best is taken. A
    chop looped four times gives four occurrences, each a path of its own.
    Frames are decimated frames, ``frame_seconds`` long. Returns ``(track frames,
    sample frames, ratio, shift, score)`` tuples.
    """
    window = match.window
    half_width = max(1, round((_LOCAL_SECONDS / frame_seconds - 1) / 2))
    gap = round(_GAP_SECONDS / frame_seconds)
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
            scores = window_scores(features[c], sample_features, ratio, window)
            a = min(a, scores.shape[1] - 1)
            t_best = max(t - 2, 0) + int(scores[max(t - 2, 0) : t + 3, a].argmax())
            track, sample = follow_path(scores, t_best, a, _WALK_LEVEL * threshold)
            frames_t, frames_a, on_path = _occurrence_extent(
                features[c],
                sample_features,
                ratio,
                track,
                sample,
                window,
                _TRIM_LEVEL * score,
                half_width,
                gap,
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
        shift = _shift_estimate(activations, shifts, candidate_shifts[c], slice(*span))
        found.append((span, part, ratio, shift, score))
    return found


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Length of the overlap of two ranges over the length of the shorter."""
    shared = min(a[1], b[1]) - max(a[0], b[0])
    return max(shared, 0) / max(min(a[1] - a[0], b[1] - b[0]), 1)


def _alignment_inputs(templates, fixed_H, tempo_range, min_part_s):
    """What the alignment compares: the sample's rhythm, the track's candidates, the window.

    Returns ``(sample_features, features, candidate_shifts, window,
    frame_seconds)``: ``frame_seconds`` is the length of one step.
    """
    frame_seconds = FRAMES_PER_STEP * templates.hop / templates.sr  # one step
    width = max(1, round(_DETREND_SECONDS / frame_seconds)) | 1
    sample_features = _rhythm(_decimate(templates.H), width)
    features, candidate_shifts = _candidates(fixed_H, templates.shifts, width)
    # The window cannot be longer than the track, nor than the sample at the fastest ratio.
    shortest = int(np.floor((sample_features.shape[1] - 1) / tempo_range[1])) + 1
    window = max(1, min(round(min_part_s / frame_seconds), features[0].shape[1], shortest))
    return sample_features, features, candidate_shifts, window, frame_seconds
