"""The course's judge (``scripts/course_lib/judge.py``): fair to every right answer, a reason
for every lost point.

Each answer of ``tests/course_variants.py`` runs here, in-process, as the
grading kernel runs it: the answer cell, then only the hidden blocks of the
notebook's test cells, with the package's functions switched off (``nh.EPS``
alone works). The judge then scores what they saved, with the errors the
cells raised.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import sys
import warnings
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

import nmf_helpers as nh

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
judge_module = importlib.import_module("course_lib.judge")
variants = importlib.import_module("course_variants")

FULL = {test.grade_id: test.points for test in judge_module.TESTS}
NOTEBOOKS = tuple(variants.CELL)
SOLUTION_MARKS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def graded_cells(name: str) -> dict:
    """``{grade_id: source}`` of a notebook's nbgrader cells."""
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in notebook.cells
        if "nbgrader" in cell.metadata
    }


def solution_code(name: str) -> str:
    source = graded_cells(name)[variants.CELL[name]]
    return "\n".join(line for line in source.splitlines() if line.strip() not in SOLUTION_MARKS)


def hidden_blocks(name: str) -> dict[str, str]:
    """``{grade_id: the hidden block}`` of a notebook's test cells."""
    return {
        grade_id: source.split(HIDDEN[0])[1].split(HIDDEN[1])[0]
        for grade_id, source in graded_cells(name).items()
        if HIDDEN[0] in source
    }


class EngineOff(RuntimeError):
    """As ``course_lib.engine_block``'s: a package function called while grading."""


class SwitchedOff:
    """The package as a grading kernel has it: ``nh.EPS``, and functions that refuse to run."""

    EPS = nh.EPS

    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            raise EngineOff(
                f"Task asks for numpy; a cell called nh.{name} (switched off while grading)"
            )

        return refuse


@contextlib.contextmanager
def grading_folder(path: Path):
    old, old_env = Path.cwd(), os.environ.get("NBGRADER_EXECUTION")
    os.chdir(path)
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # a kernel prints warnings; it does not raise them
            yield
    finally:
        os.chdir(old)
        if old_env is None:
            del os.environ["NBGRADER_EXECUTION"]
        else:
            os.environ["NBGRADER_EXECUTION"] = old_env


def run_hidden_tests(folder: Path, codes: dict | None = None) -> dict:
    """Each notebook's answer cell (``codes``, else the solution's), then its hidden blocks.

    Returns ``{grade_id: (ename, evalue)}`` of the blocks that raised, as a
    grader reads them from the cells' error outputs.
    """
    codes = codes or {}
    errors = {}
    with grading_folder(folder):
        for name in NOTEBOOKS:
            namespace = {"np": np, "nh": SwitchedOff(), "os": os}
            exec(codes.get(name, {}).get(variants.CELL[name], solution_code(name)), namespace)
            for grade_id, block in hidden_blocks(name).items():
                try:
                    exec(block, namespace)
                except Exception as error:
                    errors[grade_id] = (type(error).__name__, str(error))
    return errors


def scored(folder: Path, codes: dict | None = None) -> dict:
    errors = run_hidden_tests(folder, codes)
    return judge_module.judge(folder, errors)


#: Numbers a note may hold: the hidden inputs' shapes and iteration counts, and the
#: digits of the formulas (axis=0, (K, 1), float32, 0 log 0, W^T 1, n_iter=100).
ALLOWED_NUMBERS = {"0", "1", "2", "5", "6", "8", "32", "36", "40", "48", "50", "60", "100", "150"}


