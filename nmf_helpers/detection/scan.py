"""A catalogue scan: every sample against every track, here or on a Dask cluster.

The engine of ``scan SAMPLE... CATALOGUE`` (:mod:`nmf_helpers.cli.scan`,
which parses, calls this and writes the CSV), and of ``benchmarks/bench_scan.py``.
The work is cut so that nothing is done twice:

- each sample's templates are learned once (:func:`nmf_helpers.learn_sample`),
  in the process that starts the scan;
- each track is decoded and its spectrogram computed once
  (:func:`read_track`), however many samples it is checked
  against, and all its pairs are checked where it was read: the
  spectrogram, the one large thing of a pair, never travels and is let go
  when the track's last pair is done;
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

Who does the work (:func:`run_pairs`): this process, track after track and
pair after pair, or a Dask cluster (:func:`dask_client`: a ``LocalCluster``
of one-thread workers, or a running scheduler, probed first by
:func:`probe_scheduler`). On a cluster the unit of work is the track: one
task per track reads it and checks all its samples against it, on the worker
that runs it, and returns its pairs' fields (small rows). The samples'
templates go to the cluster once, as tasks of their own that every track's
task depends on; a worker fetches a sample's templates for the first track
that needs them and reuses that copy for the next ones
(``benchmarks/bench_scan.py`` counts the bytes moved). A few tracks are in
flight at a time (two per worker thread, and one), so memory stays bounded.
A track's pairs lost with their worker are sent again together
(:data:`RESUBMISSIONS`), then left undone; a lost scheduler raises
:class:`ClusterLost`. The engine raises library errors
(:class:`~nmf_helpers.ParameterError`, :class:`ClusterLost`) and takes from
its caller what only the caller knows: where the pairs' rows go (``emit``),
a safe point to stop at (``checkpoint``) and where its notes go (``note``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.util
import itertools
import logging
import math
import os
import signal
import socket
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._threads import library_threads
from .._validation import ParameterError, check_int, check_iterations, check_real, check_seed
from ..spectral import DEFAULT_HOP, DEFAULT_WIN
from . import settings as common
from .copies import WhiteTrack, whiten_unchecked
from .door import (
    coarse_score_unchecked,
    detect_in_spectrogram_unchecked,
    track_spectrogram_unchecked,
)
from .learning import SampleTemplates, learn_from_waveform, load_waveform
from .settings import SCREEN_ITERATIONS, SCREEN_RATIOS  # the first pass's, named here too

__all__ = [
    "ROW_FIELDS",
    "SCREEN_ITERATIONS",
    "SCREEN_MARGIN",
    "SCREEN_RATIOS",
    "SR",
    "ClusterLost",
    "ScanSettings",
    "Track",
    "catalogue_tracks",
    "dashboard",
    "dask_client",
    "probe_scheduler",
    "run_pairs",
    "scan_templates",
    "unique_paths",
]

#: A pair is ruled out when its first-pass score is below the decision
#: threshold minus this margin. A short fit and a coarse alignment score a
#: positive lower than the full check does; the cut this margin sets must lie
#: well under the lowest first-pass score of any positive the full check
#: finds in the detection benchmark, on each of its materials, which
#: ``benchmarks/bench_scan.py --full`` prints with the distance between them.
#: A wider margin keeps more pairs for the full check and saves less.
SCREEN_MARGIN = 0.16

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
    min_part_name : str
        What the caller calls ``min_part_s`` (``--min-part`` for the command
        line): the words of its errors and of those rows. Not a setting of
        the results.
    """

    n_iter: int = common.DEFAULT_TRACK_ITERATIONS
    n_free: int = common.DEFAULT_N_FREE
    threshold: float = common.DETECTION_THRESHOLD
    seed: int = 0
    screen_iter: int = SCREEN_ITERATIONS
    screen_margin: float = SCREEN_MARGIN
    tempo_range: tuple[float, float] = common.DEFAULT_TEMPO_RANGE
    min_part_s: float = common.MIN_PART_SECONDS
    min_part_name: str = "min_part_s"

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
        object.__setattr__(
            self,
            "min_part_s",
            common.check_min_part(function, self.min_part_s, name=self.min_part_name),
        )

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
    white : WhiteTrack or None
        Its whitened waveform, where exact copies of a sample are found
        (:mod:`~nmf_helpers.detection.copies`); None if the track could not be read.
    """

    path: str
    V: np.ndarray | None
    duration_s: float = 0.0
    error: str = ""
    white: WhiteTrack | None = field(default=None, repr=False)


def _reason(error: Exception) -> str:
    """An exception as one line for the CSV's error column."""
    known = isinstance(error, ParameterError | OSError)
    text = str(error) if known else f"{type(error).__name__}: {error}"
    return " ".join(text.split())


