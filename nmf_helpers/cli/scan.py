"""``scan SAMPLE FOLDER [-o OUT.csv] [--jobs J] [--force] [--threshold T] [--iters N]``.

Check one sample against every audio file in a folder (not its subfolders)
and write a CSV: path, score, decision, best pitch shift, time ranges, and
the error for a file that could not be checked. The sample's templates are
learned once and loaded by each worker process when it starts; the files are
shared among ``--jobs`` processes, each limited to its share of the cores
(BLAS and numba threads), so the processes do not fight over them.

A file that cannot be checked (unreadable, silent) does not stop the scan:
its row says why, and the command ends with one line and exit status 2.
Whether the CSV can be written is checked before the scan; it appears
complete at the end or not at all (:mod:`nmf_helpers.cli._outputs`).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import multiprocessing
import os
import pickle
import signal
import tempfile
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm.auto import tqdm

import nmf_helpers as nh

from .._threads import usable_cores
from .._validation import check_int, check_real
from . import UsageError, note, one_line_warning
from ._interrupts import checkpoint
from ._outputs import Outputs
from .detect import add_detection_options, format_ranges

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".m4a"}

COLUMNS = ["path", "score", "decision", "shift_semitones", "ranges", "error"]

# Thread pools that read their size from the environment when they start.
_THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)

_templates = None  # the sample's templates, set once in each worker process
_stopping = False  # a worker told to stop (SIGTERM) skips the files still queued


def audio_files(folder: Path, exclude: Path) -> list[Path]:
    """Audio files directly in ``folder``, sorted, without ``exclude``."""
    if not folder.exists():
        raise FileNotFoundError(f"scan: no such folder: {str(folder)!r}")
    if not folder.is_dir():
        raise UsageError(f"scan: {str(folder)!r} is not a folder")
    files = [
        path
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file() and path.resolve() != exclude
    ]
    if not files:
        kinds = ", ".join(sorted(AUDIO_SUFFIXES))
        raise UsageError(f"scan: no audio files ({kinds}) in {str(folder)!r}")
    return files


@contextlib.contextmanager
def _worker_threads(threads: int):
    """Set the thread-pool sizes that processes started inside inherit.

    Worker processes are spawned (not forked), so BLAS and numba read these
    variables fresh when the worker imports numpy; this process keeps the
    pools it already has, and the variables are restored afterwards.
    """
    saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in _THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _use_templates(templates) -> None:
    global _templates
    _templates = templates


def _stop_worker(signum, frame) -> None:
    """SIGTERM in a worker: end its file now, skip the rest, exit as a process should.

    ``SystemExit`` lets the worker's exit handlers run (a worker killed
    outright leaves the semaphores of numba and tqdm to the resource
    tracker, which warns about them).
    """
    global _stopping
    _stopping = True
    raise SystemExit(128 + signum)


def _start_worker(templates_file: str) -> None:
    """Load the sample's templates once per worker process.

    The worker ignores SIGINT: Ctrl-C reaches every process of the terminal,
    and the main process, which stops the workers (SIGTERM), reports it in one line.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)
    warnings.showwarning = one_line_warning
    with open(templates_file, "rb") as handle:
        _use_templates(pickle.load(handle))


def check_file(path: Path, *, threshold: float, n_iter: int, n_free: int, seed: int) -> dict:
    """One CSV row for ``path``; problems with the file go in its error column."""
    if _stopping:
        return {"path": str(path), "decision": "error", "error": "scan stopped"}
    try:
        result = nh.detect_sample(
            _templates, path, threshold=threshold, n_iter=n_iter, n_free=n_free, seed=seed
        )
    except (nh.ParameterError, FileNotFoundError, OSError) as error:
        return {"path": str(path), "decision": "error", "error": str(error)}
    except Exception as error:  # one odd file must not end a scan of thousands
        return {"path": str(path), "decision": "error", "error": f"{type(error).__name__}: {error}"}
    return {
        "path": str(path),
        "score": f"{result.score:.4f}",
        "decision": "yes" if result.detected else "no",
        "shift_semitones": f"{result.shift:+g}",
        "ranges": format_ranges(result.ranges, "; ").replace(" s", ""),
        "error": "",
    }


