"""The decision and the ranges of ``nmf_helpers/detection/`` (search and door), on small inputs.

``tests/test_detection.py`` checks the detector on the project's clips with
real fits (seconds per call). These tests pin the knobs that turn a score
into a decision and a path into ranges, on inputs of a fraction of a
second: synthetic rhythm features where the truth is known to the frame,
and one small real fit (3 s of the sample, 6 s of the track, as in
``tests/test_properties.py``) reused by every decision test.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import numpy as np
import pytest

import nmf_helpers as nh

DETECTION = importlib.import_module("nmf_helpers.detection")
ALIGNMENT = importlib.import_module("nmf_helpers.detection.alignment")
SEARCH = importlib.import_module("nmf_helpers.detection.search")
SR = 22050
SECONDS = 2 * 512 / SR  # one step: the pair of STFT frames the search works on
WINDOW = 20
# Half the span of the local match that sets an occurrence's ends: 0.8 s is 17 decimated
# frames. A chop's ends (where the sample goes on beyond them) blur by up to this much.
LOCAL = round((0.8 / SECONDS - 1) / 2)


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
    found = SEARCH._find_occurrences(match, [X], [0.0], T, activations, (0.0,), threshold, SECONDS)
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
    return SEARCH._occurrence_extent(X, T, 1.0, track, sample, WINDOW, 0.2, 2, 22)


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
    assert SEARCH._overlap(a, b) == share


def test_the_pitch_is_the_activation_weighted_shift_near_the_candidate():
    shifts = (-2.0, -1.0, 0.0, 1.0, 2.0)
    energy = np.array([100.0, 1.0, 3.0, 0.0, 50.0])  # per copy, over the frames
    activations = np.repeat(energy[:, None], 4, axis=1) / 4  # one component per copy
    frames = slice(0, 4)
    # Copies within one semitone of -0.5: -1 and 0 only (weights 1 and 3).
    assert SEARCH._shift_estimate(activations, shifts, -0.5, frames) == pytest.approx(-0.25)
    assert SEARCH._shift_estimate(activations, shifts, -1.0, frames) == pytest.approx(
        (-200.0 - 1.0) / 104.0
    )
    assert SEARCH._shift_estimate(activations, shifts, 1.0, frames) == pytest.approx(
        (0.0 * 3.0 + 1.0 * 0.0 + 2.0 * 50.0) / 53.0
    )
    quiet = activations * 1e-3  # activations' scale does not matter
    assert SEARCH._shift_estimate(quiet, shifts, -0.5, frames) == pytest.approx(-0.25)
    silent = np.zeros_like(activations)
    assert SEARCH._shift_estimate(silent, shifts, 1.5, frames) == 1.5  # nothing to weigh


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


@pytest.fixture
def reference(small_fit):
    # Made for each test (a tenth of a second): mutmut runs, for a mutant, only the tests
    # it saw calling the mutated function, and a module's fixture calls it in the first.
    return _detect(small_fit, -1.0)


def test_the_decision_is_the_best_score_reaching_the_threshold(small_fit, reference, monkeypatch):
    # The riff's bars repeat in these 6 s: its loop's plays together say more than a window.
    assert reference.score > reference.similarity.max()
    with monkeypatch.context() as patch:
        patch.setattr(DETECTION.search, "_LOOP_EVIDENCE_PLAYS", 99)  # no track has room
        assert _detect(small_fit, -1.0).score == reference.similarity.max()
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
    best = max(occurrences, key=lambda o: o.score)
    assert best.score == reference.similarity.max()  # a window's, not the loop's evidence
    assert reference.tempo_ratio == best.tempo_ratio
    assert reference.shift in templates.shifts  # the copy nearest the best one's pitch
    assert abs(reference.shift - best.pitch_shift) <= 0.5


def test_occurrences_end_where_the_track_is_said_to_end(small_fit, reference):
    end = reference.ranges[-1][1] - 0.5
    assert _detect(small_fit, -1.0, duration=end).ranges[-1][1] == end


def test_the_result_carries_what_the_figures_need(small_fit, reference):
    templates, V, duration = small_fit
    F, n_fixed = templates.n_components, templates.W.shape[1]
    N = 1 + round(duration * SR) // templates.hop  # the STFT's frames, not the fit's pairs
    assert V.shape[1] == (N + 1) // 2
    np.testing.assert_allclose(np.diff(reference.similarity_times), SECONDS)
    assert reference.similarity_times[0] == 0.0
    assert reference.activations.shape == (F, N) and reference.H.shape[1] == N
    np.testing.assert_allclose(
        reference.activations, reference.H[:n_fixed].reshape(3, F, -1).sum(axis=0), rtol=1e-6
    )
    assert reference.n_fixed == n_fixed and (reference.sr, reference.hop) == (SR, templates.hop)
    np.testing.assert_allclose(
        reference.fixed_part + reference.free_part, reference.W @ reference.H, rtol=1e-4, atol=1e-6
    )
    share = reference.fixed_share
    assert share.shape == (N,) and share.min() >= 0 and share.max() <= 1 + 1e-6
    np.testing.assert_allclose(
        share,
        reference.fixed_part.sum(axis=0)
        / np.maximum((reference.fixed_part + reference.free_part).sum(axis=0), 1e-12),
        rtol=1e-5,
    )


# -- tempo, chops and the knobs of the search, on synthetic features -------------------------


def _played(T, part, ratio, start=100, n_frames=500, seed=1):
    """Noise, plus the sample's frames ``part`` played ``ratio`` times faster from ``start``."""
    played = ALIGNMENT.stretch_time_unchecked(T[:, part[0] : part[1]], ratio)
    X = 0.3 * np.random.default_rng(seed).standard_normal((T.shape[0], n_frames))
    X[:, start : start + played.shape[1]] += played
    return X, played.shape[1]


def _found_at(X, T, ratios, threshold=0.36, activations=None, shifts=(0.0,)):
    match = ALIGNMENT.best_windows([X], T, np.asarray(ratios, dtype=float), WINDOW)
    if activations is None:
        activations = np.ones((len(shifts), 2 * X.shape[1]))
    return SEARCH._find_occurrences(match, [X], [0.0], T, activations, shifts, threshold, SECONDS)


