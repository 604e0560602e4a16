"""Sample detection: decisions, ranges, gain and pitch robustness, and bad inputs."""

from __future__ import annotations

import dataclasses
import importlib
import json

import matplotlib

matplotlib.use("Agg")

import librosa
import matplotlib.pyplot as plt
import numpy as np
import pytest
import scipy.signal

import nmf_helpers as nh
from nmf_helpers import ParameterError, detection

N_ITER = 100  # the default: a fit of fewer iterations places a sped-up record's pitch less well
SR = 22050


def load(name: str) -> np.ndarray:
    return nh.load_audio(nh.clip_path(name), sr=SR)[0]


def activations_only(templates):
    """``templates`` without the sample's waveform: what the activations' search alone finds.

    These tests are about that search; an exact copy is found first by its waveform
    (``detection/copies.py``, tested in test_detection_copies.py) and would hide it.
    """
    return dataclasses.replace(templates, white=None)


@pytest.fixture(scope="module")
def templates():
    return activations_only(nh.learn_sample(nh.clip_path("sample")))


@pytest.fixture(scope="module")
def true_ranges():
    clips = json.loads((nh.AUDIO_DIR / "clips.json").read_text())["clips"]
    length, end = clips["sample"]["duration_s"], clips["sampling_track"]["duration_s"]
    return [(s, min(s + length, end)) for s in clips["sampling_track"]["sample_offsets_s"]]


@pytest.fixture(scope="module")
def positive(templates):
    track = load("sampling_track")
    return track, nh.detect_sample(templates, track, n_iter=N_ITER)


def assert_ranges_close(found, truth, tolerance=0.5):
    assert len(found) == len(truth), (found, truth)
    for (start, end), (true_start, true_end) in zip(found, truth, strict=True):
        assert abs(start - true_start) <= tolerance, (found, truth)
        assert abs(end - true_end) <= tolerance, (found, truth)


def test_positive_pair_is_detected_with_its_ranges(positive, true_ranges):
    _, result = positive
    assert result.detected
    assert result.score >= nh.DETECTION_THRESHOLD + 0.2  # a clear margin, not a near miss
    assert result.shift == 0
    assert_ranges_close(result.ranges, true_ranges)


def test_negative_pair_is_rejected(templates):
    result = nh.detect_sample(templates, load("unrelated_track"), n_iter=N_ITER)
    assert not result.detected
    assert result.score < nh.DETECTION_THRESHOLD
    assert result.ranges == ()


def test_paths_waveforms_and_templates_give_the_same_result(positive):
    track, _ = positive
    learned = nh.learn_sample(nh.clip_path("sample"))  # with its waveform, as a path's is
    from_templates = nh.detect_sample(learned, track, n_iter=N_ITER)
    from_paths = nh.detect_sample(
        nh.clip_path("sample"), str(nh.clip_path("sampling_track")), n_iter=N_ITER
    )
    assert from_paths.score == pytest.approx(from_templates.score, abs=1e-6)
    np.testing.assert_allclose(from_paths.ranges, from_templates.ranges)


def test_score_is_gain_invariant(templates, positive):
    track, result = positive
    quieter = nh.detect_sample(templates, track * np.float32(0.25), n_iter=N_ITER)
    assert quieter.score == pytest.approx(result.score, abs=1e-3)
    np.testing.assert_allclose(quieter.ranges, result.ranges)
    assert np.allclose(quieter.fixed_share, result.fixed_share, atol=1e-3)


def test_pitch_shifted_sample_is_still_detected(templates, true_ranges):
    sample = librosa.effects.pitch_shift(load("sampling_track_sample"), sr=SR, n_steps=2)
    track = sample + load("sampling_track_drums") + load("sampling_track_lead")
    result = nh.detect_sample(templates, track, n_iter=N_ITER)
    assert result.detected
    assert result.shift == 2  # the fit chose the copy shifted up by two semitones
    assert_ranges_close(result.ranges, true_ranges)


