"""The alignment of activation sequences (nmf_helpers/detection/alignment.py) and its figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import nmf_helpers as nh
from nmf_helpers.detection import alignment


def test_diagonal_window_sums_match_the_definition():
    P = np.random.default_rng(0).standard_normal((23, 11))
    for window in (1, 4, 11):
        expected = np.array(
            [
                [sum(P[t + k, a + k] for k in range(window)) for a in range(11 - window + 1)]
                for t in range(23 - window + 1)
            ]
        )
        np.testing.assert_allclose(alignment.diagonal_window_sums(P, window), expected)


@pytest.mark.parametrize("ratio", [0.9, 1.0, 1.07])
def test_the_best_sample_window_of_each_track_window_is_the_rows_best_score(ratio):
    """Made without the matrix of scores, the same values, and the first of equal ones."""
    rng = np.random.default_rng(2)
    track, sample = rng.standard_normal((5, 90)), rng.standard_normal((5, 40))
    scores = alignment.window_scores(track, sample, ratio, 12)
    match = alignment.best_windows([track], sample, [ratio], 12)
    values, where = match.score, match.sample_start
    np.testing.assert_array_equal(where, scores.argmax(axis=1))
    np.testing.assert_array_equal(values, scores.max(axis=1))
    flat = np.ones((2, 30))  # every window alike: ties everywhere
    assert not alignment.best_windows([flat], flat, [1.0], 5).sample_start.any()


def _best(track, sample, stride):
    match = alignment.best_windows([track], sample, [1.0], 12, stride)
    return match.score, match.sample_start


def test_a_stride_scores_every_stride_th_track_window_only():
    rng = np.random.default_rng(3)
    track, sample = rng.standard_normal((5, 90)), rng.standard_normal((5, 40))
    every, where = _best(track, sample, stride=1)
    values, strided_where = _best(track, sample, stride=4)
    np.testing.assert_array_equal(values[::4], every[::4])
    np.testing.assert_array_equal(strided_where[::4], where[::4])
    assert np.all(np.isneginf(np.delete(values, np.arange(0, values.size, 4))))
    match = alignment.best_windows([track, -track], sample, [0.95, 1.0], 12, stride=4)
    assert np.all(np.isneginf(np.delete(match.score, np.arange(0, values.size, 4))))


@pytest.mark.parametrize("ratio", [0.9, 1.0, 1.07])
def test_a_few_sample_windows_score_as_the_whole_matrixs_columns(ratio):
    rng = np.random.default_rng(0)
    track, sample = rng.standard_normal((5, 120)), rng.standard_normal((5, 70))
    full = alignment.window_scores(track, sample, ratio, 15)
    last = full.shape[1]
    for first, stop in [(0, 3), (4, 9), (last - 2, last), (0, last)]:  # both ends, and all
        np.testing.assert_allclose(
            alignment.window_scores_at(track, sample, ratio, 15, first, stop),
            full[:, first:stop],
            atol=1e-12,
        )


def test_stretch_time_reads_every_ratio_frames():
    T = np.arange(10.0)[None, :] * np.array([[1.0], [2.0]])
    faster = alignment.stretch_time_unchecked(T, 1.5)
    np.testing.assert_allclose(faster[0], [0, 1.5, 3, 4.5, 6, 7.5, 9])
    np.testing.assert_allclose(faster[1], 2 * faster[0])
    assert alignment.stretch_time_unchecked(T, 0.5).shape == (2, 19)


def test_a_stretched_part_is_found_where_it_was_put_at_its_ratio():
    """A random 'sample'; the track plays frames 30..70 of it 1.25 times faster from frame 50."""
    rng = np.random.default_rng(1)
    T = rng.standard_normal((6, 100))
    X = 0.3 * rng.standard_normal((6, 150))
    part = alignment.stretch_time_unchecked(T[:, 30:71], 1.25)
    X[:, 50 : 50 + part.shape[1]] += part
    match = alignment.best_windows([X], T, [1.0, 1.25, 1.5], window=20)
    t = int(match.score.argmax())
    assert match.ratio[t] == 1.25
    assert 50 <= t <= 50 + part.shape[1] - 20
    # The matched window's place in the sample, back in frames of the sample.
    assert match.sample_start[t] * 1.25 == pytest.approx(30 + (t - 50) * 1.25, abs=1.5)
    assert match.score[t] > 0.9 > np.median(match.score)


def test_follow_path_bends_to_stay_on_a_match_and_stops_where_it_ends():
    scores = np.full((40, 40), -1.0)
    path = [(10 + k, 5 + k + k // 10) for k in range(20)]  # slope a little over 1
    for t, a in path:
        scores[t, a] = 0.8
    track, sample = alignment.follow_path(scores, 15, 10, level=0.5)
    assert list(zip(track.tolist(), sample.tolist(), strict=True)) == path


def test_plot_alignment_draws_one_line_per_occurrence():
    chops = (
        nh.Occurrence(1.0, 3.5, 2.0, 4.7, 1.08, 0.0, 0.6),
        nh.Occurrence(3.5, 6.0, 2.0, 4.7, 1.08, 0.0, 0.55),
    )

    class Result:
        activations = np.ones((4, 300))
        sr, hop = 22050, 512
        occurrences = chops

    ax = nh.plot_alignment(Result(), sample_duration_s=8.9, title="chops")
    twin = ax.figure.axes[-1]
    lines = twin.get_lines()
    assert len(lines) == 2
    np.testing.assert_allclose(lines[1].get_xydata(), [[3.5, 2.0], [6.0, 4.7]])
    assert twin.get_ylim() == (0.0, 8.9)
    assert ax.get_title() == "chops"
    plt.close(ax.figure)
