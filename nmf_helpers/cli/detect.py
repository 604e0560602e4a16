"""``detect SAMPLE TRACK [--json] [--threshold T] [--iters N] [--free K] [--seed S]``.

Also ``[--tempo-range LOW HIGH] [--min-part SECONDS]``: the search's tempo
ratios and the shortest part of the sample it looks for. A bad value of any
option is refused in one line that names the option as typed, while the
command line is parsed, before any file is read
(:func:`nmf_helpers.cli._options.add_detection_options`, which ``scan``
takes as well): the library's checks (``check_tempo_range``,
``check_min_part``, and ``check_part`` for a sample shorter than
``--min-part``), told the options' names.

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

from .._validation import check_not_silent
from ..audio import audio_header
from ..detection import settings
from . import note
from ._options import add_detection_options, estimated_seconds, time_note


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


def _load(path, what: str, min_part_s: float):
    """The sample or track, read once here: its length is judged against --min-part."""
    audio_header("detect", path)  # a missing file, a FIFO, a URL: said as detect's
    x, sr = nh.load_audio(path)
    check_not_silent("detect", f"{what} {str(path)!r}", x)  # named as given, as separate does
    seconds = x.size / sr
    if what == "sample":  # the library's check, in the option's words
        settings.check_part("detect", seconds, min_part_s, name="--min-part")
    return x, sr


def _announce_time(args, n_sample: int, n_track: int) -> None:
    """One note before a detection that will take more than a few minutes."""
    columns = settings.DEFAULT_N_COMPONENTS * len(settings.DEFAULT_SHIFTS) + args.free
    seconds = estimated_seconds(n_track, columns, args.iters)
    seconds += estimated_seconds(
        n_sample, settings.DEFAULT_N_COMPONENTS, settings.DEFAULT_SAMPLE_ITERATIONS
    )
    text = time_note(
        seconds, f"fewer --iters (now {args.iters}) or --free (now {args.free}) make it shorter"
    )
    if text is not None:
        note("detect", text)


def run(args) -> int:
    min_part_s = args.min_part  # checked while parsing, as every option
    x_sample, sr = _load(args.sample, "sample", min_part_s)
    x_track, _ = _load(args.track, "track", min_part_s)
    _announce_time(args, x_sample.size, x_track.size)
    result = nh.detect_sample(
        x_sample,
        x_track,
        sr=sr,
        n_free=args.free,
        n_iter=args.iters,
        threshold=args.threshold,
        seed=args.seed,
        progress=sys.stderr.isatty(),
        tempo_range=args.tempo_range,
        min_part_s=min_part_s,
    )
    track_s = x_track.size / sr
    if track_s < min_part_s and not result.detected:
        note(
            "detect",
            f"the track lasts {track_s:.2f} s, shorter than --min-part {min_part_s:g} s:"
            " no part that long can be in it, so nothing could be found; give a smaller"
            " --min-part to search for shorter parts",
        )
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


def add_parser(subparsers) -> None:
    summary_line = "is a sample used in a track, and where (partially fixed KL NMF)"
    detect = subparsers.add_parser("detect", help=summary_line)
    detect.add_argument("sample", help="the sample, an audio file")
    detect.add_argument("track", help="the track to search, an audio file")
    detect.add_argument("--json", action="store_true", help="print one JSON object")
    add_detection_options(detect)
    detect.set_defaults(run=run)