def test_a_sample_looped_three_times_gives_three_ranges(templates):
    sample = load("sample")
    drums = load("unrelated_track_drums")
    loop = np.tile(sample, 3)
    track = loop + np.tile(drums, 2)[: loop.size]
    result = nh.detect_sample(templates, track, n_iter=N_ITER)
    length = sample.size / SR
    assert_ranges_close(result.ranges, [(k * length, (k + 1) * length) for k in range(3)])


BACKING_S = 12.0


def backing() -> np.ndarray:
    """New drums and lead (sampling_track's), 12 s: what the producer put on top."""
    x = load("sampling_track_drums") + load("sampling_track_lead")
    return x[: int(BACKING_S * SR)]


def over_backing(part: np.ndarray, start_s: float, loops: int = 1, level_db: float = 0.0):
    """``part`` looped ``loops`` times from ``start_s``, at ``level_db`` to the backing's RMS."""
    y = backing()
    start = int(start_s * SR)
    segment = np.tile(part, loops)[: y.size - start]
    rms = np.sqrt(np.mean(y**2)) / np.sqrt(np.mean(part**2))
    y[start : start + segment.size] += rms * 10 ** (level_db / 20) * segment
    return y


def lowpass(x: np.ndarray, hz: float) -> np.ndarray:
    sos = scipy.signal.butter(4, hz, "low", fs=SR, output="sos")
    return scipy.signal.sosfilt(sos, x).astype(np.float32)


def record_speed(x: np.ndarray, ratio: float) -> np.ndarray:
    """Played ``ratio`` times faster like a record: shorter, and higher by 12 log2(ratio) st."""
    return librosa.resample(x, orig_sr=SR, target_sr=round(SR / ratio), res_type="soxr_hq")


SAMPLE_S = 196000 / SR  # the sample's length, 8.889 s (audio/clips.json)

# name -> (track, true track range, true sample range, true tempo ratio); built in the fixture.
TREATMENTS = {
    "chop of 3 s": lambda x: (
        over_backing(x[int(1.5 * SR) : int(4.5 * SR)], 3.0),
        (3.0, 6.0),
        (1.5, 4.5),
        1.0,
    ),
    "stretch x1.08": lambda x: (
        over_backing(librosa.effects.time_stretch(x, rate=1.08), 1.0),
        (1.0, 1.0 + SAMPLE_S / 1.08),
        (0.0, SAMPLE_S),
        1.08,
    ),
    "record speed x1.06": lambda x: (
        over_backing(record_speed(x, 1.06), 1.0),
        (1.0, 1.0 + SAMPLE_S / 1.06),
        (0.0, SAMPLE_S),
        1.06,
    ),
    "low-pass 1.5 kHz": lambda x: (
        over_backing(lowpass(x, 1500), 1.0),
        (1.0, min(1.0 + SAMPLE_S, BACKING_S)),
        (0.0, SAMPLE_S),
        1.0,
    ),
    "12 dB under the new parts": lambda x: (
        over_backing(x, 1.0, level_db=-12.0),
        (1.0, 1.0 + SAMPLE_S),
        (0.0, SAMPLE_S),
        1.0,
    ),
}


@pytest.fixture(scope="module")
def treated(templates):
    """Each treatment of the sample over new drums and lead, with its detection and the truth."""
    sample = load("sample")
    out = {}
    for name, make in TREATMENTS.items():
        track, track_range, sample_range, ratio = make(sample)
        result = nh.detect_sample(templates, track, n_iter=N_ITER)
        out[name] = (track, result, track_range, sample_range, ratio)
    return out


@pytest.fixture(scope="module")
def unrelated_chop(templates):
    """Three seconds of unrelated music in the sample's style (its bass and keys), looped twice."""
    riff = load("unrelated_track_bass") + load("unrelated_track_keys")
    track = over_backing(riff[int(1.5 * SR) : int(4.5 * SR)], 3.0, loops=2)
    return track, nh.detect_sample(templates, track, n_iter=N_ITER)


