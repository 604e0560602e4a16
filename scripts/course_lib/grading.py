"""Autograde a folder of submissions: points per task (CSV) and feedback (HTML) per student.

Layout: ``SUBMISSIONS/<student_id>/<notebook>.ipynb`` (the four graded
notebooks; others are ignored). For each student, one after the other:

1. A throw-away copy of the course (``gradebook.db``, ``source/``) in a new
   temporary folder, with the student's notebooks as nbgrader's submission.
2. ``nbgrader autograde``, one notebook at a time, in a process of its own
   (``course.py _autograde``). nbgrader restores edited or deleted test
   cells from the database (locked cells, checksums), interrupts a cell that
   runs longer than the timeout, and goes on after a cell that raises, so an
   error costs the tests of its task only. :class:`~course_lib.edition.KeepGradedCells` drops
   every cell the grade does not depend on (the experiments, anything the
   student added), so a notebook grades in seconds.
3. Back in the grader's process: :func:`judge.judge` compares the arrays the
   hidden tests saved with the package's answers. No credit for a test whose
   cell the submission edited or deleted; no automatic credit at all if the
   run changed anything outside its own folder (the course, the results,
   the other submissions, which are put back) or the copy's database.
4. The points go into the copy's gradebook, nbgrader's feedback HTML is
   generated, and the results, the feedback and the autograded notebooks
   are kept in ``OUT``; the temporary folder is removed.

``OUT/results.json`` remembers each graded student with a hash of the
submission and of the solution notebooks, so a second run skips them (a
changed submission or test is graded again); ``OUT/grades.csv`` is rewritten
after every student, keeping the written-answer points an instructor typed in.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import html
import json
import multiprocessing
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from .edition import (
    ASSIGNMENT,
    CELL_TIMEOUT,
    COURSE_DIR,
    COURSE_ID,
    NOTEBOOKS,
    generate_student_edition,
    nbgrader_config,
    prepare_nbgrader,
)

#: A student whose autograding takes longer than this is stopped (every cell has its own timeout).
STUDENT_TIMEOUT = 900
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


# ---------------------------------------------------------------- the child process


def autograde_in_this_process(work: Path, student: str, *, timeout: int = CELL_TIMEOUT) -> int:
    """``nbgrader autograde`` of one student in ``work``, one notebook at a time.

    One notebook that nbgrader cannot process (not a notebook, a kernel that
    will not stop) is dropped alone, and the others are still graded.

    Returns
    -------
    int
        The number of notebooks nbgrader failed on (0 when all went through).
    """
    from nbgrader.api import Gradebook
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import Execute

    prepare_nbgrader()
    failures = 0
    submitted = work / "submitted" / student / ASSIGNMENT
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        runs_code = {
            notebook.name
            for notebook in gradebook.find_assignment(ASSIGNMENT).notebooks
            if any(cell.cell_type == "code" for cell in notebook.source_cells)
        }
    for name in NOTEBOOKS:
        if not (submitted / f"{name}.ipynb").exists():
            continue
        config = nbgrader_config(work, timeout=timeout)
        if name not in runs_code:  # only written answers: no kernel to start
            config.Autograde.autograde_preprocessors = [
                pp
                for pp in Autograde.class_traits()["autograde_preprocessors"].default()
                if pp is not Execute
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
            failures += 1
    return failures


def _autograde_child(work: Path, student: str, timeout: int, log_path: Path) -> None:
    """The body of the per-student process: its own session, folder and log."""
    os.setsid()
    os.chdir(work)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    failures = autograde_in_this_process(work, student, timeout=timeout)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(min(failures, 100))


# ---------------------------------------------------------------- integrity


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(path for path in root.rglob("*") if path.is_file() or path.is_symlink())


def snapshot_files(roots: list[Path], *, keep_bytes) -> dict[Path, tuple[str, bytes | None]]:
    """``{file: (sha256, bytes or None)}`` of every file under ``roots``."""
    snapshot = {}
    for root in roots:
        if not root.exists():
            continue
        for path in _files(root):
            data = b"<link>" if path.is_symlink() else path.read_bytes()
            snapshot[path] = (hashlib.sha256(data).hexdigest(), data if keep_bytes(path) else None)
    return snapshot


def undo_changes(before: dict, roots: list[Path], *, keep_bytes) -> list[Path]:
    """The files under ``roots`` that differ from ``before``; put back where possible."""
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


def _gradebook_cells(db: Path) -> dict:
    """The instructor's part of a gradebook: every source cell and the points of each test."""
    from nbgrader.api import Gradebook

    cells = {}
    with Gradebook(f"sqlite:///{db}", course_id=COURSE_ID) as gradebook:
        for notebook in gradebook.find_assignment(ASSIGNMENT).notebooks:
            for cell in notebook.source_cells:
                cells[notebook.name, cell.name] = (cell.cell_type, cell.locked, cell.source)
            for cell in notebook.grade_cells:
                cells[notebook.name, cell.name, "points"] = cell.max_score
    return cells


