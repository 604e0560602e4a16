"""``scan SAMPLE... CATALOGUE [-o OUT.csv] [--jobs J | --scheduler tcp://HOST:PORT] [--resume]``.

Check every sample against every track of a catalogue and write one CSV row
per (sample, track) pair: decision, score, the stage that decided (first pass
or full fit), pitch shift, tempo ratio, where each occurrence plays in the
track and which part of the sample it is, or the error for that pair. The
CATALOGUE is an audio file, a folder (its audio files, not its subfolders),
or a text file listing tracks one a line (``#`` starts a comment; relative
paths count from the list's folder). A listed track that is missing or not
audio gives error rows, not a crash; the command then ends with one line
and exit status 2.

How the work is shared (:mod:`nmf_helpers.catalogue`): each sample's
templates are learned once, here; each track is decoded and its spectrogram
made once for all its pairs; each pair gets a cheap first pass (a short fit,
a coarse alignment, a score only) and, if it may match, the full check.
``--tempo-range LOW HIGH`` and ``--min-part SECONDS`` are ``detect``'s, and
hold for both: the first pass spreads its ratios over that range and
compares windows of that length too. Bad values are refused in one line
naming the option, before any work.

Who does the work: with ``--jobs 1`` this process, pair after pair; otherwise
Dask distributed, on a ``LocalCluster`` of ``--jobs`` worker processes (one
thread each, BLAS and numba held to one thread) or on a running cluster
(``--scheduler tcp://HOST:PORT``, whose workers must see the files at the
same paths). Only a few tracks are in flight at a time (two per worker), so
memory stays bounded however long the catalogue. A worker that dies loses
only the pair it was checking, which runs again elsewhere; a pair whose
second worker dies too (the local cluster allows one failure; a cluster you
start allows what its scheduler's ``allowed-failures`` says) gets an error
row. The results are the same bit for bit whichever runs them, on one machine.

The rows reach ``OUT.csv.partial`` as they finish (one line each, flushed):
a first line with the settings, the CSV header, then rows in the order they
finished. A stopped scan (Ctrl-C, SIGTERM, a kill, a crash) leaves that file;
``--resume`` reads it, drops a line cut in half, checks the settings are the
same and checks only the pairs not in it. Without ``--resume`` a leftover
partial file is refused (``--force`` starts over). When every pair is done,
``OUT.csv`` is written in one go, sorted (samples in the order given, tracks
in catalogue order), moved into place atomically, and the partial file is
removed: ``OUT.csv`` is complete or absent, never half written, and is the
same file whether the scan ran at once or was stopped and resumed. One run at
a time writes them (:mod:`nmf_helpers.cli._outputs`); no input is ever one of
them.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import importlib.util
import io
import json
import logging
import os
import signal
import uuid
import warnings
from pathlib import Path

from tqdm.auto import tqdm

import nmf_helpers as nh

from .._threads import library_threads, usable_cores
from .._validation import check_int
from ..catalogue import (
    ROW_FIELDS,
    SCREEN_ITERATIONS,
    SCREEN_MARGIN,
    ScanSettings,
    check_pair_unchecked,
    error_fields,
    load_track_unchecked,
)
from . import UsageError, note, one_line_warning
from ._interrupts import Interrupted, checkpoint
from ._outputs import Outputs
from .detect import add_detection_options, min_part_option, tempo_range_option

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".m4a"}

COLUMNS = ["sample", "track", *ROW_FIELDS]

#: First characters of a partial file's first line (then the settings, as JSON).
PARTIAL_MARK = "# nmf_helpers scan, settings: "

#: Sample rate of every scan (the detector's).
SR = 22050

# Worker threads of the local cluster: set before each worker starts, so that
# BLAS and numba size their pools once, at one thread (the workers are the parallelism).
_WORKER_ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


# -- the catalogue ------------------------------------------------------------------------------


def _audio_in(folder: Path, exclude: set[Path]) -> list[str]:
    files = [
        str(path)
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in AUDIO_SUFFIXES
        and path.is_file()
        and path.resolve() not in exclude
    ]
    if not files:
        kinds = ", ".join(sorted(AUDIO_SUFFIXES))
        raise UsageError(f"scan: no audio files ({kinds}) in {str(folder)!r}")
    return files


def _listed(listing: Path, exclude: set[Path]) -> list[str]:
    try:
        text = listing.read_text()
    except UnicodeDecodeError:
        raise UsageError(
            f"scan: {str(listing)!r} is neither audio ({', '.join(sorted(AUDIO_SUFFIXES))})"
            " nor a text file listing tracks one a line"
        ) from None
    tracks = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = Path(line) if os.path.isabs(line) else listing.parent / line
        if path.resolve() not in exclude:
            tracks.append(str(path))
    if not tracks:
        raise UsageError(f"scan: the list {str(listing)!r} names no track")
    return list(dict.fromkeys(tracks))  # a track listed twice is checked once


def catalogue_tracks(catalogue: Path, samples: list[Path]) -> list[str]:
    """The tracks of ``catalogue`` (file, folder or list), without the samples themselves."""
    if not catalogue.exists():
        raise FileNotFoundError(f"scan: no such folder or file: {str(catalogue)!r}")
    exclude = {sample.resolve() for sample in samples}  # a sample against itself says nothing
    if catalogue.is_dir():
        return _audio_in(catalogue, exclude)
    if catalogue.suffix.lower() in AUDIO_SUFFIXES:
        return [str(catalogue)]
    return _listed(catalogue, exclude)


# -- the partial file ---------------------------------------------------------------------------


def _csv_line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


class Partial:
    """``OUT.csv.partial``: the pairs done so far, a line each, flushed as they finish.

    Open it only under the output's lock (:meth:`Outputs.writing`).
    """

    def __init__(self, path: Path, settings: dict, *, resume: bool, force: bool):
        self.path, self.settings = path, settings
        self.done: dict[tuple[str, str], list[str]] = {}
        if os.path.lexists(path):
            if not (resume or force):
                raise UsageError(
                    f"scan: {path} holds the rows of a stopped scan; pass --resume to go on"
                    " with it, or --force to start over"
                )
            if resume:
                self._read()
            else:
                path.unlink()
        elif resume:
            note("scan", f"nothing to resume ({path} does not exist): checking every pair")
        fresh = not self.done and not os.path.lexists(path)
        self.handle = open(path, "a", newline="")  # closed by close()
        if fresh:
            self.handle.write(PARTIAL_MARK + json.dumps(settings, sort_keys=True) + "\n")
            self.handle.write(_csv_line(COLUMNS))
            self.handle.flush()
        self.added = 0

    def _refuse(self, problem: str) -> None:
        raise UsageError(f"scan: {self.path} {problem}; rerun with the same options, or --force")

    def _read(self) -> None:
        with open(self.path, newline="") as handle:
            text = handle.read()
        complete = text[: text.rfind("\n") + 1]  # a line cut in half by a kill is dropped
        lines = complete.splitlines()
        if len(lines) < 2 or not lines[0].startswith(PARTIAL_MARK):
            self._refuse("is not the partial file of a scan")
        try:
            settings = json.loads(lines[0][len(PARTIAL_MARK) :])
        except json.JSONDecodeError:
            self._refuse("is not the partial file of a scan")
        for name, value in self.settings.items():
            if settings.get(name) != value:
                self._refuse(f"was made with {name} = {settings.get(name)}, not {value}")
        rows = list(csv.reader(lines[1:]))
        if rows[0] != COLUMNS:
            self._refuse("has other columns than this version of scan writes")
        for row in rows[1:]:
            if len(row) == len(COLUMNS):
                self.done[row[0], row[1]] = row
        if len(complete) != len(text):
            with open(self.path, "r+") as handle:
                handle.truncate(len(complete.encode()))

    def add(self, sample: str, track: str, fields: dict[str, str]) -> None:
        row = [sample, track, *(fields.get(name, "") for name in ROW_FIELDS)]
        self.handle.write(_csv_line(row))
        self.handle.flush()  # a killed scan keeps every row it finished
        self.done[sample, track] = row
        self.added += 1

    def close(self) -> None:
        self.handle.close()

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


# -- who does the work --------------------------------------------------------------------------


def _load_track(path: str, sr: int):
    return load_track_unchecked(os.path.abspath(path), sr)


def _check_pair(templates, track, settings, label: str) -> dict[str, str]:
    checkpoint(f"pair:{label}@{os.getpid()}")  # the fault-injection tests find the worker here
    return check_pair_unchecked(templates, track, settings)


def _same(value):
    """A value as a task of its own: the scheduler keeps it, and can give it again."""
    return value


class _QuietWorker:
    """Local workers: Ctrl-C is for the scan process (it stops them), warnings in one line."""

    name = "nmf_helpers-scan"

    def setup(self, worker) -> None:
        with contextlib.suppress(ValueError):  # not the main thread: nothing to do
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        warnings.showwarning = one_line_warning


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


@contextlib.contextmanager
def dask_client(scheduler: str | None, jobs: int):
    """A Dask client of the cluster at ``scheduler``, or of a LocalCluster of ``jobs`` workers."""
    import dask
    import distributed

    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as error:
            raise UsageError(
                f"scan: cannot reach the Dask scheduler at {scheduler!r} ({error});"
                " start it (dask scheduler) or check --scheduler"
            ) from None
        with client:
            yield client
        return
    environment = {**dask.config.get("distributed.nanny.pre-spawn-environ"), **_WORKER_ENVIRONMENT}
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
            client.register_plugin(plugin())
        yield client


def _dashboard(client) -> str:
    if importlib.util.find_spec("bokeh") is None:
        return "none (pip install bokeh to watch the workers)"
    return client.dashboard_link


def run_pairs(templates, tracks, todo, settings, emit, *, client=None) -> None:
    """Check the pairs ``todo``, calling ``emit(i, j, fields)`` as each one finishes.

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
        None: here, in order. A client: on its cluster, a few tracks at a time.
    """
    if client is None:
        # One BLAS and numba thread, as on the workers: the same arithmetic, the same bits.
        with library_threads(1):
            for j, sample_indices in todo.items():
                track = _load_track(tracks[j], SR)
                for i in sample_indices:
                    emit(i, j, _check_pair(templates[i], track, settings, f"{i}-{j}"))
        return
    import distributed

    run = uuid.uuid4().hex[:8]  # keys of this scan, apart from any other on the cluster
    kept = [client.submit(_same, t, key=f"scan-{run}-sample-{i}") for i, t in enumerate(templates)]
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    waiting = collections.deque(todo)
    live: dict[int, list] = {}  # track index -> [its future, pairs still running]
    where = {}
    running = distributed.as_completed()

    def feed() -> None:
        while waiting and len(live) < 2 * workers + 1:
            j = waiting.popleft()
            track = client.submit(_load_track, tracks[j], SR, key=f"scan-{run}-track-{j}")
            live[j] = [track, len(todo[j])]
            for i in todo[j]:
                future = client.submit(
                    _check_pair, kept[i], track, settings, f"{i}-{j}", key=f"scan-{run}-{i}-{j}"
                )
                where[future.key] = (i, j)
                running.add(future)

    feed()
    for future in running:
        i, j = where.pop(future.key)
        try:
            fields = future.result()
        except distributed.KilledWorker:
            fields = error_fields("the workers checking this pair died (twice or more)")
        except Exception as error:  # the cluster's own troubles, for this pair only
            fields = error_fields(f"{type(error).__name__}: {error}")
        future.release()
        emit(i, j, fields)
        live[j][1] -= 1
        if not live[j][1]:
            del live[j]  # the track's waveform is let go
        feed()


def _jobs(requested: int | None, n_pairs: int) -> int:
    """Local workers: one per usable core unless asked otherwise, at most one per pair."""
    cores = usable_cores()
    if requested is None:
        requested = cores
    elif requested > cores:
        note("scan", f"--jobs {requested} is more than the {cores} usable cores; using {cores}")
    return max(1, min(requested, cores, n_pairs))


# -- the command --------------------------------------------------------------------------------


def _check_partial_place(partial: Path, inputs: list) -> None:
    """The partial file is neither a folder nor one of the inputs."""
    if partial.is_dir():
        raise UsageError(f"scan: {partial} is a folder; move it away or choose another -o")
    for source in inputs:
        with contextlib.suppress(OSError):
            if os.path.samefile(source, partial):
                raise UsageError(
                    f"scan: the input {source} is also the partial file {partial};"
                    " choose another -o, so that the input is not overwritten"
                )


def run(args) -> int:
    if args.jobs is not None:
        check_int("scan", "--jobs", args.jobs, minimum=1)
    check_int("scan", "--iters", args.iters, minimum=1)
    check_int("scan", "--free", args.free, minimum=0)
    check_int("scan", "--screen-iters", args.screen_iters, minimum=0)
    settings = ScanSettings(
        n_iter=args.iters,
        n_free=args.free,
        threshold=args.threshold,
        seed=args.seed,
        screen_iter=args.screen_iters,
        screen_margin=SCREEN_MARGIN,
        tempo_range=tempo_range_option("scan", args.tempo_range),
        min_part_s=min_part_option("scan", args.min_part),
    )
    samples = [Path(sample) for sample in args.samples]
    catalogue = Path(args.catalogue)
    tracks = catalogue_tracks(catalogue, samples)
    listing = [catalogue] if catalogue.is_file() else []
    inputs = [*samples, *listing, *(track for track in tracks if os.path.exists(track))]
    output = Outputs.file("scan", args.output, force=args.force, inputs=inputs)
    partial = Path(f"{args.output}.partial")
    _check_partial_place(partial, inputs)
    names = [str(sample) for sample in samples]
    total = len(samples) * len(tracks)
    jobs = _jobs(args.jobs, total)
    with output.writing():
        # The tempo range as a list, as the partial file's JSON gives it back on --resume.
        record = {**vars(settings), "tempo_range": list(settings.tempo_range), "sr": SR}
        journal = Partial(partial, record, resume=args.resume, force=args.force)
        try:
            todo = {}
            for j, track in enumerate(tracks):
                missing = [i for i, name in enumerate(names) if (name, track) not in journal.done]
                if missing:
                    todo[j] = missing
            with contextlib.ExitStack() as stack:
                client = None
                if todo and (args.scheduler is not None or jobs > 1):
                    client = stack.enter_context(dask_client(args.scheduler, jobs))
                    print(f"dashboard: {_dashboard(client)}", flush=True)
                templates = [nh.learn_sample(sample, seed=args.seed) for sample in samples]
                checkpoint("scan")
                already = total - sum(map(len, todo.values()))
                bar = stack.enter_context(
                    tqdm(total=total, initial=already, desc="scan", unit="pair", disable=None)
                )

                def emit(i: int, j: int, fields: dict[str, str]) -> None:
                    journal.add(names[i], tracks[j], fields)
                    bar.update()
                    checkpoint("row")

                run_pairs(templates, tracks, todo, settings, emit, client=client)
        except BaseException as stop:
            journal.close()
            if not journal.done:
                journal.remove()  # nothing to resume: as if the scan had not started
            elif isinstance(stop, Interrupted):
                stop.outcome = (
                    f"{len(journal.done)} of {total} pairs are in {partial};"
                    " rerun with --resume to check the others"
                )
            raise
        journal.close()
        rows = [journal.done[name, track] for name in names for track in tracks]
        with open(output.temp(output.names[0]), "w", newline="") as handle:
            handle.write(_csv_line(COLUMNS))
            handle.writelines(_csv_line(row) for row in rows)
    journal.remove()  # OUT.csv is in place: the rows are safe there
    decision = COLUMNS.index("decision")
    for name in names:
        found = sum(row[0] == name and row[decision] == "yes" for row in rows)
        print(f"{name}: in {found} of {len(tracks)} tracks")
    screened = sum(row[COLUMNS.index("stage")] == "first pass" for row in rows)
    print(f"{screened} of {total} pairs were ruled out by the first pass; wrote {args.output}")
    failed = [row for row in rows if row[decision] == "error"]
    if failed:
        raise UsageError(
            f"{len(failed)} of {total} pairs could not be checked"
            f" (first: {failed[0][COLUMNS.index('error')]}); see the error column of {args.output}"
        )
    return 0


def add_parser(subparsers) -> None:
    scan = subparsers.add_parser(
        "scan", help="check samples against every track of a catalogue; write a CSV"
    )
    scan.add_argument("samples", nargs="+", metavar="SAMPLE", help="the samples, audio files")
    scan.add_argument(
        "catalogue", metavar="CATALOGUE", help="an audio file, a folder, or a list of tracks"
    )
    scan.add_argument("-o", "--output", default="scan.csv", help="CSV to write (default scan.csv)")
    scan.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="local worker processes (default: one per core; 1 checks here, without Dask)",
    )
    scan.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="a running Dask scheduler to send the pairs to (instead of local workers)",
    )
    scan.add_argument(
        "--resume", action="store_true", help="go on with the pairs a stopped scan left undone"
    )
    scan.add_argument(
        "--force", action="store_true", help="overwrite the CSV (and a stopped scan's rows)"
    )
    scan.add_argument(
        "--screen-iters",
        type=int,
        default=SCREEN_ITERATIONS,
        help=f"iterations of the first pass (default {SCREEN_ITERATIONS}; 0: full fit for all)",
    )
    add_detection_options(scan)
    scan.set_defaults(run=run)
