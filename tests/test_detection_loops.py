"""Sample detection of loops: every play of a looped chop is one occurrence (issue 25).

Each track is a chop of the project's sample looped over new drums and lead
(``sampling_track``'s), with some plays covered by other music in the
sample's style (``groove``'s bass and keys), as a bridge or a new part
would: those plays score under the threshold, and only the loop's own
alignment, looked for again where the loop's period puts them, reports them.
"""

from __future__ import annotations

import dataclasses
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


def activations_only(templates):
    """``templates`` without the sample's waveform: what the activations' search alone finds.

    These tests are about that search; an exact copy is found first by its waveform
    (``detection/copies.py``, tested in test_detection_copies.py) and would hide it.
    """
    return dataclasses.replace(templates, white=None)


@pytest.fixture(scope="module")
def templates():
    return activations_only(nh.learn_sample(nh.clip_path("sample")))


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


def test_a_play_of_a_loop_deep_under_other_music_is_found_between_its_neighbours(templates):
    # A 2.5 s chop looped four times; plays 2 and 3 under groove's bass and keys, 14 dB up.
    # At the loop's own alignment, play 2's window scores about 0.55 of the threshold: over
    # what music without the sample scores there (half of it), under what the second look
    # for a lone occurrence's neighbour needs.
    track, plays = looped(chop(1.0, 2.5), 4, 0.0, covered=[1, 2], cover_db=14.0)
    result = nh.detect_sample(templates, track, n_iter=N_ITER)
    assert_every_play_once(result, plays)
    second = result.occurrences[1]
    assert SEARCH._LOOP_LEVEL < second.score / nh.DETECTION_THRESHOLD < SEARCH._PLAY_AGAIN_LEVEL


def test_a_stretched_low_passed_chop_looped_four_times_is_found_at_every_play(templates):
    # 2.8 s (8 beats) stretched x1.05 and low-passed at 2.5 kHz, looped four times;
    # plays 2 and 3 under groove's bass and keys, 6 dB up.
    track, plays = looped(stretched_chop(), 4, 0.0, covered=[1, 2], cover_db=6.0)
    result = nh.detect_sample(templates, track, n_iter=N_ITER)
    assert_every_play_once(result, plays)
    for found in result.occurrences:
        assert found.tempo_ratio == pytest.approx(1.05, abs=0.03)


def field_loop(riff_name: str, chop_s: tuple[float, float], loops: int, level_db: float,
               start_s: float):  # fmt: skip
    """A chop of a real recording (audio/field) looped over ``parrotte_graveyard`` from ``start_s``.

    Returns the riff, the track and each play's ``(start, end)`` in seconds.
    """
    field = nh.clip_path("sample").parent / "field"
    riff = nh.load_audio(field / f"{riff_name}.flac", sr=SR)[0]
    track = nh.load_audio(field / "parrotte_graveyard.flac", sr=SR)[0]
    part = riff[int(chop_s[0] * SR) : int(chop_s[1] * SR)]
    loop = np.tile(part, loops)
    start = int(start_s * SR)
    track[start : start + loop.size] += rms(track) / rms(part) * 10 ** (level_db / 20) * loop
    length = chop_s[1] - chop_s[0]
    plays = [(start_s + length * k, start_s + length * (k + 1)) for k in range(loops)]
    return riff, track, plays


def test_an_ambient_chops_plays_are_found_one_by_one_though_each_trace_runs_over_the_next():
    # 2.5 s of an ambient piece looped six times, 6 dB under another composer's track. The
    # pad sounds alike from one second to the next, so a play's trace runs on over the next
    # play and two plays look one play apart; the loop's own alignment halfway between them
    # says the loop is twice as fast.
    riff, track, plays = field_loop("mccracken_awakening", (3.5, 6.0), 6, -6.0, start_s=1.3)
    # The default fit: 50 iterations leave this faint loop a single occurrence.
    result = nh.detect_sample(activations_only(nh.learn_sample(riff)), track)
    assert_every_play_once(result, plays)


def test_a_buried_loop_found_by_its_plays_together_is_reported_at_every_play():
    # 2.5 s of a piece looped seven times, 12 dB under another composer's track. One window
    # alone reaches the threshold, and its trace runs 3.3 s, so one of its own lengths on
    # finds no play; the loop's plays together decide, and they are where its other plays
    # are looked for.
    riff, track, plays = field_loop("savino_ocean", (1.0, 3.5), 7, -12.0, start_s=0.5)
    result = nh.detect_sample(activations_only(nh.learn_sample(riff)), track)
    assert_every_play_once(result, plays)


def stretched_chop() -> np.ndarray:
    """2.8 s (8 beats) of the sample from 1.6 s, stretched x1.05 and low-passed at 2.5 kHz."""
    sos = scipy.signal.butter(4, 2500, "low", fs=SR, output="sos")
    part = scipy.signal.sosfilt(sos, librosa.effects.time_stretch(chop(1.6, 2.8), rate=1.05))
    return part.astype(np.float32)


@pytest.mark.parametrize(
    "make",
    [
        lambda: looped(chop(2.0, 3.2), 3, 0.0, covered=[1], cover_db=6.0),
        lambda: looped(chop(1.0, 3.0), 3, -12.0, covered=[2], cover_db=-6.0),
        lambda: looped(stretched_chop(), 4, 0.0, covered=[1, 2], cover_db=6.0),
        lambda: looped(chop(2.0, 3.2), 3, 0.0, covered=[1, 2], cover_db=8.0),
    ],
    ids=["looped chop", "buried loop", "stretched chop", "one play alone"],
)
def test_a_scans_first_pass_keeps_each_loop_of_these_tests_by_a_margin(templates, make):
    # The scan's first pass (its defaults) must not rule out a track the full check finds:
    # its score lies at least 0.05 above the cut (the threshold less SCREEN_MARGIN).
    track, _ = make()
    scan = importlib.import_module("nmf_helpers.detection.scan")
    V = nh.detection.track_spectrogram_unchecked(track, templates.win, templates.hop)
    first = nh.detection.coarse_score_unchecked(templates, V)
    assert first >= nh.DETECTION_THRESHOLD - scan.SCREEN_MARGIN + 0.05


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


