"""Autograde a folder of submissions: points per task (CSV) and feedback (HTML) per student.

Layout: ``SUBMISSIONS/<student_id>/<notebook>.ipynb`` (the four graded
notebooks; others are ignored). Up to ``jobs`` students at a time, each:

1. A throw-away copy of the course (``gradebook.db``, ``source/``) in a new
   temporary folder only the grader can read, with the student's notebooks
   as nbgrader's submission.
2. ``nbgrader autograde`` in a forked process of its own session, one
   notebook at a time, each in a kernel of its own started in the grading
   sandbox (:mod:`.sandbox`: its own files, processes and user; the package
   as a copy with its engine switched off, :mod:`.engine_block`). nbgrader
   restores edited or deleted test cells from the database, interrupts a
   cell that runs longer than the timeout and goes on after a cell that
   raises; :class:`~course_lib.edition.GradingCells` runs only the cells the
   grade depends on, and of each test only its hidden part, which saves the
   student's results on the judge's inputs. A kernel that fails to start is
   started again; a student whose kernels never start is not graded (and
   not recorded: the next run tries again).
3. :func:`judge.judge` compares what the hidden parts saved with the
   package's answers, computed in the grader's process. No credit for a test
   whose cell the submission edited or deleted, and a note naming a package
   function the student's code called or the signal that killed its kernel.
4. The feedback (:mod:`.reports`): ``index.html`` (points and the judge's
   reason per test, the written answers "to be graded") and one page per
   notebook with the student's code and each test's visible part and
   verdict, never the hidden tests, their inputs or any output of the
   grading run.
5. The grader checks by hashes that nothing it guards changed (the package,
   the judge, the course, the notebooks, every submission): a student whose
   run changed anything gets no automatic points and the files are put back
   (when several ran at once, they are graded again one at a time).

``OUT/results.json`` remembers each graded student with a hash of the
submission and of the solution notebooks and judge, so a second run skips
them; ``OUT/grades.csv`` is rewritten after every student, keeping the
written-answer points an instructor typed in.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from . import sandbox
from .edition import (
    ASSIGNMENT,
    CELL_TIMEOUT,
    COURSE_DIR,
    COURSE_ID,
    NOTEBOOKS,
    ROOT,
    SandboxExecute,
    generate_student_edition,
    nbgrader_config,
    prepare_nbgrader,
)
from .engine_block import TASKS
from .reports import UNSAFE_NOTE, cell_grade_id, cell_marks, cell_text, write_csv, write_feedback

#: A student whose autograding takes longer than this many cell timeouts (plus kernel starts)
#: is stopped and gets the points of what it saved by then.
STUDENT_TIMEOUTS = 20


def student_timeout(timeout: int) -> float:
    """Seconds one student's autograding may take in all: 20 cell timeouts and 300 s more."""
    return STUDENT_TIMEOUTS * timeout + 300


#: Starts of a kernel before a notebook is given up as "the kernel did not start".
KERNEL_START_TRIES = 3
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
#: Names of the student's own functions a note may quote (anything else: "your code").
_TASK_FUNCTIONS = {"kl_nmf", "kl_divergence", "component", "a cell"}


class IsolationError(RuntimeError):
    """Submissions cannot be isolated on this machine (and ``--unsafe`` was not given)."""


# ---------------------------------------------------------------- the child process