@pytest.mark.parametrize("name", sorted(TREATMENTS))
def test_a_treated_sample_is_found_with_its_ranges_and_tempo(treated, name):
    """Where it plays, which part and how fast, to 0.5 s and 2 % (the promises of detect_sample)."""
    _, result, track_range, sample_range, ratio = treated[name]
    assert result.detected
    assert len(result.occurrences) == 1, result.occurrences
    found = result.occurrences[0]
    assert found.track_start_s == pytest.approx(track_range[0], abs=0.5)
    assert found.track_end_s == pytest.approx(track_range[1], abs=0.5)
    assert found.sample_start_s == pytest.approx(sample_range[0], abs=0.5)
    assert found.sample_end_s == pytest.approx(min(sample_range[1], SAMPLE_S), abs=0.5)
    assert found.tempo_ratio == pytest.approx(ratio, rel=0.02)
    assert result.ranges == ((found.track_start_s, found.track_end_s),)
    assert result.tempo_ratio == found.tempo_ratio


def test_a_record_speed_up_moves_the_pitch_too(treated, templates):
    """x1.06 like a record is 12 log2(1.06) = +1.01 semitones; a time-stretch keeps the pitch.

    x1.03 is +0.51 semitones, between two template copies: the estimate
    weighs the copies the fit used, so it lands between them.
    """
    speeded = treated["record speed x1.06"][1].occurrences[0]
    assert speeded.pitch_shift == pytest.approx(1.0, abs=0.3)
    assert treated["stretch x1.08"][1].occurrences[0].pitch_shift == pytest.approx(0.0, abs=0.3)
    track = over_backing(record_speed(load("sample"), 1.03), 1.0)
    half = nh.detect_sample(templates, track, n_iter=N_ITER).occurrences[0]
    assert 0.2 < half.pitch_shift < 0.8
    assert half.tempo_ratio == pytest.approx(1.03, rel=0.02)


def test_a_chop_of_unrelated_music_is_rejected(unrelated_chop):
    _, result = unrelated_chop
    assert not result.detected
    assert result.occurrences == () and result.ranges == ()


def test_the_threshold_passed_decides(treated, unrelated_chop, templates):
    """The same fit, a threshold either side of its score: the decision follows the argument."""
    track, result = treated["chop of 3 s"][:2]
    above = nh.detect_sample(templates, track, n_iter=N_ITER, threshold=result.score + 0.01)
    assert result.detected and not above.detected
    assert above.occurrences == () and above.threshold == pytest.approx(result.score + 0.01)
    track, negative = unrelated_chop
    below = nh.detect_sample(
        templates,
        track,
        n_iter=N_ITER,
        threshold=negative.score - 0.01,
    )
    assert not negative.detected and below.detected and len(below.occurrences) >= 1


def test_the_default_threshold_separates_weak_positives_from_hard_negatives(
    treated, unrelated_chop, templates
):
    """DETECTION_THRESHOLD pinned by what it must do, not by its digits.

    Every treated sample (the weakest: 12 dB under new parts) must score above
    it, and music in the sample's own style and instruments below it: the
    unrelated riff chopped, and the whole unrelated track.
    """
    weakest = min(result.score for _, result, *_ in treated.values())
    unrelated = nh.detect_sample(templates, load("unrelated_track"), n_iter=N_ITER)
    strongest_negative = max(unrelated_chop[1].score, unrelated.score)
    assert strongest_negative < nh.DETECTION_THRESHOLD < weakest
    assert all(result.detected for _, result, *_ in treated.values())
    assert not unrelated.detected and not unrelated_chop[1].detected