def test_a_loop_whose_last_play_alone_is_found_is_found_whole(templates):
    # The same loop with plays 1 and 2 under the bass and keys, 10 dB up: the play before
    # the one found is looked for too, then the loop's grid gives the first.
    track, plays = looped(chop(2.0, 3.2), 3, 0.0, covered=[0, 1], cover_db=10.0)
    result = nh.detect_sample(templates, track, n_iter=N_ITER)
    assert_every_play_once(result, plays)
    assert [o.score >= nh.DETECTION_THRESHOLD for o in result.occurrences] == [False, False, True]


# -- the parts of the second look, one by one ----------------------------------------------------

STEP_S = 2 * 512 / SR  # one step of the search: a pair of STFT frames


def occurrence(part, ratio, span=(0, 10), score=0.5):
    """An occurrence as the search keeps it: (span, part, ratio, shift, score)."""
    return span, part, ratio, 0.0, score


def test_occurrences_of_one_part_at_one_tempo_are_grouped_and_others_are_not(monkeypatch):
    found = [
        occurrence((0, 100), 0.90),
        occurrence((40, 140), 0.92),  # shares 60 of 100 frames at 0.92 / 0.90: the first's loop
        occurrence((50, 150), 0.90),  # exactly half: a part of its own
        occurrence((200, 300), 0.90),  # another part at the same tempo
        occurrence((0, 100), 0.80),  # the same part 11 % slower
        occurrence((210, 290), 0.905),  # the fourth's part: joins the fourth's group
    ]
    assert SEARCH._groups(found) == [[0, 1], [2], [3, 5], [4]]
    assert SEARCH._loops(found) == [[0, 1], [3, 5]]
    # The tempo tolerance is inclusive: 1.0625 / 1.0 - 1 is exactly 0.0625 in binary.
    monkeypatch.setattr(SEARCH, "_LOOP_RATIO_TOLERANCE", 0.0625)
    assert SEARCH._groups([occurrence((0, 100), 1.0), occurrence((0, 100), 1.0625)]) == [[0, 1]]


@pytest.mark.parametrize(
    ("frame_seconds", "spans"),
    [
        (STEP_S, (8, 22)),  # 17 frames of 46 ms: 0.79 s; a gap of 1.02 s
        (0.09, (4, 11)),  # 9 frames of 90 ms: 0.81 s (7 would be 0.63 s)
        (0.5, (1, 2)),  # at least one frame either side, however long the frames
    ],
)
def test_the_local_span_and_the_gap_are_the_frames_closest_to_their_seconds(frame_seconds, spans):
    assert SEARCH._spans(frame_seconds) == spans


def test_a_plays_best_window_is_found_inside_its_span_and_placed_on_its_line():
    score = np.zeros(100)
    score[[12, 15, 20, 25, 41]] = [0.4, 0.6, 0.8, 0.9, 0.3]  # 20 and 25 lie past the span
    match = SEARCH.WindowMatch(score, np.arange(100) % 3, np.ones(100), np.zeros(100, int), 20)
    # The part starts at sample frame 30, at a ratio of 2: resampled frame 15 at track
    # frame 10, so the window at track frame 15 starts at resampled frame 20.
    play = occurrence((30.0, 50.0), 2.0, span=(10, 20))
    assert SEARCH._best_window(match, play) == (0, (15, 20))
    # A span past the last window scores the last one; a span of no frames, its start.
    assert SEARCH._best_window(match, occurrence((30.0, 50.0), 2.0, span=(100, 105)))[1][0] == 99
    assert SEARCH._best_window(match, occurrence((30.0, 50.0), 2.0, span=(40, 40)))[1][0] == 40


@pytest.mark.parametrize(("frame_seconds", "reach"), [(STEP_S, 6), (0.5, 1)])
def test_a_missing_play_is_looked_for_within_the_grids_reach_and_at_the_loop_level(
    monkeypatch, frame_seconds, reach
):
    traced = []

    def trace(feature, sample_features, start, ratio, score, window, threshold, spans, harmony):
        traced.append((start, score, spans))
        return (start[0], start[0] + window), (0.0, 40.0), ratio

    monkeypatch.setattr(SEARCH, "_trace", trace)
    scores = np.zeros((200, 60))
    like = occurrence((0.0, 40.0), 1.0, score=0.9)
    threshold = 0.5
    level = SEARCH._LOOP_LEVEL * threshold
    scores[100 + reach, 5] = level  # at the level, as far as the grid reaches: a play
    scores[100 + reach + 1, 5] = 1.0  # one frame further: not looked at
    arguments = (scores, (100, 5), like, 20, threshold, frame_seconds)
    play = SEARCH._play_near(None, None, *arguments)
    assert play == ((100 + reach, 120 + reach), (0.0, 40.0), 1.0, 0.0, level)
    assert traced == [((100 + reach, 5), level, SEARCH._spans(frame_seconds))]
    # A lone play's neighbour is held to the level given, higher.
    higher = SEARCH._PLAY_AGAIN_LEVEL
    assert SEARCH._play_near(None, None, *arguments, higher) is None
    scores[100 + reach, 5] = higher * threshold
    assert SEARCH._play_near(None, None, *arguments, higher) is not None
    scores[100 + reach, 5] = np.nextafter(level, 0)  # just under the level: none
    assert (
        SEARCH._play_near(None, None, scores, (100, 5), like, 20, threshold, frame_seconds) is None
    )


def test_plays_back_to_back_are_cut_to_the_period_where_the_plays_say_the_part_starts():
    # A loop of 50 track frames at a ratio of 2: 100 frames of the sample a play, from
    # sample frame 200. The first play is cut by the track's start (its start says
    # nothing), the last by its end (its end says nothing); the second grew 10 frames over
    # each neighbour and the last 10 frames past its period (the sample's continuation
    # sounding like the chop's start, its lead-in like the chop's end).
    plays = [
        occurrence((220.0, 300.0), 2.0, span=(0, 40)),
        occurrence((180.0, 320.0), 2.0, span=(30, 100)),
        occurrence((200.0, 300.0), 2.0, span=(90, 140)),
        occurrence((200.0, 320.0), 2.0, span=(140, 200)),
    ]
    fitted = SEARCH._fit_to_loop(plays, 50.0, 200)
    assert [(span, part) for span, part, *_ in fitted] == [
        ((0, 40), (220.0, 300.0)),
        ((40, 90), (200.0, 300.0)),
        ((90, 140), (200.0, 300.0)),
        ((140, 190), (200.0, 300.0)),
    ]
    assert [play[2:] for play in fitted] == [play[2:] for play in plays]


