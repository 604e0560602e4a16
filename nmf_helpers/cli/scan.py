"""``scan SAMPLE... CATALOGUE [-o OUT.csv] [--jobs J | --scheduler tcp://HOST:PORT] [--resume]``.

Check every sample against every track of a catalogue and write one CSV row
per (sample, track) pair: decision, score, the stage that decided (first pass
or full fit), pitch shift, tempo ratio, where each occurrence plays in the
track and which part of the sample it is, or the error for that pair. The
CATALOGUE is an audio file, a folder (its audio files, not its subfolders),
or a text file listing tracks one a line (``#`` starts a comment; relative
paths count from the list's folder). A listed track that is missing or not
audio gives error rows, not a crash; the command then ends with one line
and exit status 2. A file given twice (a sample, or a track listed again,
under any name) is checked once, said in one ``note:`` line.

How the work is shared (:mod:`nmf_helpers.detection.scan`): each sample's
templates are learned once, here, before any cluster starts (a sample that
cannot be used, silent say, is named in one line); each track is decoded
and its spectrogram made once for all its pairs; each pair gets a cheap
first pass (a short fit, a coarse alignment, a score only) and, if it may
match, the full check. ``--tempo-range LOW HIGH`` and ``--min-part
SECONDS`` are ``detect``'s, and hold for both: the first pass spreads its
ratios over that range and compares windows of that length too. A bad value
of any option (``--iters``, ``--free``, ``--seed``, ``--threshold``,
``--tempo-range``, ``--min-part``, ``--screen-iters``, ``--jobs``) is refused
while the command line is parsed, in one line naming the option, with the
same checker as ``detect``'s (:mod:`nmf_helpers.cli._options`), before any
work.

Who does the work: with ``--jobs 1`` this process, pair after pair; otherwise
Dask distributed, on a ``LocalCluster`` of ``--jobs`` worker processes (one
thread each, BLAS and numba held to one thread) or on a running cluster
(``--scheduler tcp://HOST:PORT``, whose workers must see the files at the
same paths; ``--jobs`` is then ignored, with a note). An address where no
scheduler answers (a refused port, the dashboard's) is refused in one line
within seconds. A cluster with no worker gets a ``note:`` after
:data:`NO_WORKER_S` seconds saying how to start one, and the scan waits for
it. Only a few tracks are in flight at a time (two per worker thread), so
memory stays bounded however long the catalogue. Dask's own log lines are
kept off the terminal.

What a cluster loses is never written as an error of the pair:

- A worker that dies: the scheduler runs its pairs again elsewhere, up to
  its ``allowed-failures`` (one on the local cluster). A pair Dask then
  gives up on (``KilledWorker``: every pair queued on a dying worker counts,
  not only the one it was checking) is sent again under a new key, up to
  :data:`RESUBMISSIONS` times, then left undone: the scan goes on with the
  others and ends with one line and exit status 2; ``--resume`` checks it.
- The scheduler (the connection to it): the scan stops at once with one
  line and exit status 2; the pairs in flight are left undone, and
  ``--resume``, on this cluster started again or any other, checks them.

A pair's own failure (its track is missing or unreadable) is an error row.
The results are the same bit for bit whichever runs them, on one machine.

The rows reach ``OUT.csv.partial`` as they finish (one line each, flushed):
a first line with the settings, the CSV header, then rows in the order they
finished. A stopped scan (Ctrl-C, SIGTERM, a kill, a crash, a lost
cluster, a full disk) leaves that file; ``--resume`` reads it, drops a line
cut in half, checks the settings are the same and checks only the pairs not
in it; with ``--retry-errors`` also those whose row is an error. Without
``--resume`` a leftover partial file is refused (``--force`` starts over).
When every pair is done, ``OUT.csv`` is written in one go, sorted (samples
in the order given, tracks in catalogue order), moved into place
atomically, and the partial file is removed, unless some rows are errors:
then it is kept for ``--resume --retry-errors``, which replaces ``OUT.csv``.
``OUT.csv`` is complete or absent, never half written, and is the same file
whether the scan ran at once or was stopped and resumed. One run at a time
writes them (:mod:`nmf_helpers.cli._outputs`); no input is ever one of them.

Names are written as the bytes the file system holds (:func:`csv_name`): a
name that is not UTF-8 stays exact in the CSV, which is then UTF-8 except
for those bytes (read it with ``errors="surrogateescape"``).

Progress: a bar on a terminal; when stderr is not one (a log file,
``nohup``), one plain line every :data:`PROGRESS_S` seconds instead.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import errno
import importlib.util
import io
import itertools
import json
import logging
import os
import signal
import socket
import sys
import time
import uuid
import warnings
from concurrent.futures import CancelledError
from pathlib import Path

from tqdm.auto import tqdm

import nmf_helpers as nh

from .._threads import library_threads, usable_cores
from .._validation import printable
from ..detection.scan import (
    ROW_FIELDS,
    SCREEN_ITERATIONS,
    SCREEN_MARGIN,
    ScanSettings,
    error_fields,
    load_track_unchecked,
    scan_pair,
)
from . import UsageError, note, one_line_warning
from ._interrupts import Interrupted, checkpoint
from ._options import ITERATIONS_OPTION_MAX, add_detection_options, whole_number
from ._outputs import Outputs

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".m4a"}

COLUMNS = ["sample", "track", *ROW_FIELDS]

#: First characters of a partial file's first line (then the settings, as JSON).
PARTIAL_MARK = "# nmf_helpers scan, settings: "

#: Sample rate of every scan (the detector's).
SR = 22050

#: Seconds to wait for an address given with --scheduler to connect and greet.
PROBE_S = 3.0
#: Seconds Dask's client may take to connect, or to reconnect once its scheduler is gone.
CONNECT_S = 10
#: Seconds to close the client once done (its scheduler may be gone).
CLOSE_S = 5
#: Seconds without any worker before a note says the scheduler has none.
NO_WORKER_S = 10.0
#: Times a pair lost with its workers (Dask's KilledWorker) is sent again before it is
#: left undone. A dying worker takes with it every pair queued on it, not only the one it
#: was checking: those are innocent, and go again. A pair that kills each worker it is given
#: (a track too large for a worker's memory) stops after these, undone, not an error.
RESUBMISSIONS = 2
#: Seconds between two progress lines when stderr is not a terminal (a log file, nohup).
PROGRESS_S = 30.0

# Worker threads of the local cluster: set before each worker starts, so that
# BLAS and numba size their pools once, at one thread (the workers are the parallelism).
_WORKER_ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


# -- the catalogue ------------------------------------------------------------------------------


def _once(paths: list[str], what: str) -> list[str]:
    """``paths`` without repeats (one file under two names too), each first name kept.

    A repeat would only give the same rows again: it is checked once, and
    one ``note:`` line says so (``what``: how the files were given).
    """
    first: dict[str, str] = {}
    counts: collections.Counter[str] = collections.Counter()
    for path in paths:
        key = os.path.realpath(path)
        first.setdefault(key, path)
        counts[key] += 1
    repeated = [(first[key], n) for key, n in counts.items() if n > 1]
    if len(repeated) == 1:
        (path, n), *_ = repeated
        note("scan", f"{path!r} is {what} {n} times; it is checked once")
    elif repeated:
        note(
            "scan",
            f"{len(repeated)} files are {what} more than once (first: {repeated[0][0]!r});"
            " each is checked once",
        )
    return list(first.values())


def _audio_in(folder: Path, exclude: set[str]) -> list[str]:
    files = [
        str(path)
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in AUDIO_SUFFIXES
        and path.is_file()
        and os.path.realpath(path) not in exclude
    ]
    if not files:
        kinds = ", ".join(sorted(AUDIO_SUFFIXES))
        raise UsageError(f"scan: no audio files ({kinds}) in {str(folder)!r}")
    return _once(files, f"in {str(folder)!r}")


def _listed(listing: Path, exclude: set[str]) -> list[str]:
    data = listing.read_bytes()
    if b"\0" in data:  # text has no NUL byte; audio and most binary files do
        raise UsageError(
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
        raise UsageError(f"scan: the list {str(listing)!r} names no track")
    return _once(tracks, f"listed in {str(listing)!r}")


def catalogue_tracks(catalogue: Path, samples: list[Path]) -> list[str]:
    """The tracks of ``catalogue`` (file, folder or list), without the samples themselves."""
    if not catalogue.exists():
        raise FileNotFoundError(f"scan: no such folder or file: {str(catalogue)!r}")
    # A sample against itself says nothing.
    exclude = {os.path.realpath(sample) for sample in samples}
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


def csv_name(path: str) -> str:
    """``path`` as the CSV holds it: the bytes of the name on disk, read back as UTF-8.

    A name is written as the file system's bytes, so a name that is not UTF-8
    (a Latin-1 byte, or any name in a C locale) is kept exactly, and reads
    back (with ``errors="surrogateescape"``, as :func:`open_csv` does) as
    the same string: ``--resume`` finds its rows again.
    """
    return os.fsencode(path).decode("utf-8", "surrogateescape")


def open_csv(path, mode: str):
    """A CSV of the scan: UTF-8, with the bytes of names that are not UTF-8 as they are."""
    return open(path, mode, newline="", encoding="utf-8", errors="surrogateescape")


def _shown(name: str) -> str:
    """A CSV name (:func:`csv_name`) printable on stdout whatever its encoding.

    Bytes that are not UTF-8 are shown as ``\\xNN``, as every line on stderr
    shows them (:func:`~nmf_helpers._validation.printable`).
    """
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    # A UTF-8 name can still be too wide for a narrower stdout (a C locale's ASCII).
    return printable(name).encode(encoding, "backslashreplace").decode(encoding)


class Partial:
    """``OUT.csv.partial``: the pairs done so far, a line each, flushed as they finish.

    Open it only under the output's lock (:meth:`Outputs.writing`). With
    ``retry_errors`` the pairs whose latest row is an error are not counted
    as done (``retried`` says how many): their new rows, appended, replace
    them.
    """

    def __init__(
        self, path: Path, settings: dict, *, resume: bool, force: bool, retry_errors: bool = False
    ):
        self.path, self.settings = path, settings
        self.done: dict[tuple[str, str], list[str]] = {}
        self.retried = 0
        if os.path.lexists(path):
            if not (resume or force):
                raise UsageError(
                    f"scan: {path} holds the rows of a stopped scan; pass --resume to go on"
                    " with it, or --force to start over"
                )
            if resume:
                self._read(retry_errors)
            else:
                path.unlink()
        elif resume:
            note("scan", f"nothing to resume ({path} does not exist): checking every pair")
        fresh = not os.path.lexists(path)
        self.handle = open_csv(path, "a")  # closed by close()
        if fresh:
            try:
                self._write(PARTIAL_MARK + json.dumps(settings, sort_keys=True) + "\n")
                self._write(_csv_line(COLUMNS))
            except BaseException:
                # Without its header the file is no journal: left there, it would
                # make every rerun refused (no --resume, not a partial file).
                self.close()
                self.remove()
                raise
        self.added = 0

    def _refuse(self, problem: str) -> None:
        raise UsageError(f"scan: {self.path} {problem}; rerun with the same options, or --force")

    def _read(self, retry_errors: bool) -> None:
        with open_csv(self.path, "r") as handle:
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
                self.done[row[0], row[1]] = row  # a pair checked again: its latest row
        if retry_errors:
            decision = COLUMNS.index("decision")
            errors = [pair for pair, row in self.done.items() if row[decision] == "error"]
            for pair in errors:
                del self.done[pair]
            self.retried = len(errors)
        if len(complete) != len(text):
            with open(self.path, "r+b") as handle:
                handle.truncate(len(complete.encode("utf-8", "surrogateescape")))

    def _write(self, text: str) -> None:
        try:
            self.handle.write(text)
            self.handle.flush()  # a killed scan keeps every row it finished
        except OSError as error:  # a full disk: say what is kept, and how to go on
            kept = (
                f"the {len(self.done)} rows written before are kept there: free some space,"
                " then rerun with --resume to check the other pairs"
                if self.done
                else "nothing was written: free some space and rerun"
            )
            raise UsageError(
                f"scan: could not write {self.path}: {_os_reason(error)}; {kept}"
            ) from None

    def add(self, sample: str, track: str, fields: dict[str, str]) -> None:
        row = [sample, track, *(fields.get(name, "") for name in ROW_FIELDS)]
        self._write(_csv_line(row))
        self.done[sample, track] = row
        self.added += 1

    def close(self) -> None:
        with contextlib.suppress(OSError):  # what a full disk refused was said already
            self.handle.close()

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _os_reason(error: OSError) -> str:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    return (error.strerror or str(error)).lower()


# -- who does the work --------------------------------------------------------------------------


def _load_track(path: str, sr: int):
    return load_track_unchecked(os.path.abspath(path), sr)


def _check_pair(templates, track, settings, label: str) -> dict[str, str]:
    checkpoint(f"pair:{label}@{os.getpid()}")  # the fault-injection tests find the worker here
    checkpoint(f"check:{label}")  # ... and can hold it inside that pair, whatever its pid
    return scan_pair(templates, track, settings)


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


def _reachable(scheduler: str) -> None:
    """Refuse in one line, within seconds, an address where no Dask scheduler answers.

    Dask's own connection retries a refused port for its whole timeout, and
    waits forever on a port that accepts but never answers (the dashboard's
    8787, any web server). A scheduler speaks first: on a plain TCP address
    its greeting comes at once.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    advice = "start it (dask scheduler) or check --scheduler"

    def unreachable(reason: str) -> UsageError:
        return UsageError(
            f"scan: cannot reach the Dask scheduler at {scheduler!r} ({reason}); {advice}"
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
        raise UsageError(
            f"scan: {scheduler!r} does not answer as a Dask scheduler (its dashboard's port,"
            " 8787, is not the scheduler's, 8786 by default); give the address"
            " 'dask scheduler' printed as 'Scheduler at'"
        )


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
def dask_client(scheduler: str | None, jobs: int):
    """A Dask client of the cluster at ``scheduler``, or of a LocalCluster of ``jobs`` workers.

    A ``scheduler`` address is to be checked first (:func:`_reachable`):
    Dask's client waits forever on a port that accepts and never answers.
    """
    import dask
    import distributed

    if scheduler:
        with _distributed_quiet():
            try:
                client = distributed.Client(scheduler, timeout=f"{CONNECT_S}s")
            except (OSError, TimeoutError, ValueError) as error:
                raise UsageError(
                    f"scan: cannot reach the Dask scheduler at {scheduler!r} ({error});"
                    " start it (dask scheduler) or check --scheduler"
                ) from None
            try:
                yield client
            finally:
                _closed(client)
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


class ClusterLost(Exception):
    """The scan's client lost its scheduler: the pairs in flight are left undone."""


def _wait_for_workers(client) -> int:
    """Threads of the cluster's workers, once it has one; a ``note:`` if that takes a while."""
    import distributed

    try:
        client.wait_for_workers(1, timeout=NO_WORKER_S)
    except (TimeoutError, distributed.TimeoutError):
        address = client.scheduler.address
        note(
            "scan",
            f"the scheduler at {address} has no workers; start one where the files are at the"
            f" same paths (dask worker {address}); waiting for it (Ctrl-C stops)",
        )
        client.wait_for_workers(1)
    return max(1, sum(client.nthreads().values()))


def run_pairs(templates, tracks, todo, settings, emit, *, client=None) -> list[tuple[int, int]]:
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

    Returns
    -------
    undone : list of (int, int)
        The pairs lost with their workers (Dask's ``KilledWorker``: each
        worker that took the pair died), not emitted: the pair may be fine,
        and ``--resume`` checks it again.

    Raises
    ------
    ClusterLost
        The connection to the scheduler is lost: the pairs in flight are
        not emitted.
    """
    if client is None:
        # One BLAS and numba thread, as on the workers: the same arithmetic, the same bits.
        with library_threads(1):
            for j, sample_indices in todo.items():
                track = _load_track(tracks[j], SR)
                for i in sample_indices:
                    emit(i, j, _check_pair(templates[i], track, settings, f"{i}-{j}"))
        return []
    import distributed

    run = uuid.uuid4().hex[:8]  # keys of this scan, apart from any other on the cluster
    # (track, its samples, attempt): attempt n > 0 is the n-th resubmission of pairs lost
    # with their workers, under keys of their own, so the scheduler counts deaths afresh.
    waiting = collections.deque((j, todo[j], 0) for j in todo)
    live: dict[int, list] = {}  # submission -> [its track's future, pairs still running]
    where: dict[str, tuple[int, int, int, int]] = {}  # key -> (sample, track, attempt, submission)
    submissions = itertools.count()
    undone = []
    running = distributed.as_completed()

    def feed() -> None:
        while waiting and len(live) < 2 * workers + 1:
            j, samples, attempt = waiting.popleft()
            n = next(submissions)
            tag = f"{j}+{attempt}" if attempt else f"{j}"
            unique = f"{tag}-{n}" if attempt else tag
            track = client.submit(_load_track, tracks[j], SR, key=f"scan-{run}-track-{unique}")
            live[n] = [track, len(samples)]
            for i in samples:
                sample = kept[i]
                if attempt:  # its sample afresh too: that copy may be what was lost
                    sample = client.submit(
                        _same, templates[i], key=f"scan-{run}-sample-{i}-{unique}"
                    )
                future = client.submit(
                    _check_pair,
                    sample,
                    track,
                    settings,
                    f"{i}-{tag}",
                    key=f"scan-{run}-{i}-{unique}",
                )
                where[future.key] = (i, j, attempt, n)
                running.add(future)

    def again(i: int, j: int, attempt: int) -> None:
        """Send pair (i, j) once more; with the others of its track waiting to go, if any."""
        if waiting and waiting[-1][0] == j and waiting[-1][2] == attempt:
            waiting[-1][1].append(i)
        else:
            waiting.append((j, [i], attempt))

    def result(future) -> dict[str, str] | None:
        try:
            return future.result()
        except distributed.KilledWorker:
            return None  # its workers died: not this pair's doing
        except Exception as error:
            if future.status != "error":  # cancelled, or its result could not be fetched
                raise ClusterLost(_cluster_reason(error)) from None
            return error_fields(f"{type(error).__name__}: {error}")  # raised by the task

    try:
        workers = _wait_for_workers(client)
        kept = [
            client.submit(_same, t, key=f"scan-{run}-sample-{i}") for i, t in enumerate(templates)
        ]
        feed()
    except (ClusterLost, Interrupted):
        raise
    except Exception as error:  # the client's own troubles: closed, cannot reach, ...
        raise ClusterLost(_cluster_reason(error)) from None
    for future in running:
        i, j, attempt, n = where.pop(future.key)
        fields = result(future)
        if fields is not None:
            emit(i, j, fields)
        elif attempt < RESUBMISSIONS:
            again(i, j, attempt + 1)
        else:
            undone.append((i, j))
        live[n][1] -= 1
        if not live[n][1]:
            del live[n]  # the track's waveform is let go
        try:
            future.release()
            feed()
        except Exception as error:
            raise ClusterLost(_cluster_reason(error)) from None
    return undone


def _cluster_reason(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    if "connection" in text.lower() or isinstance(error, CancelledError):
        return "the connection to it was lost"
    return f"{type(error).__name__}: {text}"


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


class _Progress:
    """Pairs checked so far: tqdm's bar on a terminal, plain lines elsewhere.

    A bar redraws itself with carriage returns, which a log file (``nohup``,
    a batch job) keeps as one endless line; there, one line every
    :data:`PROGRESS_S` seconds instead.
    """

    def __init__(self, total: int, done: int):
        self.total, self.done = total, done
        self.start = self.last = time.monotonic()
        self.bar = None
        if getattr(sys.stderr, "isatty", lambda: False)():
            self.bar = tqdm(total=total, initial=done, desc="scan", unit="pair")

    def update(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update()
            return
        now = time.monotonic()
        if now - self.last >= PROGRESS_S:
            self.last = now
            minutes = (now - self.start) / 60
            print(
                f"scan: {self.done} of {self.total} pairs checked ({minutes:.1f} min)",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _learned(sample: Path, seed: int):
    """A sample's templates; a sample that cannot give any is named in the one line."""
    try:
        return nh.learn_sample(sample, seed=seed)
    except nh.ParameterError as error:
        # The library speaks of "sample" in general: say which one of the scan's.
        reason = str(error).split(": ", 1)[-1]
        raise UsageError(f"scan: {str(sample)!r} cannot be used as a sample: {reason}") from None


def _stopped(stop: BaseException, journal: Partial, total: int, cluster: str) -> BaseException:
    """What to raise when the scan stops early: the same, or one line saying what is kept."""
    kept = f"{len(journal.done)} of {total} pairs are in {journal.path}"
    if isinstance(stop, Interrupted) and journal.done:
        stop.outcome = f"{kept}; rerun with --resume to check the others"
    if isinstance(stop, ClusterLost):
        kept = kept if journal.done else "nothing was written"
        return UsageError(
            f"scan: lost {cluster} ({stop}); the pairs in flight are left undone, {kept}:"
            " start the cluster again and rerun with --resume"
        )
    return stop


def run(args) -> int:
    if args.retry_errors and not args.resume:
        raise UsageError(
            "scan: --retry-errors re-checks the error rows of a scan's partial file;"
            " pass it with --resume"
        )
    settings = ScanSettings(
        n_iter=args.iters,
        n_free=args.free,
        threshold=args.threshold,
        seed=args.seed,
        screen_iter=args.screen_iters,
        screen_margin=SCREEN_MARGIN,
        tempo_range=args.tempo_range,
        min_part_s=args.min_part,
    )
    samples = [Path(sample) for sample in _once(args.samples, "given as a sample")]
    catalogue = Path(args.catalogue)
    tracks = catalogue_tracks(catalogue, samples)
    listing = [catalogue] if catalogue.is_file() else []
    inputs = [*samples, *listing, *(track for track in tracks if os.path.exists(track))]
    partial = Path(f"{args.output}.partial")
    # A resumed scan may replace the CSV it wrote before with error rows (--retry-errors).
    replace = args.force or (args.resume and os.path.lexists(partial))
    output = Outputs.file("scan", args.output, force=replace, inputs=inputs)
    _check_partial_place(partial, inputs)
    names = [csv_name(str(sample)) for sample in samples]
    keys = [csv_name(track) for track in tracks]
    total = len(samples) * len(tracks)
    if args.scheduler is not None:
        _reachable(args.scheduler)  # before any work: Dask's own client would wait
        cluster, jobs = f"the Dask scheduler at {args.scheduler}", 0
        if args.jobs is not None:
            local = f"--jobs {args.jobs} is for local workers"
            note("scan", f"{local}; the cluster at {args.scheduler} has its own")
    else:
        cluster = "the local Dask cluster"
        jobs = _jobs(args.jobs, total)
    with output.writing():
        # The tempo range as a list, as the partial file's JSON gives it back on --resume.
        record = {**vars(settings), "tempo_range": list(settings.tempo_range), "sr": SR}
        journal = Partial(
            partial, record, resume=args.resume, force=args.force, retry_errors=args.retry_errors
        )
        if journal.retried:
            note("scan", f"checking again the {journal.retried} pairs whose rows are errors")
        try:
            todo = {}
            for j, key in enumerate(keys):
                missing = [i for i, name in enumerate(names) if (name, key) not in journal.done]
                if missing:
                    todo[j] = missing
            # Learned before any cluster starts: a sample that cannot be used stops it at once.
            templates = [_learned(sample, args.seed) for sample in samples]
            with contextlib.ExitStack() as stack:
                client = None
                if todo and (args.scheduler is not None or jobs > 1):
                    client = stack.enter_context(dask_client(args.scheduler, jobs))
                    print(f"dashboard: {_dashboard(client)}", flush=True)
                checkpoint("scan")
                already = total - sum(map(len, todo.values()))
                progress = _Progress(total, already)
                stack.callback(progress.close)

                def emit(i: int, j: int, fields: dict[str, str]) -> None:
                    journal.add(names[i], keys[j], fields)
                    progress.update()
                    checkpoint("row")

                undone = run_pairs(templates, tracks, todo, settings, emit, client=client)
        except BaseException as stop:
            journal.close()
            if not journal.done:
                journal.remove()  # nothing to resume: as if the scan had not started
            raise _stopped(stop, journal, total, cluster) from None
        journal.close()
        if undone:
            i, j = undone[0]
            raise UsageError(
                f"scan: {len(undone)} of {total} pairs are left undone: the Dask workers checking"
                f" them died (first: {samples[i]} in {tracks[j]}); {len(journal.done)} pairs are"
                f" in {partial}: rerun with --resume to check the others"
            )
        rows = [journal.done[name, key] for name in names for key in keys]
        try:
            with open_csv(output.temp(output.names[0]), "w") as handle:
                handle.write(_csv_line(COLUMNS))
                handle.writelines(_csv_line(row) for row in rows)
        except OSError as error:
            raise UsageError(
                f"scan: could not write {args.output}: {_os_reason(error)}; all {total} rows are"
                f" kept in {partial}: free some space, then rerun with --resume to write it"
            ) from None
    decision = COLUMNS.index("decision")
    failed = [row for row in rows if row[decision] == "error"]
    if not failed:
        journal.remove()  # OUT.csv is in place: the rows are safe there
    for name in names:
        found = sum(row[0] == name and row[decision] == "yes" for row in rows)
        print(f"{_shown(name)}: in {found} of {len(tracks)} tracks")
    screened = sum(row[COLUMNS.index("stage")] == "first pass" for row in rows)
    print(f"{screened} of {total} pairs were ruled out by the first pass; wrote {args.output}")
    if failed:
        raise UsageError(
            f"scan: {len(failed)} of {total} pairs could not be checked"
            f" (first: {failed[0][COLUMNS.index('error')]}); see the error column of {args.output};"
            f" once fixed, rerun with --resume --retry-errors to check only those"
            f" ({partial} keeps the rows for it)"
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
        type=whole_number("scan", "--jobs", 1),  # more than the cores: capped, with a note
        default=None,
        help="local worker processes (default: one per core; 1 checks here, without Dask)",
    )
    scan.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="a running Dask scheduler to send the pairs to, instead of local workers"
        " (its address, 'Scheduler at', port 8786 by default; not the dashboard's)",
    )
    scan.add_argument(
        "--resume",
        action="store_true",
        help="go on with the pairs a stopped scan left undone (after Ctrl-C, a kill, a lost"
        " cluster, a full disk), on any cluster",
    )
    scan.add_argument(
        "--retry-errors",
        action="store_true",
        help="with --resume: check again the pairs whose rows are errors (after fixing their"
        " files); the CSV is replaced",
    )
    scan.add_argument(
        "--force", action="store_true", help="overwrite the CSV (and a stopped scan's rows)"
    )
    scan.add_argument(
        "--screen-iters",
        type=whole_number("scan", "--screen-iters", 0, ITERATIONS_OPTION_MAX),
        default=SCREEN_ITERATIONS,
        help=f"iterations of the first pass (default {SCREEN_ITERATIONS}; 0: full fit for all)",
    )
    add_detection_options(scan)
    scan.set_defaults(run=run)