def _autograde_notebook(
    work: Path, student: str, name: str, timeout: int, *, runs_code: bool, sockets: Path
):
    """nbgrader autograde of one notebook; the error it ended with, or None.

    The kernel is reached through unix sockets named ``sockets-<n>`` (the
    sandbox has no network), in the scratch folder the sandbox shows it.
    """
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import Execute

    config = nbgrader_config(work, timeout=timeout, kernel_name=sandbox.KERNEL_NAME)
    config.AsyncKernelManager.transport = "ipc"
    config.AsyncKernelManager.ip = str(sockets)
    SandboxExecute.stopped_by = None
    if not runs_code:  # only written answers: no kernel to start
        config.Autograde.autograde_preprocessors = [
            pp for pp in config.Autograde.autograde_preprocessors if not issubclass(pp, Execute)
        ]
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = ASSIGNMENT
    coursedir.student_id = student
    coursedir.notebook_id = name
    app = Autograde(coursedir=coursedir, config=config)
    app.force = True
    app.create_student = True
    try:
        app.start()
    except Exception as error:  # nbgrader's own exceptions: this notebook only
        print(f"autograde: {name}: {error}", file=sys.stderr)
        return f"{type(error).__name__}: {error}"
    return None


def _safe_read(path: Path, limit: int) -> bytes | None:
    """At most ``limit`` bytes of a regular file the kernel wrote, never through a link."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(handle, "rb") as file:
        if not stat.S_ISREG(os.fstat(handle).st_mode):  # a FIFO, a device: never read
            return None
        data = file.read(limit + 1)
    return data if len(data) <= limit else None


@functools.cache
def _spellings() -> set[str]:
    return sandbox.engine_spellings()


def _engine_calls(scratch: Path) -> list[dict]:
    """The package functions the kernel's code called (engine_block's record), sanitised.

    The record is in the student's folder: only known function spellings and
    the task's own function names are kept (exact names, both), so nothing
    else reaches feedback.
    """
    data = _safe_read(scratch / ".engine_calls.jsonl", 64 * 1024) or b""
    calls = []
    for line in data.decode("utf-8", "replace").splitlines()[:20]:
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            entry = json.loads(line)
            called = str(entry.get("called", ""))
            by = str(entry.get("by", ""))
            if called in _spellings():
                calls.append({"called": called, "by": by if by in _TASK_FUNCTIONS else "your code"})
    return calls


def _test_errors(notebook: Path) -> dict[str, tuple[str, str]]:
    """``{grade_id: (ename, evalue)}`` of the graded cells that raised, from nbgrader's output."""
    try:
        cells = nbformat.read(notebook, as_version=4).cells
    except Exception:  # nbgrader did not write it (the kernel died, the notebook failed)
        return {}
    errors = {}
    for cell in cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        for output in cell.get("outputs", []):
            if grade_id and output.get("output_type") == "error":
                errors[grade_id] = (str(output.get("ename", "")), str(output.get("evalue", "")))
    return errors