def test_plays_with_rests_between_are_held_to_a_period_centred_on_their_parts():
    # Plays of 60 sample frames (30 track frames at 2) every 50 track frames: rests between,
    # so the period (100 sample frames) is centred on the parts' middle, sample frame 230,
    # and only the play grown to frame 300 is cut, at 280.
    plays = [
        occurrence((200.0, 260.0), 2.0, span=(10, 40)),
        occurrence((200.0, 260.0), 2.0, span=(60, 90)),
        occurrence((200.0, 300.0), 2.0, span=(110, 160)),
    ]
    fitted = SEARCH._fit_to_loop(plays, 50.0, 400)
    assert [(span, part) for span, part, *_ in fitted] == [
        ((10, 40), (200.0, 260.0)),
        ((60, 90), (200.0, 260.0)),
        ((110, 150), (200.0, 280.0)),
    ]


def test_plays_with_rests_between_grow_to_the_loops_part_their_uncut_plays_say():
    # A loop of 60 sample frames (200..260, 30 track frames at a ratio of 2) every 50 track
    # frames, with rests between. The play at 120 stopped short (220..250) and grows along its
    # line to the part the others say: the median of the starts of the plays the track does not
    # cut (200; with the first play's 240, it would be 210) and of their ends (260). The play
    # the track's start cuts grows no further back.
    cut = occurrence((240.0, 260.0), 2.0, span=(0, 10))
    plays = [
        cut,
        occurrence((200.0, 260.0), 2.0, span=(60, 90)),
        occurrence((220.0, 250.0), 2.0, span=(120, 135)),
        occurrence((200.0, 260.0), 2.0, span=(160, 190)),
    ]
    fitted = SEARCH._fit_to_loop(plays, 50.0, 400)
    assert fitted[:2] == plays[:2] and fitted[3] == plays[3]
    assert fitted[2][:2] == ((110, 140), (200.0, 260.0))


def test_plays_with_rests_between_grow_to_the_median_end_of_the_plays_the_track_does_not_cut():
    # As above, mirrored: the play at 120 (210..240) grows to the median start of all plays
    # (200) and the median end of those the track's end does not cut (260; with the last
    # play's 220, 250). The play the track's end cuts grows no further on.
    plays = [
        occurrence((200.0, 260.0), 2.0, span=(60, 90)),
        occurrence((210.0, 240.0), 2.0, span=(120, 135)),
        occurrence((200.0, 260.0), 2.0, span=(160, 190)),
        occurrence((200.0, 220.0), 2.0, span=(380, 400)),
    ]
    fitted = SEARCH._fit_to_loop(plays, 50.0, 400)
    assert fitted[0] == plays[0] and fitted[2:] == plays[2:]
    assert fitted[1][:2] == ((115, 145), (200.0, 260.0))


def test_plays_with_rests_between_keep_what_lies_within_the_period_beyond_the_loops_part():
    # The loop's part is 200..260 (three plays say so) and its period 180..280 (centred on
    # the parts' middle, 230): a play found over 190..270 keeps it all, growing nothing; one
    # over 178..282 loses exactly a frame at each end (at a ratio of 2).
    loop = [occurrence((200.0, 260.0), 2.0, span=(start, start + 30)) for start in (10, 60, 110)]
    wide = occurrence((190.0, 270.0), 2.0, span=(155, 195))
    assert SEARCH._fit_to_loop([*loop, wide], 50.0, 400)[3] == wide
    wider = occurrence((178.0, 282.0), 2.0, span=(154, 206))
    assert SEARCH._fit_to_loop([*loop, wider], 50.0, 400)[3][:2] == ((155, 205), (180.0, 280.0))


def test_a_play_the_period_would_leave_no_frame_of_is_kept_as_found():
    # A loop of 50 frames at a ratio of 1 from sample frame 0 (four plays). A play of
    # frames 60..65 would keep none and stays as it is, and so does one of frames -3..52
    # over 5 track frames (3 cut at its start and 2 at its end); the play after them, of
    # frames 49..51, keeps one frame (49..50), and grows back along its line towards the
    # whole part (0..50), the loop playing back to back, as far as the fourth play's end
    # (200, where that play was found).
    loop = [occurrence((0.0, 50.0), 1.0, span=(start, start + 50)) for start in range(0, 200, 50)]
    none_left = occurrence((60.0, 65.0), 1.0, span=(210, 215))
    cut_both_ends = occurrence((-3.0, 52.0), 1.0, span=(220, 225))
    one_left = occurrence((49.0, 51.0), 1.0, span=(230, 232))
    fitted = SEARCH._fit_to_loop([*loop, none_left, cut_both_ends, one_left], 50.0, 300)
    assert fitted[:4] == loop
    assert fitted[4:6] == [none_left, cut_both_ends]
    assert fitted[6][:2] == ((200, 231), (19.0, 50.0))


def test_plays_filling_exactly_the_share_of_a_period_count_as_back_to_back():
    # Parts of 45 frames every 50 (ratio 1): exactly _LOOP_FILLED of a period. Back to back,
    # the loop's part starts where the plays say (frame 0) and each play grows along its line
    # to the whole part (0..50), the second and third (whose lines disagree by 5 frames)
    # meeting halfway, at 108; centred on the parts' middle (frame 22.5) instead, no play
    # would grow and the last would lose its last 2 frames.
    assert SEARCH._LOOP_FILLED == 0.9
    plays = [
        occurrence((0.0, 45.0), 1.0, span=(10, 55)),
        occurrence((0.0, 45.0), 1.0, span=(60, 105)),
        occurrence((5.0, 50.0), 1.0, span=(110, 155)),
    ]
    assert SEARCH._fit_to_loop(plays, 50.0, 300) == [
        occurrence((0.0, 50.0), 1.0, span=(10, 60)),
        occurrence((0.0, 48.0), 1.0, span=(60, 108)),
        occurrence((3.0, 50.0), 1.0, span=(108, 155)),
    ]