@pytest.mark.parametrize(
    ("true_ratio", "grid", "part"),
    [
        (1.06, [1.0], (0, 200)),  # off the grid: the path's slope finds it
        (0.94, [0.9, 1.0], (60, 160)),  # a chop from the middle, slower
        (1.08, [1.0, 1.1], (80, 200)),  # a chop to the sample's end, faster
    ],
)
def test_the_tempo_ratio_and_the_part_come_from_the_paths_slope(
    sample_rhythm, true_ratio, grid, part
):
    X, length = _played(sample_rhythm, part, true_ratio)
    found = _found_at(X, sample_rhythm, grid)
    assert len(found) == 1
    span, sample_part, ratio, _, _ = found[0]
    # A greedy path of whole-frame steps over ~100-190 frames: its slope is within 1 %.
    assert ratio == pytest.approx(true_ratio, abs=0.01)
    assert abs(span[0] - 100) <= LOCAL and abs(span[1] - (100 + length)) <= LOCAL
    # In frames of the sample itself (not of the resampled one): a few frames, times the ratio.
    assert abs(sample_part[0] - part[0]) <= LOCAL and abs(sample_part[1] - part[1]) <= LOCAL


@pytest.mark.parametrize(("true_ratio", "grid_end"), [(1.35, 1.25), (0.75, 0.8)])
def test_the_tempo_ratio_stays_within_the_limits(sample_rhythm, true_ratio, grid_end):
    X, _ = _played(sample_rhythm, (0, 200), true_ratio)
    (found,) = _found_at(X, sample_rhythm, [grid_end])
    assert found[2] == grid_end == nh.TEMPO_LIMITS[true_ratio > 1]


def test_the_walk_and_trim_levels_and_spans_follow_the_threshold_and_score(
    sample_rhythm, monkeypatch
):
    calls = {"follow_path": [], "_trim": []}
    follow, trim = SEARCH.follow_path, SEARCH._occurrence_extent

    def spy_follow(scores, start, sample_start, level):
        calls["follow_path"].append(level)
        return follow(scores, start, sample_start, level)

    def spy_trim(X, T, ratio, track, sample, window, level, half_width, gap, harmony=None):
        calls["_trim"].append((ratio, window, level, half_width, gap))
        return trim(X, T, ratio, track, sample, window, level, half_width, gap, harmony)

    monkeypatch.setattr(SEARCH, "follow_path", spy_follow)
    monkeypatch.setattr(SEARCH, "_occurrence_extent", spy_trim)
    X, _ = _played(sample_rhythm, (0, 200), 1.06)
    threshold = 0.36
    (found,) = _found_at(X, sample_rhythm, [1.0], threshold)
    score = found[4]
    # Twice per occurrence: at the grid's ratio, then at the ratio the first slope says.
    assert calls["follow_path"] == [0.75 * threshold] * 2
    (first, second) = calls["_trim"]
    gap = round(1.0 / SECONDS)  # one second, in decimated frames
    assert first == (1.0, WINDOW, 0.4 * score, LOCAL, gap)
    assert second[1:] == (WINDOW, 0.4 * score, LOCAL, gap)
    assert second[0] == pytest.approx(1.06, abs=0.01) and found[2] != second[0]


@pytest.mark.parametrize(
    ("window", "seconds", "half"), [(9, SECONDS, LOCAL), (30, 0.0625, 6), (30, 0.5, 1)]
)
def test_the_local_match_spans_about_0_8_s_and_at_least_three_frames(
    sample_rhythm, monkeypatch, window, seconds, half
):
    # Whatever the window: 2 x 8 + 1 = 17 frames of 46 ms (0.79 s); 13 of 62.5 ms (0.81 s,
    # nearer 0.8 s than 11); of 0.5 s frames, three.
    seen = []
    trim = SEARCH._occurrence_extent

    def spy_trim(*args):
        seen.append(args[7])
        return trim(*args)

    monkeypatch.setattr(SEARCH, "_occurrence_extent", spy_trim)
    T = sample_rhythm
    X = _track_with(T, [(100, 1.0)], n_frames=400)
    match = ALIGNMENT.best_windows([X], T, np.array([1.0]), window)
    activations = np.ones((1, 2 * X.shape[1]))
    SEARCH._find_occurrences(match, [X], [0.0], T, activations, (0.0,), 0.9, seconds)
    assert seen and set(seen) == {half}


def test_the_pitch_is_weighed_over_the_occurrences_own_frames(sample_rhythm):
    # Two copies (shifts 0 and 1, one component each): copy 0 is 1 everywhere, copy 1
    # grows with the step, so any other span of steps weighs differently.
    X, _ = _played(sample_rhythm, (0, 200), 1.0)
    n = X.shape[1]
    activations = np.vstack((np.ones(n), np.arange(n, dtype=float)))
    (found,) = _found_at(X, sample_rhythm, [1.0], activations=activations, shifts=(0.0, 1.0))
    span, pitch = found[0], found[3]
    frames = np.arange(span[0], span[1])
    assert pitch == pytest.approx(frames.sum() / (frames.size + frames.sum()))


def test_a_sample_looped_back_to_back_gives_one_occurrence_per_play(sample_rhythm):
    # Three plays with no gap between them: each window more than half inside a found
    # play is set aside, but the next play's own windows stay to be found.
    T = sample_rhythm
    X = _track_with(T, [(100, 1.0), (300, 0.8), (500, 0.9)], n_frames=800)
    match, found = _occurrences(X, T, 0.36)
    assert [round(f[0][0], -1) for f in found] == [100, 500, 300]  # strongest first
    for span, part, *_ in found:
        assert span[1] - span[0] == pytest.approx(200, abs=4)
        assert part[0] == pytest.approx(0, abs=3) and part[1] == pytest.approx(200, abs=3)
    assert [f[4] for f in found] == sorted((f[4] for f in found), reverse=True)
    assert found[0][4] == match.score.max()


