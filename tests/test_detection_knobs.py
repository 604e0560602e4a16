"""The decision and the ranges of ``nmf_helpers/detection.py``, on small inputs.

``tests/test_detection.py`` checks the detector on the project's clips with
real fits (seconds per call). These tests pin the knobs that turn a score
into a decision and a path into ranges, on inputs of a fraction of a
second: synthetic rhythm features where the truth is known to the frame,
and one small real fit (3 s of the sample, 6 s of the track, as in
``tests/test_properties.py``) reused by every decision test.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import nmf_helpers as nh

DETECTION = importlib.import_module("nmf_helpers.detection")
ALIGNMENT = importlib.import_module("nmf_helpers.alignment")
SR = 22050
SECONDS = 2 * 512 / SR  # one decimated frame
WINDOW = 20


# -- ranges, on synthetic features ------------------------------------------------------------


def _track_with(T: np.ndarray, starts_and_gains, n_frames: int = 900) -> np.ndarray:
    """Noise, plus the whole sample ``T`` at each ``(start, gain)``."""
    X = 0.3 * np.random.default_rng(1).standard_normal((T.shape[0], n_frames))
    for start, gain in starts_and_gains:
        X[:, start : start + T.shape[1]] += gain * T
    return X


def _occurrences(X, T, threshold):
    match = ALIGNMENT.best_windows([X], T, np.array([1.0]), WINDOW)
    activations = np.ones((1, 2 * X.shape[1]))  # one component, one pitch copy
    found = DETECTION._find_occurrences(
        match, [X], [0.0], T, activations, (0.0,), threshold, SECONDS
    )
    return match, found


@pytest.fixture(scope="module")
def sample_rhythm():
    return np.random.default_rng(0).standard_normal((10, 200))


def test_each_play_of_the_sample_is_one_occurrence_strongest_first(sample_rhythm):
    T = sample_rhythm
    X = _track_with(T, [(100, 0.6), (500, 1.0)])
    match, found = _occurrences(X, T, 0.36)
    assert len(found) == 2
    (span, part, ratio, pitch, score), second = found
    assert abs(span[0] - 500) <= 3 and abs(span[1] - 700) <= 3  # the louder play first
    assert abs(second[0][0] - 100) <= 3 and abs(second[0][1] - 300) <= 3
    assert abs(part[0]) <= 3 and abs(part[1] - 200) <= 3  # the whole sample, in sample frames
    assert ratio == pytest.approx(1.0, abs=0.02) and pitch == 0.0
    assert score == match.score.max() and second[4] < score


def test_a_threshold_above_every_window_finds_nothing(sample_rhythm):
    X = _track_with(sample_rhythm, [(100, 1.0)])
    match, found = _occurrences(X, sample_rhythm, 0.36)
    assert len(found) == 1
    _, found = _occurrences(X, sample_rhythm, float(np.nextafter(match.score.max(), 2.0)))
    assert found == []
    _, found = _occurrences(X, sample_rhythm, float(match.score.max()))  # reaching it is enough
    assert len(found) == 1


def _trim(X, T, track, sample):
    return DETECTION._trim(X, T, 1.0, track, sample, WINDOW, 0.2, 2, 22)


@pytest.mark.parametrize("path_end", [111, 81])  # its last window past the track's end, or not
def test_the_line_reaches_the_first_and_last_frames_both_clips_play(sample_rhythm, path_end):
    # The track starts 50 frames into the sample and stops 30 frames before its end; the
    # path (track frames 10 to path_end) stops short of both ends of the occurrence.
    T = sample_rhythm
    X = T[:, 50:170] + 0.3 * np.random.default_rng(2).standard_normal((10, 120))
    frames_t, frames_a, on_path = _trim(X, T, np.arange(10, path_end), np.arange(60, path_end + 50))
    np.testing.assert_array_equal(frames_t, np.arange(0, 120))
    np.testing.assert_array_equal(frames_a, np.arange(50, 170))
    # The path and its last window (cut at the track's end), not the line's extensions.
    assert on_path.sum() == min(path_end - 1 + WINDOW - 1, 119) - 10 + 1


def test_the_line_stops_at_the_samples_own_ends(sample_rhythm):
    # The whole sample plays at track frame 100; the last window runs past the sample's end.
    T = sample_rhythm
    X = _track_with(T, [(100, 1.0)], n_frames=400)
    frames_t, frames_a, _ = _trim(X, T, np.arange(150, 291), np.arange(50, 191))
    np.testing.assert_array_equal(frames_t, np.arange(100, 300))
    np.testing.assert_array_equal(frames_a, np.arange(0, 200))


@pytest.mark.parametrize(
    ("a", "b", "share"),
    [
        ((0, 10), (5, 30), 0.5),  # over the shorter of the two
        ((5, 30), (0, 10), 0.5),
        ((0, 10), (10, 20), 0.0),  # touching
        ((0, 10), (20, 30), 0.0),  # apart: never negative
        ((0, 10), (2, 4), 1.0),  # inside
        ((5, 10), (0, 30), 1.0),
        ((3, 4), (0, 10), 1.0),  # one frame
        ((3, 3), (0, 10), 0.0),  # an empty range
    ],
)
def test_overlap_is_the_shared_share_of_the_shorter_range(a, b, share):
    assert DETECTION._overlap(a, b) == share


def test_the_pitch_is_the_activation_weighted_shift_near_the_candidate():
    shifts = (-2.0, -1.0, 0.0, 1.0, 2.0)
    energy = np.array([100.0, 1.0, 3.0, 0.0, 50.0])  # per copy, over the frames
    activations = np.repeat(energy[:, None], 4, axis=1) / 4  # one component per copy
    frames = slice(0, 4)
    # Copies within one semitone of -0.5: -1 and 0 only (weights 1 and 3).
    assert DETECTION._pitch_estimate(activations, shifts, -0.5, frames) == pytest.approx(-0.25)
    assert DETECTION._pitch_estimate(activations, shifts, -1.0, frames) == pytest.approx(
        (-200.0 - 1.0) / 104.0
    )
    assert DETECTION._pitch_estimate(activations, shifts, 1.0, frames) == pytest.approx(
        (0.0 * 3.0 + 1.0 * 0.0 + 2.0 * 50.0) / 53.0
    )
    quiet = activations * 1e-3  # activations' scale does not matter
    assert DETECTION._pitch_estimate(quiet, shifts, -0.5, frames) == pytest.approx(-0.25)
    silent = np.zeros_like(activations)
    assert DETECTION._pitch_estimate(silent, shifts, 1.5, frames) == 1.5  # nothing to weigh


# -- the decision, on a small real fit ---------------------------------------------------------


@pytest.fixture(scope="module")
def small_fit():
    """Templates of 3 s of the sample, the spectrogram of 6 s of the track, its duration."""
    sample = nh.load_audio(nh.clip_path("sample"))[0][: 3 * SR]
    track = nh.load_audio(nh.clip_path("sampling_track"))[0][: 6 * SR]
    templates = nh.learn_sample(sample, n_components=3, shifts=(-1, 0, 1), n_iter=20)
    V = DETECTION.track_spectrogram_unchecked(track, templates.win, templates.hop)
    return templates, V, track.size / SR


def _detect(small_fit, threshold, duration=None):
    templates, V, track_duration = small_fit
    return DETECTION.detect_in_spectrogram_unchecked(
        templates,
        V,
        track_duration if duration is None else duration,
        n_free=4,
        n_iter=15,
        threshold=threshold,
        min_part_s=1.0,
    )


@pytest.fixture(scope="module")
def reference(small_fit):
    return _detect(small_fit, -1.0)


def test_the_decision_is_the_best_score_reaching_the_threshold(small_fit, reference):
    assert reference.score == reference.similarity.max()
    at = _detect(small_fit, reference.score)
    assert at.detected and at.threshold == reference.score
    above = _detect(small_fit, float(np.nextafter(reference.score, 2.0)))
    assert not above.detected and above.score == reference.score
    # Nothing found: no ranges, and the neutral pitch shift and tempo ratio.
    assert above.occurrences == () and above.ranges == ()
    assert (above.shift, above.tempo_ratio) == (0.0, 1.0)


def test_ranges_are_the_occurrences_in_track_order_within_both_clips(small_fit, reference):
    templates, _, duration = small_fit
    occurrences = reference.occurrences
    assert occurrences  # threshold -1: the best stretch at least
    assert reference.ranges == tuple((o.track_start_s, o.track_end_s) for o in occurrences)
    starts = [o.track_start_s for o in occurrences]
    assert starts == sorted(starts)
    assert all(0 <= o.track_start_s < o.track_end_s <= duration for o in occurrences)
    assert all(0 <= o.sample_start_s < o.sample_end_s <= templates.duration_s for o in occurrences)
    # Here the sample plays to its end: the last frame reaches past it and is cut there.
    assert max(o.sample_end_s for o in occurrences) == templates.duration_s
    best = max(occurrences, key=lambda o: o.score)
    assert best.score == reference.score
    assert reference.tempo_ratio == best.tempo_ratio
    assert reference.shift in templates.shifts  # the copy nearest the best one's pitch
    assert abs(reference.shift - best.pitch_shift) <= 0.5


def test_occurrences_end_where_the_track_is_said_to_end(small_fit, reference):
    end = reference.ranges[-1][1] - 0.5
    assert _detect(small_fit, -1.0, duration=end).ranges[-1][1] == end


def test_the_result_carries_what_the_figures_need(small_fit, reference):
    templates, V, _ = small_fit
    F, n_fixed = templates.n_components, templates.W.shape[1]
    np.testing.assert_allclose(np.diff(reference.similarity_times), SECONDS)
    assert reference.similarity_times[0] == 0.0
    assert reference.activations.shape == (F, V.shape[1])
    np.testing.assert_allclose(
        reference.activations, reference.H[:n_fixed].reshape(3, F, -1).sum(axis=0), rtol=1e-6
    )
    assert reference.n_fixed == n_fixed and (reference.sr, reference.hop) == (SR, templates.hop)
    np.testing.assert_allclose(
        reference.fixed_part + reference.free_part, reference.W @ reference.H, rtol=1e-4, atol=1e-6
    )
    share = reference.fixed_share
    assert share.shape == (V.shape[1],) and share.min() >= 0 and share.max() <= 1 + 1e-6
    np.testing.assert_allclose(
        share,
        reference.fixed_part.sum(axis=0)
        / np.maximum((reference.fixed_part + reference.free_part).sum(axis=0), 1e-12),
        rtol=1e-5,
    )
