"""The detector's defaults, and the checks of the values every caller shares.

:func:`~nmf_helpers.detect_sample`, the scan's
:class:`~nmf_helpers.detection.scan.ScanSettings` and the ``detect`` and
``scan`` commands take their defaults from here and judge a tempo range or a
shortest part with the same check (:func:`check_tempo_range`,
:func:`check_min_part`, :func:`check_part`), so a value has one range
whoever gives it. Each check names the caller and the value as the caller
calls it (``name``), so no caller rewrites a message.
"""

from __future__ import annotations

from .._validation import ParameterError, check_real

#: Decision threshold on the score (a cosine similarity, in [-1, 1]): the
#: middle of the gap between the positives and the negatives of
#: ``benchmarks/bench_detection.py``, which prints both. Its negatives are the
#: hardest kind there is, music in the sample's own style and instruments (a
#: stem of a same-style track among them), so a threshold that keeps them out
#: keeps out music that merely sounds alike. A loop whose every play is
#: under it is found by its plays together (the score's loop evidence, see
#: :attr:`~nmf_helpers.detection.door.SampleDetection.score`), and an
#: ambient recording buried under new parts, whose rhythm is too faint to
#: tell from such music, by its waveform where it is an exact copy
#: (:data:`COPY_Z`).
DETECTION_THRESHOLD = 0.38

#: A loop's plays together: where the best window's part of the sample plays
#: three times at a steady period, their mean score over this share counts as
#: the score if it is higher (at most 1), so three plays averaging this share
#: of the threshold are as much evidence as one window at it. A loop buried
#: under new parts or filtered plays each time under the threshold, but the
#: same part at a steady period three times over is what music that merely
#: sounds alike rarely does (``benchmarks/bench_detection.py`` prints the
#: scores of both).
LOOP_EVIDENCE_SHARE = 0.65

#: An exact copy of the sample's waveform (:mod:`~nmf_helpers.detection.copies`)
#: standing this many standard deviations of unrelated music above it counts
#: as a window at :data:`DETECTION_THRESHOLD` (and proportionally above and
#: below). ``benchmarks/bench_detection.py`` prints both sides: no negative
#: there has a copy, and the weakest copy that decides a positive stands at
#: 15 (an ambient piece 12 dB under new parts). Windows of unrelated music
#: reach about 8, and 11.2 in the project's own ``unrelated_track`` clip,
#: rendered with the sample's very soundfont, which shares some of its notes
#: sample for sample but holds no steady copy.
COPY_Z = 12.0

#: Pitch shifts (semitones) of the sample's templates offered to the fit.
#: The half steps are for a record sped up or slowed down by about 3 %
#: (x1.03 moves the pitch half a semitone): between two whole-semitone
#: copies the fit gives much of such a sample to the free components.
DEFAULT_SHIFTS = (-2, -1, -0.5, 0, 0.5, 1, 2)

#: Tempo ratios searched by default (track tempo / sample tempo): a
#: time-stretch of x0.90..x1.10, which includes a record speed-up of
#: x0.94..x1.06. A wider range may be asked for, within TEMPO_LIMITS.
DEFAULT_TEMPO_RANGE = (0.90, 1.10)
TEMPO_LIMITS = (0.80, 1.25)

#: The shortest part of the sample that is searched for, in seconds: one bar
#: of four beats at 96 BPM. A shorter part (a single chord) is shared by too
#: much music in the same style to be evidence of sampling.
MIN_PART_SECONDS = 2.5
#: The ``min_part_s`` accepted, in seconds (:func:`check_min_part`; the
#: command line's ``--min-part`` too): from a beat or two to ten minutes.
MIN_PART_RANGE = (1.0, 600.0)

#: Sample rate the detector works at (Hz): the default of
#: :func:`~nmf_helpers.detect_sample` and :func:`~nmf_helpers.learn_sample`,
#: and the rate of every scan (``detection.scan.SR``).
SAMPLE_RATE = 22050

#: Iterations of a scan's first pass (:func:`~nmf_helpers.detection.coarse_score_unchecked`'s
#: default). The activations of a fit this short already follow the sample
#: where it plays; ``benchmarks/bench_scan.py`` checks that no positive of
#: ``benchmarks/bench_detection.py`` is lost, and prints what the first pass
#: costs next to a full check. More iterations bring its score closer to the
#: full check's, which a smaller ``detection.scan.SCREEN_MARGIN`` could then
#: use, at a higher cost for every pair.
SCREEN_ITERATIONS = 15

#: Tempo ratios the first pass aligns at, evenly over the scan's tempo range
#: (x0.90, x0.95, x1.00, x1.05, x1.10 by default), instead of the full
#: check's one every 0.02 and its path following; it aligns the sums of
#: neighbouring pitch copies only and scores one track window in four, and
#: every window along the best one's alignment for a loop's plays together
#: (:func:`~nmf_helpers.detection.search.coarse_match_unchecked`).
SCREEN_RATIOS = 5

#: Templates learned from a sample (Gururani & Lerch used about 20), and the
#: KL iterations spent learning them (the sample is short, so this is cheap).
DEFAULT_N_COMPONENTS = 20
DEFAULT_SAMPLE_ITERATIONS = 200

#: Free components of a track's fit (the drums, vocals and everything new),
#: and the KL iterations of that fit.
DEFAULT_N_FREE = 20
DEFAULT_TRACK_ITERATIONS = 100


def check_tempo_range(
    function: str,
    tempo_range,
    *,
    name: str = "tempo_range",
    ends: tuple[str, str] | None = None,
) -> tuple[float, float]:
    """``tempo_range`` as (low, high) floats within :data:`TEMPO_LIMITS`, low <= high.

    The check :func:`~nmf_helpers.detect_sample` makes, and the other doors
    that take a tempo range (the scan, the ``--tempo-range`` of the command
    line); errors name ``function`` and the value as the caller calls it:
    ``name``, and ``ends`` for its two ratios (``name[0]``, ``name[1]`` unless given).
    """
    low_name, high_name = ends if ends is not None else (f"{name}[0]", f"{name}[1]")
    low_limit, high_limit = TEMPO_LIMITS
    try:
        low, high = tempo_range
    except (TypeError, ValueError):
        raise ParameterError(
            f"{function}: {name} must be two ratios (low, high), got {tempo_range!r}"
        ) from None
    low = check_real(function, low_name, low, minimum=low_limit, maximum=high_limit)
    high = check_real(function, high_name, high, minimum=low_limit, maximum=high_limit)
    if low > high:
        raise ParameterError(
            f"{function}: {name} must be (low, high) with low <= high, got {tempo_range!r}"
        )
    return low, high


def check_min_part(function: str, min_part_s, *, name: str = "min_part_s") -> float:
    """``min_part_s`` as a float within :data:`MIN_PART_RANGE` (checked as detect_sample does).

    Errors name ``function`` and the value as the caller calls it (``name``).
    """
    low, high = MIN_PART_RANGE
    return check_real(function, name, min_part_s, minimum=low, maximum=high)


def check_part(
    function: str, duration_s: float, min_part_s: float, *, name: str = "min_part_s"
) -> None:
    """Refuse a sample of ``duration_s`` seconds, shorter than the part searched for.

    The advice names the shortest part as the caller calls it (``name``).
    """
    if duration_s < min_part_s:
        raise ParameterError(
            f"{function}: the sample lasts {duration_s:.2f} s, shorter than the"
            f" {min_part_s:g} s part the detector searches for (about one bar);"
            f" give a longer sample, or a smaller {name} (at least {MIN_PART_RANGE[0]:g} s)"
        )
