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
import html
import importlib
import importlib.util
import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
edition = importlib.import_module("course_lib.edition")
judge_module = importlib.import_module("course_lib.judge")
grading = importlib.import_module("course_lib.grading")
reports = importlib.import_module("course_lib.reports")
sys.path.insert(0, str(ROOT / "tests"))
variants = importlib.import_module("course_variants")
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


# ---------------------------------------------------------------- the grader's guards


def test_edited_deleted_or_malformed_test_cells_are_found_and_nothing_else(course, tmp_path):
    _, release, source = course
    nbformat.write(fill_in(release, source, "1_kl_nmf"), tmp_path / "1_kl_nmf.ipynb")
    assert grading.edited_tests(tmp_path, release) == {}  # answered, tests as given
    edits = {"task1_matches_engine": lambda code: code.replace("assert matched", "assert True")}
    nbformat.write(fill_in(release, source, "1_kl_nmf", edits), tmp_path / "1_kl_nmf.ipynb")
    nbformat.write(
        fill_in(release, source, "3_sample_processing", drop=("task3_W_stays_fixed",)),
        tmp_path / "3_sample_processing.ipynb",
    )
    (tmp_path / "2_separating_components.ipynb").write_text("not a notebook")
    assert grading.edited_tests(tmp_path, release) == {
        "task1_matches_engine": "edited",
        "task3_W_stays_fixed": "deleted",
        "task2_one_component": "unreadable",
        "task2_group": "unreadable",
        "task2_inputs_untouched": "unreadable",
    }
    # the hidden tests pasted in (a guess confirmed by full points?): edited like any change
    nbformat.write(
        nbformat.read(source / "3_sample_processing.ipynb", 4),
        tmp_path / "3_sample_processing.ipynb",
    )
    found = grading.edited_tests(tmp_path, release)
    assert found["task3_W_stays_fixed"] == found["task3_H_matches_engine"] == "edited"
    # metadata nbformat reads but nbgrader never wrote: judged, never a crash
    notebook = fill_in(release, source, "1_kl_nmf")
    notebook.cells[0].metadata["nbgrader"] = "x"
    notebook.cells[1].metadata["nbgrader"] = {"grade_id": ["task1_matches_engine"]}
    notebook.cells[2].source = ["a list", " of lines"]
    nbformat.write(notebook, tmp_path / "1_kl_nmf.ipynb")
    grading.edited_tests(tmp_path, release)
    scores = {t.grade_id: (0.0, "why") for t in judge_module.TESTS}
    page = reports.notebook_feedback(
        tmp_path / "1_kl_nmf.ipynb", release / "1_kl_nmf.ipynb", scores,
        judge_module.TESTS, judge_module.WRITTEN, unsafe=False,
    )  # fmt: skip
    assert "a list of lines" in page


def test_only_the_cells_nbgrader_knows_are_run_when_grading_and_of_tests_the_hidden_part(course):
    _, _, source = course
    notebook = nbformat.read(source / "1_kl_nmf.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import shutil  # a cell the student added"))
    kept, _ = edition.GradingCells().preprocess(notebook, {})
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in kept.cells]
    assert ids == [
        "setup",
        "task1_code",
        "task1_matches_engine",
        "task1_loss_never_rises",
        "task1_written",
    ]
    test = kept.cells[2].source
    assert test.lstrip().startswith('if os.environ.get("NBGRADER_EXECUTION")')
    assert "np.savez" in test and "nh.nmf_kl" not in test  # the visible asserts are not run


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
    changed = grading.undo_changes(before, [tmp_path])
    assert {path.name for path in changed} == {"results.json", "planted.txt", "alice.html"}
    assert (tmp_path / "results.json").read_text() == '{"alice": 18}'
    assert not (tmp_path / "planted.txt").exists()
    assert not (tmp_path / "feedback" / "alice.html").exists()  # regraded, not restored