def test_result_parts_add_up_and_are_frozen(positive, templates):
    _, result = positive
    M, N = result.fixed_part.shape
    assert result.free_part.shape == (M, N)
    np.testing.assert_allclose(
        result.fixed_part + result.free_part, result.W @ result.H, rtol=1e-4, atol=1e-6
    )
    assert result.n_fixed == templates.W.shape[1] == len(nh.DEFAULT_SHIFTS) * templates.n_components
    np.testing.assert_array_equal(result.W[:, : result.n_fixed], templates.W)
    assert result.activations.shape == (templates.n_components, N)
    assert np.all((result.fixed_share >= 0) & (result.fixed_share <= 1 + 1e-6))
    assert result.times.shape == (N,)
    assert result.similarity.shape == result.similarity_times.shape
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 1.0


def test_the_spectrogram_core_gives_detect_samples_result_bit_for_bit(positive, templates):
    track, result = positive
    V = detection.track_spectrogram_unchecked(track, templates.win, templates.hop)
    again = detection.detect_in_spectrogram_unchecked(templates, V, track.size / SR, n_iter=N_ITER)
    assert again.score == result.score
    assert again.occurrences == result.occurrences
    assert (again.shift, again.tempo_ratio) == (result.shift, result.tempo_ratio)
    np.testing.assert_array_equal(again.H, result.H)
    np.testing.assert_array_equal(again.similarity, result.similarity)


def test_the_coarse_score_of_one_copy_is_the_full_score_on_the_full_grid_at_every_window(
    templates, monkeypatch
):
    """One copy (no pairs): eleven ratios and every window are the full check's own search."""
    one_copy = dataclasses.replace(
        templates, W=templates.W[:, : templates.n_components].copy(), shifts=(0.0,)
    )
    track = load("sampling_track")
    full = nh.detect_sample(one_copy, track, n_iter=15)
    V = detection.track_spectrogram_unchecked(track, templates.win, templates.hop)
    monkeypatch.setattr(detection.search, "_SCREEN_STRIDE", 1)
    assert detection.coarse_score_unchecked(one_copy, V, n_iter=15, n_ratios=11) == full.score


def test_the_coarse_score_aligns_the_pairs_of_neighbouring_copies_at_every_fourth_window(
    templates,
):
    track = load("sampling_track")
    V = detection.track_spectrogram_unchecked(track, templates.win, templates.hop)
    n_fixed = templates.W.shape[1]
    _, H = detection.door._fit(templates, V, 20, 15, 0, False)
    coarse = detection.search.coarse_match_unchecked(templates, H[:n_fixed], (0.9, 1.1), 2.5, 5)
    sample, features, shifts, window, frame_seconds = detection.search._alignment_inputs(
        templates, H[:n_fixed], (0.9, 1.1), 2.5
    )
    assert shifts[len(templates.shifts) :] == [-1.5, -0.75, -0.25, 0.25, 0.75, 1.5]
    pairs = features[len(templates.shifts) :]
    ratios = np.linspace(0.9, 1.1, 5)
    best = detection.alignment.best_windows(pairs, sample, ratios, window, stride=4)
    # The loop's evidence, its plays held to the first pass's floor.
    evidence, *_ = detection.search._loop_evidence(
        best, pairs, shifts[len(templates.shifts) :], sample, frame_seconds,
        detection.search._SCREEN_LOOP_FLOOR,
    )  # fmt: skip
    assert coarse == max(best.score.max(), evidence)
    every = detection.alignment.best_windows(features, sample, ratios, window)
    # Every copy, ratio and window at that floor: never less.
    full, *_ = detection.search._loop_evidence(
        every, features, shifts, sample, frame_seconds, detection.search._SCREEN_LOOP_FLOOR
    )
    assert coarse <= max(every.score.max(), full)
    assert np.all(np.isneginf(best.score[1::4]))


