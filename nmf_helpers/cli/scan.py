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
and its spectrogram made once for all its pairs, which are checked where it
was read (on a cluster, one task per track: the spectrogram never leaves its
worker, only the rows come back); each pair gets a cheap
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
:data:`~nmf_helpers.detection.scan.NO_WORKER_S` seconds saying how to start
one, and the scan waits for it. Only a few tracks are in flight at a time
(two per worker thread), so memory stays bounded however long the catalogue.
Dask's own log lines are kept off the terminal.

What a cluster loses is never written as an error of the pair:

- A worker that dies: the scheduler runs its tracks again elsewhere, up to
  its ``allowed-failures`` (one on the local cluster). A track Dask then
  gives up on (``KilledWorker``: every track queued on a dying worker counts,
  not only the one it was checking) is sent again, with all its pairs, under
  a new key, up to :data:`~nmf_helpers.detection.scan.RESUBMISSIONS` times,
  then its pairs are left undone: the scan goes on with the others and ends
  with one line and exit status 2; ``--resume`` checks them.
- The scheduler (the connection to it): the scan stops at once with one
  line and exit status 2; the pairs in flight are left undone, and
  ``--resume``, on this cluster started again or any other, checks them.

A pair's own failure (its track is missing or unreadable, its check
raises) is an error row; the other pairs of its track are checked as usual.
The results are the same bit for bit whichever runs them, on one machine.

The rows reach ``OUT.csv.partial`` as they finish (one line each, flushed;
on a cluster a track's rows together, when the track is done):
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

import contextlib
import csv
import errno
import io
import json
import os
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from .._threads import usable_cores
from .._validation import printable
from ..detection.scan import (
    ROW_FIELDS,
    SCREEN_ITERATIONS,
    SCREEN_MARGIN,
    SR,
    ClusterLost,
    ScanSettings,
    catalogue_tracks,
    dashboard,
    dask_client,
    probe_scheduler,
    run_pairs,
    scan_templates,
    unique_paths,
)
from . import UsageError, note, one_line_warning
from ._interrupts import Interrupted, checkpoint
from ._options import ITERATIONS_OPTION_MAX, add_detection_options, whole_number
from ._outputs import Outputs

COLUMNS = ["sample", "track", *ROW_FIELDS]

#: First characters of a partial file's first line (then the settings, as JSON).
PARTIAL_MARK = "# nmf_helpers scan, settings: "

#: Seconds between two progress lines when stderr is not a terminal (a log file, nohup).
PROGRESS_S = 30.0


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


def _note(text: str) -> None:
    """The engine's notes, as this command's."""
    note("scan", text)


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
        min_part_name="--min-part",  # a sample's error rows name the option
    )
    samples = [
        Path(sample) for sample in unique_paths(args.samples, "given as a sample", note=_note)
    ]
    catalogue = Path(args.catalogue)
    tracks = catalogue_tracks(catalogue, samples, note=_note)
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
        probe_scheduler(args.scheduler, name="--scheduler")  # before any work: Dask's would wait
        cluster, jobs = f"the Dask scheduler at {args.scheduler}", 0
        if args.jobs is not None:
            local = f"--jobs {args.jobs} is for local workers"
            note("scan", f"{local}; the cluster at {args.scheduler} has its own")
    else:
        cluster = "the local Dask cluster"
        jobs = _jobs(args.jobs, total)
    with output.writing():
        # The tempo range as a list, as the partial file's JSON gives it back on --resume.
        # Without min_part_name: words of the errors, not a setting of the results.
        record = {name: value for name, value in vars(settings).items() if name != "min_part_name"}
        record |= {"tempo_range": list(settings.tempo_range), "sr": SR}
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
            templates = [scan_templates(sample, seed=args.seed) for sample in samples]
            with contextlib.ExitStack() as stack:
                client = None
                if todo and (args.scheduler is not None or jobs > 1):
                    cluster_client = dask_client(
                        args.scheduler, jobs, name="--scheduler", show_warning=one_line_warning
                    )
                    client = stack.enter_context(cluster_client)
                    print(f"dashboard: {dashboard(client)}", flush=True)
                checkpoint("scan")
                already = total - sum(map(len, todo.values()))
                progress = _Progress(total, already)
                stack.callback(progress.close)

                def emit(i: int, j: int, fields: dict[str, str]) -> None:
                    journal.add(names[i], keys[j], fields)
                    progress.update()
                    checkpoint("row")

                undone = run_pairs(
                    templates,
                    tracks,
                    todo,
                    settings,
                    emit,
                    client=client,
                    checkpoint=checkpoint,
                    note=_note,
                )
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
