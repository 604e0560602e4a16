"""The notebooks' stubs fail in one line (nmf_helpers/homework.py), in a real kernel."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

import nmf_helpers as nh


def run_cells(*sources: str):
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in sources]
    )
    NotebookClient(notebook, timeout=60, allow_errors=True, kernel_name="python3").execute()
    outputs = [output for cell in notebook.cells for output in cell.outputs]
    return [output for output in outputs if output.output_type == "error"]


def test_a_stub_called_from_an_experiment_fails_in_one_line_naming_it():
    errors = run_cells(
        "import nmf_helpers as nh\nprint(nh.friendly_stubs())",
        "def kl_nmf(V, W, H, n_iter=100):\n    raise NotImplementedError()",
        "def run_experiment():\n    return kl_nmf(None, None, None)\n\n\nrun_experiment()",
        "raise NotImplementedError('a cell of its own')",
    )
    stub, own = errors
    assert stub.traceback == [f"NotImplementedError: {nh.not_written_message('kl_nmf')}"]
    assert len(own.traceback) > 1  # raised by the cell itself: the usual traceback


def test_outside_ipython_nothing_changes():
    assert nh.friendly_stubs() is False