def test_the_coarse_score_keeps_the_positive_and_rules_out_the_negative(templates):
    scores = {}
    for name in ("sampling_track", "unrelated_track"):
        V = detection.track_spectrogram_unchecked(load(name), templates.win, templates.hop)
        scores[name] = detection.coarse_score_unchecked(templates, V, n_iter=15, n_ratios=5)
    assert scores["sampling_track"] >= nh.DETECTION_THRESHOLD + 0.2
    assert scores["unrelated_track"] < nh.DETECTION_THRESHOLD - 0.05


def test_a_track_shorter_than_one_window_is_named_by_the_caller():
    with pytest.raises(
        ParameterError, match=r"scan: track is 0.045 s long \(1000 samples at 22050 Hz\)"
    ):
        detection.track_spectrogram_unchecked(np.ones(1000, np.float32), 2048, 512, function="scan")


def test_learned_templates_have_unit_columns_and_shifted_copies(templates):
    assert templates.shifts == nh.DEFAULT_SHIFTS
    np.testing.assert_allclose(templates.W.sum(axis=0), 1.0, rtol=1e-4)
    blocks = np.split(templates.W, len(templates.shifts), axis=1)
    copies = dict(zip(templates.shifts, blocks, strict=True))
    for shift in (2, 0.5, -0.5):  # a whole step and the half steps (record speed)
        moved = nh.shift_templates(copies[0], shift)
        np.testing.assert_allclose(copies[shift], moved / moved.sum(axis=0), rtol=1e-4, atol=1e-9)
    assert templates.duration_s == pytest.approx(196000 / SR)


def test_shift_templates_moves_partials_along_log_frequency():
    W = np.zeros((1025, 2))
    W[100, 0], W[300, 1] = 1.0, 2.0
    before = W.copy()
    up = nh.shift_templates(W, 12)
    assert up.shape == W.shape and up.dtype == np.float32
    assert [int(i) for i in up.argmax(axis=0)] == [200, 600]
    down = nh.shift_templates(W, -2)
    assert abs(int(down[:, 0].argmax()) - 100 * 2 ** (-2 / 12)) <= 1
    np.testing.assert_array_equal(nh.shift_templates(W, 0), W.astype(np.float32))
    np.testing.assert_array_equal(W, before)  # input untouched
    assert up.min() >= 0


def test_plot_detection_marks_true_and_detected_ranges(positive, true_ranges):
    _, result = positive
    ax = nh.plot_detection(result, true_ranges=true_ranges, title="sampling_track")
    labels = ax.get_legend_handles_labels()[1]
    assert "true range" in labels and "detected" in labels
    assert ax.get_xlim()[1] == pytest.approx(result.times[-1] + result.hop / result.sr)
    assert len(ax.figure.axes) == 2  # the similarity on a twin axis
    plt.close(ax.figure)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda t: nh.detect_sample(t, np.zeros(SR)), "detect_sample: track is silent"),
        (lambda t: nh.detect_sample(t, np.ones((2, SR))), "detect_sample: track must be a mono"),
        (lambda t: nh.detect_sample(t, np.ones(100)), "detect_sample: track is 0.005 s long"),
        (lambda t: nh.detect_sample(42, np.ones(SR)), "detect_sample: sample must be a path"),
        (lambda t: nh.detect_sample(t, np.ones(SR), n_free=-1), "detect_sample: n_free"),
        (lambda t: nh.detect_sample(t, np.ones(SR), n_iter=0), "detect_sample: n_iter"),
        (lambda t: nh.detect_sample(t, np.ones(SR), threshold=2.0), "detect_sample: threshold"),
        (lambda t: nh.detect_sample(t, np.ones(SR), sr=44100), "detect_sample: sr = 44100"),
        (lambda t: nh.learn_sample(np.ones(SR), shifts=()), "learn_sample: shifts"),
        (lambda t: nh.learn_sample(np.ones(SR), shifts=(0, 13)), "learn_sample: shifts"),
        (lambda t: nh.learn_sample(np.ones(SR), n_components=0), "learn_sample: n_components"),
        (lambda t: nh.learn_sample(np.ones(SR), n_components=99), "learn_sample: n_components"),
        (lambda t: nh.learn_sample([np.nan] * SR), "learn_sample: sample contains NaN"),
        (lambda t: nh.learn_sample(np.ones(1000)), "learn_sample: sample is 0.045 s long"),
        (lambda t: nh.learn_sample(np.ones(SR), hop=4096), "learn_sample: hop"),
        (lambda t: nh.shift_templates(np.ones((8, 2)), 13), "shift_templates: semitones"),
        (lambda t: nh.shift_templates(-np.ones((8, 2)), 1), "shift_templates: W"),
    ],
)
def test_bad_inputs_raise_parameter_errors_naming_the_argument(templates, call, match):
    with pytest.raises(ParameterError, match=match):
        call(templates)


