"""Silence in a track: its silent steps match no sample (``search.silent_steps``).

Real records start and end in digital silence, and albums and mixes hold
gaps of it. A window of the track that is mostly silent holds a few steps of
music, and a cosine similarity, blind to how little is there, used to score
those few as if they were the whole window: an unrelated recording with
three seconds of silence at each end scored 0.455, over the threshold. The
field clips are real recordings (audio/field, CC BY-SA); the templates search
the activations only, as an exact copy of the waveform would decide first.
"""

from __future__ import annotations

import dataclasses
import importlib
import warnings

import librosa
import numpy as np
import pytest

import nmf_helpers as nh

SEARCH = importlib.import_module("nmf_helpers.detection.search")
SR = 22050
FIELD = nh.clip_path("sample").parent / "field"


def load(name: str) -> np.ndarray:
    return nh.load_audio(FIELD / f"{name}.flac", sr=SR)[0]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SR), dtype=np.float32)


def activations_only(name: str):
    return dataclasses.replace(nh.learn_sample(load(name), sr=SR), white=None)


def test_silent_steps_are_digital_silence_and_dither_not_a_quiet_intro():
    rng = np.random.default_rng(0)
    loud = rng.uniform(0.5, 1.5, size=(40, 100))
    V = np.hstack(
        (np.zeros((40, 10)), 1e-5 * loud[:, :10], 1e-2 * loud[:, :10], loud, np.zeros((40, 5)))
    )
    silent = SEARCH.silent_steps(V)
    expected = np.r_[np.ones(20, bool), np.zeros(110, bool), np.ones(5, bool)]
    np.testing.assert_array_equal(silent, expected)  # -100 dB is silent, -40 dB plays
    np.testing.assert_array_equal(SEARCH.silent_steps(V * 1e-6), expected)  # any gain
    # Judged against the loud steps, not the median: a track mostly silent keeps its music.
    mostly_silent = np.hstack((np.zeros((40, 300)), loud))
    assert SEARCH.silent_steps(mostly_silent).sum() == 300
    assert not SEARCH.silent_steps(loud).any()
    assert SEARCH.silent_steps(np.zeros((40, 0))).shape == (0,)
    # A silence must last: a riff's rests between notes (3 steps here) are not one.
    rests = loud.copy()
    rests[:, 20:23] = 0.0
    rests[:, 60:75] = 0.0
    np.testing.assert_array_equal(SEARCH.silent_steps(rests), (rests.sum(axis=0) == 0))
    np.testing.assert_array_equal(
        SEARCH.silent_steps(rests, min_run=4), np.isin(np.arange(100), np.arange(60, 75))
    )
    templates = nh.learn_sample(load("lupus_track19")[: 3 * SR], sr=SR)
    step = 2 * templates.hop / templates.sr  # a pair of frames
    assert SEARCH.silent_run(templates) == round(0.5 / step)
    assert SEARCH.silent_run(dataclasses.replace(templates, hop=SR)) == 1  # steps of 2 s


def test_a_silent_step_weighs_as_a_typical_step_and_matches_nothing():
    rng = np.random.default_rng(1)
    features = [rng.standard_normal((5, 8)), 2.0 * rng.standard_normal((5, 8))]
    sample = rng.standard_normal((5, 6))
    silent = np.array([True, False, False, True, False, False, False, True])
    sample_silent = np.array([False, False, True, True, False, False])

    def level(x, quiet):  # the root mean square of the norms of the steps that play
        return np.sqrt(np.mean(np.square(x[:, ~quiet]).sum(axis=0)))

    with_rows, sample_rows = SEARCH._with_silence(features, sample, silent, sample_silent)
    for track, extended in zip(features, with_rows, strict=True):
        np.testing.assert_array_equal(extended[:5], track)
        np.testing.assert_allclose(extended[5], np.where(silent, level(track, silent), 0.0))
        np.testing.assert_array_equal(extended[6], 0.0)  # the sample's silence: none here
    np.testing.assert_array_equal(sample_rows[:5], sample)
    np.testing.assert_array_equal(sample_rows[5], 0.0)  # the track's silence: none here
    np.testing.assert_allclose(
        sample_rows[6], np.where(sample_silent, level(sample, sample_silent), 0.0)
    )
    # Silence on one side only still adds both rows, and silence matches no silence.
    only_track, only_track_sample = SEARCH._with_silence(features, sample, silent, None)
    assert only_track[0].shape == (7, 8) and not only_track_sample[5:].any()
    # Without a silent step on either side, the very same objects: scores stay bit for bit.
    for no_silence in (None, np.zeros(8, dtype=bool)):
        same_features, same_sample = SEARCH._with_silence(features, sample, no_silence)
        assert same_features is features and same_sample is sample


