"""The homework as a student runs it: the student edition, filled in, drives every experiment.

``scripts/course.py student`` hands out stubs; the experiments of Tasks 1 to 3
call the student's own ``kl_nmf`` and ``component``. Here the student edition
is filled with a correct implementation written differently from the solution
(H updated first, everything in float64, outer products) and run top to
bottom like a student would, headless; then with a deliberately wrong one
(Euclidean updates, a component that is all of W H). Every cell must run on
the right one, and the figures must differ between the two: proof that the
student's code, not the package's engine, makes them. Untouched, the edition
fails in one line per experiment ("kl_nmf is not written yet: ...").
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from pathlib import Path

import pytest
from nbclient import NotebookClient

import nmf_helpers as nh

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
edition = importlib.import_module("course_lib.edition")
variants = importlib.import_module("course_variants")

NB1, NB2, NB3 = "1_kl_nmf", "2_separating_components", "3_sample_processing"
#: A right answer per notebook that is not the solution's code, and a wrong one.
RIGHT = {
    NB1: variants.CORRECT["xlogy_h_first_float64"][NB1],
    NB2: variants.CORRECT["outer_products"][NB2],
    NB3: variants.CORRECT["fixed_h_first_float64"][NB3],
}
WRONG = {
    NB1: variants.WRONG["euclidean_updates"].codes[NB1],
    NB2: variants.WRONG["everything"].codes[NB2],
    NB3: variants.WRONG["W_updated_when_fixed"].codes[NB3],
}
#: What each notebook's experiments call of the student's.
FUNCTION = {NB1: "kl_nmf", NB2: "component", NB3: "kl_nmf"}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    return edition.generate_student_edition(course)


def run(release: Path, name: str, answers: dict | None, folder: Path):
    """The student edition of ``name`` with ``answers`` typed in, executed top to bottom."""
    notebook = edition.answered(release / f"{name}.ipynb", answers or {})
    NotebookClient(
        notebook,
        timeout=300,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return notebook


def errors(notebook) -> list[tuple[int, list[str]]]:
    return [
        (index, output.traceback)
        for index, cell in enumerate(notebook.cells)
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]


def figures(notebook) -> list[tuple[int, str]]:
    """``(cell index, digest)`` of every PNG the notebook shows, in order."""
    return [
        (index, hashlib.sha256(output.data["image/png"].encode()).hexdigest())
        for index, cell in enumerate(notebook.cells)
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]


def calls(cell, function: str) -> bool:
    """Whether a code cell calls ``function`` (not only defines it)."""
    source = cell.source if cell.cell_type == "code" else ""
    return f"{function}(" in source.replace(f"def {function}(", "")


@pytest.mark.parametrize("name", [NB1, NB2, NB3])
def test_the_students_own_code_draws_every_experiment(release, tmp_path, name):
    right = run(release, name, RIGHT[name], tmp_path)
    assert errors(right) == [], errors(right)[:1]
    experiments = [
        i
        for i, cell in enumerate(right.cells)
        if calls(cell, FUNCTION[name]) and not cell.metadata.get("nbgrader", {}).get("grade")
    ]
    assert len(experiments) >= 1, "no experiment calls the student's function"
    wrong = run(release, name, WRONG[name], tmp_path)
    first = experiments[0]
    drawn = {i: digest for i, digest in figures(right) if i >= first}
    drawn_wrong = {i: digest for i, digest in figures(wrong) if i >= first}
    assert drawn, "no figure after the first experiment"
    same = [i for i, digest in drawn.items() if drawn_wrong.get(i) == digest]
    assert len(same) <= len(drawn) // 2, f"figures the wrong code did not change: cells {same}"


@pytest.mark.parametrize("name", [NB1, NB2, NB3])
def test_until_it_is_written_each_experiment_fails_in_one_line(release, tmp_path, name):
    untouched = run(release, name, None, tmp_path)
    one_line = [f"NotImplementedError: {nh.not_written_message(FUNCTION[name])}"]
    failed = errors(untouched)
    assert len(failed) >= 3, "the experiments do not call the student's function"
    for index, traceback in failed:  # every cell that fails, fails in that one line
        assert traceback == one_line, f"cell {index}: {traceback[:2]}"