def test_missing_file_raises_file_not_found(templates, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        nh.detect_sample(templates, tmp_path / "missing.wav")


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        ({"W": "cut rows"}, r"detect_sample: sample.W must have shape \(1025, \?\)"),
        ({"W": "nan"}, "detect_sample: sample.W contains"),
        ({"win": 1024, "hop": 256}, r"detect_sample: sample.W must have shape \(513, \?\)"),
        ({"shifts": (0.0,)}, "detect_sample: sample.W has 140 columns, but 20 templates in 1"),
    ],
)
def test_edited_templates_are_checked_at_the_door(templates, edit, match):
    """Templates are an input too: a W that cannot fit the track is named, not broadcast."""
    changes = dict(edit)
    if changes.get("W") == "cut rows":
        changes["W"] = templates.W[:500]
    elif changes.get("W") == "nan":
        changes["W"] = np.full_like(templates.W, np.nan)
    with pytest.raises(nh.ParameterError, match=match):
        nh.detect_sample(dataclasses.replace(templates, **changes), np.ones(SR), n_iter=2)


def test_a_sample_shorter_than_the_part_searched_for_is_named():
    """A sample shorter than one bar (2.5 s by default) cannot be told from a chord."""
    x = np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32)
    with pytest.raises(nh.ParameterError, match="detect_sample: the sample lasts 2.00 s, shorter"):
        nh.detect_sample(x, np.ones(4 * SR))
    templates = nh.learn_sample(x, n_components=4, n_iter=2)
    with pytest.raises(nh.ParameterError, match="the sample lasts 2.00 s, shorter than the 2.5 s"):
        nh.detect_sample(templates, np.ones(4 * SR))
    with pytest.raises(nh.ParameterError, match="n_free = 2000 is out of range"):
        nh.detect_sample(templates, np.ones(SR), n_free=2000, min_part_s=1.5)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (
            {"tempo_range": (0.5, 1.1)},
            r"detect_sample: tempo_range\[0\] must be between 0.8 and 1.25",
        ),
        (
            {"tempo_range": (0.9, 1.5)},
            r"detect_sample: tempo_range\[1\] must be between 0.8 and 1.25",
        ),
        (
            {"tempo_range": (1.1, 0.9)},
            "detect_sample: tempo_range must be .low, high. with low <= high",
        ),
        ({"tempo_range": 1.05}, "detect_sample: tempo_range must be two ratios"),
        ({"min_part_s": 0.5}, "detect_sample: min_part_s must be between 1.0"),
    ],
)
def test_search_options_out_of_their_documented_range_are_named(templates, options, match):
    with pytest.raises(nh.ParameterError, match=match):
        nh.detect_sample(templates, np.ones(SR), **options)


# The ends of an occurrence, on synthetic features where the truth is known
# to the frame: the sample (200 frames) plays from track frame 100 at its own
# tempo, but the path found covers only its middle (sample frames 50-120).
def _grown_range(X, T, gap=22):
    trim = importlib.import_module("nmf_helpers.detection.search")._occurrence_extent
    path = np.arange(50, 100)
    frames_t, frames_a, on_path = trim(X, T, 1.0, path + 100, path, 20, 0.2, 2, gap)
    return (int(frames_t[0]), int(frames_t[-1])), (int(frames_a[0]), int(frames_a[-1])), on_path


