"""The homework notebooks run headless, show their figures and audio, and are deterministic.

Every notebook is executed once (cached for the session) with the runner's own
function from ``scripts/run_notebooks.py``; the fastest is run a second time to
check that it prints the same numbers.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import matplotlib
import nbformat
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "run_notebooks", ROOT / "scripts" / "run_notebooks.py"
)
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)

NOTEBOOKS = [path.name for path in runner.notebooks()]

# At least this many (figures, audio players) per notebook; others need only run.
EXPECTED_OUTPUTS = {
    "0_background_euclidean.ipynb": (3, 3),
    "1_kl_nmf.ipynb": (3, 5),
    "2_separating_components.ipynb": (4, 7),
    "3_sample_processing.ipynb": (5, 7),
    "4_ethics.ipynb": (0, 0),
    "5_vocal_filtering.ipynb": (2, 3),
}
FAST_NOTEBOOK = "0_background_euclidean.ipynb"


@functools.cache
def executed(name: str):
    notebook, _ = runner.execute_notebook(runner.NOTEBOOK_DIR / name)
    return notebook


def outputs(notebook):
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


def printed_text(notebook) -> str:
    # Joined: the kernel may split one cell's printing into several stream chunks.
    return "".join(
        output["text"] for output in outputs(notebook) if output["output_type"] == "stream"
    )


def count_figures_and_audio(notebook) -> tuple[int, int]:
    data = [output.get("data", {}) for output in outputs(notebook)]
    figures = sum("image/png" in item for item in data)
    audio = sum("<audio" in item.get("text/html", "") for item in data)
    return figures, audio


def test_the_homework_notebooks_exist():
    assert set(EXPECTED_OUTPUTS) == set(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_no_outputs(name):
    notebook = nbformat.read(runner.NOTEBOOK_DIR / name, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells, f"{name} has no code"
    for index, cell in enumerate(code_cells):
        assert cell.outputs == [], f"{name}: code cell {index} has outputs"
        assert cell.execution_count is None, f"{name}: code cell {index} has an execution count"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_shows_its_figures_and_audio(name):
    notebook = executed(name)  # raises NotebookError, naming the cell, if any cell fails
    errors = [output for output in outputs(notebook) if output["output_type"] == "error"]
    assert not errors
    figures, audio = count_figures_and_audio(notebook)
    expected_figures, expected_audio = EXPECTED_OUTPUTS.get(name, (0, 0))
    assert figures >= expected_figures, f"{name}: {figures} figures, expected {expected_figures}"
    assert audio >= expected_audio, f"{name}: {audio} audio players, expected {expected_audio}"


@pytest.mark.parametrize("name", [name for name in NOTEBOOKS if name in EXPECTED_OUTPUTS])
def test_notebook_prints_its_numbers(name):
    assert any(character.isdigit() for character in printed_text(executed(name)))


def test_running_twice_prints_the_same_numbers():
    first = printed_text(executed(FAST_NOTEBOOK))
    second, _ = runner.execute_notebook(runner.NOTEBOOK_DIR / FAST_NOTEBOOK)
    assert first
    assert printed_text(second) == first


def test_html_export_embeds_the_audio_players():
    html = runner.export_html(executed(FAST_NOTEBOOK))
    assert html.count("<audio") >= EXPECTED_OUTPUTS[FAST_NOTEBOOK][1]
    assert "data:image/png;base64" in html


def test_runner_names_the_notebook_and_cell_that_failed(tmp_path, capsys):
    broken = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# broken"),
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_code_cell("raise ValueError('on purpose')"),
        ]
    )
    path = tmp_path / "broken.ipynb"
    nbformat.write(broken, path)
    status = runner.main([str(path), "--out", str(tmp_path / "build")])
    assert status == 1
    assert "FAILED broken.ipynb, cell 2" in capsys.readouterr().err
    assert (tmp_path / "build" / "notebooks" / "broken.html").exists()
    assert nbformat.read(path, as_version=4).cells[2].outputs == []  # the source is untouched


def test_runner_refuses_to_write_into_the_notebooks_folder(capsys):
    assert runner.main(["--out", str(ROOT), "no_such.ipynb"]) == 2
    assert runner.main(["--out", str(ROOT), *NOTEBOOKS[:1]]) == 2
    assert "must not write into notebooks/" in capsys.readouterr().err