def assert_safe(note: str) -> None:
    """A note holds fixed text: no number beyond shapes and counts (so no seed, no value)."""
    numbers = set(re.findall(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", note))
    assert numbers <= ALLOWED_NUMBERS, (numbers - ALLOWED_NUMBERS, note)


# ---------------------------------------------------------------- right answers


def test_the_solution_gets_every_point(tmp_path):
    scores = scored(tmp_path)
    assert scores == {grade_id: (points, "ok") for grade_id, points in FULL.items()}


@pytest.mark.parametrize("name", sorted(variants.CORRECT))
def test_every_correct_answer_gets_every_point(tmp_path, name):
    scores = scored(tmp_path, variants.CORRECT[name])
    assert scores == {grade_id: (points, "ok") for grade_id, points in FULL.items()}


def test_the_variants_are_spread_over_the_three_answer_cells():
    cells = {cell for codes in variants.CORRECT.values() for cell in codes}
    assert len(variants.CORRECT) >= 8 and cells == set(NOTEBOOKS)


# ---------------------------------------------------------------- wrong answers


@pytest.mark.parametrize("name", sorted(variants.WRONG))
def test_a_wrong_answer_gets_exactly_its_points_and_its_hint(tmp_path, name):
    mistake = variants.WRONG[name]
    scores = scored(tmp_path, mistake.codes)
    expected = FULL | mistake.points
    assert {grade_id: points for grade_id, (points, _) in scores.items()} == expected, scores
    for grade_id, (points, note) in scores.items():
        assert (note == "ok") == (points == FULL[grade_id]), (grade_id, note)
        assert_safe(note)
    for grade_id, hint in mistake.hints.items():
        assert hint in scores[grade_id][1], (grade_id, scores[grade_id][1])


def test_each_wrong_answer_loses_points_and_names_its_hint_for_those_tests():
    for name, mistake in variants.WRONG.items():
        assert any(mistake.points[key] < FULL[key] for key in mistake.points), name
        assert all(mistake.points[key] < FULL[key] for key in mistake.hints), name


def test_returning_the_inputs_earns_nothing_even_with_a_falling_made_up_loss(tmp_path):
    """The no-op of Task 1 with losses ending at D(V || W0 H0) itself, never rising."""
    made_up = variants.answer(
        variants.DIVERGENCE,
        """\
def kl_nmf(V, W, H, n_iter=100):
    losses = kl_divergence(V, W @ H) * (1 + np.arange(n_iter)[::-1] / 1e3)
    return W.copy(), H.copy(), losses
""",
    )
    scores = scored(tmp_path, {variants.NB1: {"task1_code": made_up}})
    assert scores["task1_matches_engine"][0] == scores["task1_loss_never_rises"][0] == 0
    assert "not applied" in scores["task1_loss_never_rises"][1]


# ---------------------------------------------------------------- no result, errors


def test_no_result_or_an_unreadable_one_gets_nothing(tmp_path):
    (tmp_path / "grading_task2_group.npz").write_bytes(b"not an npz")
    (tmp_path / "grading_task2_one_component.npz").symlink_to("/etc/hostname")
    np.savez(tmp_path / "grading_task1_matches_engine.npz", W=np.array([None, 1], dtype=object))
    scores = judge_module.judge(tmp_path)
    assert all(points == 0 for points, _ in scores.values())
    assert "cannot be read" in scores["task2_group"][1]
    assert "no result was saved" in scores["task2_one_component"][1]
    assert "not a numeric array" in scores["task1_matches_engine"][1]


def test_a_wrong_shape_says_the_shape_expected_and_never_the_one_saved(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "grading_task2_group.npz", groups=rng.random((3, 36, 48)))
    np.savez(tmp_path / "grading_task2_one_component.npz", parts=rng.random((7101, 1)))
    scores = judge_module.judge(tmp_path)
    assert scores["task2_group"] == (0.0, "the groups (each of shape (M, N)) does not have the"
                                     " shape (3, 48, 36) expected")  # fmt: skip
    assert "7101" not in scores["task2_one_component"][1]


def test_explain_error_never_repeats_what_the_student_chose():
    secret = "V[0, 0] = 0.4172, seed 7101"
    for ename in ("Seed7101", "7101", "ValueError7101", "builtins.ValueError"):
        note = judge_module.explain_error("task1_matches_engine", ename, secret)
        assert note == "the test cell raised an exception", note
    note = judge_module.explain_error("task1_matches_engine", "KeyError", secret)
    assert note == "the test cell raised KeyError"
    note = judge_module.explain_error("task2_group", "ValueError", "broadcast " + secret)
    assert (
        "7101" not in note
        and "0.4172" not in note
        and note.startswith("the test cell raised ValueError")
    )


@pytest.mark.parametrize(
    ("grade_id", "ename", "evalue", "hint"),
    [
        ("task1_matches_engine", "ValueError",
         "operands could not be broadcast together with shapes (5,36) (48,1) ",
         "W.sum(axis=0)[:, None]"),
        ("task3_H_matches_engine", "ValueError",
         "operands could not be broadcast together with shapes (8,50) (8,) ", "W^T 1"),
        ("task2_group", "NotImplementedError", "", "the stub was not replaced"),
        ("task1_loss_never_rises", "NameError", "name 'kl_nmf' is not defined",
         "define kl_divergence and kl_nmf"),
        ("task2_one_component", "EngineOff",
         "Task 2 asks for the component in numpy; component called nh.component"
         " (switched off while grading)", "switched off while grading"),
        ("task1_matches_engine", "ValueError", "not enough values to unpack (expected 3, got 2)",
         "three things"),
        ("task3_W_stays_fixed", "TypeError", "kl_nmf() got an unexpected keyword argument 'fix_W'",
         "fix_W=True): keep that signature"),
        ("task1_matches_engine", "ValueError",
         "matmul: Input operand 1 has a mismatch in its core dimension 0", "transposes"),
    ],
)  # fmt: skip
def test_explain_error_hints_at_the_usual_mistakes(grade_id, ename, evalue, hint):
    note = judge_module.explain_error(grade_id, ename, evalue)
    assert hint in note, note
    assert_safe(note)


def test_a_raised_exception_reaches_the_note_without_its_text(tmp_path):
    """A student's exception carrying the hidden V out: the note names neither."""
    smuggler = variants.answer(
        variants.DIVERGENCE,
        """\
def kl_nmf(V, W, H, n_iter=100):
    leak = type("V" + str(int(V[0, 0] * 1e6)), (Exception,), {})
    raise leak(repr(V[:2, :2]) + " 7101")
""",
    )
    errors = run_hidden_tests(tmp_path, {variants.NB1: {"task1_code": smuggler}})
    ename, evalue = errors["task1_matches_engine"]
    assert ename.startswith("V") and "7101" in evalue
    scores = judge_module.judge(tmp_path, errors)
    for grade_id in ("task1_matches_engine", "task1_loss_never_rises"):
        assert scores[grade_id] == (0.0, "the test cell raised an exception")
    assert scores["task2_group"] == (2.0, "ok")


def test_an_error_is_used_only_when_no_result_was_saved(tmp_path):
    run_hidden_tests(tmp_path)
    errors = {"task2_group": ("NotImplementedError", "")}
    assert judge_module.judge(tmp_path, errors)["task2_group"] == (2.0, "ok")
    (tmp_path / "grading_task2_group.npz").unlink()
    assert "stub" in judge_module.judge(tmp_path, errors)["task2_group"][1]
    assert "no result" in judge_module.judge(tmp_path)["task2_group"][1]


# ---------------------------------------------------------------- the references


def test_the_h_first_reference_and_the_engine_differ_and_each_is_its_own_path():
    """Both orders are answers, far apart; the float64 W-first loop is the engine's path."""
    V, W, H = judge_module.kl_inputs(7101, 48, 36, 5)
    engine = judge_module._reference(7101, 48, 36, 5, 40, "WH", False)
    h_first = judge_module._reference(7101, 48, 36, 5, 40, "HW", False)
    w_first = judge_module.kl_path(V, W, H, 40, order="WH")
    for ours, theirs in zip(w_first, engine, strict=True):
        assert judge_module._near(ours, theirs, judge_module.RTOL_FACTORS / 10)
    assert not judge_module._near(h_first[0], engine[0], 0.1)


def test_the_hidden_blocks_build_the_judges_inputs():
    """The seeds and shapes the judge rebuilds are those the hidden blocks write."""
    recipes = {
        "task1_matches_engine": "default_rng(7101)",
        "task1_loss_never_rises": "default_rng(7102)",
        "task2_one_component": "default_rng(7201)",
        "task2_group": "default_rng(7202)",
        "task2_inputs_untouched": "default_rng(7203)",
        "task3_W_stays_fixed": "default_rng(7301)",
        "task3_H_matches_engine": "default_rng(7302)",
    }
    blocks = {key: block for name in NOTEBOOKS for key, block in hidden_blocks(name).items()}
    assert set(blocks) == set(FULL)
    for grade_id, seed in recipes.items():
        assert seed in blocks[grade_id] and f"grading_{grade_id}.npz" in blocks[grade_id]
        assert "nh." not in blocks[grade_id]  # the package is switched off while grading


def test_a_result_that_would_unpack_to_gigabytes_is_refused_before_it_is_read(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (60_000, 60_000)}
    )  # 29 GB declared, 1 MB of zeros packed into a few kB
    with zipfile.ZipFile(tmp_path / "grading_task2_group.npz", "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("groups.npy", header.getvalue() + bytes(2**20))
    scores = judge_module.judge(tmp_path)
    assert scores["task2_group"] == (0.0, "the saved result is far too large")