def test_the_window_near_a_grid_position_stays_inside_the_track_and_the_loops_part():
    # Scores of 100 track windows by 80 resampled sample windows; the loop's part is sample
    # frames 40..100 at a ratio of 2 (resampled 20..50), windows of 10, a reach of 2: the
    # windows of the part start at 20 - 2 .. 50 - 10 + 2.
    scores = np.zeros((100, 80))
    scores[50, 30], scores[52, 31], scores[50, 33] = 1.0, 0.5, 2.0  # 33: out of reach

    def near(start, part=(40.0, 100.0), n_a=80):
        return SEARCH._window_near(scores[:, :n_a], start, 2, part, 2.0, 10)

    assert near((50, 30)) == (50, 30)
    assert near((50.4, 29.6)) == (50, 30)  # positions are rounded
    # Past the track's ends, the window slides back along the line into the track, to its
    # first or last window exactly, and looks from there.
    scores[98, 30] = scores[1, 22] = 3.0
    assert near((103, 35)) == (98, 30)
    assert near((-3, 20)) == (1, 22)
    scores[99, 33] = scores[0, 21] = 4.0
    assert near((103, 35)) == (99, 33)
    assert near((-3, 20)) == (0, 21)
    # The part's first and last windows (18 and 42) are looked from; a step before, none.
    scores[60, 17], scores[60, 19] = 5.0, 1.0
    assert near((60, 18)) == (60, 19)  # the higher window at 17 lies outside the part
    assert near((60, 17)) is None
    scores[60, 42], scores[60, 43] = 1.5, 6.0  # the last window of the part, and one past it
    assert near((60, 42)) == (60, 42)
    # A start past the last window (a short play's best window) slides back along its line:
    # from (64, 46) to (60, 42), and looks from there.
    assert near((64, 46)) == (60, 42)
    # The part starting at the sample's start: its first window is window 0.
    assert near((60, 0), part=(0.0, 60.0)) is not None
    # The sample's end bounds the part: resampled window 79 is the last, slid back to along
    # the line (a step back in the track for each), and looked from there.
    scores[58, 79] = 7.0
    assert near((60, 79), part=(40.0, 200.0)) == (58, 79)
    assert near((61, 80), part=(40.0, 200.0)) == (58, 79)
    assert near((63, 82), part=(40.0, 200.0)) == (58, 79)
    # A part shorter than a window is looked for from its start only (20, within 2 after):
    # a start past that slides back along its line.
    assert near((60, 22), part=(40.0, 50.0)) is not None
    assert near((60, 22), part=(40.0, 50.0)) == near((62, 24), part=(40.0, 50.0))
    assert near((60, 17), part=(40.0, 50.0)) is None
    # With no reach, the one window looked at is the answer.
    assert SEARCH._window_near(np.ones((1, 80)), (0, 20), 0, (40.0, 100.0), 2.0, 10) == (0, 20)


def test_the_second_look_gives_the_occurrences_back_strongest_first():
    # The door reports the first occurrence's tempo and pitch as the detection's. Three
    # occurrences of different parts, weakest first, and nothing to add (a threshold no
    # window reaches): both steps give them back strongest first.
    rng = np.random.default_rng(0)
    features = [rng.standard_normal((3, 200))]
    sample_features = rng.standard_normal((3, 60))
    match = SEARCH.WindowMatch(
        rng.random(191), np.zeros(191, int), np.ones(191), np.zeros(191, int), 10
    )
    found = [
        occurrence((0.0, 15.0), 1.0, span=(0, 15), score=0.4),
        occurrence((20.0, 35.0), 1.0, span=(40, 55), score=0.5),
        occurrence((40.0, 55.0), 1.0, span=(80, 95), score=0.6),
    ]
    arguments = (match, features, sample_features, 10.0, STEP_S)
    assert SEARCH._play_again(found, *arguments) == found[::-1]
    assert SEARCH._complete_loops(found, *arguments) == found[::-1]


def test_a_plays_position_is_where_its_line_reaches_the_loops_centre():
    # Track frames 100..140 play sample frames 20..100 at a ratio of 2: sample frame 60 at 120.
    assert SEARCH._anchor(occurrence((20.0, 100.0), 2.0, span=(100, 140)), 60.0) == 120.0


def test_plays_cut_by_the_tracks_ends_do_not_set_the_loops_period():
    # Plays at 97 and 195 (the loop's centre, sample frame 35, on each play's line) and
    # one cut by the track's start at -5; the last one is also cut by the track's end.
    # Only the whole play (50 frames) says how many periods lie between the closest two
    # (98 frames apart: two periods); counting the cut ones (20 frames long), the period
    # would be 20, shorter than a window. The middle play sits 2 frames off the grid:
    # within the tolerance (0.3 s, 6 frames of 50 ms; their steps differ by 4), and the fit
    # over all plays says 50.
    plays = [
        occurrence((40.0, 60.0), 1.0, span=(0, 20)),
        occurrence((10.0, 60.0), 1.0, span=(72, 122)),
        occurrence((10.0, 30.0), 1.0, span=(170, 190)),
    ]
    anchors, period = SEARCH._loop_grid(plays, 40, 190, 0.05)
    np.testing.assert_allclose(anchors, [-5.0, 97.0, 195.0])
    assert period == pytest.approx(50.0)


def test_missing_plays_are_the_grid_positions_a_window_of_whose_play_lies_in_the_track():
    # A loop every 50 frames; the best play lasts 80 sample frames at a ratio of 2, 40 track
    # frames; plays found at 165 and 215, and one at 240, exactly half a period from 265.
    # From 15 (its play, 0..35, has a window of 35 frames in the track) to 265: 15, 65 and
    # 115 are missing; 265 counts as found; 315 has 5 frames in the track.
    best = occurrence((100.0, 180.0), 2.0, span=(145, 185))
    missing = SEARCH._missing_plays(np.array([165.0, 215.0, 240.0]), 50.0, best, 35, 300)
    assert missing == pytest.approx([15.0, 65.0, 115.0])
    # Without the play at 240, 265 is missing too (its play, 245..285, lies in the track).
    missing = SEARCH._missing_plays(np.array([165.0, 215.0]), 50.0, best, 35, 300)
    assert missing == pytest.approx([15.0, 65.0, 115.0, 265.0])
    # A position may fall half a frame short of a window inside (its play, -5.5..34.5), not
    # a whole frame (-6..34).
    missing = SEARCH._missing_plays(np.array([164.5, 214.5]), 50.0, best, 35, 300)
    assert missing == pytest.approx([14.5, 64.5, 114.5, 264.5])
    missing = SEARCH._missing_plays(np.array([164.0, 214.0]), 50.0, best, 35, 300)
    assert missing == pytest.approx([64.0, 114.0, 264.0])