def edited_tests(submitted: Path, release: Path, source: Path) -> dict[str, str]:
    """The test cells a submission edited or deleted, compared with the student edition.

    A test cell as the student edition has it, or as the solution notebooks in
    ``source`` have it (hidden tests included), is unedited.

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
        solution = nbformat.read(source / f"{name}.ipynb", as_version=4)
        full = {
            c.metadata.get("nbgrader", {}).get("grade_id"): c.source.strip() for c in solution.cells
        }
        tests = {
            cell.metadata.nbgrader["grade_id"]: cell
            for cell in given.cells
            if cell.metadata.get("nbgrader", {}).get("grade")
            and cell.metadata.nbgrader.get("locked")
        }
        if not tests or not mine.exists():
            continue
        try:
            cells = nbformat.read(mine, as_version=4).cells
        except Exception:  # not a notebook at all
            found |= dict.fromkeys(tests, "unreadable")
            continue
        for grade_id, original in tests.items():
            copies = [
                c
                for c in cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id
            ]
            if not copies:
                found[grade_id] = "deleted"
                continue
            cell, expected = copies[0], original.metadata.nbgrader
            meta = cell.metadata.get("nbgrader", {})
            same_marks = all(
                meta.get(key) == expected.get(key) for key in ("grade", "locked", "points")
            )
            same_source = cell.source.strip() in (original.source.strip(), full.get(grade_id))
            if len(copies) > 1 or not same_source or not same_marks:
                found[grade_id] = "edited"
    return found


# ---------------------------------------------------------------- one student


def _sha(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() and not path.is_symlink() else b"<none>")
    return digest.hexdigest()


def _write_scores(work: Path, student: str, scores: dict) -> None:
    """The judged points into the copy's gradebook, for nbgrader's feedback pages."""
    from nbgrader.api import Gradebook, MissingEntry

    from .judge import TESTS

    with Gradebook(f"sqlite:///{work / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        for test in TESTS:
            try:
                grade = gradebook.find_grade(test.grade_id, test.notebook, ASSIGNMENT, student)
            except MissingEntry:  # the notebook was not submitted or not graded
                continue
            grade.auto_score = scores[test.grade_id][0]
        gradebook.db.commit()


def _feedback(work: Path, student: str) -> list[Path]:
    """nbgrader's feedback HTML of the autograded notebooks in ``work``."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    config = nbgrader_config(work)
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = ASSIGNMENT
    coursedir.student_id = student
    app = GenerateFeedback(coursedir=coursedir, config=config)
    app.force = True
    try:
        app.start()
    except Exception as error:  # feedback is a courtesy: the points stand without it
        print(f"course: feedback for {student} failed: {error}", file=sys.stderr)
    return sorted((work / "feedback" / student / ASSIGNMENT).glob("*.html"))


def _copy_of_course(course_dir: Path, submissions: Path, student: str) -> tuple[Path, list[str]]:
    """A new temporary course with the student's notebooks as its only submission."""
    work = Path(tempfile.mkdtemp(prefix="nmf-course-grade-"))
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


def _run_child(work: Path, student: str, timeout: int, log_path: Path) -> str | None:
    """Autograde in a forked process of its own session; a note if it did not end well.

    Forked from this process, nbgrader is already imported (seconds per
    student); its own session lets it and whatever it started be stopped as
    one group.
    """
    child = multiprocessing.get_context("fork").Process(
        target=_autograde_child, args=(work, student, timeout, log_path)
    )
    child.start()
    try:
        child.join(STUDENT_TIMEOUT)
        note = f"autograding stopped after {STUDENT_TIMEOUT} s" if child.is_alive() else None
    finally:  # also on Ctrl-C: nothing of this student's run outlives it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        child.join()
    if child.exitcode and note is None:
        failed = child.exitcode
        note = f"nbgrader could not grade {failed} notebook(s): see logs/{student}/autograde.log"
    return note


def _copy_tampered(work: Path, course_dir: Path, pristine: dict) -> list[str]:
    """What the run changed in its copy of the course outside its own folder."""
    now = snapshot_files([work / "source"], keep_bytes=lambda path: False)
    changed = [str(path.relative_to(work)) for path in pristine.keys() ^ now.keys()]
    changed += [str(path.relative_to(work)) for path in now if pristine.get(path) != now[path][0]]
    if _gradebook_cells(work / "gradebook.db") != _gradebook_cells(course_dir / "gradebook.db"):
        changed.append("gradebook.db (the tests or their points)")
    return sorted(set(changed))