def _synthetic_track(parts):
    """Noise, plus the sample's frames ``(start, stop)`` at track frame 100 + start."""
    rng = np.random.default_rng(0)
    T = rng.standard_normal((10, 200))
    X = 0.3 * rng.standard_normal((10, 400))
    for start, stop in parts:
        X[:, 100 + start : 100 + stop] += T[:, start:stop]
    return X, T


def test_an_occurrence_grows_from_its_path_to_where_the_sample_plays():
    track, sample, on_path = _grown_range(*_synthetic_track([(0, 200)]))
    assert abs(track[0] - 100) <= 2 and abs(track[1] - 299) <= 2
    assert abs(sample[0] - 0) <= 2 and abs(sample[1] - 199) <= 2
    # The slope is measured on the path's frames only, not on the straight extension.
    assert on_path.sum() == 50 + 20 - 1 and not on_path[0] and not on_path[-1]


def test_a_chop_stops_where_the_track_stops_using_the_sample():
    track, sample, _ = _grown_range(*_synthetic_track([(0, 140)]))
    assert abs(track[1] - 239) <= 3 and abs(sample[1] - 139) <= 3


def test_a_covered_stretch_shorter_than_the_gap_is_bridged_and_a_longer_one_ends_it():
    bridged, _, _ = _grown_range(*_synthetic_track([(0, 130), (145, 200)]))
    assert abs(bridged[1] - 299) <= 2
    ended, _, _ = _grown_range(*_synthetic_track([(0, 130), (160, 200)]))
    assert abs(ended[1] - 229) <= 3


def test_a_sample_tail_under_the_level_is_kept_only_at_the_samples_own_end():
    # The last 15 frames are covered: at the sample's end they are its tail ...
    tail, _, _ = _grown_range(*_synthetic_track([(0, 185)]))
    assert tail[1] == 299
    # ... but where the track ends first, the occurrence ends at the last match.
    X, T = _synthetic_track([(0, 185)])
    cut, _, _ = _grown_range(X[:, :295], T)
    assert abs(cut[1] - 284) <= 5  # the 5-frame span blurs the edge


def test_a_rest_in_the_sample_longer_than_the_gap_neither_ends_nor_starts_an_occurrence():
    # The sample is nearly still for 30 frames (a rest, more than the 22-frame gap):
    # there the local match is noise, which must not end the occurrence.
    X, T = _synthetic_track([])
    T[:, 120:150] *= 0.01
    X[:, 100:300] += T
    track, _, _ = _grown_range(X, T)
    assert abs(track[0] - 100) <= 2 and abs(track[1] - 299) <= 2


def test_an_ambient_recordings_first_seconds_are_part_of_its_occurrence():
    # A real recording (audio/field): an ambient piece, stretched x1.10, over another
    # composer's piece from 0.8 s. Its first seconds are a pad with almost no rhythm, which
    # the rhythm alone cut off the occurrence (it started 5 s late); the pad's chord,
    # matched along the occurrence's alignment, holds it from where the sample starts.
    field = nh.clip_path("sample").parent / "field"
    riff = nh.load_audio(field / "mccracken_awakening.flac", sr=SR)[0]
    track = nh.load_audio(field / "lupus_track21.flac", sr=SR)[0]
    part = librosa.effects.time_stretch(riff, rate=1.1)[: track.size - int(0.8 * SR)]
    start = int(0.8 * SR)
    track[start : start + part.size] += part * float(np.std(track) / np.std(part))
    result = nh.detect_sample(activations_only(nh.learn_sample(riff)), track)
    (found,) = result.occurrences
    assert found.track_start_s == pytest.approx(0.8, abs=0.2)
    assert found.sample_start_s < 0.2
    assert found.track_end_s > track.size / SR - 0.5