@pytest.mark.parametrize("period", [48.2, 48.7, 49.2, 49.7])
def test_a_missing_play_one_window_long_between_two_found_is_looked_for(period):
    # Plays of one window (20 frames) found at 70, 70 + 2 periods and 70 + 3: the play
    # between the first two lies wholly in the track, wherever between frames its
    # position falls (computed from the period, its window's length comes out a hair
    # under 20 at these periods).
    best = occurrence((10.0, 30.0), 1.0, span=(60, 80))
    anchors = np.array([70.0, 70.0 + 2 * period, 70.0 + 3 * period])
    missing = SEARCH._missing_plays(anchors, period, best, 20, 300)
    assert any(position == pytest.approx(70.0 + period) for position in missing), missing


def halved(
    scores, anchors=(30.0, 110.0), window=10, threshold=0.5, first_part=(40.0, 200.0), ratio=2.0
):
    # Plays traced over two loop plays each (sample frames 40..200 at a ratio of 2, resampled
    # 20..100), 80 frames apart; the best one's window starts at track frame 20 (10 before
    # its position, 30) at resampled sample frame 20. Halfway (track 60), the loop's
    # alignment reads column 20 and the first play's own line, continued, column 60.
    spans = [(round(a) - 10, round(a) + 70) for a in anchors]
    plays = [occurrence(first_part, ratio, span=spans[0], score=0.5)]
    plays += [occurrence((40.0, 200.0), 2.0, span=span, score=0.4) for span in spans[1:]]
    best = occurrence((40.0, 200.0), 2.0, span=spans[0], score=0.5)
    return SEARCH._halved_period(
        plays, np.array(anchors), 80.0, scores, (-10, 20), best, window, threshold, 0.1
    )


def test_a_loop_whose_traces_ran_over_the_next_play_has_its_period_halved():
    level = SEARCH._LOOP_LEVEL * 0.5
    scores = np.zeros((400, 100))
    scores[60, 20], scores[60, 60] = level, level - 0.01  # a play starts there: halved
    assert halved(scores) == 40.0
    # The best window within the grid's reach (3 frames) of the midpoint counts.
    scores[60, 20] = 0.0
    scores[63, 23] = level
    assert halved(scores) == 40.0
    # The sample's continuation (column 63 at track frame 63) scores as well: a riff
    # repeating within itself, no new play.
    scores[63, 63] = level
    assert halved(scores) == 80.0
    scores[63, 63] = 0.0
    # Under a loop's level at the midpoint: no play there.
    scores[63, 23] = np.nextafter(level, 0)
    assert halved(scores) == 80.0
    scores[63, 23] = level
    # A half period shorter than a window (less the grid's tolerance, 3 frames) holds no play.
    assert halved(scores, window=43) == 40.0
    assert halved(scores, window=44) == 80.0
    # Plays two periods apart (one missing between) are no test, and the next pair is.
    assert halved(scores, anchors=(30.0, 190.0)) == 80.0
    scores[223, 23] = level  # halfway between 190 and 270
    assert halved(scores, anchors=(30.0, 190.0, 270.0)) == 40.0
    # A first play whose line leaves the sample there (its part 120..200 at 2: column 100 at
    # track frame 60, past the sample's last, 99) has only the columns left within reach.
    scores[63, 23], scores[60, 20] = 0.0, level
    assert halved(scores, first_part=(120.0, 200.0)) == 40.0
    scores[60, 97] = level
    assert halved(scores, first_part=(120.0, 200.0)) == 80.0
    scores[60, 97] = 0.0
    # The first play at its own ratio, 2.1 (the scores are at the best play's, 2): at track
    # frame 60 it plays sample frame 40 + 40 * 2.1 = 124, column 62; its best window within
    # the midpoint's reach (3) is compared.
    scores[60, 65] = level
    assert halved(scores, ratio=2.1) == 80.0
    scores[60, 65], scores[60, 66] = 0.0, level
    assert halved(scores, ratio=2.1) == 40.0


def test_the_grid_adds_a_loops_missing_plays_and_refuses_the_wrong_ones(monkeypatch):
    # A loop of the sample's frames 10..60 every 50 frames, plays found at 0 and 200 (the
    # one at 0 the stronger); another part's plays off any steady period (not a loop,
    # listed first); an occurrence of a third part at 262. The grid's missing positions
    # (75, 125, 175 between the plays, then 275, 325) are looked at from the strongest
    # play's best window (track frame 10, 15 before its position; the other play's best
    # window sits elsewhere), and the stand-in for _play_near answers: nothing at 75, a
    # play that wandered to 187 at 125, a play at 195 for 175 (less than half a period off: kept),
    # one over the other occurrence at 275 (refused, but that position is reported: the loop
    # may go on), nothing at 325.
    rng = np.random.default_rng(0)
    features, sample_features = [rng.standard_normal((3, 420))], rng.standard_normal((3, 80))
    score = np.zeros(401)
    score[[10, 230]] = 1.0
    match = SEARCH.WindowMatch(score, np.zeros(401, int), np.ones(401), np.zeros(401, int), 20)
    no_loop = [occurrence((200.0, 230.0), 1.0, span=(s, s + 30), score=0.2) for s in (0, 70, 340)]
    loop = [
        occurrence((10.0, 60.0), 1.0, span=(0, 50), score=0.6),
        occurrence((10.0, 60.0), 1.0, span=(200, 250), score=0.5),
    ]
    other = occurrence((100.0, 150.0), 1.0, span=(262, 312), score=0.7)
    answers = {
        60: None,
        110: occurrence((10.0, 60.0), 1.0, span=(162, 212), score=0.31),
        160: occurrence((10.0, 60.0), 1.0, span=(170, 220), score=0.32),  # 20 late: kept
        260: occurrence((10.0, 60.0), 1.0, span=(250, 300), score=0.33),
        310: None,
    }
    asked = []

    def play_near(feature, sample, scores, start, like, window, threshold, frame_seconds,
                  harmony):  # fmt: skip
        asked.append((round(start[0]), start[1]))  # on the grid, to rounding
        return answers.get(round(start[0]))

    monkeypatch.setattr(SEARCH, "_play_near", play_near)
    found = SEARCH._complete_loops([*no_loop, *loop, other], match, features, sample_features,
                                   0.5, STEP_S)  # fmt: skip
    assert asked == [(t, 20) for t in answers]
    # The play at 160 keeps what lies between the plays on either side (no growth).
    assert found == sorted([*no_loop, *loop, other, answers[160]], key=lambda f: -f[4])