def _check_all(files: list[Path], templates, jobs: int, check) -> dict[Path, dict]:
    """Rows for every file, checked by ``jobs`` processes, with a progress bar."""
    rows = {}
    with tqdm(total=len(files), desc="scan", unit="file", disable=None) as bar:
        if jobs == 1:  # no process to start: check here
            _use_templates(templates)
            for path in files:
                rows[path] = check(path)
                bar.update()
                checkpoint("row")
            return rows
        # The templates reach the workers through a file, not as initargs:
        # Python 3.11 writes initargs into a pipe whose read end it still
        # holds, so a worker dying at start-up with more than the pipe's
        # 64 KB unread (the templates are ~0.5 MB) would block scan forever.
        with tempfile.TemporaryDirectory(prefix="nmf_helpers_scan_") as folder:
            templates_file = os.path.join(folder, "templates.pickle")
            with open(templates_file, "wb") as handle:
                pickle.dump(templates, handle)
            with (
                _worker_threads(max(1, usable_cores() // jobs)),
                ProcessPoolExecutor(
                    max_workers=jobs,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(templates_file,),
                ) as pool,
            ):
                futures = {pool.submit(check, path): path for path in files}
                try:
                    for future in as_completed(futures):
                        rows[futures[future]] = future.result()
                        bar.update()
                        checkpoint("row")
                except BaseException:  # interrupted: stop the workers now, not after their files
                    for worker in multiprocessing.active_children():
                        worker.terminate()  # SIGTERM: see _stop_worker
                    pool.shutdown(cancel_futures=True)
                    raise
    return rows


def _jobs(requested: int, n_files: int) -> int:
    """Worker processes: at most one per usable core (said in a note) and per file."""
    cores = usable_cores()
    if requested > cores:
        note("scan", f"--jobs {requested} is more than the {cores} usable cores; using {cores}")
    return min(requested, cores, n_files)


def run(args) -> int:
    check_int("scan", "--jobs", args.jobs, minimum=1)
    check_int("scan", "--iters", args.iters, minimum=1)
    check_int("scan", "--free", args.free, minimum=0)
    check_real("scan", "--threshold", args.threshold, minimum=-1.0, maximum=1.0)
    # The sample itself may sit in the folder: checking it against itself says nothing.
    files = audio_files(Path(args.folder), exclude=Path(args.sample).resolve())
    output = Outputs.file("scan", args.output, force=args.force, inputs=[args.sample, *files])
    jobs = _jobs(args.jobs, len(files))
    with output.writing():
        templates = nh.learn_sample(args.sample, seed=args.seed)
        check = functools.partial(
            check_file,
            threshold=args.threshold,
            n_iter=args.iters,
            n_free=args.free,
            seed=args.seed,
        )
        checkpoint("scan")
        rows = _check_all(files, templates, jobs, check)
        with open(output.temp(output.names[0]), "w", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS, restval="")
            writer.writeheader()
            writer.writerows(rows[path] for path in files)
    found = sum(row["decision"] == "yes" for row in rows.values())
    failed = [row for row in rows.values() if row["decision"] == "error"]
    print(f"the sample is in {found} of {len(files)} files; wrote {args.output}")
    if failed:
        raise UsageError(
            f"{len(failed)} of {len(files)} files could not be checked"
            f" (first: {failed[0]['error']}); see the error column of {args.output}"
        )
    return 0


def add_parser(subparsers) -> None:
    scan = subparsers.add_parser(
        "scan", help="check one sample against every audio file in a folder; write a CSV"
    )
    scan.add_argument("sample", help="the sample, an audio file")
    scan.add_argument("folder", help="folder of tracks (wav, flac, ogg, mp3, ...)")
    scan.add_argument("-o", "--output", default="scan.csv", help="CSV to write (default scan.csv)")
    scan.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    scan.add_argument("--force", action="store_true", help="overwrite the CSV if it exists")
    add_detection_options(scan)
    scan.set_defaults(run=run)
