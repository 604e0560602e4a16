"""The commands' options, checked while the command line is parsed, in the options' words.

Each function here makes an argparse ``type=``: it turns the text the user
typed into a value, or raises :class:`~nmf_helpers.cli.UsageError` naming
the command, the option as typed and the value, e.g. ``demo: --iters must be
a whole number between 1 and 100000, got 1e30``. argparse lets that error
through (it catches only its own, ``TypeError`` and ``ValueError``), and
:func:`nmf_helpers.cli.main` prints it as the one line of every bad input,
before any file is read. ``--tempo-range`` and ``--min-part`` are judged by
the library's own checks (``check_tempo_range``, ``check_min_part`` of
:mod:`nmf_helpers.detection.settings`), told the option's name, so their words
are the library's; the other ranges are the library's where it has one (the
threshold's [-1, 1], a seed's 32 bits), read from there, never copied; the
others bound what one run can do (:data:`ITERATIONS_OPTION_MAX`,
:data:`MAX_COMPONENTS`). One option has one checker, whichever command takes it
(``detect`` and ``scan`` share theirs: :func:`add_detection_options`).

Also the running time a command should announce (:func:`time_note`): the NMF
dominates it, and its cost per iteration grows as ``M N (K + c)``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from .._validation import ParameterError
from ..detection import settings
from ..spectral import DEFAULT_HOP, DEFAULT_WIN, frame_count
from . import UsageError

__all__ = [
    "ITERATIONS_OPTION_MAX",
    "add_detection_options",
    "estimated_seconds",
    "min_part",
    "output_folder",
    "real_number",
    "seed_option",
    "tempo_range",
    "time_note",
    "time_range",
    "whole_number",
]

#: Most iterations of one NMF a command's --iters accepts. Lower than the library's
#: ceiling (``nmf_helpers._validation.MAX_ITERATIONS``, 1_000_000), which bounds what
#: code may ask of any matrix, however small; a command always fits a whole song,
#: where 100_000 iterations already take hours, so more is a slip of the keyboard.
ITERATIONS_OPTION_MAX = 100_000
#: Most components a command accepts (the library's K may not exceed min(M, N) either).
MAX_COMPONENTS = 256
#: Seconds per iteration, per frequency bin, frame and (component + _PER_FRAME_COMPONENTS).
#: A conservative cost per element, fitted to the output of ``separate``'s benchmark
#: (split_drums, KL) and rounded up, so that the note errs long rather than short.
SECONDS_PER_ELEMENT = 0.65e-9
#: The work of an iteration that does not grow with K (V / WH, the sums), in components.
_PER_FRAME_COMPONENTS = 16
#: A run expected to take longer than this (seconds) says so before it starts.
ANNOUNCE_AFTER_S = 300.0


def whole_number(
    command: str, option: str, low: int, high: int | None = None
) -> Callable[[str], int]:
    """``type=`` of an integer option in ``[low, high]`` (no top if ``high`` is None).

    ``1e30`` and ``2.5`` are refused.
    """
    wanted = f"between {low} and {high}" if high is not None else f"of at least {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise UsageError(f"{command}: {option} must be a whole number {wanted}, got {text}")
        return value

    return parse


def seed_option(command: str) -> Callable[[str], int]:
    """``type=`` of ``--seed``: what every numpy generator takes, 0 to 2**32 - 1."""
    return whole_number(command, "--seed", 0, 2**32 - 1)


def real_number(command: str, option: str, low: float, high: float) -> Callable[[str], float]:
    """``type=`` of a real option in ``[low, high]`` (NaN and infinities refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:  # False for NaN too
            raise UsageError(
                f"{command}: {option} must be a number between {low:g} and {high:g}, got {text}"
            )
        return value

    return parse


def _number(text: str):
    """``text`` as a float, or as given if it is not one (for a library check to refuse)."""
    try:
        return float(text)
    except ValueError:
        return text


def tempo_range(command: str) -> type[argparse.Action]:
    """``action=`` of ``--tempo-range LOW HIGH`` (``nargs=2``): the library's check.

    Stores ``(low, high)`` as floats, as
    :func:`~nmf_helpers.detection.settings.check_tempo_range` returns them;
    its error, naming the option (``--tempo-range LOW``, ``--tempo-range
    HIGH``), reaches :func:`nmf_helpers.cli.main` as it is, e.g. ``detect:
    --tempo-range LOW must be between 0.8 and 1.25, got 0.5``. Both values
    are needed to judge the order, hence an action rather than a ``type=``.
    """

    class TempoRange(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            ratios = settings.check_tempo_range(
                command,
                tuple(_number(text) for text in values),
                name="--tempo-range",
                ends=("--tempo-range LOW", "--tempo-range HIGH"),
            )
            setattr(namespace, self.dest, ratios)

    return TempoRange


def min_part(command: str) -> Callable[[str], float]:
    """``type=`` of ``--min-part``: the library's check, ``settings.check_min_part``.

    argparse would turn its error (a ``ValueError``) into its own vague
    words, so it goes on as a :class:`UsageError` with the same text.
    """

    def parse(text: str) -> float:
        try:
            return settings.check_min_part(command, _number(text), name="--min-part")
        except ParameterError as error:
            raise UsageError(str(error)) from None

    return parse


def time_range(command: str, option: str) -> Callable[[str], tuple[float, float]]:
    """``type=`` of ``START:END`` in seconds, ``0 <= START < END``.

    Whether it fits the song, and holds enough frames, is known only once the
    song is read (the command checks that, in the same words).
    """

    def parse(text: str) -> tuple[float, float]:
        parts = text.split(":")
        try:
            if len(parts) != 2:
                raise ValueError
            start, end = float(parts[0]), float(parts[1])
        except ValueError:
            raise UsageError(
                f"{command}: {option} must be START:END in seconds (e.g. 0:4), got {text!r}"
            ) from None
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0:
            raise UsageError(
                f"{command}: {option} {text}: START and END must be seconds, START at least 0"
            )
        if end <= start:
            raise UsageError(f"{command}: {option} {text} is empty; END must be greater than START")
        return start, end

    return parse


def output_folder(command: str) -> Callable[[str], str]:
    """``type=`` of ``-o``: an empty path would quietly mean the current folder."""

    def parse(text: str) -> str:
        if not text.strip():
            raise UsageError(
                f"{command}: -o is empty; give the folder for the outputs (-o . for this one)"
            )
        return text

    return parse


def estimated_seconds(n_samples: int, components: int, iterations: int) -> float:
    """Conservative seconds of ``iterations`` NMF iterations on ``n_samples`` of song.

    The project's STFT (win 2048, hop 512): ``M = 1025`` bins and
    ``frame_count(n_samples)`` frames; each iteration costs about
    ``M N (K + c)`` times :data:`SECONDS_PER_ELEMENT`.
    """
    M = DEFAULT_WIN // 2 + 1
    N = frame_count(n_samples, DEFAULT_WIN, DEFAULT_HOP)
    return M * N * (components + _PER_FRAME_COMPONENTS) * iterations * SECONDS_PER_ELEMENT


def time_note(seconds: float, shorter: str) -> str | None:
    """The note for a run of ``seconds``, or None if it is not long enough to say.

    ``shorter`` says how to make it shorter, in the command's options.
    """
    if seconds <= ANNOUNCE_AFTER_S:
        return None
    if seconds < 2 * 3600:
        took = f"{seconds / 60:.0f} minutes"
    else:
        took = f"{seconds / 3600:.1f} hours"
    return f"this run may take about {took} (a rough estimate; Ctrl-C stops it cleanly); {shorter}"


def add_detection_options(parser) -> None:
    """The options ``detect`` and ``scan`` share.

    Threshold, iterations, free components, seed, tempo range and shortest part.
    """
    command = parser.prog.split()[-1]  # "detect" or "scan": the first word of its errors
    parser.add_argument(
        "--threshold",
        type=real_number(command, "--threshold", -1.0, 1.0),
        default=settings.DETECTION_THRESHOLD,
        help=f"decision threshold on the score (default {settings.DETECTION_THRESHOLD})",
    )
    parser.add_argument(
        "--iters",
        type=whole_number(command, "--iters", 1, ITERATIONS_OPTION_MAX),
        default=settings.DEFAULT_TRACK_ITERATIONS,
        help=f"NMF iterations (default {settings.DEFAULT_TRACK_ITERATIONS})",
    )
    parser.add_argument(
        "--free",
        type=whole_number(command, "--free", 0, MAX_COMPONENTS),
        default=settings.DEFAULT_N_FREE,
        help=f"free components for the rest (default {settings.DEFAULT_N_FREE})",
    )
    parser.add_argument(
        "--seed", type=seed_option(command), default=0, help="random seed (default 0)"
    )
    low, high = settings.DEFAULT_TEMPO_RANGE
    parser.add_argument(
        "--tempo-range",
        action=tempo_range(command),
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=(low, high),
        help=f"tempo ratios searched, track over sample (default {low:g} {high:g}; at most"
        f" {settings.TEMPO_LIMITS[0]:g} to {settings.TEMPO_LIMITS[1]:g})",
    )
    shortest, longest = settings.MIN_PART_RANGE  # for the help only: check_min_part judges
    parser.add_argument(
        "--min-part",
        type=min_part(command),
        metavar="SECONDS",
        default=settings.MIN_PART_SECONDS,
        help=f"shortest part of the sample searched for (default {settings.MIN_PART_SECONDS:g} s,"
        f" about one bar; {shortest:g} to {longest:g})",
    )