def autograde_in_this_process(
    work: Path,
    student: str,
    *,
    package: Path,
    slot: int = 0,
    timeout: int = CELL_TIMEOUT,
    unsafe: bool = False,
) -> dict:
    """``nbgrader autograde`` of one student in ``work``, each notebook in its own sandbox.

    Returns
    -------
    dict
        Per notebook submitted: ``problem`` (why it could not be graded, or
        None), ``ended`` (how its kernel ended: ``{"exit", "signal"}``),
        ``engine`` (package functions its code called), ``errors`` (the
        exception each graded cell raised). The hidden tests' result files
        are copied to ``work/results/``.
    """
    from nbgrader.api import Gradebook

    prepare_nbgrader()
    os.environ["JUPYTER_PATH"] = str(work / "jupyter")
    os.environ["JUPYTER_RUNTIME_DIR"] = str(work / "runtime")

    results = work / "results"
    results.mkdir(exist_ok=True)
    submitted = work / "submitted" / student / ASSIGNMENT
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        runs_code = {
            notebook.name
            for notebook in gradebook.find_assignment(ASSIGNMENT).notebooks
            if any(cell.cell_type == "code" for cell in notebook.source_cells)
        }
    report = {}
    for name in NOTEBOOKS:
        path = submitted / f"{name}.ipynb"
        if not path.exists():
            continue
        entry = report[name] = {"problem": None, "ended": {}, "engine": [], "errors": {}}
        try:
            nbformat.read(path, as_version=4)
        except Exception:
            entry["problem"] = f"{name}.ipynb is not a notebook that can be read (broken JSON?)"
            path.unlink()
            continue
        scratch = work / "x" / str(NOTEBOOKS.index(name))  # short: ipc socket paths
        scratch.mkdir(parents=True)
        config = sandbox.sandbox_config(
            work, slot=slot, scratch=scratch, package=package, notebook=name, unsafe=unsafe
        )
        if config["uid"] is not None:
            os.chown(scratch, config["uid"], config["uid"])
        scratch.chmod(0o700)
        sandbox.write_kernelspec(work / "jupyter", config)
        for attempt in range(KERNEL_START_TRIES):
            failures = SandboxExecute.start_failures
            error = _autograde_notebook(
                work, student, name, timeout, runs_code=name in runs_code, sockets=scratch / "k"
            )
            if SandboxExecute.start_failures == failures:
                break
            print(f"autograde: {name}: the kernel did not start (try {attempt + 1})", flush=True)
            time.sleep(1 + attempt)
        else:
            entry["problem"] = "retry"
            break  # this student is not graded this time: no need to try the others
        if error:
            entry["problem"] = SandboxExecute.stopped_by or error
        status = _safe_read(Path(config["status"]), 4096)
        with contextlib.suppress(ValueError, TypeError):
            entry["ended"] = json.loads(status or b"{}")
        entry["engine"] = _engine_calls(scratch)
        autograded = work / "autograded" / student / ASSIGNMENT / f"{name}.ipynb"
        entry["errors"] = _test_errors(autograded)
        _collect_results(scratch, name, results)
    return report


def _collect_results(scratch: Path, name: str, results: Path) -> None:
    """Copy what notebook ``name``'s hidden tests saved (its own tests' only) into ``results``."""
    from .judge import SAVED_BYTES, TESTS

    for test in TESTS:
        if test.notebook == name:  # a notebook saves its own tests' results, no other's
            data = _safe_read(scratch / f"grading_{test.grade_id}.npz", SAVED_BYTES)
            if data is not None:
                (results / f"grading_{test.grade_id}.npz").write_bytes(data)