def test_beyond_its_found_plays_a_loop_ends_at_the_first_position_without_a_play(monkeypatch):
    # Plays found at 100 and 150 (the grid's positions 125 and 175, period 50). After them:
    # a play at 225, none at 275, so 325 is not looked at though a play would be there;
    # before them: none at 75, so 25 is not looked at either.
    # Features of silence: no window scores, so no midpoint halves the period.
    features, sample_features = [np.zeros((3, 360))], np.zeros((3, 80))
    score = np.zeros(341)
    score[[110, 160]] = [1.0, 0.9]
    match = SEARCH.WindowMatch(score, np.zeros(341, int), np.ones(341), np.zeros(341, int), 20)
    loop = [
        occurrence((10.0, 60.0), 1.0, span=(100, 150), score=0.6),
        occurrence((10.0, 60.0), 1.0, span=(150, 200), score=0.5),
    ]
    answers = {
        210: occurrence((10.0, 60.0), 1.0, span=(200, 250), score=0.3),
        260: None,
        310: occurrence((10.0, 60.0), 1.0, span=(300, 350), score=0.3),
        60: None,
        10: occurrence((10.0, 60.0), 1.0, span=(0, 50), score=0.3),
    }
    asked, given = [], []

    def play_near(feature, sample, scores, start, like, window, threshold, frame_seconds,
                  harmony):  # fmt: skip
        asked.append(round(start[0]))
        given.append(harmony)
        return answers.get(round(start[0]))

    monkeypatch.setattr(SEARCH, "_play_near", play_near)
    harmonies = SEARCH._Harmonies([np.ones((3, 360))], np.ones((3, 80)))
    found = SEARCH._complete_loops(loop, match, features, sample_features, 0.5, STEP_S, harmonies)
    assert asked == [210, 260, 60]
    # Each play is traced with the loop's candidate's harmonies.
    assert all(h[0] is harmonies.track[0] and h[1] is harmonies.sample for h in given)
    assert found == sorted([*loop, answers[210]], key=lambda f: -f[4])


def test_a_lone_play_is_looked_for_one_of_its_own_lengths_before_and_after(monkeypatch):
    # Two lone occurrences: frames 20..120 of the sample at a ratio of 2 (50 track frames)
    # from 100, best window at 110; frames 200..240 at 1 (40 frames) from 220, best window
    # at 230. The stand-in for _play_near answers at 160 and 60 (one length after and
    # before the first) and at 270 and 190 (the second's); the answer at 190 shares most of
    # the one kept at 270 and is dropped.
    rng = np.random.default_rng(0)
    features, sample_features = [rng.standard_normal((3, 320))], rng.standard_normal((3, 300))
    score = np.zeros(301)
    score[[110, 230]] = 1.0
    match = SEARCH.WindowMatch(score, np.zeros(301, int), np.ones(301), np.zeros(301, int), 20)
    lone = [
        occurrence((20.0, 120.0), 2.0, span=(100, 150), score=0.6),
        occurrence((200.0, 240.0), 1.0, span=(220, 260), score=0.5),
    ]
    answers = {
        (160, 20): occurrence((20.0, 120.0), 2.0, span=(150, 200), score=0.3),
        (60, 20): occurrence((20.0, 120.0), 2.0, span=(50, 100), score=0.35),
        (270, 210): occurrence((200.0, 240.0), 1.0, span=(250, 290), score=0.33),
        (190, 210): occurrence((200.0, 240.0), 1.0, span=(252, 292), score=0.34),
    }
    asked = []

    def play_near(feature, sample, scores, start, like, window, threshold, frame_seconds, level,
                  harmony):  # fmt: skip
        # One occurrence is no loop yet: its neighbour must reach more than a loop's play.
        assert level == SEARCH._PLAY_AGAIN_LEVEL > SEARCH._LOOP_LEVEL
        asked.append((round(start[0]), start[1]))
        return answers.get(asked[-1])

    monkeypatch.setattr(SEARCH, "_play_near", play_near)
    found = SEARCH._play_again(lone, match, features, sample_features, 0.5, STEP_S)
    assert asked == list(answers)
    kept = [answers[160, 20], answers[60, 20], answers[270, 210]]
    assert found == sorted([*lone, *kept], key=lambda f: -f[4])


# A loop's plays together (_loop_evidence): each under the threshold, three of them decide.


def loop_features(starts, length=200, noise=1.5, seed=0):
    """Random sample features, and a track playing their frames 10..30 at ``starts`` over noise."""
    rng = np.random.default_rng(seed)
    sample = rng.standard_normal((4, 60))
    track = noise * rng.standard_normal((4, length))
    for start in starts:
        track[:, start : start + 20] += sample[:, 10:30]
    return sample, track


def evidence_of(sample, track, shift=0.0, frame_seconds=0.1):
    match = nh.detection.alignment.best_windows([track], sample, [1.0], 20)
    return SEARCH._loop_evidence(
        match, [track], [shift], sample, frame_seconds, SEARCH._LOOP_EVIDENCE_FLOOR
    )


def test_three_plays_of_one_part_at_a_steady_period_are_a_loops_evidence():
    sample, track = loop_features([20, 80, 140])
    evidence, candidate, ratio, plays = evidence_of(sample, track)
    assert (candidate, ratio) == (0, 1.0)
    assert sorted(start for start, _ in plays) == [(20, 10), (80, 10), (140, 10)]
    scores = nh.detection.alignment.window_scores(track, sample, 1.0, 20)
    for (t, a), score in plays:
        assert score == pytest.approx(scores[t, a], abs=1e-12)
    mean = np.mean([score for _, score in plays])
    assert evidence == pytest.approx(mean / nh.detection.settings.LOOP_EVIDENCE_SHARE)
    assert max(score for _, score in plays) < evidence < 1.0


def test_a_missed_play_between_keeps_the_grid_and_plays_off_it_are_no_loop():
    # 20, 80, 200: a play at 140 missing (covered) is still a steady period of 60.
    assert np.isfinite(evidence_of(*loop_features([20, 80, 200], length=240))[0])
    # 20, 80, 165: 60 then 85 steps apart, off any grid by more than the tolerance.
    assert evidence_of(*loop_features([20, 80, 165]))[0] == -np.inf