def test_a_weaker_window_of_the_same_play_is_not_a_second_occurrence(sample_rhythm):
    # A chop from the middle of the sample: the track windows just before and after
    # it still match the sample's neighbouring frames in part (a third to a half of
    # the window), well above the threshold; not set aside (less than half inside),
    # each traces the same play again and is dropped as the same occurrence.
    # (Played at track frame 300, far from frames 60-160: the track's frames are compared.)
    T = sample_rhythm
    X, _ = _played(T, (60, 160), 1.0, start=300, n_frames=500)
    match = ALIGNMENT.best_windows([X], T, np.array([1.0]), WINDOW)
    assert match.score[300 - WINDOW // 2 - 3] > 0.36  # such a window
    found = _found_at(X, T, [1.0])
    assert len(found) == 1
    span = found[0][0]
    assert abs(span[0] - 300) <= LOCAL and abs(span[1] - 400) <= LOCAL


def test_occurrences_are_the_found_frames_in_seconds_within_both_clips(small_fit, monkeypatch):
    # The search stubbed: what detect_in_spectrogram_unchecked makes of what it finds.
    templates, V, duration = small_fit
    seen = {}
    found = [  # strongest first, as _find_occurrences gives them
        ((50, 200), (10, 70), 1.04, 0.6, 0.9),  # runs past both clips' ends
        ((5, 30), (0, 25), 0.97, -0.8, 0.5),
    ]

    def stub(match, features, pitches, T, activations, shifts, threshold, seconds, harmonies):
        seen.update(match=match, activations=activations, shifts=shifts)
        seen.update(threshold=threshold, seconds=seconds, features=features, pitches=pitches)
        return found

    threads = []
    library_threads = SEARCH.library_threads

    def spy_threads(n_threads):
        threads.append(n_threads)
        return library_threads(n_threads)

    monkeypatch.setattr(SEARCH, "_find_occurrences", stub)
    monkeypatch.setattr(SEARCH, "library_threads", spy_threads)
    # No loop's plays together: at this low threshold they would add plays of their own.
    monkeypatch.setattr(SEARCH, "_loop_evidence", lambda *args: (-np.inf, 0, 1.0, []))
    result = _detect(small_fit, 0.25)
    assert threads == [1]  # the alignment's small products, on one thread
    assert seen["threshold"] == 0.25 and seen["seconds"] == SECONDS
    assert seen["shifts"] == templates.shifts and len(seen["pitches"]) == len(seen["features"])
    # The fit's own activations, on steps: the result's frames added up in pairs.
    fixed = result.H[: result.n_fixed]
    steps = np.add.reduceat(fixed, np.arange(0, fixed.shape[1], 2), axis=1)
    np.testing.assert_allclose(seen["activations"], steps, rtol=1e-6)
    assert seen["activations"].shape == (result.n_fixed, V.shape[1])
    assert seen["match"].window == round(1.0 / SECONDS)  # min_part_s = 1 s
    first, second = result.occurrences  # in track order
    assert first == nh.Occurrence(5 * SECONDS, 30 * SECONDS, 0.0, 25 * SECONDS, 0.97, -0.8, 0.5)
    assert second == nh.Occurrence(
        50 * SECONDS, duration, 10 * SECONDS, templates.duration_s, 1.04, 0.6, 0.9
    )
    assert all(type(value) is float for o in result.occurrences for value in vars(o).values())
    assert result.ranges == ((5 * SECONDS, 30 * SECONDS), (50 * SECONDS, duration))
    # The strongest decides the ratio and the shift: the copy nearest its pitch 0.6.
    assert result.tempo_ratio == 1.04 and result.shift == 1.0


LONE = ((50, 100), (0, 50), 1.0, 0.0, 0.9)
AGAIN = ((100, 150), (0, 50), 1.0, 0.0, 0.5)  # the same part one of its lengths on: a loop


@pytest.mark.parametrize(
    ("searched", "again", "traced"),
    [
        ([LONE], [], [(20, 1), (45, 2), (70, 3)]),  # a lone occurrence: the plays start theirs
        ([LONE, AGAIN], [], []),  # the search's own loop
        ([LONE], [AGAIN], []),  # a loop once the lone one's neighbour is found
    ],
    ids=["lone", "loop found", "loop by its neighbour"],
)
def test_a_loops_plays_together_start_occurrences_unless_the_search_makes_a_loop(
    small_fit, monkeypatch, searched, again, traced
):
    plays = [((20, 1), 0.3), ((45, 2), 0.3), ((70, 3), 0.3)]  # evidence over the threshold
    starts = []

    def occurrence(feature, sample, start, *args):
        starts.append(start)
        return ((start[0], start[0] + 20), (60.0, 80.0), 1.0, 0.0, 0.3)

    monkeypatch.setattr(SEARCH, "_find_occurrences", lambda *args: list(searched))
    monkeypatch.setattr(SEARCH, "_play_again", lambda found, *args: [*found, *again])
    monkeypatch.setattr(SEARCH, "_loop_evidence", lambda *args: (0.9, 0, 1.0, plays))
    monkeypatch.setattr(SEARCH, "_occurrence", occurrence)
    monkeypatch.setattr(SEARCH, "_complete_loops", lambda found, *args: found)
    _detect(small_fit, 0.5)
    assert starts == traced


@pytest.mark.parametrize(("pitch", "shift"), [(-0.6, -1.0), (-0.4, 0.0), (0.3, 0.0), (1.7, 1.0)])
def test_the_shift_is_the_copy_nearest_the_best_occurrences_pitch(
    small_fit, monkeypatch, pitch, shift
):
    best, other = ((0, 20), (0, 20), 1.0, pitch, 0.9), ((30, 50), (0, 20), 1.0, -pitch, 0.8)
    monkeypatch.setattr(SEARCH, "_find_occurrences", lambda *args: [best, other])
    assert _detect(small_fit, 0.25).shift == shift


def test_the_fit_is_split_into_its_fixed_and_free_parts(reference):
    n_fixed = reference.n_fixed
    np.testing.assert_allclose(
        reference.fixed_part, reference.W[:, :n_fixed] @ reference.H[:n_fixed], rtol=1e-6
    )
    np.testing.assert_allclose(
        reference.free_part, reference.W[:, n_fixed:] @ reference.H[n_fixed:], rtol=1e-6
    )


# -- what the alignment is given ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tempo_range", "count"),
    [((0.9, 1.1), 11), ((1.0, 1.01), 2), ((0.9, 0.95), 4), ((0.8, 1.25), 24)],
)
def test_the_ratio_grid_spans_the_range_at_most_a_step_apart(tempo_range, count):
    grid = SEARCH._ratio_grid(tempo_range)
    assert grid[0] == tempo_range[0] and grid[-1] == tempo_range[1]
    # The fewest ratios whose steps are at most 0.02: one fewer would step further.
    assert grid.size == count
    assert np.diff(grid).max() <= 0.02 + 1e-12
    if count > 2:  # two ratios, the range's ends, are the fewest for a range
        assert (tempo_range[1] - tempo_range[0]) / (count - 2) > 0.02


def test_one_tempo_is_one_ratio():
    np.testing.assert_array_equal(SEARCH._ratio_grid((1.0, 1.0)), [1.0])
    np.testing.assert_array_equal(SEARCH._ratio_grid((1.1, 1.1)), [1.1])