def _unless_interrupted(error: Exception) -> Exception:
    """``error``, unless an interrupt hides in it: then that interrupt is raised.

    A signal's handler raises its ``KeyboardInterrupt`` at the next line of
    Python; when that line is the return from compiled code (numba's loops),
    the interrupt comes back as a ``SystemError`` whose cause it is. The user
    stopped the scan: that is no fault of the pair, and must not become its
    error row.
    """
    seen = set()
    cause = error
    while cause is not None and id(cause) not in seen:
        if not isinstance(cause, Exception):
            raise cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return error


def read_track(path: str, sr: int) -> Track:
    """Decode ``path`` at ``sr``, spectrogram and all; never raises: a bad file gives its error.

    The spectrogram has the default STFT sizes, those of every template a
    scan learns (:func:`scan_pair` refuses others).
    """
    try:
        x = load_waveform("scan", "track", path, sr)  # as detect_sample reads its track
        V = track_spectrogram_unchecked(x, DEFAULT_WIN, DEFAULT_HOP, function="scan")
        white = WhiteTrack(whiten_unchecked(x))
    except Exception as error:  # one odd file must not end a scan of thousands
        return Track(path, None, error=_reason(_unless_interrupted(error)))
    return Track(path, V, x.size / sr, white=white)


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
        common.check_part(  # as detect_sample
            "scan", templates.duration_s, settings.min_part_s, name=settings.min_part_name
        )
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
                templates,
                track.V,
                n_iter=settings.screen_iter,
                n_ratios=SCREEN_RATIOS,
                white=track.white,
                **options,
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
            white=track.white,
            n_iter=settings.n_iter,
            threshold=settings.threshold,
            **options,
        )
    except Exception as error:  # one odd file must not end a scan of thousands
        return error_fields(_reason(_unless_interrupted(error)))
    if not math.isfinite(result.score):
        return error_fields(f"the score is not a number ({result.score})")
    return result_fields(result, "full fit")


# -- the catalogue ------------------------------------------------------------------------------

#: What a catalogue's folder holds that is audio, by name.
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".m4a"}

#: Sample rate of every scan (the detector's: ``settings.SAMPLE_RATE``).
SR = common.SAMPLE_RATE

#: Seconds to wait for a scheduler's address to connect and greet.
PROBE_S = 3.0
#: Seconds Dask's client may take to connect, or to reconnect once its scheduler is gone.
CONNECT_S = 10
#: Seconds to close the client once done (its scheduler may be gone).
CLOSE_S = 5
#: Seconds without any worker before ``note`` is told the scheduler has none.
NO_WORKER_S = 10.0
#: Times a pair lost with its workers (Dask's KilledWorker) is sent again before it is
#: left undone. A dying worker takes with it every pair queued on it, not only the one it
#: was checking: those are innocent, and go again. A pair that kills each worker it is given
#: (a track too large for a worker's memory) stops after these, undone, not an error.
RESUBMISSIONS = 2

