"""Sample detection of loops: every play of a looped chop is one occurrence (issue 25).

Each track is a chop of the project's sample looped over new drums and lead
(``sampling_track``'s), with some plays covered by other music in the
sample's style (``groove``'s bass and keys), as a bridge or a new part
would: those plays score under the threshold, and only the loop's own
alignment, looked for again where the loop's period puts them, reports them.
"""

from __future__ import annotations

import importlib

import librosa
import numpy as np
import pytest
import scipy.signal

import nmf_helpers as nh

SEARCH = importlib.import_module("nmf_helpers.detection.search")

N_ITER = 50  # enough for the decisions; the defaults (100) are for real use
SR = 22050
BACKING_S = 12.0
START_S = 0.7


def load(name: str) -> np.ndarray:
    return nh.load_audio(nh.clip_path(name), sr=SR)[0]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def looped(part: np.ndarray, loops: int, level_db: float, covered, cover_db: float):
    """``part`` looped from ``START_S`` over the backing; the ``covered`` plays under other music.

    Returns the track and each play's ``(start, end)`` in seconds.
    """
    track = (load("sampling_track_drums") + load("sampling_track_lead"))[: int(BACKING_S * SR)]
    backing_rms = rms(track)
    start = int(START_S * SR)
    loop = np.tile(part, loops)
    track[start : start + loop.size] += backing_rms / rms(part) * 10 ** (level_db / 20) * loop
    cover = load("groove_bass") + load("groove_keys")
    plays = [
        (START_S + k * part.size / SR, START_S + (k + 1) * part.size / SR) for k in range(loops)
    ]
    for k in covered:
        first, last = int(plays[k][0] * SR), int(plays[k][1] * SR)
        track[first:last] += (
            backing_rms / rms(cover) * 10 ** (cover_db / 20) * cover[: last - first]
        )
    return track, plays


def chop(start_s: float, length_s: float) -> np.ndarray:
    return load("sample")[int(start_s * SR) : int((start_s + length_s) * SR)]


def reported(result, plays) -> list[bool]:
    """Whether an occurrence overlaps at least half of each play."""
    return [
        max((min(end, o.track_end_s) - max(start, o.track_start_s) for o in result.occurrences),
            default=0.0) >= 0.5 * (end - start)
        for start, end in plays
    ]  # fmt: skip


@pytest.fixture(scope="module")
def templates():
    return nh.learn_sample(nh.clip_path("sample"))


def assert_every_play_once(result, plays, tolerance=0.5):
    """One occurrence per play, in order, each within ``tolerance`` seconds of its play."""
    assert result.detected
    assert reported(result, plays) == [True] * len(plays), (result.ranges, plays)
    assert len(result.occurrences) == len(plays), (result.ranges, plays)
    for (start, end), found in zip(plays, result.occurrences, strict=True):
        assert found.track_start_s == pytest.approx(start, abs=tolerance)
        assert found.track_end_s == pytest.approx(end, abs=tolerance)


def test_every_play_of_a_looped_chop_is_reported_one_by_one(templates):
    # A 3.2 s chop looped three times; the second play under groove's bass and keys, 6 dB up.
    track, plays = looped(chop(2.0, 3.2), 3, 0.0, covered=[1], cover_db=6.0)
    result = nh.detect_sample(templates, track, n_iter=N_ITER)
    assert_every_play_once(result, plays)
    # The covered play is below the threshold: only the loop's re-search reports it.
    assert min(o.score for o in result.occurrences) < nh.DETECTION_THRESHOLD


def test_the_last_play_of_a_buried_loop_is_reported(templates):
    # A 3 s chop 12 dB under the new parts, looped three times; other music over the last play.
    track, plays = looped(chop(1.0, 3.0), 3, -12.0, covered=[2], cover_db=-6.0)
    result = nh.detect_sample(templates, track, n_iter=N_ITER)
    assert_every_play_once(result, plays)


def test_a_stretched_low_passed_chop_looped_four_times_is_found_at_every_play(templates):
    # 2.8 s (8 beats) stretched x1.05 and low-passed at 2.5 kHz, looped four times;
    # plays 2 and 3 under groove's bass and keys, 6 dB up.
    sos = scipy.signal.butter(4, 2500, "low", fs=SR, output="sos")
    part = scipy.signal.sosfilt(sos, librosa.effects.time_stretch(chop(1.6, 2.8), rate=1.05))
    track, plays = looped(part.astype(np.float32), 4, 0.0, covered=[1, 2], cover_db=6.0)
    result = nh.detect_sample(templates, track, n_iter=N_ITER)
    assert_every_play_once(result, plays)
    for found in result.occurrences:
        assert found.tempo_ratio == pytest.approx(1.05, abs=0.03)


def play_at(start: int, length: int) -> tuple:
    """A found play of the sample's frames 10..10 + length, from track frame ``start``."""
    return ((start, start + length), (10.0, 10.0 + length), 1.0, 0.0, 0.5)


def test_plays_off_a_steady_period_are_not_a_loop():
    # 70 and 150 frames apart: 150 is not a whole number of 70-frame periods.
    _, period = SEARCH._loop_grid(
        [play_at(0, 60), play_at(150, 60), play_at(220, 60)], 54, 400, 0.046
    )
    assert period is None


def test_the_closest_plays_may_be_periods_apart_when_plays_between_are_missing():
    # Plays 1 and 4 of a loop of 50-frame plays: a period of 50, two plays missing between.
    plays = [play_at(0, 50), play_at(150, 50)]
    anchors, period = SEARCH._loop_grid(plays, 40, 400, 0.046)
    assert period == pytest.approx(50)
    missing = SEARCH._missing_plays(anchors, period, plays[0], 40, 400)
    assert missing == pytest.approx([75, 125, 225, 275, 325, 375])


def test_a_loop_with_one_play_found_on_its_own_is_found_whole(templates):
    # A 3.2 s chop looped three times; plays 2 and 3 under groove's bass and keys, 8 dB up:
    # only the first reaches the threshold, and the plays after it are looked for from it.
    track, plays = looped(chop(2.0, 3.2), 3, 0.0, covered=[1, 2], cover_db=8.0)
    result = nh.detect_sample(templates, track, n_iter=N_ITER)
    assert_every_play_once(result, plays)
    assert sum(o.score >= nh.DETECTION_THRESHOLD for o in result.occurrences) == 1
