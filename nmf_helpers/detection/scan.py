"""A catalogue scan, one (sample, track) pair at a time: the work ``scan`` distributes.

``scan SAMPLE... CATALOGUE`` (:mod:`nmf_helpers.cli.scan`) checks every
sample against every track. The work is cut so that nothing is done twice:

- each sample's templates are learned once (:func:`nmf_helpers.learn_sample`),
  in the process that starts the scan;
- each track is decoded and its spectrogram computed once
  (:func:`load_track_unchecked`), however many samples it is checked
  against; the spectrogram is kept while its pairs run;
- each pair (:func:`scan_pair`) gets a *first pass*
  (:func:`~nmf_helpers.detection.coarse_score_unchecked`): a fit of
  :data:`SCREEN_ITERATIONS` iterations aligned at :data:`SCREEN_RATIOS` tempo
  ratios only, giving a score and nothing else. A pair whose first-pass score
  is more than :data:`SCREEN_MARGIN` below the decision threshold cannot
  match and is decided there. Only the pairs the first pass keeps pay for the
  full check (:func:`~nmf_helpers.detection.detect_in_spectrogram_unchecked`,
  bit for bit :func:`~nmf_helpers.detect_sample`).

The cost therefore grows as ``S * T`` first passes plus ``kept * S * T`` full
checks (``kept``: the share the first pass keeps), each in proportion to the
track's length, plus ``T`` decodings and spectrograms and ``S`` learnings,
which are small. ``benchmarks/bench_scan.py`` measures each term.

A pair's outcome is a dict of CSV fields (:data:`ROW_FIELDS`); a track that
cannot be read or checked gives an error row for each of its pairs, never an
exception, so one odd file does not stop a scan of thousands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import ParameterError, check_int, check_iterations, check_real, check_seed
from ..spectral import DEFAULT_HOP, DEFAULT_WIN
from . import settings as common
from .door import (
    coarse_score_unchecked,
    detect_in_spectrogram_unchecked,
    track_spectrogram_unchecked,
)
from .learning import SampleTemplates, load_waveform

__all__ = [
    "ROW_FIELDS",
    "SCREEN_ITERATIONS",
    "SCREEN_MARGIN",
    "SCREEN_RATIOS",
    "ScanSettings",
    "Track",
]

#: Iterations of the first pass. The activations of a fit this short already
#: follow the sample where it plays; ``benchmarks/bench_scan.py`` checks that
#: no positive of ``benchmarks/bench_detection.py`` is lost, and prints what
#: the first pass costs next to a full check. More iterations bring its
#: score closer to the full check's, which a smaller :data:`SCREEN_MARGIN`
#: could then use, at a higher cost for every pair.
SCREEN_ITERATIONS = 15

#: Tempo ratios the first pass aligns at, evenly over the scan's tempo range
#: (x0.90, x0.95, x1.00, x1.05, x1.10 by default), instead of the full
#: check's one every 0.02 and its path following.
SCREEN_RATIOS = 5

#: A pair is ruled out when its first-pass score is below the decision
#: threshold minus this margin. A short fit and a coarse alignment score a
#: positive lower than the full check does; the margin is the largest such
#: drop ``benchmarks/bench_scan.py`` finds among the detection benchmark's
#: positives, which it prints with the smallest margin that keeps them all.
#: A wider margin keeps more pairs for the full check and saves less.
SCREEN_MARGIN = 0.11

#: The CSV fields of one pair, besides the sample and track that name it.
ROW_FIELDS = [
    "decision",
    "score",
    "stage",
    "shift_semitones",
    "tempo_ratio",
    "track_ranges",
    "sample_ranges",
    "error",
]


@dataclass(frozen=True)
class ScanSettings:
    """How each pair is checked; the same for every pair of a scan.

    Parameters
    ----------
    n_iter : int >= 1
        KL NMF iterations of the full fit.
    n_free : int >= 0
        Free components for everything in the track that is not the sample.
    threshold : float in [-1, 1]
        Decision threshold on the score.
    seed : int
        Seed of every fit's initialisation.
    screen_iter : int >= 0
        Iterations of the first pass; 0 (or ``>= n_iter``) checks every
        pair with the full fit.
    screen_margin : float >= 0
        How far below ``threshold`` a first-pass score rules the pair out.
    tempo_range : (float, float)
        Lowest and highest tempo ratio (track / sample) searched, by the
        first pass (its :data:`SCREEN_RATIOS` ratios spread over it) and the
        full check alike; as for :func:`~nmf_helpers.detect_sample`.
    min_part_s : float
        Shortest part of the sample searched for, in seconds, by both passes;
        a sample shorter than this gets error rows.
    """

    n_iter: int = common.DEFAULT_TRACK_ITERATIONS
    n_free: int = common.DEFAULT_N_FREE
    threshold: float = common.DETECTION_THRESHOLD
    seed: int = 0
    screen_iter: int = SCREEN_ITERATIONS
    screen_margin: float = SCREEN_MARGIN
    tempo_range: tuple[float, float] = common.DEFAULT_TEMPO_RANGE
    min_part_s: float = common.MIN_PART_SECONDS

    def __post_init__(self):
        function = "scan"
        check_iterations(function, self.n_iter)
        check_int(function, "n_free", self.n_free, minimum=0)
        check_real(function, "threshold", self.threshold, minimum=-1.0, maximum=1.0)
        check_seed(function, self.seed)
        check_iterations(function, self.screen_iter, name="screen_iter", minimum=0)
        check_real(function, "screen_margin", self.screen_margin, minimum=0.0, maximum=2.0)
        # Frozen: the checked values (floats, a tuple) replace what was given.
        tempo_range = common.check_tempo_range(function, self.tempo_range)
        object.__setattr__(self, "tempo_range", tempo_range)
        object.__setattr__(self, "min_part_s", common.check_min_part(function, self.min_part_s))

    @property
    def screens(self) -> bool:
        """Does a first pass run (it must be shorter than the full fit to pay)?"""
        return 0 < self.screen_iter < self.n_iter


@dataclass(frozen=True, eq=False)
class Track:
    """A catalogue track, decoded once for all its pairs.

    Attributes
    ----------
    path : str
        The track as the catalogue names it.
    V : np.ndarray [shape=(DEFAULT_WIN // 2 + 1, N), float32] or None
        Its magnitude spectrogram (:func:`~nmf_helpers.detection.track_spectrogram_unchecked`),
        made once for every sample; None if the track could not be read.
    duration_s : float
        Its length in seconds.
    error : str
        Why it could not be read ("" when it was).
    """

    path: str
    V: np.ndarray | None
    duration_s: float = 0.0
    error: str = ""


def _reason(error: Exception) -> str:
    """An exception as one line for the CSV's error column."""
    known = isinstance(error, ParameterError | OSError)
    text = str(error) if known else f"{type(error).__name__}: {error}"
    return " ".join(text.split())


def load_track_unchecked(path: str, sr: int) -> Track:
    """Decode ``path`` at ``sr``, spectrogram and all; a file that cannot be gives its error.

    The spectrogram has the default STFT sizes, those of every template a
    scan learns (:func:`scan_pair` refuses others).
    """
    try:
        x = load_waveform("scan", "track", path, sr)  # as detect_sample reads its track
        V = track_spectrogram_unchecked(x, DEFAULT_WIN, DEFAULT_HOP, function="scan")
    except Exception as error:  # one odd file must not end a scan of thousands
        return Track(path, None, error=_reason(error))
    return Track(path, V, x.size / sr)


def error_fields(error: str) -> dict[str, str]:
    """The CSV fields of a pair that could not be checked."""
    return {"decision": "error", "error": " ".join(error.split())}


def _ranges(pairs) -> str:
    return "; ".join(f"{start:.2f}-{end:.2f}" for start, end in pairs)


def result_fields(result, stage: str) -> dict[str, str]:
    """The CSV fields of a :class:`~nmf_helpers.SampleDetection` (``stage``: which fit decided).

    Per occurrence: where it plays in the track and which part of the sample
    it is (seconds, ``start-end``, ``; `` between occurrences).
    """
    occurrences = result.occurrences
    track_ranges = [(o.track_start_s, o.track_end_s) for o in occurrences]
    sample_ranges = [(o.sample_start_s, o.sample_end_s) for o in occurrences]
    return {
        "decision": "yes" if result.detected else "no",
        "score": f"{result.score:.4f}",
        "stage": stage,
        "shift_semitones": f"{result.shift:+g}",
        "tempo_ratio": f"{result.tempo_ratio:.3f}",
        "track_ranges": _ranges(track_ranges),
        "sample_ranges": _ranges(sample_ranges),
        "error": "",
    }


def scan_pair(templates: SampleTemplates, track: Track, settings: ScanSettings) -> dict[str, str]:
    """The CSV fields of one pair: first pass, then the full fit if the pair may match.

    Never raises for a bad track: its problem goes in the error field.
    """
    if track.V is None:
        return error_fields(track.error)
    if (templates.win, templates.hop) != (DEFAULT_WIN, DEFAULT_HOP):
        return error_fields(
            f"scan: templates with win = {templates.win}, hop = {templates.hop}; the scan's"
            f" spectrograms have win = {DEFAULT_WIN}, hop = {DEFAULT_HOP}: learn them with those"
        )
    try:
        common.check_part("scan", templates.duration_s, settings.min_part_s)  # as detect_sample
    except ParameterError as error:
        return error_fields(_reason(error))
    options = {
        "n_free": settings.n_free,
        "seed": settings.seed,
        "tempo_range": settings.tempo_range,
        "min_part_s": settings.min_part_s,
    }
    try:
        if settings.screens:
            score = coarse_score_unchecked(
                templates, track.V, n_iter=settings.screen_iter, n_ratios=SCREEN_RATIOS, **options
            )
            if not score >= settings.threshold - settings.screen_margin:
                # Ruled out: a score only, no shift, tempo or ranges.
                return {field: "" for field in ROW_FIELDS} | {
                    "decision": "no",
                    "score": f"{score:.4f}",
                    "stage": "first pass",
                }
        result = detect_in_spectrogram_unchecked(
            templates,
            track.V,
            track.duration_s,
            n_iter=settings.n_iter,
            threshold=settings.threshold,
            **options,
        )
    except Exception as error:  # one odd file must not end a scan of thousands
        return error_fields(_reason(error))
    if not math.isfinite(result.score):
        return error_fields(f"the score is not a number ({result.score})")
    return result_fields(result, "full fit")