def test_a_loops_evidence_counts_through_copies_within_a_semitone_only():
    sample, track = loop_features([20, 80, 140])
    for shift in (0.75, -0.75, 0.5):
        assert np.isfinite(evidence_of(sample, track, shift)[0])
    for shift in (1.0, -1.0, 1.5, -2.0):
        assert evidence_of(sample, track, shift)[0] == -np.inf


def test_a_track_with_room_for_two_plays_has_no_loops_evidence():
    assert evidence_of(*loop_features([20], length=45))[0] == -np.inf


def test_a_loops_evidence_is_at_most_one_like_a_windows_score():
    evidence, _, _, plays = evidence_of(*loop_features([20, 80, 140], noise=0.0))
    assert [score for _, score in plays] == pytest.approx([1.0] * 3)
    assert evidence == 1.0


@pytest.mark.parametrize(
    ("starts", "period"),
    [
        ([0, 50, 100], 50.0),
        ([100, 0, 50], 50.0),  # in any order
        ([0, 50, 200], 50.0),  # two plays missing between
        ([0, 26, 101], 25.2),  # 26 then 75 steps: a period of about 25 fits both
    ],
)
def test_a_steady_period_is_the_grid_all_plays_fit(starts, period):
    assert SEARCH._steady_period(starts, 20, 0.1) == pytest.approx(period, abs=0.3)


@pytest.mark.parametrize(
    "starts",
    [
        [0, 50, 120],  # 50 then 70: 20 steps off, tolerance max(3, 0.06 period)
        [0, 10, 20],  # a period shorter than a window: plays overlap
        [0, 0, 50],  # two plays at one place
        [0],
    ],
)
def test_plays_off_every_grid_have_no_steady_period(starts):
    assert SEARCH._steady_period(starts, 20, 0.1) is None


def test_a_loop_whose_every_play_is_under_the_threshold_is_found_by_its_plays_together(
    templates,
):
    # The buried loop of 3 s, uncovered: a threshold above its best window and under its
    # three plays' evidence finds it, and reports each play (each under that threshold).
    track, plays = looped(chop(1.0, 3.0), 3, -12.0, covered=[], cover_db=0.0)
    result = nh.detect_sample(templates, track, n_iter=N_ITER)
    best_window = float(result.similarity.max())
    assert result.score > best_window + 0.05
    threshold = (best_window + result.score) / 2
    loop = nh.detect_sample(templates, track, n_iter=N_ITER, threshold=threshold)
    assert loop.score == result.score and loop.detected
    assert_every_play_once(loop, plays)
    assert max(o.score for o in loop.occurrences) < threshold
    assert not nh.detect_sample(
        templates, track, n_iter=N_ITER, threshold=loop.score + 0.01
    ).detected


def test_a_play_of_a_loop_played_back_to_back_grows_to_the_loops_whole_part():
    # A loop of sample frames 100..150 every 50 track frames (ratio 1), back to back (the
    # median part, 45 frames, fills 0.9 of a period). The second play's trace stopped 10
    # frames short at each end (covered): it grows along its own line to the part. The
    # first grows back only to the track's start (frame 0: it keeps sample frames
    # 105..150), the last not past the track's end (frame 245: 100..145).
    plays = [
        occurrence((110.0, 150.0), 1.0, span=(5, 45)),
        occurrence((110.0, 140.0), 1.0, span=(60, 90)),
        occurrence((100.0, 150.0), 1.0, span=(100, 150)),
        occurrence((100.0, 150.0), 1.0, span=(150, 200)),
        occurrence((100.0, 145.0), 1.0, span=(200, 245)),
    ]
    fitted = SEARCH._fit_to_loop(plays, 50.0, 245)
    assert [(span, part) for span, part, *_ in fitted] == [
        ((0, 45), (105.0, 150.0)),
        ((50, 100), (100.0, 150.0)),
        ((100, 150), (100.0, 150.0)),
        ((150, 200), (100.0, 150.0)),
        ((200, 245), (100.0, 145.0)),
    ]
    # Nor before the sample's own start: a loop of its frames 0..45 whose plays' ends put
    # the part's start at -2.5 (so a play grows 2 frames at its end, not at its start; the
    # first, whose end meets the second's start, not even there).
    early = [
        occurrence((0.0, 45.0), 1.0, span=(15, 60)),
        occurrence((0.0, 45.0), 1.0, span=(60, 105)),
        occurrence((2.0, 45.0), 1.0, span=(107, 150)),
    ]
    fitted = SEARCH._fit_to_loop(early, 50.0, 300)
    assert [play[:2] for play in fitted] == [
        ((15, 60), (0.0, 45.0)),
        ((60, 106), (0.0, 46.0)),  # the second and third grow into the gap and meet in it
        ((106, 152), (1.0, 47.0)),
    ]


def test_the_plays_median_length_says_how_many_periods_lie_between_the_closest_two():
    # Three plays every 50 frames; the first one's trace stopped at 20 frames (covered):
    # by the shortest play, the closest two would be two periods of 25 apart, shorter than
    # a window; by the median (50), one period.
    plays = [play_at(10, 20), play_at(60, 50), play_at(110, 50)]
    _, period = SEARCH._loop_grid(plays, 40, 400, 0.046)
    assert period == pytest.approx(50, abs=1)


def test_a_loops_evidence_finds_its_plays_two_sample_steps_either_side_and_no_further():
    # The best play (louder) aligns with sample frames 10..30 (column 10); the other plays
    # start 2 frames later or earlier in the sample, which _LOOP_EVIDENCE_REACH allows, and
    # are found at their own columns with their own scores.
    rng = np.random.default_rng(1)
    sample = rng.standard_normal((4, 60))
    track = 1.5 * rng.standard_normal((4, 200))
    for start, column, gain in ((80, 10, 3.0), (20, 12, 1.0), (140, 8, 1.0)):
        track[:, start : start + 20] += gain * sample[:, column : column + 20]
    _, _, _, plays = evidence_of(sample, track)
    assert sorted(start for start, _ in plays) == [(20, 12), (80, 10), (140, 8)]
    # Three columns off is out of reach: the plays there are only seen misaligned.
    track = 1.5 * rng.standard_normal((4, 200))
    for start, column, gain in ((80, 10, 3.0), (20, 13, 1.0), (140, 13, 1.0)):
        track[:, start : start + 20] += gain * sample[:, column : column + 20]
    _, _, _, plays = evidence_of(sample, track)
    assert all(8 <= column <= 12 for (_, column), _ in plays)