@pytest.mark.parametrize(
    "sample, other", [("savino_ocean", "domina_mountain"), ("lupus_track19", "savino_ocean")]
)
def test_silence_at_a_tracks_ends_does_not_make_it_like_the_sample(sample, other):
    templates = activations_only(sample)
    track = load(other)
    plain = nh.detect_sample(templates, track)
    padded = nh.detect_sample(templates, np.concatenate((silence(3), track, silence(3))))
    assert not padded.detected and padded.occurrences == ()
    assert padded.score < plain.score + 0.05  # was 0.455 against 0.209, and 0.341 against 0.183
    # The first pass sees the same track.
    V = nh.detection.door.track_spectrogram_unchecked(
        np.concatenate((silence(3), track, silence(3))), templates.win, templates.hop
    )
    assert nh.detection.door.coarse_score_unchecked(templates, V) < plain.score + 0.05


@pytest.mark.parametrize("sample, other", [("savino_ocean", "domina_mountain"),
                                            ("mccracken_awakening", "savino_ocean")])  # fmt: skip
def test_a_sample_cut_with_silence_around_it_is_no_more_like_other_music(sample, other):
    # A sample cut loosely from a record, 3 s of silence at each end: its windows mostly
    # silent scored 0.568 and 0.796 against these other recordings; without the silence,
    # 0.209 and 0.226.
    riff = load(sample)
    padded = dataclasses.replace(
        nh.learn_sample(np.concatenate((silence(3), riff, silence(3))), sr=SR), white=None
    )
    result = nh.detect_sample(padded, load(other))
    assert not result.detected and result.score < 0.3
    # And it is still found where it plays, stretched so that only the activations hear it.
    chop = librosa.effects.time_stretch(riff[2 * SR : 6 * SR], rate=1.05)
    track = load(other)
    track[SR : SR + chop.size] += chop
    assert nh.detect_sample(padded, track).detected


def test_a_chop_after_silence_is_found_with_nothing_in_the_silence():
    riff = load("lupus_track19")
    chop = librosa.effects.time_stretch(riff[2 * SR : 5 * SR], rate=1.05)  # not a copy
    track = np.concatenate((silence(3), np.tile(chop, 2), silence(3)))
    result = nh.detect_sample(activations_only("lupus_track19"), track)
    assert result.detected
    plays = (3.0, 3.0 + chop.size / SR, 3.0 + 2 * chop.size / SR)
    for start, end in result.ranges:  # inside the plays: none in the silence, no slivers
        assert plays[0] - 0.3 < start < end < plays[2] + 0.3 and end - start > 2.0
    assert result.ranges[0][0] == pytest.approx(plays[0], abs=0.3)
    assert result.ranges[-1][1] == pytest.approx(plays[2], abs=0.3)


def test_the_local_match_over_silence_after_music_is_zero_not_nan():
    # A running mean of energies goes a rounding error under zero where zeros follow large
    # values; its square root was NaN, with numpy's warning on the user's screen.
    rng = np.random.default_rng(2)
    x = np.hstack((1e3 * rng.random((4, 50)), np.zeros((4, 50))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        similarity, energy = SEARCH._local_match(x, x, 7)
    assert np.isfinite(similarity).all() and (energy >= 0).all()
    np.testing.assert_allclose(similarity[:40], 1.0)
    assert (similarity[60:] == 0).all()