def test_the_csv_keeps_the_written_points_an_instructor_typed_in(tmp_path):
    path = tmp_path / "grades.csv"
    tests = {key: [points, "ok"] for key, points in FULL.items()}
    results = {"ada": {"tests": tests, "notes": []}}
    reports.write_csv(path, results)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["auto total (of 18)"] == "18" and rows[0]["task1_written (of 4)"] == ""
    rows[0]["task1_written (of 4)"] = "3.5"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tests["task2_group"] = [0.0, "the group [1, 4] differs"]
    reports.write_csv(path, results)
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


SOLUTION = edition.solution_answers()
NB1, NB2, NB3, NB4 = GRADED
POINTS_OF = {name: {t.grade_id: t.points for t in judge_module.TESTS if t.notebook == name}
             for name in GRADED}  # fmt: skip


def with_solution(name: str, extra: str) -> dict:
    """The solution's answer cell of ``name`` with ``extra`` lines run after it."""
    cell = variants.CELL[name]
    return {cell: SOLUTION[name][cell] + "\n\n\n" + extra.strip() + "\n"}


#: Written into a cell of notebook 2: read the solution (or the gradebook) and run it.
READ_THE_SOLUTION = """
import json
import pathlib

component = None
for folder in [pathlib.Path(nh.__file__).parent.parent / "notebooks", pathlib.Path({notebooks!r})]:
    try:
        solution = json.loads((folder / "2_separating_components.ipynb").read_text())
    except OSError:
        continue
    for cell in solution["cells"]:
        if "def component" in "".join(cell["source"]):
            exec("".join(cell["source"]))
try:
    print(len(pathlib.Path({gradebook!r}).read_bytes()), "bytes of the gradebook")
except OSError:
    pass
if component is None:

    def component(W, H, ks):
        return W @ H
"""
#: Notebook 1: signal whatever it can reach, the grader included; then carry on.
KILL_THE_GRADER = """
import os
import signal

for pid in (os.getppid(), 1, {grader}):  # its parent, the first process, the grader
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
"""
#: Notebook 3: write into the package, the judge, the course, another student, the results.
WRITE_EVERYWHERE = """
import pathlib

for target in {targets!r} + [str(pathlib.Path(nh.__file__).parent / "planted.py")]:
    try:
        with open(target, "a") as handle:
            handle.write("planted")
    except OSError:
        pass
"""