def _autograde_child(work: Path, student: str, options: dict, log_path: Path) -> None:
    """The body of the per-student process: its own session, folder and log; dies with us."""
    os.setsid()
    sandbox.die_with_parent()
    os.chdir(work)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    code = 0
    try:
        report = autograde_in_this_process(work, student, **options)
        (work / "report.json").write_text(json.dumps(report))
    except BaseException as error:
        print(f"autograde: {type(error).__name__}: {error}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# ---------------------------------------------------------------- integrity


def _files(root: Path) -> list[Path]:
    """The files under ``root``; caches Python and numba write for themselves left out."""
    if root.is_file() or root.is_symlink():
        return [root]
    return sorted(
        path
        for path in root.rglob("*")
        if (path.is_file() or path.is_symlink())
        and "__pycache__" not in path.parts
        and path.suffix not in (".nbi", ".nbc")
    )


def snapshot_files(roots: list[Path], *, keep_bytes) -> dict[Path, tuple[str, bytes | None]]:
    """``{file: (sha256, bytes or None)}`` of every file under ``roots``."""
    snapshot = {}
    for root in roots:
        if not root.exists() and not root.is_symlink():
            continue
        for path in _files(root):
            data = b"<link>" if path.is_symlink() else path.read_bytes()
            snapshot[path] = (hashlib.sha256(data).hexdigest(), data if keep_bytes(path) else None)
    return snapshot


def undo_changes(before: dict, roots: list[Path]) -> list[Path]:
    """The files under ``roots`` that differ from ``before``; put back where kept."""
    after = snapshot_files(roots, keep_bytes=lambda path: False)
    changed = sorted(
        {
            path
            for path in before.keys() | after.keys()
            if before.get(path, ("",))[0] != after.get(path, ("",))[0]
        }
    )
    for path in changed:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        if path in before and before[path][1] is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(before[path][1])
    return changed


class Guard:
    """Hashes of everything a submission must not change, checked after each student.

    ``roots``: the package, the judge, the solution notebooks, the course
    (source, release, gradebook), every notebook submitted and the package
    copy the kernels import; not the results folder, which the grader writes
    itself, nor other files in the submissions (an upload may add some while a
    run goes on). Small enough to hash after every student (tens of MB for a
    class of 200); checked, not trusted to the sandbox.
    """

    def __init__(self, roots: list[Path]):
        self.roots = roots
        self.before = snapshot_files(roots, keep_bytes=lambda path: True)

    def changed(self) -> list[Path]:
        """What differs from the first snapshot, put back as it was."""
        return undo_changes(self.before, self.roots)


def edited_tests(submitted: Path, release: Path) -> dict[str, str]:
    """The test cells a submission edited or deleted, compared with the student edition.

    Returns
    -------
    dict
        ``{grade_id: "edited" | "deleted" | "unreadable"}`` for every test cell
        (graded and locked) of the notebooks submitted.
    """
    found = {}
    for name in NOTEBOOKS:
        mine = submitted / f"{name}.ipynb"
        given = nbformat.read(release / f"{name}.ipynb", as_version=4)
        tests = {
            cell_grade_id(cell): cell
            for cell in given.cells
            if cell_marks(cell).get("grade") and cell_marks(cell).get("locked")
        }
        if not tests or not mine.exists():
            continue
        try:
            cells = nbformat.read(mine, as_version=4).cells
            if not isinstance(cells, list):
                raise TypeError("cells is not a list")
        except Exception:  # not a notebook at all
            found |= dict.fromkeys(tests, "unreadable")
            continue
        for grade_id, original in tests.items():
            copies = [cell for cell in cells if cell_grade_id(cell) == grade_id]
            if not copies:
                found[grade_id] = "deleted"
                continue
            marks, expected = cell_marks(copies[0]), original.metadata.nbgrader
            same_marks = all(
                marks.get(key) == expected.get(key) for key in ("grade", "locked", "points")
            )
            same_source = cell_text(copies[0].get("source")).strip() == original.source.strip()
            if len(copies) > 1 or not same_source or not same_marks:
                found[grade_id] = "edited"
    return found


# ---------------------------------------------------------------- one student's points


def _copy_of_course(run_dir: Path, course_dir: Path, submissions: Path, student: str):
    """A new folder (grader-only) with the course and the student's notebooks as its submission."""
    work = Path(tempfile.mkdtemp(prefix="w", dir=run_dir))  # short: ipc socket paths
    shutil.copy2(course_dir / "gradebook.db", work / "gradebook.db")
    # nbgrader restores the tests from the database; the solution notebooks stay out of reach.
    (work / "source" / ASSIGNMENT).mkdir(parents=True)
    submitted = work / "submitted" / student / ASSIGNMENT
    submitted.mkdir(parents=True)
    notes = []
    for name in NOTEBOOKS:  # the notebooks only: nothing else a student left in the folder
        given = submissions / student / f"{name}.ipynb"
        if given.is_file() and not given.is_symlink():
            (submitted / given.name).write_bytes(given.read_bytes())
        else:
            notes.append(f"{name}.ipynb not submitted")
    return work, notes


#: Why nbgrader stopped executing a notebook, as the student reads it.
_STOPPED = {
    "DeadKernelError": "the kernel died",
    "CellTimeoutError": "a cell ran past the time limit",
    "TimeoutError": "the kernel stopped answering",
}


def _kernel_note(name: str, entry: dict) -> str | None:
    """What happened to a notebook's kernel, if it did not end normally."""
    ended = entry.get("ended") or {}
    if ended.get("signal"):
        return f"the kernel was killed ({ended['signal']}) in {name}"
    if ended.get("exit") not in (None, 0):
        return f"the kernel exited in {name}"
    problem = entry.get("problem")
    if problem and problem.startswith("the notebooks together"):
        return f"{problem} (while grading {name})"
    if problem:
        why = _STOPPED.get(problem, "nbgrader could not run it to the end")
        return f"{why} in {name}: the tests after that point were not run"
    return None


def score_student(work: Path, student: str, report: dict, *, release: Path):
    """The judged points and the notes of one autograded student.

    Returns
    -------
    tuple
        ``scores`` (``{grade_id: (points, note)}``) and ``notes`` (list of str).
    """
    from .judge import NOT_SAVED, TESTS, judge

    errors = {}
    for entry in report.values():
        errors |= {key: tuple(value) for key, value in entry.get("errors", {}).items()}
    scores = judge(work / "results", errors=errors)
    notes = []
    for name, entry in report.items():
        problem = entry.get("problem")
        if problem and "not a notebook" in problem:
            notes.append(problem)
        else:
            note = _kernel_note(name, entry)
            if note:
                notes.append(note)
                for test in TESTS:  # what stopped the notebook is why nothing was saved
                    if test.notebook == name and scores[test.grade_id][1] == NOT_SAVED:
                        scores[test.grade_id] = (0.0, f"no result was saved: {note}")
        calls = entry.get("engine", [])
        if calls:
            call = f"{calls[0]['by']} called {calls[0]['called']}"
            why = f"{TASKS[name]}; {call}, which is switched off while grading"
            notes.append(why)
            for test in TESTS:
                if test.notebook == name and scores[test.grade_id][0] < test.points:
                    scores[test.grade_id] = (0.0, why)
    for test in TESTS:
        entry = report.get(test.notebook)
        if entry is None:
            scores[test.grade_id] = (0.0, f"{test.notebook}.ipynb was not submitted")
        elif "not a notebook" in (entry.get("problem") or ""):
            scores[test.grade_id] = (0.0, entry["problem"])
    submitted = work / "submitted" / student / ASSIGNMENT
    notebook_of = {test.grade_id: test.notebook for test in TESTS}
    for grade_id, how in edited_tests(submitted, release).items():
        if how == "unreadable":
            why = f"{notebook_of[grade_id]}.ipynb could not be read as a notebook (broken JSON?)"
        else:
            why = f"no credit: the test cell was {how} in the submission"
        scores[grade_id] = (0.0, why)
    return scores, notes


# ---------------------------------------------------------------- all students


class _Running:
    """One student being autograded in a child process."""

    def __init__(self, student, work, notes, process, slot):
        self.student, self.work, self.notes = student, work, notes
        self.process, self.slot = process, slot
        self.start = time.perf_counter()
        self.alone = False
        self.timed_out = False

    def stop(self) -> None:
        """Nothing of this student's run outlives it (its session, then its sandboxes)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):  # stopped before it had a session
            self.process.kill()
        self.process.join()


def _run_dir() -> Path:
    """A grader-only folder for this run; folders of runs whose grader is gone are removed."""
    base = Path(tempfile.gettempdir())
    for stale in base.glob("nmf-course-run-*"):
        with contextlib.suppress(OSError, ValueError):
            pid = int((stale / "pid").read_text())
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                _remove(stale)
    run_dir = Path(tempfile.mkdtemp(prefix="nmf-course-run-"))
    (run_dir / "pid").write_text(str(os.getpid()))
    return run_dir


def usable_cores() -> int:
    """The cores this process may run on (the default of ``--jobs``)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _guarded_roots(course_dir: Path, submitted: list[Path], package: Path) -> list[Path]:
    return [
        _package_dir(),
        ROOT / "scripts",
        ROOT / "notebooks",
        course_dir / "source",
        course_dir / "release",
        course_dir / "gradebook.db",
        *submitted,
        package,
    ]


def _package_dir() -> Path:
    import nmf_helpers

    return Path(nmf_helpers.__file__).resolve().parent


def grade_all(
    submissions: Path,
    *,
    course_dir: Path = COURSE_DIR,
    out_dir: Path | None = None,
    timeout: int = CELL_TIMEOUT,
    regrade: bool = False,
    jobs: int | None = None,
    unsafe: bool = False,
    log=print,
) -> Path:
    """Grade every ``SUBMISSIONS/<student_id>/`` folder, ``jobs`` at a time; returns the CSV.

    Students already graded (same submission, same solution notebooks and
    judge, same isolation) are skipped unless ``regrade``. The student edition
    and the gradebook are generated first, from ``notebooks/`` (or reused if
    nothing changed). A student whose grading fails unexpectedly or whose
    kernels never start is reported and left ungraded, the others are graded,
    and then :class:`RuntimeError` names them.

    Raises
    ------
    IsolationError
        If submissions cannot be isolated here and ``unsafe`` is not set.
    """
    submissions = Path(submissions).resolve()
    if not submissions.is_dir():
        raise FileNotFoundError(f"course grade: no such folder: {submissions}")
    course_dir = Path(course_dir).resolve()
    out_dir = (course_dir / "grades" if out_dir is None else Path(out_dir)).resolve()
    if out_dir.is_relative_to(submissions) or submissions.is_relative_to(out_dir):
        raise ValueError(
            f"course grade: the output folder {out_dir} must not contain or lie in the submissions"
        )
    jobs = usable_cores() if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"course grade: --jobs must be at least 1, got {jobs}")
    if not unsafe:
        missing = sandbox.probe()
        if missing:
            raise IsolationError(
                f"course grade: submissions cannot be isolated on this machine ({missing}):"
                " run as root, or allow unprivileged user namespaces"
                " (sysctl kernel.unprivileged_userns_clone=1); --unsafe grades without isolation"
            )
    generate_student_edition(course_dir)
    import nbgrader.converters  # noqa: F401  (imported once here; each student's fork inherits it)

    from . import judge

    most = sum(test.points for test in judge.TESTS)
    judge.prepare()  # the references, computed once here and inherited by every fork
    judge_code = sorted(Path(__file__).parent.glob("*.py"))
    # The references come from the package: a change there grades everyone again too.
    package_code = sorted(_package_dir().rglob("*.py"))  # subpackages too (analysis/, cli/)
    source_hash = _sha(
        sorted((course_dir / "source" / ASSIGNMENT).glob("*.ipynb")) + judge_code + package_code
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    students = sorted(
        folder.name
        for folder in submissions.iterdir()
        if folder.is_dir() and not folder.is_symlink()
    )
    for name in [s for s in students if not _STUDENT_ID.match(s)]:
        log(f"skipped {name!r}: not a student id (letters, digits, _ . @ -)")
    students = [s for s in students if _STUDENT_ID.match(s)]
    order = {student: index for index, student in enumerate(students, 1)}
    todo = []
    hashes = {student: _submission_hash(submissions, student) for student in students}
    for student in students:
        old = results.get(student, {})
        same = (
            old.get("submission") == hashes[student]
            and old.get("source") == source_hash
            and old.get("unsafe", False) == unsafe
        )
        if same and not regrade:
            log(f"[{order[student]}/{len(students)}] {student}: already graded, skipped")
        else:
            todo.append(student)
    start, failed = time.perf_counter(), []
    run_dir = _run_dir()
    try:
        package = sandbox.make_package_copy(run_dir / "package")
        submitted = [
            path for s in students for name in NOTEBOOKS
            if (path := submissions / s / f"{name}.ipynb").exists()
        ]  # fmt: skip
        guard = Guard(_guarded_roots(course_dir, submitted, package))
        release = course_dir / "release" / ASSIGNMENT
        context = _Context(
            course_dir, submissions, out_dir, run_dir, package, release, timeout, unsafe
        )
        for student, outcome in _grade_in_parallel(todo, context, guard, jobs):
            if outcome is None:
                continue
            if isinstance(outcome, str):
                failed.append(student)
                log(f"[{order[student]}/{len(students)}] {student}: NOT GRADED ({outcome})")
                continue
            outcome |= {
                "submission": hashes[student],  # as it was when graded
                "source": source_hash,
            }
            results[student] = outcome
            partial = results_path.with_suffix(".json.partial")
            partial.write_text(json.dumps(results, indent=1, sort_keys=True))
            partial.replace(results_path)
            write_csv(out_dir / "grades.csv", {s: r for s, r in results.items() if s in students})
            auto = sum(points for points, _ in outcome["tests"].values())
            log(
                f"[{order[student]}/{len(students)}] {student}:"
                f" {auto:g} / {most:g} automatic points ({outcome['seconds']:.1f} s)"
            )
    finally:
        _remove(run_dir)
    write_csv(out_dir / "grades.csv", {s: r for s, r in results.items() if s in students})
    log(
        f"graded {len(students)} submission(s) in {time.perf_counter() - start:.1f} s"
        f" ({jobs} at a time{', WITHOUT isolation' if unsafe else ''}) -> {out_dir / 'grades.csv'}"
    )
    if failed:
        raise RuntimeError(
            f"course grade: {len(failed)} submission(s) not graded ({', '.join(failed)}):"
            " see above, and run the command again to grade them"
        )
    return out_dir / "grades.csv"


class _Context:
    """What every student's grading shares."""

    def __init__(
        self, course_dir, submissions, out_dir, run_dir, package, release, timeout, unsafe
    ):
        self.course_dir, self.submissions, self.out_dir = course_dir, submissions, out_dir
        self.run_dir, self.package, self.release = run_dir, package, release
        self.timeout, self.unsafe = timeout, unsafe
        self.student_timeout = student_timeout(timeout)


def _start(student: str, context: _Context, slot: int) -> _Running:
    work, notes = _copy_of_course(context.run_dir, context.course_dir, context.submissions, student)
    options = {
        "package": context.package,
        "slot": slot,
        "timeout": context.timeout,
        "unsafe": context.unsafe,
    }
    process = multiprocessing.get_context("fork").Process(
        target=_autograde_child, args=(work, student, options, work / "autograde.log")
    )
    process.start()
    return _Running(student, work, notes, process, slot)


def _grade_in_parallel(todo: list[str], context: _Context, guard: Guard, jobs: int):
    """Yield ``(student, result | reason not graded | None)`` as students finish.

    ``None``: a guarded file changed while this student ran beside others, so
    who changed it is not known: the student is graded again later, alone.
    """
    queue, running, free = list(todo), [], list(range(jobs))
    alone_needed: set[str] = set()  # graded again one at a time: a change while they ran
    try:
        while queue or running:
            while queue and free:
                if running and (queue[0] in alone_needed or running[0].alone):
                    break
                running.append(_start(queue.pop(0), context, free.pop(0)))
                running[-1].alone = len(running) == 1 and running[-1].student in alone_needed
            multiprocessing.connection.wait([r.process.sentinel for r in running], timeout=5)
            now = time.perf_counter()
            for done in list(running):
                if done.process.is_alive() and now - done.start <= context.student_timeout:
                    continue
                done.timed_out = done.process.is_alive()
                running.remove(done)
                done.stop()
                free.append(done.slot)
                changed = guard.changed()
                suspects = {done.student} | {r.student for r in running}
                if changed and len(suspects) > 1:
                    alone_needed |= suspects
                if done.student in alone_needed and not done.alone:
                    queue.append(done.student)
                    _remove(done.work)
                    yield done.student, None
                    continue
                yield done.student, _finish(done, context, changed)
    finally:
        for r in running:  # Ctrl-C, SIGTERM: nothing of the students being graded stays
            r.stop()
            _remove(r.work)


def _finish(done: _Running, context: _Context, changed: list[Path]):
    """Points, notes and feedback of a student whose autograding ended; or why not graded."""
    try:
        return _judged(done, context, changed)
    except Exception as error:  # a submission nothing foresaw: this student only, said why
        return f"the grader failed on this submission ({type(error).__name__}: {error})"
    finally:
        _remove(done.work)


def _judged(done: _Running, context: _Context, changed: list[Path]):
    """:func:`_finish`'s work: the judge, the notes, the feedback and the logs into OUT."""
    work, student = done.work, done.student
    report_path = work / "report.json"
    if done.timed_out:  # what it saved by then counts; the rest of it never ran
        report = _timed_out_report(work, context.student_timeout)
    elif not report_path.exists():
        return (
            f"the autograder failed (exit {done.process.exitcode});"
            f" see {work.name}/autograde.log; run the command again"
        )
    else:
        report = json.loads(report_path.read_text())
    if any(entry.get("problem") == "retry" for entry in report.values()):
        return "a kernel did not start after 3 tries (a busy machine?); run the command again"
    scores, notes = score_student(work, student, report, release=context.release)
    if changed:
        written = ", ".join(str(path) for path in changed[:5])
        notes.append(f"no automatic credit: the run changed files outside its folder: {written}")
        scores = dict.fromkeys(scores, (0.0, "no credit: the run wrote outside its folder"))
    if context.unsafe:
        notes.append(UNSAFE_NOTE)
    result = {
        "tests": {key: list(value) for key, value in scores.items()},
        "notes": done.notes + notes,
        "seconds": round(time.perf_counter() - done.start, 1),
        "unsafe": context.unsafe,
    }
    submitted = work / "submitted" / student / ASSIGNMENT
    out = context.out_dir
    feedback = work / "feedback-pages"
    write_feedback(feedback, student, result, submitted, context.release)
    _replace_folder(out / "feedback" / student, sorted(feedback.glob("*.html")))
    _replace_folder(
        out / "autograded" / student,
        sorted((work / "autograded" / student / ASSIGNMENT).glob("*.ipynb")),
    )
    logs = [work / "autograde.log"]
    for index, name in enumerate(NOTEBOOKS):
        kernel_log = work / "x" / str(index) / ".kernel.log"
        if kernel_log.exists() or kernel_log.is_symlink():
            data = _safe_read(kernel_log, 2**20)
            copy = work / f"kernel-{name}.log"
            copy.write_bytes(b"(not a file, or more than 1 MB)" if data is None else data)
            logs.append(copy)
    _replace_folder(out / "logs" / student, logs)
    return result


def _timed_out_report(work: Path, seconds: float) -> dict:
    """The report of a student stopped after ``seconds``: its saved results, one note."""
    results = work / "results"
    results.mkdir(exist_ok=True)
    report = {}
    for index, name in enumerate(NOTEBOOKS):
        scratch = work / "x" / str(index)
        if not scratch.exists():
            continue
        report[name] = {
            "problem": None,
            "ended": {},
            "engine": _engine_calls(scratch),
            "errors": {},
        }
        _collect_results(scratch, name, results)
    if report:  # the notebook being graded when the time ran out
        stopped = f"the notebooks together ran past {seconds:.0f} s and were stopped"
        report[list(report)[-1]]["problem"] = stopped
    return report


def _remove(folder: Path) -> None:
    """Remove a work folder, even where a submission took the permissions away."""

    def writable_again(function, path, _):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(path), 0o700)
            os.chmod(path, 0o700)
            function(path)

    shutil.rmtree(folder, onerror=writable_again)


def _replace_folder(folder: Path, files: list[Path]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for path in files:
        shutil.copy2(path, folder / path.name)


def _sha(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() and not path.is_symlink() else b"<none>")
    return digest.hexdigest()


def _submission_hash(submissions: Path, student: str) -> str:
    return _sha([submissions / student / f"{name}.ipynb" for name in NOTEBOOKS])
