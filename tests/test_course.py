"""The course: the student edition nbgrader generates, and the autograder that scores it.

``scripts/course.py student`` and ``scripts/course.py grade`` (``scripts/course_lib``).
The fast tests check the student edition file by file and the judge on arrays
made by running the notebooks' own task and hidden-test code here; one slow
test autogrades whole submissions with nbgrader: the solution, one that breaks
one thing in each notebook (a notebook runs in a kernel of its own) and one
that writes outside its folder (the other wrong code is graded by the judge tests).
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import importlib.util
import json
import os
import signal
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
edition = importlib.import_module("course_lib.edition")
judge_module = importlib.import_module("course_lib.judge")
grading = importlib.import_module("course_lib.grading")
_spec = importlib.util.spec_from_file_location("course_cli", ROOT / "scripts" / "course.py")
COURSE_CLI = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(COURSE_CLI)

GRADED = edition.NOTEBOOKS
SOLUTION_MARKS = ("### BEGIN SOLUTION", "### END SOLUTION")
FULL = {test.grade_id: test.points for test in judge_module.TESTS}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course directory with the student edition generated from notebooks/."""
    course_dir = tmp_path_factory.mktemp("course")
    release = edition.generate_student_edition(course_dir)
    return course_dir, release, course_dir / "source" / edition.ASSIGNMENT


def cells_by_id(notebook) -> dict:
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id")
    }


# ---------------------------------------------------------------- the student edition