def _replace_folder(folder: Path, files: list[Path]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for path in files:
        shutil.copy2(path, folder / path.name)


def grade_student(
    student: str,
    submissions: Path,
    *,
    course_dir: Path,
    out_dir: Path,
    timeout: int = CELL_TIMEOUT,
) -> dict:
    """Autograde, judge and give feedback to one student; see the module docstring.

    Returns
    -------
    dict
        ``tests`` (``{grade_id: [points, note]}``), ``notes`` (list of str),
        ``seconds`` (in all, and for nbgrader's run), ``regrade`` (other
        students whose kept feedback the run touched); the caller adds the
        hashes.
    """
    from .judge import TESTS, judge

    start = time.perf_counter()
    release = course_dir / "release" / ASSIGNMENT
    guarded = [course_dir / "source", release, course_dir / "gradebook.db", out_dir, submissions]
    # Others' feedback and notebooks are large: if touched, they are graded again, not restored.
    bulky = (out_dir / "feedback", out_dir / "autograded", out_dir / "logs")

    def keep_bytes(path):
        return not any(path.is_relative_to(folder) for folder in bulky)

    before = snapshot_files(guarded, keep_bytes=keep_bytes)
    work, notes = _copy_of_course(course_dir, submissions, student)
    try:
        copy = snapshot_files([work / "source"], keep_bytes=lambda path: False)
        pristine = {path: digest for path, (digest, _) in copy.items()}
        log_path = work / "autograde.log"  # kept in OUT/logs/ once the run is checked
        notes.append(_run_child(work, student, timeout, log_path))
        autograde_seconds = time.perf_counter() - start
        outside = undo_changes(before, guarded, keep_bytes=keep_bytes)
        written = [str(path) for path in outside] + _copy_tampered(work, course_dir, pristine)
        others = {path.relative_to(out_dir).parts[1] for path in outside if not keep_bytes(path)}
        # The judge: this process, the arrays the hidden tests saved, the package's answers.
        scores = judge(work / "autograded" / student / ASSIGNMENT)
        if written:
            notes.append(
                "no automatic credit: the run wrote outside its folder: " + ", ".join(written[:5])
            )
            scores = dict.fromkeys(scores, (0.0, "no credit: the run wrote outside its folder"))
        submitted = work / "submitted" / student / ASSIGNMENT
        for grade_id, how in edited_tests(
            submitted, release, course_dir / "source" / ASSIGNMENT
        ).items():
            scores[grade_id] = (0.0, f"no credit: the test cell was {how} in the submission")
        _write_scores(work, student, scores)
        pages = _feedback(work, student)
        _replace_folder(out_dir / "feedback" / student, pages)
        _replace_folder(
            out_dir / "autograded" / student,
            sorted((work / "autograded" / student / ASSIGNMENT).glob("*.ipynb")),
        )
        _replace_folder(out_dir / "logs" / student, [log_path])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "tests": {key: list(value) for key, value in scores.items()},
        "notes": [note for note in notes if note],
        "seconds": round(time.perf_counter() - start, 1),
        "seconds_autograde": round(autograde_seconds, 1),
        "regrade": sorted(others - {student}),
    }
    _write_index(
        out_dir / "feedback" / student / "index.html",
        student,
        result,
        [page.name for page in pages],
        TESTS,
    )
    return result


def _write_index(path: Path, student: str, result: dict, pages: list[str], tests) -> None:
    """The student's feedback page: points per test, why, and nbgrader's page per notebook."""
    rows = "".join(
        f"<tr><td>Task {t.task}</td><td>{html.escape(t.what)}</td>"
        f"<td>{result['tests'][t.grade_id][0]:g} / {t.points:g}</td>"
        f"<td>{html.escape(result['tests'][t.grade_id][1])}</td></tr>"
        for t in tests
    )
    links = "".join(f'<li><a href="{html.escape(p)}">{html.escape(p)}</a></li>' for p in pages)
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in result["notes"])
    total = sum(result["tests"][t.grade_id][0] for t in tests)
    path.write_text(
        f"<!doctype html><meta charset='utf-8'><title>Feedback: {html.escape(student)}</title>"
        f"<h1>NMF homework: feedback for {html.escape(student)}</h1>"
        f"<p>Automatic points: <b>{total:g} / {sum(t.points for t in tests):g}</b>"
        " (the written answers, 10 points, are graded by hand).</p>"
        "<table border=1 cellpadding=4>"
        "<tr><th>task</th><th>test</th><th>points</th><th>why</th></tr>"
        f"{rows}</table>"
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + f"<h2>Your notebooks, as graded</h2><ul>{links}</ul>",
        encoding="utf-8",
    )


# ---------------------------------------------------------------- all students