def test_a_loops_evidence_reaches_the_samples_first_frame():
    # The best play aligns with sample frames 1..21; the others with frames 0..20.
    rng = np.random.default_rng(2)
    sample = rng.standard_normal((4, 60))
    track = 1.5 * rng.standard_normal((4, 200))
    for start, column, gain in ((80, 1, 3.0), (20, 0, 1.0), (140, 0, 1.0)):
        track[:, start : start + 20] += gain * sample[:, column : column + 20]
    _, _, _, plays = evidence_of(sample, track)
    assert sorted(start for start, _ in plays) == [(20, 0), (80, 1), (140, 0)]


def test_a_loops_plays_may_touch_but_not_overlap():
    # Plays back to back every 20 frames, one window each: the best (60) and the two that
    # touch it (40, 80) are the loop's.
    rng = np.random.default_rng(3)
    sample = rng.standard_normal((4, 60))
    track = 1.5 * rng.standard_normal((4, 200))
    for start, gain in ((60, 3.0), (40, 1.0), (80, 1.0)):
        track[:, start : start + 20] += gain * sample[:, 10:30]
    _, _, _, plays = evidence_of(sample, track)
    assert sorted(t for (t, _), _ in plays) == [40, 60, 80]


@pytest.mark.parametrize(
    ("starts", "frame_seconds", "period"),
    [
        # Off the fitted grid by 4.5 frames: within 0.3 s (6 frames of 0.05 s), more than
        # 6 % of the period (3.4).
        ([0, 50, 113.5], 0.05, 56.75),
        # Off by 4.5 frames again: within 6 % of a period of 107 (6.4), more than 0.3 s
        # (3 frames of 0.1 s).
        ([0, 100, 213.5], 0.1, 106.75),
        # A period of 18, under the window of 20 by less than the tolerance (3 frames), and
        # one of 17, under it by exactly the tolerance.
        ([0, 18, 36], 0.1, 18.0),
        ([0, 17, 34], 0.1, 17.0),
    ],
)
def test_the_steady_periods_tolerance_is_the_larger_of_its_seconds_and_its_share(
    starts, frame_seconds, period
):
    assert SEARCH._steady_period(starts, 20, frame_seconds) == pytest.approx(period)


def test_a_play_grows_no_further_back_than_the_samples_start_at_its_own_ratio():
    # A loop at a ratio of 2 (100 sample frames every 50 track frames) whose plays' ends put
    # the part's start at sample frame -3: the first play, from sample frame 4, grows back
    # 2 track frames (4 sample frames) to frame 0 of the sample, not the 4 the part asks.
    plays = [
        occurrence((4.0, 94.0), 2.0, span=(13, 58)),
        occurrence((0.0, 90.0), 2.0, span=(60, 105)),
        occurrence((0.0, 90.0), 2.0, span=(110, 155)),
    ]
    assert SEARCH._fit_to_loop(plays, 50.0, 300)[0][:2] == ((11, 60), (0.0, 98.0))


def test_a_one_frame_play_of_a_loop_played_back_to_back_grows_to_the_whole_part():
    loop = [occurrence((0.0, 50.0), 1.0, span=(start, start + 50)) for start in (0, 50, 100)]
    one_frame = occurrence((20.0, 21.0), 1.0, span=(170, 171))
    fitted = SEARCH._fit_to_loop([*loop, one_frame], 50.0, 300)
    assert fitted[3][:2] == ((150, 200), (0.0, 50.0))


def test_a_play_grows_no_further_than_the_samples_end():
    # A loop of sample frames 0..50 (ratio 1) of a sample 48 frames long: the second play,
    # found on frames 0..40, grows to the sample's end (48), not to the part's (50).
    plays = [
        occurrence((0.0, 48.0), 1.0, span=(10, 58)),
        occurrence((0.0, 40.0), 1.0, span=(60, 100)),
        occurrence((0.0, 48.0), 1.0, span=(110, 158)),
    ]
    fitted = SEARCH._fit_to_loop(plays, 50.0, 300, sample_frames=48)
    assert fitted[1][:2] == ((60, 108), (0.0, 48.0))


def test_a_play_under_half_the_default_threshold_is_no_loops_play():
    # A track with room for three windows only, two of them plays: the third window is
    # forced on their grid, but it is noise, no more like the sample than any music.
    # Twenty features, as many as a sample's templates: noise windows score near 0.
    rng = np.random.default_rng(5)
    sample = rng.standard_normal((20, 60))
    track = 1.5 * rng.standard_normal((20, 60))
    for start in (0, 20):
        track[:, start : start + 20] += sample[:, 10:30]
    evidence, _, _, plays = evidence_of(sample, track)
    assert evidence == -np.inf and plays == []
    track[:, 40:60] += sample[:, 10:30]  # a third play there
    evidence, _, _, plays = evidence_of(sample, track)
    assert np.isfinite(evidence) and sorted(t for (t, _), _ in plays) == [0, 20, 40]


def test_grown_plays_meet_halfway_in_track_order_at_their_own_ratio():
    # Three plays of a loop at a ratio of 2, listed out of track order by part. The first two
    # overlap where they were found (35..40): left as they are. The second grew 5 frames to
    # 85 and the third 8 frames back to 82: they meet at 84, each part moved 2 sample
    # frames a track frame.
    found = [
        occurrence((0.0, 80.0), 2.0, span=(0, 40)),
        occurrence((20.0, 100.0), 2.0, span=(90, 130)),
        occurrence((10.0, 100.0), 2.0, span=(35, 80)),
    ]
    fitted = [
        found[0],
        occurrence((4.0, 100.0), 2.0, span=(82, 130)),
        occurrence((10.0, 110.0), 2.0, span=(35, 85)),
    ]
    assert SEARCH._kept_apart(fitted, found) == [
        found[0],
        occurrence((8.0, 100.0), 2.0, span=(84, 130)),
        occurrence((10.0, 108.0), 2.0, span=(35, 84)),
    ]