def test_student_edition_has_every_notebook_and_no_secret_in_any_file(course):
    course_dir, release, source = course
    assert sorted(path.stem for path in release.glob("*.ipynb")) == sorted(
        [*GRADED, *edition.EXTRA_NOTEBOOKS]
    )
    # What must not leak, read here from the solution notebooks (not from the module's list).
    secrets = set()
    for name in GRADED:
        for cell in nbformat.read(source / f"{name}.ipynb", as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                mark = line.strip()
                if mark in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                    inside = True
                elif mark in ("### END SOLUTION", "### END HIDDEN TESTS"):
                    inside = False
                elif inside and len(mark) >= 12:
                    secrets.add(mark)
            if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
                secrets |= {line.strip() for line in cell.source.splitlines() if len(line) >= 12}
    assert len(secrets) > 60  # the solutions, the hidden tests and the written answers
    files = [path for path in release.rglob("*") if path.is_file()]
    for path in files:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":  # the cells' text, not JSON-escaped
            text = "\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells)
        lines = {line.strip() for line in text.splitlines()}
        assert not secrets & lines, f"{path.name} leaks {sorted(secrets & lines)[:3]}"
        assert "BEGIN HIDDEN" not in text and "BEGIN SOLUTION" not in text
        assert "NBGRADER_EXECUTION" not in text, f"{path.name} holds a hidden test"


def test_student_edition_has_stubs_answer_cells_and_the_visible_tests(course):
    _, release, source = course
    for name in GRADED:
        given = cells_by_id(nbformat.read(release / f"{name}.ipynb", as_version=4))
        solution = cells_by_id(nbformat.read(source / f"{name}.ipynb", as_version=4))
        assert given.keys() == solution.keys()
        for grade_id, cell in given.items():
            meta = cell.metadata["nbgrader"]
            if meta["solution"] and cell.cell_type == "code":
                assert "raise NotImplementedError()" in cell.source
            elif meta["solution"]:
                assert cell.source.strip() == "YOUR ANSWER HERE"
            elif meta["grade"]:  # a test: its visible part is there, locked
                visible = solution[grade_id].source.split("### BEGIN HIDDEN TESTS")[0].strip()
                assert cell.source.strip() == visible and meta["locked"]


def test_points_are_the_assignments_28(course):
    _, release, _ = course
    by_task: dict[int, float] = {}
    for name in GRADED:
        task = int(name[0])
        for cell in cells_by_id(nbformat.read(release / f"{name}.ipynb", as_version=4)).values():
            by_task[task] = by_task.get(task, 0) + cell.metadata["nbgrader"].get("points", 0)
    assert by_task == {1: 10, 2: 8, 3: 6, 4: 4}
    assert sum(FULL.values()) == 18  # automatic; the written 10 are graded by hand
    written = {test.grade_id: test.points for test in judge_module.WRITTEN}
    assert written == {"task1_written": 4, "task3_written": 2, "task4_written": 4}
    rubric = (ROOT / "scripts" / "course_lib" / "rubric.md").read_text()
    assert all(grade_id in rubric for grade_id in written)


def test_student_command_reuses_an_unchanged_edition_and_grade_refuses_a_missing_folder(
    course, tmp_path, capsys
):
    course_dir, release, _ = course
    stamp = (release / "1_kl_nmf.ipynb").stat().st_mtime_ns
    assert COURSE_CLI.main(["--course", str(course_dir), "student"]) == 0
    assert (release / "1_kl_nmf.ipynb").stat().st_mtime_ns == stamp  # not generated again
    assert str(release) in capsys.readouterr().out
    missing = tmp_path / "no_such_folder"
    assert COURSE_CLI.main(["--course", str(course_dir), "grade", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == f"course grade: no such folder: {missing}"


# ---------------------------------------------------------------- the judge, on arrays


def task_code(name: str, grade_id: str) -> str:
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    source = cells_by_id(notebook)[grade_id].source
    return "\n".join(line for line in source.splitlines() if line.strip() not in SOLUTION_MARKS)


def hidden_parts(name: str) -> list[str]:
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    parts = []
    for cell in notebook.cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            parts.append(hidden)
    return parts


@contextlib.contextmanager
def working_folder(path: Path):
    old, old_env = Path.cwd(), os.environ.get("NBGRADER_EXECUTION")
    os.chdir(path)
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    try:
        yield
    finally:
        os.chdir(old)
        if old_env is None:
            del os.environ["NBGRADER_EXECUTION"]
        else:
            os.environ["NBGRADER_EXECUTION"] = old_env


def run_hidden_tests(folder: Path, codes: dict[str, str]) -> None:
    """What the kernel does when grading: the task cell, then each hidden test (errors kept)."""
    import nmf_helpers as nh

    with working_folder(folder):
        for name, code in codes.items():
            namespace = {"np": np, "nh": nh, "os": os}
            exec(code, namespace)
            for hidden in hidden_parts(name):
                with contextlib.suppress(Exception):
                    exec(hidden, namespace)


SOLUTION_CODES = {
    "1_kl_nmf": "task1_code",
    "2_separating_components": "task2_code",
    "3_sample_processing": "task3_code",
}

#: Seeded wrong submissions: (notebook, the line(s) replaced, replacement), and what they break.
EUCLIDEAN = (
    "1_kl_nmf",
    [
        ("W *= (R @ H.T) / (H.sum(axis=1) + nh.EPS)", "W *= (V @ H.T) / (W @ (H @ H.T) + nh.EPS)"),
        (
            "H *= (W.T @ R) / (W.sum(axis=0)[:, None] + nh.EPS)",
            "H *= (W.T @ V) / ((W.T @ W) @ H + nh.EPS)",
        ),
    ],
)
TRANSPOSED = (
    "1_kl_nmf",
    [
        (
            "H *= (W.T @ R) / (W.sum(axis=0)[:, None] + nh.EPS)",
            "H *= (W.T @ R) / (W.sum(axis=1)[:, None] + nh.EPS)",
        )
    ],
)
W_UPDATED = ("3_sample_processing", [("        if not fix_W:", "        if True:")])
WRONG = {
    "euclidean": (EUCLIDEAN, {"task1_matches_engine", "task1_loss_never_rises"}),
    "transposed": (TRANSPOSED, {"task1_matches_engine", "task1_loss_never_rises"}),
    "w_updated": (W_UPDATED, {"task3_W_stays_fixed", "task3_H_matches_engine"}),
}


def edited(code: str, replacements) -> str:
    for old, new in replacements:
        assert old in code, old
        code = code.replace(old, new)
    return code


def solution_codes(**changes) -> dict[str, str]:
    codes = {name: task_code(name, grade_id) for name, grade_id in SOLUTION_CODES.items()}
    for notebook, replacements in changes.values():
        codes[notebook] = edited(codes[notebook], replacements)
    return codes


def test_judge_gives_the_solution_every_point(tmp_path):
    run_hidden_tests(tmp_path, solution_codes())
    scores = judge_module.judge(tmp_path)
    assert {key: points for key, (points, _) in scores.items()} == FULL, scores


def test_judge_gives_nothing_without_results(tmp_path):
    (tmp_path / "grading_task2_group.npz").write_bytes(b"not an npz")
    (tmp_path / "grading_task2_one_component.npz").symlink_to("/etc/hostname")
    scores = judge_module.judge(tmp_path)
    assert all(points == 0 for points, _ in scores.values())
    assert "cannot be read" in scores["task2_group"][1]


@pytest.mark.parametrize("wrong", sorted(WRONG))
def test_a_wrong_submission_loses_exactly_what_it_broke(tmp_path, wrong):
    change, broken = WRONG[wrong]
    run_hidden_tests(tmp_path, solution_codes(wrong=change))
    scores = judge_module.judge(tmp_path)
    lost = {key for key, (points, _) in scores.items() if points < FULL[key]}
    assert lost == broken, scores


# ---------------------------------------------------------------- the grader's guards


def test_edited_or_deleted_test_cells_are_found_and_the_solution_form_is_not(course, tmp_path):
    _, release, source = course
    untouched = fill_in(release, source, "1_kl_nmf")
    nbformat.write(untouched, tmp_path / "1_kl_nmf.ipynb")
    nbformat.write(
        nbformat.read(source / "3_sample_processing.ipynb", 4),
        tmp_path / "3_sample_processing.ipynb",
    )
    assert grading.edited_tests(tmp_path, release, source) == {}  # hidden tests included is fine
    edits = {"task1_matches_engine": lambda code: code.replace("rtol=1e-4", "rtol=1.0")}
    nbformat.write(fill_in(release, source, "1_kl_nmf", edits), tmp_path / "1_kl_nmf.ipynb")
    nbformat.write(
        fill_in(release, source, "3_sample_processing", drop=("task3_W_stays_fixed",)),
        tmp_path / "3_sample_processing.ipynb",
    )
    (tmp_path / "2_separating_components.ipynb").write_text("not a notebook")
    assert grading.edited_tests(tmp_path, release, source) == {
        "task1_matches_engine": "edited",
        "task3_W_stays_fixed": "deleted",
        "task2_one_component": "unreadable",
        "task2_group": "unreadable",
        "task2_inputs_untouched": "unreadable",
    }


def test_only_the_cells_nbgrader_knows_are_run_when_grading(course):
    _, _, source = course
    notebook = nbformat.read(source / "1_kl_nmf.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import shutil  # a cell the student added"))
    kept, _ = edition.KeepGradedCells().preprocess(notebook, {})
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in kept.cells]
    assert ids == [
        "setup",
        "task1_code",
        "task1_matches_engine",
        "task1_loss_never_rises",
        "task1_written",
    ]


def test_writes_outside_the_folder_are_found_and_undone(tmp_path):
    (tmp_path / "results.json").write_text('{"alice": 18}')
    (tmp_path / "feedback").mkdir()
    (tmp_path / "feedback" / "alice.html").write_text("18 / 18")

    def keep(path):
        return path.parent.name != "feedback"

    before = grading.snapshot_files([tmp_path], keep_bytes=keep)
    (tmp_path / "results.json").write_text("{}")
    (tmp_path / "planted.txt").write_text("x")
    (tmp_path / "feedback" / "alice.html").write_text("0 / 18")
    changed = grading.undo_changes(before, [tmp_path], keep_bytes=keep)
    assert {path.name for path in changed} == {"results.json", "planted.txt", "alice.html"}
    assert (tmp_path / "results.json").read_text() == '{"alice": 18}'
    assert not (tmp_path / "planted.txt").exists()
    assert not (tmp_path / "feedback" / "alice.html").exists()  # regraded, not restored


def test_the_csv_keeps_the_written_points_an_instructor_typed_in(tmp_path):
    path = tmp_path / "grades.csv"
    tests = {key: [points, "ok"] for key, points in FULL.items()}
    results = {"ada": {"tests": tests, "notes": []}}
    grading.write_csv(path, results)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["auto total (of 18)"] == "18" and rows[0]["task1_written (of 4)"] == ""
    rows[0]["task1_written (of 4)"] = "3.5"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tests["task2_group"] = [0.0, "the group [1, 4] differs"]
    grading.write_csv(path, results)
    with open(path, newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["task1_written (of 4)"] == "3.5"
    assert row["task2 auto (of 8)"] == "6" and "task2_group: the group" in row["notes"]


# ---------------------------------------------------------------- whole submissions, with nbgrader


def fill_in(release: Path, source: Path, name: str, edits: dict | None = None, drop=()):
    """The student edition of ``name`` with the solution typed into its answer cells.

    ``edits`` maps a grade_id to a function of the cell's new source;
    ``drop`` lists grade_ids whose cells the "student" deleted.
    """
    notebook = nbformat.read(release / f"{name}.ipynb", as_version=4)
    solution = cells_by_id(nbformat.read(source / f"{name}.ipynb", as_version=4))
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id and cell.metadata["nbgrader"]["solution"]:
            lines = solution[grade_id].source.splitlines()
            cell.source = "\n".join(line for line in lines if line.strip() not in SOLUTION_MARKS)
        if edits and grade_id in edits:
            cell.source = edits[grade_id](cell.source)
    notebook.cells = [
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") not in drop
    ]
    return notebook


PATCH_NUMPY = """
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.isclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
"""
FAKE_KL = '''
def kl_divergence(V, WH):
    return 0.0


def kl_nmf(V, W, H, n_iter=100):
    """Returns the start and a made-up falling loss: the visible tests pass only if patched."""
    return W.copy(), H.copy(), np.linspace(1.0, 0.0, n_iter)
'''


#: The edition as released (every answer cell a stub): a notebook the student never started.
UNTOUCHED = None
#: In a plan, a test cell the student deleted.
DELETED = "deleted"


def write_submissions(folder: Path, release: Path, source: Path, out_dir: Path) -> dict:
    """Three students, and the automatic points each must get (from 18).

    A plan maps each notebook submitted to ``UNTOUCHED`` or to the edits
    ``{grade_id: function of the cell's source, or DELETED}`` made to the
    filled-in solution. Each notebook runs in a kernel of its own, so one
    student can break one thing per notebook and lose only its tests; each
    kernel costs seconds, so the breaks share a student where they can.
    """
    vandalism = f"""
from pathlib import Path
Path({str(out_dir / "results.json")!r}).write_text("{{}}")
Path({str(folder / "solution" / "1_kl_nmf.ipynb")!r}).write_text("overwritten")
"""
    plans = {
        "solution": ({name: {} for name in GRADED}, set()),
        "mischief": (
            {
                # wrong, with numpy patched so that the kernel's own asserts pass
                "1_kl_nmf": {"task1_code": lambda s: PATCH_NUMPY + FAKE_KL},
                # an endless loop after the function is defined: the cell timeout stops it
                # and the tests still run (the loop sleeps: it need not take a core for it);
                # one test cell edited and one deleted earn nothing, the third earns its points
                "2_separating_components": {
                    "task2_code": lambda s: (
                        s + "\n\n\nimport time\n\nwhile True:\n    time.sleep(0.1)\n"
                    ),
                    "task2_one_component": lambda s: "print('all good')\n",
                    "task2_group": DELETED,
                },
                "3_sample_processing": UNTOUCHED,
                "4_ethics": {},
            },
            {
                "task1_matches_engine",
                "task1_loss_never_rises",
                "task2_one_component",
                "task2_group",
                "task3_W_stays_fixed",
                "task3_H_matches_engine",
            },
        ),
        # Notebooks 1 and 3 not submitted: the tests of notebook 2 are the points the
        # vandalism must cost.
        "vandal": (
            {"2_separating_components": {"task2_code": lambda s: s + vandalism}, "4_ethics": {}},
            set(FULL),
        ),
    }
    expected = {}
    for student, (notebooks, lost) in plans.items():
        (folder / student).mkdir(parents=True)
        for name, edits in notebooks.items():
            if edits is UNTOUCHED:
                notebook = nbformat.read(release / f"{name}.ipynb", as_version=4)
            else:
                changes = {key: edit for key, edit in edits.items() if edit is not DELETED}
                deleted = [key for key, edit in edits.items() if edit is DELETED]
                notebook = fill_in(release, source, name, changes, deleted)
            nbformat.write(notebook, folder / student / f"{name}.ipynb")
        expected[student] = {key: 0 if key in lost else points for key, points in FULL.items()}
    return expected


def test_grading_run_scores_each_submission_and_resumes(course, tmp_path, capsys):
    course_dir, release, source = course
    submissions, out_dir = tmp_path / "submissions", tmp_path / "grades"
    expected = write_submissions(submissions, release, source, out_dir)
    solution_before = (submissions / "solution" / "1_kl_nmf.ipynb").read_bytes()
    start = time.perf_counter()
    # 10 s per cell: the solution's slowest graded cell (importing the package) takes
    # seconds on a busy machine; the loop waits it out.
    csv_path = grading.grade_all(submissions, course_dir=course_dir, out_dir=out_dir, timeout=10)
    seconds = time.perf_counter() - start
    results = json.loads((out_dir / "results.json").read_text())
    for student, tests in expected.items():
        got = {key: points for key, (points, _) in results[student]["tests"].items()}
        assert got == tests, (student, results[student])
    why = {key: note for key, (_, note) in results["mischief"]["tests"].items()}
    assert why["task2_one_component"] == "no credit: the test cell was edited in the submission"
    assert why["task2_group"] == "no credit: the test cell was deleted in the submission"
    # the vandal's writes were undone; nobody else lost anything
    assert (submissions / "solution" / "1_kl_nmf.ipynb").read_bytes() == solution_before
    assert any("outside its folder" in note for note in results["vandal"]["notes"])
    assert "1_kl_nmf.ipynb not submitted" in results["vandal"]["notes"]
    # the endless loop was stopped by the cell timeout, and graded
    graded = nbformat.read(out_dir / "autograded" / "mischief" / "2_separating_components.ipynb", 4)
    errors = [
        o.ename for c in graded.cells for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert errors and all(e in ("KeyboardInterrupt", "CellTimeoutError") for e in errors)
    # the CSV: the points by task, and one feedback page per notebook submitted
    with open(csv_path, newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    totals = {student: row["auto total (of 18)"] for student, row in rows.items()}
    assert totals == {"solution": "18", "mischief": "2", "vandal": "0"}
    by_task = [
        rows["mischief"][f"task{task} auto (of {of})"] for task, of in ((1, 6), (2, 8), (3, 4))
    ]
    assert by_task == ["0", "2", "0"]
    for student in expected:
        index = (out_dir / "feedback" / student / "index.html").read_text()
        assert "Automatic points" in index
        pages = list((out_dir / "feedback" / student).glob("*_*.html"))
        assert len(pages) == len(list((submissions / student).glob("*.ipynb")))
    timings = {student: result["seconds"] for student, result in results.items()}
    with capsys.disabled():
        print(f"\ngrading {len(expected)} submissions took {seconds:.0f} s: {timings}")
    # a second run grades nobody again
    before = csv_path.read_text()
    grading.grade_all(submissions, course_dir=course_dir, out_dir=out_dir, timeout=10)
    assert csv_path.read_text() == before
    assert json.loads((out_dir / "results.json").read_text()) == results


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), "SIGTERM"])
def test_a_stopped_grading_run_says_so_in_one_line_with_the_signal_status(
    tmp_path, monkeypatch, capsys, stop
):
    def stopped(*args, **kwargs):
        if stop == "SIGTERM":
            COURSE_CLI._stop(signal.SIGTERM, None)  # what the installed SIGTERM handler does
        raise stop

    monkeypatch.setattr(grading, "grade_all", stopped)
    status = COURSE_CLI.main(["--course", str(tmp_path), "grade", str(tmp_path)])
    assert status == (143 if stop == "SIGTERM" else 130)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "stopped by SIG" in lines[0] and "same command" in lines[0]
