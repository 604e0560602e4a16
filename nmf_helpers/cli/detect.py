"""``detect SAMPLE TRACK [--json] [--threshold T] [--iters N] [--free K] [--seed S]``.

Also ``[--tempo-range LOW HIGH] [--min-part SECONDS]``: the search's tempo
ratios and the shortest part of the sample it looks for. A bad value of
either is refused in one line that names the option as typed (the library's
own checks decide, :func:`tempo_range_option` and :func:`min_part_option`
say it in the options' words; ``scan`` takes both as well).

Is the sample used in the track, and where? Prints the score, the decision
and, for each occurrence, where it plays in the track, which part of the
sample it is, its tempo ratio and pitch shift (see
:func:`nmf_helpers.detect_sample`); ``--json`` prints one JSON object with
the same facts instead, and nothing else on stdout.
"""

from __future__ import annotations

import json
import sys

import nmf_helpers as nh

from .._validation import ParameterError
from ..detection import check_min_part, check_tempo_range
from . import UsageError


def format_ranges(ranges, separator: str = ", ") -> str:
    """``1.11-10.00 s, 10.01-18.89 s`` style text for (start, end) pairs in seconds."""
    return separator.join(f"{start:.2f}-{end:.2f} s" for start, end in ranges)


def occurrence_rows(result) -> list[dict]:
    """The occurrences of a :class:`~nmf_helpers.SampleDetection` as JSON-ready dicts.

    Seconds and ratios rounded to 3 decimals (a millisecond), scores to 4.
    """
    return [
        {
            "track_start_s": round(o.track_start_s, 3),
            "track_end_s": round(o.track_end_s, 3),
            "sample_start_s": round(o.sample_start_s, 3),
            "sample_end_s": round(o.sample_end_s, 3),
            "tempo_ratio": round(o.tempo_ratio, 3),
            "pitch_shift": round(o.pitch_shift, 3),
            "score": round(o.score, 4),
        }
        for o in result.occurrences
    ]


def summary(result, sample, track) -> dict:
    """The JSON-ready facts of a :class:`~nmf_helpers.SampleDetection`."""
    return {
        "sample": str(sample),
        "track": str(track),
        "score": round(result.score, 4),
        "detected": result.detected,
        "threshold": result.threshold,
        "shift_semitones": result.shift,
        "ranges_s": [[round(start, 3), round(end, 3)] for start, end in result.ranges],
        "tempo_ratio": round(result.tempo_ratio, 3),
        "occurrences": occurrence_rows(result),
    }


def _in_option_words(command: str, error: ParameterError, words: dict[str, str]) -> str:
    """The library's message without its ``command:`` prefix, its argument names as ``words``."""
    text = str(error).removeprefix(f"{command}: ")
    for name, replacement in words.items():
        text = text.replace(name, replacement)
    return text


def tempo_range_option(command: str, values) -> tuple[float, float]:
    """``--tempo-range LOW HIGH`` as ``detect_sample`` checks it; the error names the option.

    Returns (low, high) as floats; raises :class:`UsageError` otherwise, e.g.
    ``detect: --tempo-range 0.5 1.1 is out of range: LOW must be between
    0.8 and 1.25, got 0.5; use values within 0.80-1.25, LOW first``.
    """
    try:
        return check_tempo_range(command, tuple(values))
    except ParameterError as error:
        low, high = nh.TEMPO_LIMITS
        words = {"tempo_range[0]": "LOW", "tempo_range[1]": "HIGH", "tempo_range": "the range"}
        shown = " ".join(f"{value:g}" for value in values)
        raise UsageError(
            f"{command}: --tempo-range {shown} is out of range:"
            f" {_in_option_words(command, error, words)};"
            f" use values within {low:.2f}-{high:.2f}, LOW first"
        ) from None


def min_part_option(command: str, value) -> float:
    """``--min-part SECONDS`` as ``detect_sample`` checks it; the error names the option."""
    try:
        return check_min_part(command, value)
    except ParameterError as error:
        raise UsageError(
            f"{command}: --min-part {value:g} is out of range:"
            f" {_in_option_words(command, error, {'min_part_s': 'it'})};"
            f" give about one bar of the sample, in seconds (default {nh.MIN_PART_SECONDS:g})"
        ) from None


def run(args) -> int:
    tempo_range = tempo_range_option("detect", args.tempo_range)
    min_part_s = min_part_option("detect", args.min_part)
    try:
        result = nh.detect_sample(
            args.sample,
            args.track,
            n_free=args.free,
            n_iter=args.iters,
            threshold=args.threshold,
            seed=args.seed,
            progress=sys.stderr.isatty(),
            tempo_range=tempo_range,
            min_part_s=min_part_s,
        )
    except ParameterError as error:
        if "min_part_s" not in str(error):
            raise
        # The sample is shorter than --min-part: known only once it is read.
        words = {"min_part_s": "--min-part"}
        raise UsageError(f"detect: {_in_option_words('detect_sample', error, words)}") from None
    if args.json:
        print(json.dumps(summary(result, args.sample, args.track)))
        return 0
    verdict = "the sample IS used in the track" if result.detected else "the sample is NOT found"
    print(
        f"score {result.score:.3f} (threshold {result.threshold:g},"
        f" best pitch shift {result.shift:+g} semitones): {verdict}"
    )
    if result.ranges:
        print(f"ranges: {format_ranges(result.ranges)}")
    for o in result.occurrences:
        print(
            f"  track {o.track_start_s:.2f}-{o.track_end_s:.2f} s plays sample"
            f" {o.sample_start_s:.2f}-{o.sample_end_s:.2f} s, tempo x{o.tempo_ratio:.3f},"
            f" pitch {o.pitch_shift:+.1f} semitones (score {o.score:.3f})"
        )
    return 0


def add_detection_options(parser) -> None:
    """The options ``detect`` and ``scan`` share.

    Threshold, iterations, free components, seed, tempo range and shortest part.
    """
    parser.add_argument(
        "--threshold",
        type=float,
        default=nh.DETECTION_THRESHOLD,
        help=f"decision threshold on the score (default {nh.DETECTION_THRESHOLD})",
    )
    parser.add_argument("--iters", type=int, default=100, help="NMF iterations (default 100)")
    parser.add_argument(
        "--free", type=int, default=20, help="free components for the rest (default 20)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    low, high = nh.DEFAULT_TEMPO_RANGE
    parser.add_argument(
        "--tempo-range",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=[low, high],
        help=f"tempo ratios searched, track over sample (default {low:g} {high:g}; at most"
        f" {nh.TEMPO_LIMITS[0]:g} to {nh.TEMPO_LIMITS[1]:g})",
    )
    parser.add_argument(
        "--min-part",
        type=float,
        metavar="SECONDS",
        default=nh.MIN_PART_SECONDS,
        help=f"shortest part of the sample searched for (default {nh.MIN_PART_SECONDS:g} s,"
        " about one bar; 1 to 600)",
    )


def add_parser(subparsers) -> None:
    detect = subparsers.add_parser(
        "detect", help="is a sample used in a track, and where (partially fixed KL NMF)"
    )
    detect.add_argument("sample", help="the sample, an audio file")
    detect.add_argument("track", help="the track to search, an audio file")
    detect.add_argument("--json", action="store_true", help="print one JSON object")
    add_detection_options(detect)
    detect.set_defaults(run=run)