# Worker threads of the local cluster: set before each worker starts, so that
# BLAS and numba size their pools once, at one thread (the workers are the parallelism).
_WORKER_ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
#: What the local workers' environment must not have (None unsets, in Dask's settings).
#: Dask's nanny gives its workers MALLOC_TRIM_THRESHOLD_, so that freed memory goes back
#: to the system at once; setting it also fixes glibc's mmap threshold, so each large
#: array of a fit is mapped afresh and faulted in page by page, and every check costs
#: far more CPU. Unset, glibc keeps its own thresholds (memory stays bounded by the
#: few tracks in flight). A ``dask worker`` started by hand needs the same setting
#: (README: ``DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON='{"MALLOC_TRIM_THRESHOLD_": None}'``).
_WORKER_UNSET = {"MALLOC_TRIM_THRESHOLD_": None}

#: What the engine tells its caller, one line at a time (the command prints it as a note).
Notify = Callable[[str], None]


def unique_paths(paths: list[str], what: str, *, note: Notify | None = None) -> list[str]:
    """``paths`` without repeats (one file under two names too), each first name kept.

    A repeat would only give the same rows again: it is checked once, and
    ``note`` is told so, in one line (``what``: how the files were given).
    """
    first: dict[str, str] = {}
    counts: collections.Counter[str] = collections.Counter()
    for path in paths:
        key = os.path.realpath(path)
        first.setdefault(key, path)
        counts[key] += 1
    repeated = [(first[key], n) for key, n in counts.items() if n > 1]
    if note is not None and len(repeated) == 1:
        (path, n), *_ = repeated
        note(f"{path!r} is {what} {n} times; it is checked once")
    elif note is not None and repeated:
        note(
            f"{len(repeated)} files are {what} more than once (first: {repeated[0][0]!r});"
            " each is checked once"
        )
    return list(first.values())


def _audio_in(folder: Path, exclude: set[str], note: Notify | None) -> list[str]:
    files = [
        str(path)
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in AUDIO_SUFFIXES
        and path.is_file()
        and os.path.realpath(path) not in exclude
    ]
    if not files:
        kinds = ", ".join(sorted(AUDIO_SUFFIXES))
        raise ParameterError(f"scan: no audio files ({kinds}) in {str(folder)!r}")
    return unique_paths(files, f"in {str(folder)!r}", note=note)


def _listed(listing: Path, exclude: set[str], note: Notify | None) -> list[str]:
    data = listing.read_bytes()
    if b"\0" in data:  # text has no NUL byte; audio and most binary files do
        raise ParameterError(
            f"scan: {str(listing)!r} is neither audio ({', '.join(sorted(AUDIO_SUFFIXES))})"
            " nor a text file listing tracks one a line"
        )
    tracks = []
    # Each line decoded as the file system decodes names, so that a name that is not
    # UTF-8 (a Latin-1 byte) names the same file as it would in a folder.
    for line in map(os.fsdecode, data.splitlines()):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = Path(line) if os.path.isabs(line) else listing.parent / line
        if os.path.realpath(path) not in exclude:
            tracks.append(str(path))
    if not tracks:
        raise ParameterError(f"scan: the list {str(listing)!r} names no track")
    return unique_paths(tracks, f"listed in {str(listing)!r}", note=note)


def catalogue_tracks(
    catalogue: Path, samples: list[Path], *, note: Notify | None = None
) -> list[str]:
    """The tracks of ``catalogue`` (file, folder or list), without the samples themselves.

    A file named twice is kept once, and ``note`` told (:func:`unique_paths`).
    A folder without audio, or a list that names no track, is refused
    (:class:`~nmf_helpers.ParameterError`); a missing one too
    (``FileNotFoundError``). A listed track that is missing is kept: its
    pairs get error rows.
    """
    if not catalogue.exists():
        raise FileNotFoundError(f"scan: no such folder or file: {str(catalogue)!r}")
    # A sample against itself says nothing.
    exclude = {os.path.realpath(sample) for sample in samples}
    if catalogue.is_dir():
        return _audio_in(catalogue, exclude, note)
    if catalogue.suffix.lower() in AUDIO_SUFFIXES:
        return [str(catalogue)]
    return _listed(catalogue, exclude, note)