def _csv_rows(results: dict, old_rows: dict) -> tuple[list[str], list[list]]:
    from .judge import TESTS, WRITTEN

    header = ["student"]
    header += [
        f"task{task} auto (of {sum(t.points for t in TESTS if t.task == task):g})"
        for task in (1, 2, 3)
    ]
    header += ["auto total (of 18)"]
    header += [f"{t.grade_id} (of {t.points:g})" for t in WRITTEN]
    header += [f"{t.grade_id} (of {t.points:g})" for t in TESTS]
    header += ["notes"]
    rows = []
    for student in sorted(results):
        tests = results[student]["tests"]
        per_task = [
            sum(tests[t.grade_id][0] for t in TESTS if t.task == task) for task in (1, 2, 3)
        ]
        kept = old_rows.get(student, {})
        written = [kept.get(f"{t.grade_id} (of {t.points:g})", "") for t in WRITTEN]
        notes = results[student]["notes"] + [
            f"{t.grade_id}: {tests[t.grade_id][1]}" for t in TESTS if tests[t.grade_id][1] != "ok"
        ]
        rows.append(
            [student, *[f"{p:g}" for p in per_task], f"{sum(per_task):g}", *written,
             *[f"{tests[t.grade_id][0]:g}" for t in TESTS], "; ".join(notes)]
        )  # fmt: skip
    return header, rows


def write_csv(path: Path, results: dict) -> None:
    """``grades.csv``: one row per student, keeping written-answer points already typed in."""
    old_rows = {}
    if path.exists():
        with open(path, newline="", encoding="utf-8") as handle:
            old_rows = {row["student"]: row for row in csv.DictReader(handle)}
    header, rows = _csv_rows(results, old_rows)
    partial = path.with_suffix(".csv.partial")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    partial.replace(path)


def grade_all(
    submissions: Path,
    *,
    course_dir: Path = COURSE_DIR,
    out_dir: Path | None = None,
    timeout: int = CELL_TIMEOUT,
    regrade: bool = False,
    log=print,
) -> Path:
    """Grade every ``SUBMISSIONS/<student_id>/`` folder; returns the CSV's path.

    Students already graded (same submission, same solution notebooks and
    judge) are skipped unless ``regrade``. The student edition and the
    gradebook are generated first, from ``notebooks/`` (or reused if nothing
    changed). A student whose grading fails unexpectedly is reported and left
    ungraded, the others are graded, and then :class:`RuntimeError` names them.
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
    generate_student_edition(course_dir)
    import nbgrader.converters  # noqa: F401  (imported once here; each student's fork inherits it)

    # The tests live in the notebooks and in the judge: a change to either grades everyone again.
    judge_code = [Path(__file__).with_name(name) for name in ("judge.py", "grading.py")]
    source_hash = _sha(sorted((course_dir / "source" / ASSIGNMENT).glob("*.ipynb")) + judge_code)
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
    start, failed = time.perf_counter(), []
    for index, student in enumerate(students, 1):
        submission_hash = _sha([submissions / student / f"{name}.ipynb" for name in NOTEBOOKS])
        old = results.get(student, {})
        if (
            not regrade
            and old.get("submission") == submission_hash
            and old.get("source") == source_hash
        ):
            log(f"[{index}/{len(students)}] {student}: already graded, skipped")
            continue
        try:
            result = grade_student(
                student, submissions, course_dir=course_dir, out_dir=out_dir, timeout=timeout
            )
        except Exception as error:  # one student's trouble must not stop the night's run
            failed.append(student)
            log(
                f"[{index}/{len(students)}] {student}: NOT GRADED"
                f" ({type(error).__name__}: {error}); run the command again to retry"
            )
            continue
        for other in result.pop("regrade"):  # its feedback was touched: grade it again next run
            results.pop(other, None)
        results[student] = result | {"submission": submission_hash, "source": source_hash}
        partial = results_path.with_suffix(".json.partial")
        partial.write_text(json.dumps(results, indent=1, sort_keys=True))
        partial.replace(results_path)
        write_csv(out_dir / "grades.csv", {s: r for s, r in results.items() if s in students})
        auto = sum(points for points, _ in result["tests"].values())
        log(
            f"[{index}/{len(students)}] {student}: {auto:g} / 18 automatic points"
            f" ({result['seconds']:.1f} s)"
        )
    write_csv(out_dir / "grades.csv", {s: r for s, r in results.items() if s in students})
    log(
        f"graded {len(students)} submission(s) in {time.perf_counter() - start:.1f} s"
        f" -> {out_dir / 'grades.csv'}"
    )
    if failed:
        raise RuntimeError(
            f"course grade: {len(failed)} submission(s) not graded ({', '.join(failed)}):"
            " see above, and run the command again to grade them"
        )
    return out_dir / "grades.csv"