def build_class(folder: Path, release: Path, out_dir: Path, course_dir: Path) -> dict:
    """A class as students would hand it in, and the points each test must get.

    Returns ``{student: {grade_id: points}}``. Each notebook runs in a kernel of
    its own, so a student carries one answer per notebook; the right answers
    (tests/course_variants.py), the wrong ones and the hostile ones are spread
    over as few students as that allows.
    """
    plans: dict[str, dict] = {}  # student -> {notebook: answers or raw text}
    expected: dict[str, dict] = {}

    def add(student, notebook, answers, points):
        plans.setdefault(student, {})[notebook] = answers
        expected.setdefault(student, {}).update(points)

    by_notebook: dict[str, list] = {NB1: [], NB2: [], NB3: []}
    for codes in variants.CORRECT.values():
        for notebook, answers in codes.items():
            by_notebook[notebook].append(answers)
    for index in range(max(len(v) for v in by_notebook.values())):
        for notebook, answers in by_notebook.items():
            mine = answers[index] if index < len(answers) else {}
            add(f"correct{index}", notebook, mine, POINTS_OF[notebook])
    wrong: dict[str, list] = {NB1: [], NB2: [], NB3: []}
    for mistake in variants.WRONG.values():
        for notebook, answers in mistake.codes.items():
            wrong[notebook].append((answers, mistake.points))
    for index in range(max(len(v) for v in wrong.values())):
        for notebook, mistakes in wrong.items():
            answers, points = mistakes[index] if index < len(mistakes) else ({}, {})
            add(f"wrong{index}", notebook, answers, POINTS_OF[notebook] | points)
    # the engine under three spellings, one per notebook
    engine = {
        NB1: with_solution(NB1, "def kl_nmf(V, W, H, n_iter=100):\n"
                                "    return nh.nmf_kl(V, W.shape[1], n_iter=n_iter,"
                                " W_init=W, H_init=H)"),
        NB2: {variants.CELL[NB2]: "def component(W, H, ks):\n"
                                  "    return getattr(nh, 'comp' + 'onent')(W, H, ks)\n"},
        NB3: with_solution(NB3, "from nmf_helpers.nmf import nmf_kl as fit\n\n\n"
                                "def kl_nmf(V, W, H, n_iter=100, fix_W=False):\n"
                                "    return fit(V, W.shape[1], n_iter=n_iter, W_fixed=W,"
                                " H_init=H)"),
    }  # fmt: skip
    for notebook, answers in engine.items():
        add("engine", notebook, answers, dict.fromkeys(POINTS_OF[notebook], 0))
    # reaches for the solution, the grader and everyone's files
    guarded = [
        ROOT / "nmf_helpers" / "__init__.py",
        ROOT / "scripts" / "course_lib" / "judge.py",
        course_dir / "gradebook.db",
        folder / "correct0" / f"{NB1}.ipynb",
        out_dir / "instructor_notes.txt",  # in the results folder, which the grader writes
    ]
    out_dir.mkdir(parents=True)
    guarded[-1].write_text("who to see on Monday")
    add(
        "intruder",
        NB1,
        with_solution(NB1, KILL_THE_GRADER.format(grader=os.getpid())),
        POINTS_OF[NB1],
    )
    add(
        "intruder",
        NB2,
        {
            variants.CELL[NB2]: READ_THE_SOLUTION.format(
                notebooks=str(ROOT / "notebooks"), gradebook=str(course_dir / "gradebook.db")
            )
        },
        dict.fromkeys(POINTS_OF[NB2], 0),
    )
    add("intruder", NB3, with_solution(NB3, WRITE_EVERYWHERE.format(
        targets=[str(path) for path in guarded])), POINTS_OF[NB3])  # fmt: skip
    # hurts only itself: kills its kernel, sleeps, forks, floods its output
    add(
        "chaos",
        NB1,
        with_solution(NB1, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
        dict.fromkeys(POINTS_OF[NB1], 0),
    )
    add("chaos", NB2, with_solution(NB2, "import time\ntime.sleep(3600)"), POINTS_OF[NB2])
    add("chaos", NB3, with_solution(NB3, "import os, time\nfor _ in range(20):\n"
                                         "    if os.fork() == 0:\n        time.sleep(3600)"),
        POINTS_OF[NB3])  # fmt: skip
    add("broken", NB1, "{this is not json", dict.fromkeys(POINTS_OF[NB1], 0))
    add(
        "broken",
        NB2,
        with_solution(NB2, "for _ in range(40):\n    print('x' * 2**20)"),
        POINTS_OF[NB2],
    )
    add("broken", NB3, {}, POINTS_OF[NB3])
    add("partial", NB2, {}, POINTS_OF[NB2] | dict.fromkeys(POINTS_OF[NB1], 0)
        | dict.fromkeys(POINTS_OF[NB3], 0))  # fmt: skip
    for student, notebooks in plans.items():
        (folder / student).mkdir(parents=True)
        for notebook in (*notebooks, NB4):
            answers = notebooks.get(notebook, {})
            if isinstance(answers, str):  # not a notebook at all
                (folder / student / f"{notebook}.ipynb").write_text(answers)
                continue
            mine = SOLUTION[notebook] | answers
            nbformat.write(
                edition.answered(release / f"{notebook}.ipynb", mine),
                folder / student / f"{notebook}.ipynb",
            )
        expected[student] = {key: expected[student].get(key, FULL[key]) for key in FULL}
    return expected, guarded


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """One grading run of the whole class, two students at a time, shared by the tests below."""
    course_dir, release, source = course
    folder = tmp_path_factory.mktemp("class")
    submissions, out_dir = folder / "submissions", folder / "grades"
    expected, guarded = build_class(submissions, release, out_dir, course_dir)
    hashes = {path: path.read_bytes() for path in guarded}
    lines = []
    start = time.perf_counter()
    csv_path = grading.grade_all(
        submissions, course_dir=course_dir, out_dir=out_dir, timeout=10, jobs=2, log=lines.append
    )
    seconds = time.perf_counter() - start
    results = json.loads((out_dir / "results.json").read_text())
    return {
        "expected": expected, "results": results, "out": out_dir, "csv": csv_path,
        "submissions": submissions, "log": lines, "seconds": seconds, "guarded": hashes,
        "source": source, "release": release, "course_dir": course_dir,
    }  # fmt: skip


def points(graded, student) -> dict:
    return {key: value[0] for key, value in graded["results"][student]["tests"].items()}


def notes(graded, student) -> str:
    result = graded["results"][student]
    return " | ".join(result["notes"] + [why for _, why in result["tests"].values()])


def test_every_student_gets_exactly_the_points_earned(graded, capsys):
    assert set(graded["results"]) == set(graded["expected"])
    for student, expected in graded["expected"].items():
        assert points(graded, student) == expected, (student, graded["results"][student])
    assert sum(student.startswith("correct") for student in graded["expected"]) >= 6
    with capsys.disabled():
        print(f"\ngrading {len(graded['expected'])} students took {graded['seconds']:.0f} s")


def test_every_correct_answer_gets_every_point(graded):
    for student in graded["expected"]:
        if student.startswith("correct"):
            assert sum(points(graded, student).values()) == 18, graded["results"][student]


def test_each_wrong_answer_says_why(graded):
    hints: dict[str, list] = {}
    for mistake in variants.WRONG.values():
        for grade_id, hint in mistake.hints.items():
            hints.setdefault(grade_id, []).append(hint)
    wrong = " | ".join(notes(graded, s) for s in graded["expected"] if s.startswith("wrong"))
    for grade_id, expected in hints.items():
        for hint in expected:
            assert hint in wrong, (grade_id, hint)


def test_the_engine_is_no_shortcut_and_the_note_says_who_called_what(graded):
    said = notes(graded, "engine")
    assert "Task 1 asks for the updates in numpy; kl_nmf called nh.nmf_kl" in said
    assert "Task 2 asks for the component in numpy; component called nh.component" in said
    assert "Task 3 asks for the fixed-W updates in numpy; kl_nmf called nh.nmf_kl" in said


def test_no_submission_reaches_the_solution_writes_outside_or_stops_the_run(graded):
    # the intruder's own answers are right in notebooks 1 and 3: every write and every kill
    # failed; notebook 2's component exists only if the solution could be read
    assert points(graded, "intruder") == graded["expected"]["intruder"]
    for path, before in graded["guarded"].items():
        assert path.read_bytes() == before, path
    assert not (ROOT / "nmf_helpers" / "planted.py").exists()
    graded_nb2 = nbformat.read(graded["out"] / "autograded" / "intruder" / f"{NB2}.ipynb", 4)
    printed = [o.get("text", "") for c in graded_nb2.cells for o in c.get("outputs", [])]
    assert not [text for text in printed if "bytes of the gradebook" in text]
    assert len(graded["results"]) == len(graded["expected"])  # everyone after it was graded


def _processes_of_kernels() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if (
                entry.name.isdigit()
                and b"/submission/.kernel.json" in (entry / "cmdline").read_bytes()
            ):
                found.append(entry.name)
    return found


def test_a_student_who_kills_sleeps_forks_or_floods_costs_only_their_own_points(graded):
    said = notes(graded, "chaos")
    assert f"the kernel was killed (SIGKILL) in {NB1}" in said
    for test in ("task1_matches_engine", "task1_loss_never_rises"):  # the reason, per test
        why = graded["results"]["chaos"]["tests"][test][1]
        assert why == f"no result was saved: the kernel was killed (SIGKILL) in {NB1}"
    assert points(graded, "chaos") == graded["expected"]["chaos"]
    assert points(graded, "broken") == graded["expected"]["broken"]
    assert f"{NB1}.ipynb is not a notebook that can be read" in notes(graded, "broken")
    assert f"{NB1}.ipynb was not submitted" in notes(graded, "partial")
    flooded = graded["out"] / "autograded" / "broken" / f"{NB2}.ipynb"
    assert flooded.stat().st_size < 2 * edition.OUTPUT_CAP + 200_000  # 40 MB printed, cut
    assert _processes_of_kernels() == []  # the forks died with their sandbox
    assert not list(Path(tempfile.gettempdir()).glob(f"nmf-course-run-*/{'*'}"))


def test_feedback_gives_each_reason_and_nothing_of_the_hidden_tests(graded):
    secrets = edition.secret_lines(graded["source"])
    hidden = secrets["hidden test"] | secrets["solution"] - _given_lines(graded["release"])
    for student in graded["expected"]:
        folder = graded["out"] / "feedback" / student
        index = (folder / "index.html").read_text()
        assert "to be graded / 4" in index and "to be graded / 2" in index  # not 0 / 4
        for test, (_, why) in graded["results"][student]["tests"].items():
            assert html.escape(why) in index, (student, test)
        for page in folder.glob("*.html"):
            text = html.unescape(page.read_text())
            assert "HIDDEN TESTS" not in text and "NBGRADER_EXECUTION" not in text, page
            assert not [line for line in hidden if line in text.splitlines()], page
            assert not re.search(r"default_rng\(7\d\d\d\)|\b7[123]0[123]\b", text), page
    page = (graded["out"] / "feedback" / "wrong0" / f"{NB1}.html").read_text()
    assert "task1_matches_engine" in page and "/ 4" in page  # each test's verdict in place


def _given_lines(release: Path) -> set[str]:
    """Solution lines that the student edition gives too (signatures, docstrings)."""
    lines = set()
    for path in release.glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            lines |= {line.strip() for line in cell.source.splitlines()}
    return lines


def test_the_csv_has_points_by_task_isolation_and_a_rerun_grades_nobody_again(graded):
    with open(graded["csv"], newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    for student, expected in graded["expected"].items():
        assert rows[student]["auto total (of 18)"] == f"{sum(expected.values()):g}"
        assert rows[student]["isolation"] == "sandbox"
    before = graded["csv"].read_text()
    lines = []
    grading.grade_all(
        graded["submissions"], course_dir=graded["course_dir"], out_dir=graded["out"],
        timeout=10, jobs=2, log=lines.append,
    )  # fmt: skip
    assert graded["csv"].read_text() == before
    assert sum("already graded, skipped" in line for line in lines) == len(graded["expected"])


# ---------------------------------------------------------------- the grader's own troubles


def one_student(course, tmp_path, edits=None):
    """A folder with one student handing in the solution (``edits`` per notebook)."""
    _, release, source = course
    folder = tmp_path / "submissions"
    (folder / "ada").mkdir(parents=True)
    for name in GRADED:
        notebook = fill_in(release, source, name, (edits or {}).get(name))
        nbformat.write(notebook, folder / "ada" / f"{name}.ipynb")
    return folder


def test_a_kernel_that_does_not_start_is_retried_and_never_recorded(course, tmp_path, monkeypatch):
    course_dir = course[0]
    folder = one_student(course, tmp_path)
    real = grading._autograde_notebook
    failures = {"left": 1}

    def flaky(*args, **kwargs):  # the first start fails, as a taken port makes it
        if failures["left"]:
            failures["left"] -= 1
            edition.SandboxExecute.start_failures += 1
            return "RuntimeError: Kernel died before replying to kernel_info"
        return real(*args, **kwargs)

    monkeypatch.setattr(grading, "_autograde_notebook", flaky)
    out_dir = tmp_path / "grades"
    grading.grade_all(folder, course_dir=course_dir, out_dir=out_dir, timeout=10, jobs=1)
    results = json.loads((out_dir / "results.json").read_text())
    assert sum(p for p, _ in results["ada"]["tests"].values()) == 18  # retried, then graded

    def never(*args, **kwargs):
        edition.SandboxExecute.start_failures += 1
        return "RuntimeError: Kernel died before replying to kernel_info"

    monkeypatch.setattr(grading, "_autograde_notebook", never)
    lines = []
    with pytest.raises(RuntimeError, match="1 submission.s. not graded .ada."):
        grading.grade_all(
            folder, course_dir=course_dir, out_dir=tmp_path / "again", jobs=1, log=lines.append
        )
    assert any("ada: NOT GRADED (a kernel did not start after 3 tries" in line for line in lines)
    assert not (tmp_path / "again" / "results.json").exists()  # nothing recorded


def test_grade_refuses_in_one_line_where_submissions_cannot_be_isolated(
    course, tmp_path, monkeypatch, capsys
):
    course_dir = course[0]
    monkeypatch.setattr(grading.sandbox, "probe", lambda: "unshare: Operation not permitted")
    status = COURSE_CLI.main(["--course", str(course_dir), "grade", str(tmp_path)])
    assert status == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "cannot be isolated on this machine (unshare: Operation not permitted)" in lines[0]
    assert "--unsafe" in lines[0]


def test_unsafe_grading_says_so_everywhere_and_the_hashes_still_catch_a_write(course, tmp_path):
    course_dir = course[0]
    target = tmp_path / "submissions" / "ada" / f"{NB4}.ipynb"  # the student's own, even
    vandalism = f"\n\nimport pathlib\npathlib.Path({str(target)!r}).write_text('gone')\n"
    folder = one_student(course, tmp_path, {NB2: {"task2_code": lambda s: s + vandalism}})
    before = target.read_bytes()
    out_dir = tmp_path / "grades"
    grading.grade_all(folder, course_dir=course_dir, out_dir=out_dir, jobs=1, unsafe=True)
    result = json.loads((out_dir / "results.json").read_text())["ada"]
    assert target.read_bytes() == before  # put back
    assert all(p == 0 for p, _ in result["tests"].values())
    assert any("changed files outside its folder" in note for note in result["notes"])
    assert any("WITHOUT isolation" in note for note in result["notes"])
    for page in (out_dir / "feedback" / "ada").glob("*.html"):
        assert "WITHOUT isolation" in page.read_text()
    with open(out_dir / "grades.csv", newline="") as handle:
        assert next(csv.DictReader(handle))["isolation"] == "NONE (--unsafe)"


def test_jobs_must_be_at_least_one(course, tmp_path):
    with pytest.raises(ValueError, match="--jobs must be at least 1, got 0"):
        grading.grade_all(tmp_path, course_dir=course[0], jobs=0)


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


def test_a_student_over_the_time_limit_keeps_what_it_saved_and_is_recorded(
    course, tmp_path, monkeypatch
):
    course_dir = course[0]
    sleeper = {NB3: {"task3_code": lambda s: s + "\n\nimport time\ntime.sleep(3600)\n"}}
    folder = one_student(course, tmp_path, sleeper)
    monkeypatch.setattr(grading, "student_timeout", lambda timeout: 25)
    out_dir = tmp_path / "grades"
    grading.grade_all(folder, course_dir=course_dir, out_dir=out_dir, timeout=60, jobs=1)
    result = json.loads((out_dir / "results.json").read_text())["ada"]
    assert any("ran past 25 s and were stopped" in note for note in result["notes"])
    got = {key: points for key, (points, _) in result["tests"].items()}
    assert got["task1_matches_engine"] == 4  # saved before the stop: it counts
    assert got["task3_W_stays_fixed"] == 0  # never reached
    assert _processes_of_kernels() == []