def scan_templates(sample, *, seed: int) -> SampleTemplates:
    """A scan's sample learned once: :func:`~nmf_helpers.learn_sample`'s templates.

    The defaults of :func:`~nmf_helpers.learn_sample` at :data:`SR`; a
    sample that cannot give any is refused in the scan's name and the
    sample's (``scan: sample 'riff.wav' is silent ...``).
    """
    name = f"sample {str(sample)!r}"
    x = load_waveform("scan", name, sample, SR)
    shifts = tuple(float(shift) for shift in common.DEFAULT_SHIFTS)  # as learn_sample has them
    return learn_from_waveform(
        x,
        SR,
        common.DEFAULT_N_COMPONENTS,
        shifts,
        common.DEFAULT_SAMPLE_ITERATIONS,
        DEFAULT_WIN,
        DEFAULT_HOP,
        seed,
        function="scan",
        name=name,
    )


# -- who does the work --------------------------------------------------------------------------


def _load_track(path: str, sr: int) -> Track:
    return read_track(os.path.abspath(path), sr)


def _check_pair(templates, track, settings, label: str, checkpoint) -> dict[str, str]:
    if checkpoint is not None:
        checkpoint(f"pair:{label}@{os.getpid()}")  # a moment of this pair, on its worker
        checkpoint(f"check:{label}")  # ... and of this pair, whatever its worker
    return scan_pair(templates, track, settings)


def _track_rows(path, sr, samples, sample_templates, settings, tag, checkpoint):
    """Read one track, then check each of its samples against it, where this runs.

    Yields ``(i, fields)`` per sample ``i`` of ``samples`` (whose templates
    are ``sample_templates``, in the same order), as each pair is checked;
    ``tag`` names the track in the pairs' checkpoint moments. A pair that
    raises (a checkpoint, a fault of the check itself) gets its own error
    row: the track's other pairs are still checked.
    """
    track = _load_track(path, sr)
    for i, templates in zip(samples, sample_templates, strict=True):
        try:
            fields = _check_pair(templates, track, settings, f"{i}-{tag}", checkpoint)
        except Exception as error:  # this pair's fault, not its track's: the others go on
            error = _unless_interrupted(error)
            fields = error_fields(f"{type(error).__name__}: {error}")
        yield i, fields


def _check_track(path, sr, samples, sample_templates, settings, tag, checkpoint) -> list[dict]:
    """A cluster's task: :func:`_track_rows` on the worker that runs it, the fields in a list.

    The track's spectrogram never leaves that worker; only the rows do.
    """
    rows = _track_rows(path, sr, samples, sample_templates, settings, tag, checkpoint)
    return [fields for _, fields in rows]


def _same(value):
    """A value as a task of its own: the scheduler keeps it, and can give it again."""
    return value


class _QuietWorker:
    """Local workers: Ctrl-C is for the scan process (it stops them); warnings shown its way."""

    name = "nmf_helpers-scan"

    def __init__(self, show_warning=None):
        self.show_warning = show_warning

    def setup(self, worker) -> None:
        with contextlib.suppress(ValueError):  # not the main thread: nothing to do
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if self.show_warning is not None:
            warnings.showwarning = self.show_warning


@contextlib.contextmanager
def _environment_kept(names):
    """Give back this process's values of ``names`` when asked and when the block ends.

    Dask's nanny writes its pre-spawn variables into the environment of the
    process that starts a LocalCluster and never takes them back. Left there,
    ``NUMBA_NUM_THREADS=1`` outlives the scan: numba rereads it at its next
    compilation, finds its thread pool launched at another size and raises
    (a notebook or a test that scans, then runs Griffin-Lim). Yields the
    function that restores them.
    """
    saved = {name: os.environ.get(name) for name in names}

    def restore():
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    try:
        yield restore
    finally:
        restore()