def test_the_candidates_are_each_copy_and_each_pair_of_copies_a_semitone_apart_or_less():
    shifts = (0.0, -1.0, 3.0, 1.0, 1.5)  # not in order: pairs are neighbours in pitch
    rng = np.random.default_rng(3)
    activations = rng.random((2 * len(shifts), 40))  # two components a copy
    features, pitches = SEARCH._candidates(activations, shifts, lambda H: SEARCH._rhythm(H, 5))
    # Neighbours in pitch: -1 & 0, 0 & 1, 1 & 1.5 (1.5 & 3 are too far apart).
    assert pitches == [0.0, -1.0, 3.0, 1.0, 1.5, -0.5, 0.5, 1.25]
    blocks = [activations[2 * i : 2 * i + 2] for i in range(len(shifts))]
    expected = [*blocks, blocks[1] + blocks[0], blocks[0] + blocks[3], blocks[3] + blocks[4]]
    assert len(features) == len(expected)
    for feature, block in zip(features, expected, strict=True):
        np.testing.assert_allclose(feature, SEARCH._rhythm(block, 5))


def _templates(n_frames, hop=512):
    F = 2
    H = np.random.default_rng(4).random((F, n_frames)).astype(np.float32)
    W = np.full((hop * 2 // 2 + 1, F), 1.0 / (hop + 1), dtype=np.float32)
    return DETECTION.SampleTemplates(W, H, (0.0,), SR, 2 * hop, hop, n_frames * hop)


@pytest.mark.parametrize(
    ("sample_frames", "track_frames", "tempo_high", "window"),
    [
        (400, 300, 1.1, 54),  # min_part_s: 2.5 s is 54 steps
        (400, 40, 1.1, 40),  # the track: 40 steps (the fit's frames are steps)
        (
            100,
            300,
            1.1,
            45,
        ),  # the sample (100 frames, 50 steps) at the fastest ratio: floor(49 / 1.1) + 1
        (100, 300, 1.0, 50),  # the sample at its own tempo
        (400, 1, 1.1, 1),  # a track of one step: a window of one
    ],
)
def test_the_window_is_the_part_searched_for_unless_a_clip_is_shorter(
    sample_frames, track_frames, tempo_high, window
):
    templates = _templates(sample_frames)
    fixed_H = np.random.default_rng(5).random((2, track_frames))
    T, features, pitches, got, seconds = SEARCH._alignment_inputs(
        templates, fixed_H, (0.9, tempo_high), 2.5
    )
    assert seconds == SECONDS and got == window
    # The detrending average spans 0.3 s, an odd number of frames: round(0.3 / seconds) | 1.
    width = round(0.3 / SECONDS) | 1
    assert width == 7
    np.testing.assert_allclose(T, SEARCH._rhythm(SEARCH._decimate(templates.H), width))
    assert pitches == [0.0] and len(features) == 1
    np.testing.assert_allclose(features[0], SEARCH._rhythm(fixed_H, width))


@pytest.mark.parametrize(
    ("edge", "offset", "walked"),
    [(0, -1, True), (0, 0, False), (1, 0, False), (1, 1, True)],
)
def test_windows_at_least_half_inside_a_found_play_are_set_aside(
    sample_rhythm, monkeypatch, edge, offset, walked
):
    # One play of the whole sample: no window outside it reaches the threshold. A bait
    # window is given the threshold's score just outside (walked from: its path is
    # followed, twice) or just inside (set aside: never walked) the window starts that
    # lie at least half inside the play found.
    T = sample_rhythm
    X = _track_with(T, [(100, 1.0)], n_frames=400)
    match, ((span, *_),) = _occurrences(X, T, 0.36)
    walks = []
    follow = SEARCH.follow_path

    def spy(*args):
        walks.append(args[1])
        return follow(*args)

    monkeypatch.setattr(SEARCH, "follow_path", spy)
    _occurrences(X, T, 0.36)
    assert len(walks) == 2  # the play itself, at two ratios
    bait = span[edge] - WINDOW // 2 + offset
    score = match.score.copy()
    score[bait] = 0.36
    baited = dataclasses.replace(match, score=score)
    walks.clear()
    SEARCH._find_occurrences(baited, [X], [0.0], T, np.ones((1, 800)), (0.0,), 0.36, SECONDS)
    assert len(walks) == (4 if walked else 2)


def test_a_coarse_hop_still_detrends_over_at_least_one_frame():
    # 2 x 4096 / 22050 = 0.37 s a decimated frame: 0.3 s rounds to one frame.
    templates = _templates(100, hop=4096)
    fixed_H = np.random.default_rng(5).random((2, 100))
    T, _, _, window, seconds = SEARCH._alignment_inputs(templates, fixed_H, (1.0, 1.0), 2.5)
    assert round(0.3 / seconds) == 1 and window == round(2.5 / seconds)
    np.testing.assert_allclose(T, SEARCH._rhythm(SEARCH._decimate(templates.H), 1))


def test_the_spectrogram_core_defaults_are_detect_samples(small_fit, capsys):
    core = inspect.signature(DETECTION.detect_in_spectrogram_unchecked).parameters
    public = inspect.signature(nh.detect_sample).parameters
    shared = set(core) & set(public) - {"sample", "track"}
    assert shared == {"n_free", "n_iter", "threshold", "seed", "progress", "tempo_range"} | {
        "min_part_s"
    }
    # Called without them, it does what detect_sample's defaults say (on 2.3 s of track).
    templates, V, _ = small_fit
    V, duration = V[:, :100], 100 * templates.hop / SR
    capsys.readouterr()
    implicit = DETECTION.detect_in_spectrogram_unchecked(templates, V, duration)
    assert capsys.readouterr().err == ""  # no progress bar unless asked for
    explicit = DETECTION.detect_in_spectrogram_unchecked(
        templates, V, duration, **{name: public[name].default for name in shared}
    )
    np.testing.assert_array_equal(implicit.H, explicit.H)
    assert (implicit.score, implicit.threshold) == (explicit.score, explicit.threshold)
    assert implicit.occurrences == explicit.occurrences
    np.testing.assert_array_equal(implicit.similarity, explicit.similarity)


def test_a_weaker_window_leading_to_a_found_play_is_dropped_and_the_search_goes_on(
    sample_rhythm,
):
    # A chop from the middle of the sample, played twice. A window just before the
    # first play's set-aside windows, on its diagonal, is made to score between the two
    # plays: whatever it traces (a few frames of the first play), the second play is
    # still found after it.
    T = sample_rhythm
    X, _ = _played(T, (60, 160), 1.0, n_frames=800)
    X[:, 500:600] += 0.5 * T[:, 60:160]
    match = ALIGNMENT.best_windows([X], T, np.array([1.0]), WINDOW)
    (first, *_), (second, *_) = found = _found_at(X, T, [1.0])
    bait = first[0] - WINDOW // 2 - 1
    score, sample_start = match.score.copy(), match.sample_start.copy()
    score[bait] = (found[0][4] + found[1][4]) / 2
    sample_start[bait] = 60 - (first[0] - bait)
    baited = dataclasses.replace(match, score=score, sample_start=sample_start)
    again = SEARCH._find_occurrences(
        baited, [X], [0.0], T, np.ones((1, 1600)), (0.0,), 0.36, SECONDS
    )
    assert again[0][0] == first and again[-1][0] == second


def test_a_window_seen_at_the_samples_end_is_followed_at_the_new_ratio(sample_rhythm):
    # The whole sample played 8 % faster from track frame 100; the search starts from
    # the window that ends with the sample (its last start at ratio 1), which at the
    # faster ratio lies past the resampled sample's last start and is held there.
    T = sample_rhythm
    X, length = _played(T, (0, 200), 1.08)
    match = ALIGNMENT.best_windows([X], T, np.array([1.0]), WINDOW)
    last = T.shape[1] - WINDOW
    t = 100 + round(last / 1.08)
    score = match.score.copy()
    score[t] = 1.0
    sample_start = match.sample_start.copy()
    sample_start[t] = last
    seeded = dataclasses.replace(match, score=score, sample_start=sample_start)
    found = SEARCH._find_occurrences(
        seeded, [X], [0.0], T, np.ones((1, 1000)), (0.0,), 0.36, SECONDS
    )
    span, part, ratio, _, _ = found[0]
    assert ratio == pytest.approx(1.08, abs=0.01)
    assert abs(span[0] - 100) <= LOCAL and abs(span[1] - (100 + length)) <= LOCAL


def test_the_part_is_the_tracks_frames_times_the_ratio(sample_rhythm):
    # Played at the sample's own tempo the path is the diagonal: the part of the sample
    # lasts exactly as many frames as the occurrence, times the ratio (1).
    T = sample_rhythm
    X, _ = _played(T, (40, 180), 1.0)
    ((span, part, ratio, _, _),) = _found_at(X, T, [1.0])
    assert part[1] - part[0] == pytest.approx((span[1] - span[0]) * ratio, abs=1e-6)
    assert ratio == pytest.approx(1.0, abs=1e-6)


def test_a_play_from_the_tracks_first_frame_sets_aside_its_first_window(sample_rhythm, monkeypatch):
    # The whole sample from track frame 0: every window of it, the very first included,
    # lies inside the play found, so the play is walked from once (at two ratios).
    T = sample_rhythm
    X = _track_with(T, [(0, 1.0)], n_frames=300)
    match = ALIGNMENT.best_windows([X], T, np.array([1.0]), WINDOW)
    assert match.score[0] > 0.36 and match.score.argmax() != 0
    walks = []
    follow = SEARCH.follow_path

    def spy(*args):
        walks.append(args[1])
        return follow(*args)

    monkeypatch.setattr(SEARCH, "follow_path", spy)
    ((span, *_),) = _found_at(X, T, [1.0])
    assert span[0] == 0 and len(walks) == 2


@pytest.mark.parametrize("step", [0, 2])
def test_two_frames_are_too_few_for_a_slope_and_keep_the_grids_ratio(sample_rhythm, step):
    # A track of two decimated frames (the shortest detect_sample takes is one window of
    # 2048 samples: two), the sample's frames 50 and 50 + step: the path steps 0 or 2
    # frames of the sample, but two points are too few to measure a tempo by.
    T = sample_rhythm
    X = T[:, [50, 50 + step]]
    match = ALIGNMENT.best_windows([X], T, np.array([1.0]), 1)
    found = SEARCH._find_occurrences(match, [X], [0.0], T, np.ones((1, 4)), (0.0,), 0.9, SECONDS)
    assert found and all(ratio == 1.0 for _, _, ratio, _, _ in found)


def test_three_frames_give_a_slope(sample_rhythm):
    # The sample's frames 50, 52, 54: two sample frames a track frame, measured (and
    # held at the fastest ratio allowed).
    T = sample_rhythm
    X = T[:, [50, 52, 54]]
    match = ALIGNMENT.best_windows([X], T, np.array([1.0]), 1)
    found = SEARCH._find_occurrences(match, [X], [0.0], T, np.ones((1, 6)), (0.0,), 0.9, SECONDS)
    assert found[0][2] == nh.TEMPO_LIMITS[1]


# -- _trim's rule frame by frame, and the search's bookkeeping with _trim stubbed -----------

# Track frames against a sample whose frames are all SAMPLE: one frame's cosine is 1 (ON), 0
# (OFF) or exactly 0.6 (AT: 15 / 25, in integers).
SAMPLE, ON, OFF, AT = (5.0, 0.0), (5.0, 0.0), (0.0, 5.0), (3.0, 4.0)
GAP = 4


def _line(*runs):
    """Track and sample features from runs of ``(frames, track frame[, sample frame])``."""
    runs = [run if len(run) == 3 else (*run, SAMPLE) for run in runs]
    X = np.concatenate([np.tile(np.array(x)[:, None], n) for n, x, _ in runs], axis=1)
    T = np.concatenate([np.tile(np.array(y)[:, None], n) for n, _, y in runs], axis=1)
    return X, T


def _ends(X, T, level, half_width=0, path=None, offset=0, harmony=None):
    """First and last track frames ``_trim`` keeps along the diagonal ``sample = track + offset``.

    The path is ``path`` (every track frame when None), a window of one frame; ``harmony``
    is ``_trim``'s.
    """
    track = np.arange(X.shape[1]) if path is None else np.asarray(path)
    frames_t, frames_a, _ = SEARCH._occurrence_extent(
        X, T, 1.0, track, track + offset, 1, level, half_width, GAP, harmony
    )
    np.testing.assert_array_equal(frames_a, frames_t + offset)
    return int(frames_t[0]), int(frames_t[-1])


@pytest.mark.parametrize("run", [GAP, GAP + 1])
def test_a_run_of_gap_frames_under_the_level_is_bridged_and_one_more_ends_it(run):
    # A span of one frame: the local match is each frame's own cosine. The best frame (ON) has
    # a run under the level right after it; before it, frames at the level (AT, 0.6 > 0.5),
    # then the same run, then more of them. Ten frames under the level end both sides.
    X, T = _line((10, OFF), (5, AT), (run, OFF), (5, AT), (1, ON), (run, OFF), (5, AT), (10, OFF))
    best = 20 + run
    if run == GAP:  # bridged on both sides, whether a frame at the level came before or not
        assert _ends(X, T, 0.5) == (10, best + run + 5)
    else:
        assert _ends(X, T, 0.5) == (best - 5, best)


@pytest.mark.parametrize(
    ("harmony_level", "first"), [(0.6, 0), (float(np.nextafter(0.6, 1.0)), 10)]
)
def test_frames_whose_harmony_matches_hold_the_occurrence_though_their_rhythm_does_not(
    monkeypatch, harmony_level, first
):
    # The rhythm matches frames 10-19 only; the harmony matches frames 0-9 at exactly 0.6
    # (AT) as well, then nothing. At a harmony level of 0.6 the occurrence grows over them;
    # just above it, it does not. Neither grows it over frames 20-29.
    monkeypatch.setattr(SEARCH, "_HARMONY_LEVEL", harmony_level)
    X, T = _line((10, OFF), (10, ON), (10, OFF))
    chords, sample_chords = _line((10, AT), (10, ON), (10, OFF))
    assert _ends(X, T, 0.5, path=np.arange(10, 20), harmony=(chords, sample_chords)) == (
        first,
        19,
    )
    assert _ends(X, T, 0.5, path=np.arange(10, 20)) == (10, 19)  # without harmonies


def test_a_harmony_is_which_components_sound_against_each_other_whatever_the_frames_gain():
    rng = np.random.default_rng(6)
    H = rng.random((5, 30))
    got = SEARCH._harmony(H)
    np.testing.assert_allclose(got, np.sqrt(H) - np.sqrt(H).mean(axis=0))
    gains = rng.uniform(0.1, 10.0, 30)  # a fade, frame by frame
    np.testing.assert_allclose(SEARCH._harmony(H * gains), got * np.sqrt(gains))


def test_the_harmonies_are_the_full_searchs_candidates_in_their_order():
    shifts = (0.0, -1.0, 1.0)
    n_frames = 40
    H = np.random.default_rng(7).random((2, n_frames)).astype(np.float32)
    W = np.ones((3, 2), np.float32)
    templates = DETECTION.SampleTemplates(W, H, shifts, SR, 1024, 512, n_frames * 512)
    fixed_H = np.random.default_rng(8).random((2 * len(shifts), 25))
    harmonies = SEARCH._harmonies(templates, fixed_H)
    _, pitches = SEARCH._candidates(fixed_H, shifts, SEARCH._harmony)
    assert pitches == [0.0, -1.0, 1.0, -0.5, 0.5] and len(harmonies.track) == len(pitches)
    blocks = [fixed_H[2 * i : 2 * i + 2] for i in range(len(shifts))]
    for got, block in zip(harmonies.track, [*blocks, blocks[1] + blocks[0], blocks[0] + blocks[2]],
                          strict=True):  # fmt: skip
        np.testing.assert_allclose(got, SEARCH._harmony(block))
    np.testing.assert_allclose(harmonies.sample, SEARCH._harmony(SEARCH._decimate(H)))
    track, sample = harmonies.of(3)
    assert track is harmonies.track[3] and sample is harmonies.sample


def test_a_frame_exactly_at_the_level_is_inside():
    X, T = _line((10, OFF), (1, ON), (3, AT), (10, OFF))
    assert _ends(X, T, 0.6) == (10, 13)


@pytest.mark.parametrize(("sample_after", "last"), [(0, 22), (5, 19)])
def test_a_dip_at_the_lines_end_is_kept_only_where_the_sample_ends_there(sample_after, last):
    # Three frames under the level end the line (fewer than the gap). Where the sample ends
    # with the track they are its own tail; where it goes on past the track's end, the
    # occurrence ends with its last match (the track stops while the sample still plays).
    X, T = _line((10, OFF), (10, ON), (3, OFF))
    T = np.concatenate((T, np.tile(np.array(SAMPLE)[:, None], sample_after)), axis=1)
    assert _ends(X, T, 0.5) == (10, last)


def test_a_dip_before_the_first_match_is_not_kept_where_the_sample_starts_there():
    # Track frame 5 plays the sample's first frame; the match starts at frame 8, three
    # frames (fewer than the gap) later. A sample's start does not ring out: those frames
    # are a chop's start not yet playing, so the occurrence starts at the match.
    X, _ = _line((8, OFF), (10, ON), (10, OFF))
    T = np.tile(np.array(SAMPLE)[:, None], 23)
    assert _ends(X, T, 0.5, path=np.arange(8, 18), offset=-5) == (8, 17)


def test_the_best_path_frame_is_kept_below_the_level_and_grows_from_its_neighbours():
    # The path (frames 10-19) matches under the level 0.7 everywhere, best at frame 15 (AT);
    # a frame of the line's extension at 15 + GAP + 1 reaches it: GAP frames apart, it joins.
    X, T = _line((15, OFF), (1, AT), (GAP, OFF), (1, ON), (10, OFF))
    assert _ends(X, T, 0.7, path=np.arange(10, 20)) == (15, 15 + GAP + 1)


@pytest.mark.parametrize(("rest", "last"), [((0.0, 1.0), 35), ((0.0, 2.5), 19)])
def test_a_rest_in_the_sample_neither_ends_nor_extends_an_occurrence(rest, last):
    # The sample rests for GAP + 2 frames (the track does not match there) between two
    # matched stretches. Frames where the sample's energy is under a quarter of the path's
    # median (25) are skipped; at exactly a quarter (2.5 ** 2 = 6.25) they count, and the
    # run under the level ends the occurrence.
    X, T = _line((10, OFF), (10, ON), (GAP + 2, ON, rest), (10, ON), (10, OFF))
    assert _ends(X, T, 0.5) == (10, last)


def test_a_held_chord_whose_harmony_matches_extends_the_occurrence_though_its_rhythm_is_still():
    # The sample's rhythm is still for GAP + 2 frames after the matched stretch (frames
    # skipped by the rhythm alone, which ends the occurrence at 19); its harmony matches
    # there, so they count: the occurrence runs to their end.
    rest = (0.0, 1.0)
    X, T = _line((10, OFF), (10, ON), (GAP + 2, OFF, rest), (10, OFF))
    chords, sample_chords = _line((10, OFF), (10, ON), (GAP + 2, ON), (10, OFF))
    assert _ends(X, T, 0.5) == (10, 19)
    assert _ends(X, T, 0.5, harmony=(chords, sample_chords)) == (10, 19 + GAP + 2)


def test_a_rest_the_track_matches_by_chance_does_not_anchor_the_occurrence():
    # The sample's only stretch the track matches exactly (cosine 1) is a rest: the
    # occurrence grows from the best frame where the sample plays (AT, frames 10-19).
    rest = (0.0, 1.0)
    X, T = _line((10, OFF), (10, AT), (10, OFF), (4, rest, rest), (10, OFF))
    assert _ends(X, T, 0.5) == (10, 19)


def test_with_a_three_frame_span_the_ends_are_the_first_and_last_matched_frames():
    # Frames equal to the sample or orthogonal to it, all as loud: the local match is the
    # share of matched frames in the span. Level 0.45: two of three in, one of three out.
    X, T = _line((10, OFF), (20, ON), (15, OFF))
    assert _ends(X, T, 0.45, half_width=1) == (10, 29)


@pytest.mark.parametrize(("level", "first"), [(0.45, 0), (0.6, 1)])
def test_at_the_tracks_first_frame_the_span_holds_only_the_frames_there(level, first):
    # The track starts 5 frames into the sample (so the track's start, not the sample's,
    # stops the line). Its frames: matched, not, then 18 matched. The span of three frames
    # around the first holds two: a cosine of 1/2 (in at 0.45, out at 0.6); the next, 2/3.
    X, T = _line((1, ON), (1, OFF), (18, ON), (15, OFF))
    T = np.concatenate((np.tile(np.array(SAMPLE)[:, None], 5), T), axis=1)
    assert _ends(X, T, level, half_width=1, offset=5) == (first, 19)


def _search_stubbed(T, windows, answers, monkeypatch, starts=None):
    """``_find_occurrences`` over noise, from the windows ``{track window: score}`` only.

    ``_trim`` answers each call with the next ``(track frames, sample frames, on path)`` of
    ``answers``; the threshold is 0.5, the grid one ratio (1). ``starts`` gives windows'
    sample starts ``{track window: sample start}``.
    """
    X = _track_with(T, [], n_frames=900)
    match = ALIGNMENT.best_windows([X], T, np.array([1.0]), WINDOW)
    score = np.zeros_like(match.score)
    score[list(windows)] = list(windows.values())
    sample_start = match.sample_start.copy()
    sample_start[list(starts or {})] = list((starts or {}).values())
    match = dataclasses.replace(match, sample_start=sample_start)
    answers = iter(answers)
    monkeypatch.setattr(SEARCH, "_occurrence_extent", lambda *args: next(answers))
    return SEARCH._find_occurrences(
        dataclasses.replace(match, score=score),
        [X],
        [0.0],
        T,
        np.ones((1, 2 * X.shape[1])),
        (0.0,),
        0.5,
        SECONDS,
    )


def _diagonal(start, end):
    frames = np.arange(start, end)
    return frames, frames - start, np.ones(frames.size, bool)


def test_a_stretch_sharing_exactly_half_is_an_occurrence_of_its_own(sample_rhythm, monkeypatch):
    # Four windows over the threshold, each traced (in both passes) to the stretch given,
    # away from the window itself: the second shares 51 of the first's 100 frames (the
    # same occurrence, dropped), the third exactly 50 (its own), the fourth none. The
    # search goes on after the dropped one and after windows whose stretch lies elsewhere.
    windows = {100: 0.9, 300: 0.8, 500: 0.7, 700: 0.6}
    stretches = [(100, 200), (149, 249), (150, 250), (600, 700)]
    answers = [_diagonal(*stretch) for stretch in stretches for _ in range(2)]
    found = _search_stubbed(sample_rhythm, windows, answers, monkeypatch)
    assert [f[0] for f in found] == [(100, 200), (150, 250), (600, 700)]


def test_a_trace_reaching_a_window_further_takes_the_place_of_the_occurrences_it_repeats(
    sample_rhythm, monkeypatch
):
    # Six windows, each traced to the stretch given. The second covers the first and is
    # longer by a whole window: it takes the first's place, with the first's score. The
    # fourth covers the third and is one frame short of that: dropped. The sixth repeats
    # the second and the fifth at once and is longer than both by a window: one occurrence
    # in the second's place, with the best score of the two.
    windows = {100: 0.9, 300: 0.85, 500: 0.8, 600: 0.75, 720: 0.7, 800: 0.65}
    stretches = [
        (100, 200),
        (60, 140 + WINDOW),
        (400, 500),
        (390, 489 + WINDOW),
        (240, 300),
        (60, 300 + WINDOW),
    ]
    answers = [_diagonal(*stretch) for stretch in stretches for _ in range(2)]
    found = _search_stubbed(sample_rhythm, windows, answers, monkeypatch)
    assert [(f[0], f[4]) for f in found] == [((60, 300 + WINDOW), 0.9), ((400, 500), 0.8)]


def test_the_slope_is_measured_on_the_paths_frames_not_the_lines_extensions(
    sample_rhythm, monkeypatch
):
    # The first pass's path: 20 track frames stepping 1.1 sample frames each, extended
    # 100 frames each way along the line (a frame per frame, as _trim extends it); the
    # second pass, at the corrected ratio, a diagonal. The ratio is the grid's (1) times
    # the path frames' least-squares slope, about 1.1 (over the whole line: 1.01).
    path = np.round(1.1 * np.arange(20)).astype(int) + 100
    frames_t = np.arange(200, 420)
    on_path = (frames_t >= 300) & (frames_t < 320)
    line = np.concatenate((np.arange(0, 100), path, path[-1] + np.arange(1, 101)))
    answers = [(frames_t, line, on_path), (frames_t, np.arange(220), on_path)]
    ((_, _, ratio, _, _),) = _search_stubbed(sample_rhythm, {300: 0.9}, answers, monkeypatch)
    assert ratio == pytest.approx(np.polyfit(np.arange(20), path, 1)[0], abs=1e-9)
    assert ratio == pytest.approx(1.1, abs=0.01)


@pytest.mark.parametrize(
    ("path", "over_path"),
    [([30, 32], False), ([30, 31, 33], True)],  # two path frames, then three
)
def test_with_two_path_frames_kept_the_slope_is_measured_on_every_kept_frame(
    sample_rhythm, monkeypatch, path, over_path
):
    # The trim keeps 30 frames of the line's extension (a frame per frame) and the path's
    # last frames, steep. Three path frames give the slope (1.5, held at the fastest ratio
    # allowed); two are too few and every kept frame is fitted. The second pass: a diagonal.
    frames_t = np.arange(100, 130 + len(path))
    frames_a = np.concatenate((np.arange(30), path))
    on_path = frames_t >= 130
    answers = [(frames_t, frames_a, on_path), (frames_t, frames_t - 100, on_path)]
    ((_, _, ratio, _, _),) = _search_stubbed(sample_rhythm, {300: 0.9}, answers, monkeypatch)
    if over_path:
        assert ratio == pytest.approx(nh.TEMPO_LIMITS[1], abs=1e-9)
    else:
        assert ratio == pytest.approx(np.polyfit(frames_t, frames_a, 1)[0], abs=1e-9)
        assert ratio > 1.001


def test_a_stretch_shorter_than_half_a_window_at_the_tracks_start_sets_no_window_aside(
    sample_rhythm, monkeypatch
):
    # The first window's stretch is the track's frames 0-4: window 0 has 5 of its 20 frames
    # in it, so it is still searched from (and traced elsewhere).
    answers = [_diagonal(0, 5)] * 2 + [_diagonal(400, 500)] * 2
    found = _search_stubbed(sample_rhythm, {3: 0.9, 0: 0.8}, answers, monkeypatch)
    assert [f[0] for f in found] == [(0, 5), (400, 500)]


@pytest.mark.parametrize(
    ("t", "start", "peaks", "walk"),
    [
        (0, 50, {0: 1.0, 1: 0.9}, (0, 50)),  # the track's first window is one of them
        (300, 50, {303: 1.0, 302: 0.9}, (302, 50)),  # two windows after, not three
        (300, 180, {300: 1.0}, (300, 180)),  # from the sample's last window start
    ],
)
def test_the_walk_starts_from_the_best_window_within_two_of_the_found_one(
    sample_rhythm, monkeypatch, t, start, peaks, walk
):
    # Window scores stubbed: zero but for ``peaks`` in the found window's sample start.
    walks = []

    def window_scores(X, T, ratio, window):
        scores = np.zeros((X.shape[1] - window + 1, T.shape[1] - window + 1))
        scores[list(peaks), start] = list(peaks.values())
        return scores

    def follow_path(scores, t_best, a, level):
        walks.append((t_best, a))
        return np.array([t_best]), np.array([a])

    monkeypatch.setattr(SEARCH, "window_scores", window_scores)
    monkeypatch.setattr(SEARCH, "follow_path", follow_path)
    answers = [_diagonal(t, t + 100)] * 2
    _search_stubbed(sample_rhythm, {t: 0.9}, answers, monkeypatch, starts={t: start})
    assert walks == [walk, walk]


def test_the_fit_shows_a_progress_bar_when_asked_for(small_fit, capsys):
    templates, V, _ = small_fit
    capsys.readouterr()
    DETECTION.detect_in_spectrogram_unchecked(
        templates, V[:, :100], 100 * templates.hop / SR, n_iter=3, progress=True
    )
    assert "detect_sample" in capsys.readouterr().err


def test_the_shared_checks_name_the_value_as_the_caller_calls_it():
    """name= (and ends= for a tempo range's ratios); by default the library's argument."""
    from nmf_helpers.detection import settings

    def message(check, *args, **names) -> str:
        with pytest.raises(nh.ParameterError) as caught:
            check("cmd", *args, **names)
        return str(caught.value)

    assert message(settings.check_min_part, 0.5) == (
        "cmd: min_part_s must be between 1.0 and 600.0, got 0.5"
    )
    assert message(settings.check_min_part, 0.5, name="--min-part") == (
        "cmd: --min-part must be between 1.0 and 600.0, got 0.5"
    )
    assert message(settings.check_part, 1.0, 2.5).endswith("a smaller min_part_s (at least 1 s)")
    assert message(settings.check_part, 1.0, 2.5, name="--min-part").endswith(
        "a smaller --min-part (at least 1 s)"
    )
    assert message(settings.check_tempo_range, (0.5, 1.0)) == (
        "cmd: tempo_range[0] must be between 0.8 and 1.25, got 0.5"
    )
    ends = ("--tempo-range LOW", "--tempo-range HIGH")
    assert message(settings.check_tempo_range, (0.9, 2.0), name="--tempo-range", ends=ends) == (
        "cmd: --tempo-range HIGH must be between 0.8 and 1.25, got 2.0"
    )
    assert message(settings.check_tempo_range, (1.1, 0.9), name="--tempo-range") == (
        "cmd: --tempo-range must be (low, high) with low <= high, got (1.1, 0.9)"
    )
    assert message(settings.check_tempo_range, 1.0, name="--tempo-range") == (
        "cmd: --tempo-range must be two ratios (low, high), got 1.0"
    )


def test_the_sample_rate_and_the_first_pass_defaults_are_one_constant_each():
    """settings holds them; the doors' defaults are written as those names, never as numbers."""
    import ast

    from nmf_helpers.detection import door, learning, scan, settings

    assert scan.SR == settings.SAMPLE_RATE  # the old name, kept
    assert (scan.SCREEN_ITERATIONS, scan.SCREEN_RATIOS) == (
        settings.SCREEN_ITERATIONS,
        settings.SCREEN_RATIOS,
    )
    named = {"sr": "SAMPLE_RATE", "n_iter": "SCREEN_ITERATIONS", "n_ratios": "SCREEN_RATIOS"}
    wanted = {
        (door, "detect_sample"): ["sr"],
        (learning, "learn_sample"): ["sr"],
        (door, "coarse_score_unchecked"): ["n_iter", "n_ratios"],
    }
    for (module, function), arguments in wanted.items():
        tree = ast.parse(inspect.getsource(getattr(module, function)))
        args = tree.body[0].args
        defaults = dict(zip([a.arg for a in args.kwonlyargs], args.kw_defaults, strict=True))
        for argument in arguments:
            default = defaults[argument]
            assert not isinstance(default, ast.Constant), (function, argument)
            assert ast.unparse(default).endswith(named[argument]), (function, argument)
            signature = inspect.signature(getattr(module, function))
            assert signature.parameters[argument].default == getattr(settings, named[argument])