def probe_scheduler(scheduler: str, *, name: str = "scheduler") -> None:
    """Refuse in one line, within seconds, an address where no Dask scheduler answers.

    Dask's own connection retries a refused port for its whole timeout, and
    waits forever on a port that accepts but never answers (the dashboard's
    8787, any web server). A scheduler speaks first: on a plain TCP address
    its greeting comes at once. Errors (:class:`~nmf_helpers.ParameterError`)
    name the scan and, in their advice, ``name``: how the caller gave the
    address (the command line's ``--scheduler``).
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    def unreachable(reason: str) -> ParameterError:
        return ParameterError(
            f"scan: cannot reach the Dask scheduler at {scheduler!r} ({reason}); {_advice(name)}"
        )

    try:
        protocol, location = parse_address(scheduler)
        if protocol not in ("tcp", "tls"):
            return  # another transport: Dask's own connection judges it
        host, port = parse_host_port(location)
        probe = socket.create_connection((host, port), timeout=PROBE_S)
    except TimeoutError:
        # No connection at all (a firewall dropping packets, an address no one
        # has): not the silence of a port that accepted, judged below.
        raise unreachable(f"no answer within {PROBE_S:g} s") from None
    except (OSError, ValueError) as error:
        raise unreachable(_lowered(error)) from None
    with probe:
        if protocol != "tcp":
            return  # a TLS server waits for the client's hello: Dask's connection judges it
        try:
            probe.settimeout(PROBE_S)
            greeting = probe.recv(1)
        except TimeoutError:
            greeting = b""  # connected, then silent
        except OSError as error:  # e.g. reset as soon as connected
            raise unreachable(_lowered(error)) from None
    if not greeting:
        raise ParameterError(
            f"scan: {scheduler!r} does not answer as a Dask scheduler (its dashboard's port,"
            " 8787, is not the scheduler's, 8786 by default); give the address"
            " 'dask scheduler' printed as 'Scheduler at'"
        )


def _advice(name: str) -> str:
    return f"start it (dask scheduler) or check {name}"


def _lowered(error: Exception) -> str:
    """The OS's reason (or the parser's words) for ``error``, in lower case."""
    return (getattr(error, "strerror", None) or str(error)).lower()


@contextlib.contextmanager
def _distributed_quiet():
    """Dask's own log lines stay off the terminal while this process is its client.

    A lost scheduler makes the client log its reconnection attempts, a dead
    worker the scheduler's; the scan says what happened in its own line.
    """
    # Dask's configuration gives some of its loggers levels of their own
    # (distributed.client: warning): each one is held, not only the parent.
    names = [
        name
        for name in logging.root.manager.loggerDict
        if name.split(".")[0] in ("distributed", "tornado")
    ]
    loggers = [logging.getLogger(name) for name in sorted({"distributed", "tornado", *names})]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _closed(client) -> None:
    """Close ``client`` within seconds, even when its scheduler is gone."""
    with contextlib.suppress(Exception):
        client.close(timeout=CLOSE_S)


@contextlib.contextmanager
def dask_client(scheduler: str | None, jobs: int, *, name: str = "scheduler", show_warning=None):
    """A Dask client of the cluster at ``scheduler``, or of a LocalCluster of ``jobs`` workers.

    A ``scheduler`` address is to be checked first (:func:`probe_scheduler`):
    Dask's client waits forever on a port that accepts and never answers.
    ``name`` is how the caller gave the address, said in the error when it
    cannot be reached; the local workers show warnings with
    ``show_warning`` (as :func:`warnings.showwarning`; Python's own if None).
    """
    import dask
    import distributed

    if scheduler:
        with _distributed_quiet():
            try:
                client = distributed.Client(scheduler, timeout=f"{CONNECT_S}s")
            except (OSError, TimeoutError, ValueError) as error:
                raise ParameterError(
                    f"scan: cannot reach the Dask scheduler at {scheduler!r} ({error});"
                    f" {_advice(name)}"
                ) from None
            try:
                yield client
            finally:
                _closed(client)
        return
    environment = {
        **dask.config.get("distributed.nanny.pre-spawn-environ"),
        **_WORKER_ENVIRONMENT,
        **_WORKER_UNSET,
    }
    settings = {
        "distributed.scheduler.allowed-failures": 1,  # a pair whose worker dies runs once more
        "distributed.nanny.pre-spawn-environ": environment,
    }
    with (
        _environment_kept(_WORKER_ENVIRONMENT) as restore,
        dask.config.set(settings),
        distributed.LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.CRITICAL,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        restore()  # the workers have started with it; this process keeps its own
        from distributed.diagnostics.plugin import WorkerPlugin

        plugin = type("QuietWorker", (_QuietWorker, WorkerPlugin), {})
        with contextlib.suppress(Exception):  # a quieter worker is a nicety, not a need
            client.register_plugin(plugin(show_warning))
        yield client


def dashboard(client) -> str:
    """Where to watch the workers: the dashboard's address, or how to get one."""
    if importlib.util.find_spec("bokeh") is None:
        return "none (pip install bokeh to watch the workers)"
    return client.dashboard_link


class ClusterLost(Exception):
    """The scan's client lost its scheduler: the pairs in flight are left undone."""


def _wait_for_workers(client, note: Notify | None) -> int:
    """Threads of the cluster's workers, once it has one; a ``note:`` if that takes a while."""
    import distributed

    try:
        client.wait_for_workers(1, timeout=NO_WORKER_S)
    except (TimeoutError, distributed.TimeoutError):
        address = client.scheduler.address
        if note is not None:
            note(
                f"the scheduler at {address} has no workers; start one where the files are at"
                f" the same paths (dask worker {address}); waiting for it (Ctrl-C stops)"
            )
        client.wait_for_workers(1)
    return max(1, sum(client.nthreads().values()))


def run_pairs(
    templates, tracks, todo, settings, emit, *, client=None, checkpoint=None, note=None
) -> list[tuple[int, int]]:
    """Check the pairs ``todo``, calling ``emit(i, j, fields)`` as they finish.

    Each track is read once (decoded, its spectrogram made) and checked
    against all its samples where it was read: here, or on the cluster
    worker that runs the track's task. Here each pair is emitted as soon as
    it is checked; on a cluster a track's pairs are emitted together, in
    the order of its samples, when its task ends (a track's task carries
    only its rows back, never its spectrogram).

    Parameters
    ----------
    templates : list of SampleTemplates
        Sample ``i``'s templates are ``templates[i]``.
    tracks : list of str
        Track ``j``'s path is ``tracks[j]``.
    todo : dict of int to list of int
        Track index -> the sample indices to check it against.
    settings : ScanSettings
    emit : callable (i, j, fields)
        Called in this process with the CSV fields of pair (i, j).
    client : distributed.Client or None
        None: here, in order. A client: on its cluster, one task per track,
        a few tracks at a time (two per worker thread, and one).
    checkpoint : callable (moment) or None
        Called before each pair with ``"pair:I-J@PID"`` and ``"check:I-J"``,
        where the pair runs (on its worker, so it must pickle by reference: a
        module-level function); a safe point to stop at (it may raise). An
        ``Exception`` it raises is that pair's error row; a
        ``KeyboardInterrupt`` stops the scan.
    note : callable (text) or None
        Told, in one line, what the user should know: a cluster without workers.

    Returns
    -------
    undone : list of (int, int)
        The pairs lost with their workers (Dask's ``KilledWorker``: each
        worker that took the pair's track died, :data:`RESUBMISSIONS` + 1
        times), not emitted: the pair may be fine, and ``--resume`` checks
        it again.

    Raises
    ------
    ClusterLost
        The connection to the scheduler is lost: the pairs in flight are
        not emitted.
    """
    if client is None:
        # One BLAS and numba thread, as on the workers: the same arithmetic, the same bits.
        with library_threads(1):
            for j, samples in todo.items():
                sample_templates = [templates[i] for i in samples]
                rows = _track_rows(
                    tracks[j], SR, samples, sample_templates, settings, j, checkpoint
                )
                for i, fields in rows:
                    emit(i, j, fields)
        return []
    import distributed

    run = uuid.uuid4().hex[:8]  # keys of this scan, apart from any other on the cluster
    # (track, its samples, attempt): attempt n > 0 is the n-th resubmission of a track's
    # pairs lost with their workers, under a key of its own, so the scheduler counts deaths
    # afresh.
    waiting = collections.deque((j, todo[j], 0) for j in todo)
    live: dict[str, tuple[int, list[int], int]] = {}  # key -> (track, its samples, attempt)
    submissions = itertools.count()
    undone = []
    running = distributed.as_completed()

    def feed() -> None:
        while waiting and len(live) < 2 * workers + 1:
            j, samples, attempt = waiting.popleft()
            tag = f"{j}+{attempt}" if attempt else f"{j}"
            unique = f"{tag}-{next(submissions)}" if attempt else tag
            if attempt:  # its samples afresh too: their copies may have gone with the worker
                sample_templates = [
                    client.submit(_same, templates[i], key=f"scan-{run}-sample-{i}-{unique}")
                    for i in samples
                ]
            else:
                sample_templates = [kept[i] for i in samples]
            future = client.submit(
                _check_track,
                tracks[j],
                SR,
                samples,
                sample_templates,
                settings,
                tag,
                checkpoint,
                key=f"scan-{run}-track-{unique}",
            )
            live[future.key] = (j, samples, attempt)
            running.add(future)

    def result(future, n: int) -> list[dict[str, str]] | None:
        """The ``n`` pairs' fields of a track's task; None if its workers died."""
        try:
            return future.result()
        except distributed.KilledWorker:
            return None  # its workers died: not these pairs' doing
        except Exception as error:
            if future.status != "error":  # cancelled, or its result could not be fetched
                raise ClusterLost(_cluster_reason(error)) from None
            return [error_fields(f"{type(error).__name__}: {error}")] * n  # raised by the task

    try:
        workers = _wait_for_workers(client, note)
        kept = [
            client.submit(_same, t, key=f"scan-{run}-sample-{i}") for i, t in enumerate(templates)
        ]
        feed()
    except ClusterLost:
        raise
    except Exception as error:  # the client's own troubles: closed, cannot reach, ...
        raise ClusterLost(_cluster_reason(error)) from None
    for future in running:
        j, samples, attempt = live.pop(future.key)
        rows = result(future, len(samples))
        if rows is not None:
            for i, fields in zip(samples, rows, strict=True):
                emit(i, j, fields)
        elif attempt < RESUBMISSIONS:
            waiting.append((j, samples, attempt + 1))
        else:
            undone.extend((i, j) for i in samples)
        try:
            future.release()  # the track's rows are in: nothing of it is kept
            feed()
        except Exception as error:
            raise ClusterLost(_cluster_reason(error)) from None
    return undone


def _cluster_reason(error: BaseException) -> str:
    """Why the cluster was lost, told by the error's type, never its text.

    The connection: Dask's ``CommClosedError`` (an ``OSError``, as are a
    refused or timed-out connection), or the futures cancelled with it
    (``distributed.client.FutureCancelledError``, where there is one, is a
    ``concurrent.futures.CancelledError``; asyncio's is its own). Anything
    else is named by its type.
    """
    from distributed.comm.core import CommClosedError

    lost = (CommClosedError, OSError, CancelledError, asyncio.CancelledError)
    if isinstance(error, lost):
        return "the connection to it was lost"
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"
