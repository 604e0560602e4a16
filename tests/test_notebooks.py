"""The homework notebooks run headless, print the numbers their text uses, and are deterministic.

Every notebook is executed once (cached for the session) with the runner's own
function from ``scripts/run_notebooks.py``. Then:

* every number in the prose, backticks or not, must be one a code cell of the
  notebook writes (a written answer may also quote what the notebook printed),
  so the text cannot drift from what the code computes on any song; every loss
  axis names its divergence;
* the numbers the answers rely on are parsed from the printed text and checked
  against the laws they should obey, and against a second run of the seeded
  computation that printed them: in this process (a fixed-seed rerun of the
  cell's computation), or in another notebook that prints the same computation
  (notebook 4 repeats notebook 6's fixed-W fits). That second run is the
  determinism check, for every notebook: the same seed must print the same
  digits. It costs seconds per notebook where executing each notebook again
  would cost minutes;
* the HTML export loads nothing from the internet, with every formula drawn;
* the runner's refusals and failures are the ones they name, and a run prints
  no kernel transport warning.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pytest

import nmf_helpers as nh

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
    "3_sample_processing.ipynb": (2, 5),
    "4_ethics.ipynb": (0, 0),
    "5_vocal_filtering.ipynb": (2, 4),
    "6_sample_detection.ipynb": (4, 6),
}
# A number as a notebook prints it: 7.45e+06, -24.1, +0.38, 77.6%, 1.8e-07.
NUMBER = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
# A number as prose writes it (30, 0.5, 1e-5, the 74 of "74%"), not a digit inside a name
# (H0, x2) or after a decimal point.
PROSE_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e[+-]?\d+)?")
# LaTeX in markdown, $$...$$ and $...$: its digits are mathematics, not measurements.
LATEX = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.DOTALL)
# What a loss axis must name: the divergence or distance that was minimised.
DIVERGENCE = re.compile(
    r"\bKL\b|Kullback|divergence|Euclidean|squared error|distance|Itakura|\bD\(", re.IGNORECASE
)


@functools.cache
def _execution(name: str):
    """(executed notebook, None), or (the notebook up to the failing cell, the error)."""
    try:
        return runner.execute_notebook(runner.NOTEBOOK_DIR / name)[0], None
    except runner.NotebookError as error:
        return error.executed, error


def executed(name: str):
    notebook, error = _execution(name)
    if error is not None:
        raise error
    return notebook


def printed_before_any_failure(name: str) -> str:
    """What a notebook printed, up to a failing cell if one failed (reported elsewhere)."""
    return printed_text(_execution(name)[0])


def outputs(notebook):
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


def printed_text(notebook) -> str:
    # Joined: the kernel may split one cell's printing into several stream chunks.
    return "".join(
        output["text"] for output in outputs(notebook) if output["output_type"] == "stream"
    )


def printed(name: str) -> str:
    return printed_text(executed(name))


def markdown(notebook) -> str:
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def count_figures_and_audio(notebook) -> tuple[int, int]:
    data = [output.get("data", {}) for output in outputs(notebook)]
    figures = sum("image/png" in item for item in data)
    # nh.players puts several players in one output: count the players, not the outputs.
    audio = sum(item.get("text/html", "").count("<audio") for item in data)
    return figures, audio


def number_after(text: str, label: str) -> float:
    """The first number printed after ``label`` (a regular expression) in ``text``."""
    match = re.search(rf"{label}\s*({NUMBER})", text)
    assert match, f"nothing printed matches {label!r}"
    return float(match[1])


def table_rows(text: str, title: str) -> dict[str, list[str]]:
    """The rows of the table printed under ``title``: {row name: cells after it}."""
    lines = text[text.index(title) :].splitlines()[2:]  # after the title and the header
    rows = {}
    for line in lines:
        row = re.fullmatch(r"(.+?)\s{2,}((?:[-+]?[\d.]+(?:e[-+]?\d+)?%?\s*)+)", line)
        if row is None:  # the end of the table
            break
        rows[row[1]] = row[2].split()
    return rows


def percent(cell: str) -> float:
    return float(cell.rstrip("%")) / 100


# ---------------------------------------------------------------- the notebooks as committed


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


# ---------------------------------------------------------------- every notebook, executed


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_shows_its_figures_and_audio(name):
    notebook = executed(name)  # raises NotebookError, naming the cell, if any cell fails
    errors = [output for output in outputs(notebook) if output["output_type"] == "error"]
    assert not errors
    figures, audio = count_figures_and_audio(notebook)
    expected_figures, expected_audio = EXPECTED_OUTPUTS.get(name, (0, 0))
    assert figures >= expected_figures, f"{name}: {figures} figures, expected {expected_figures}"
    assert audio >= expected_audio, f"{name}: {audio} audio players, expected {expected_audio}"


def prose_numbers(source: str) -> list[str]:
    """The numbers a markdown cell writes outside its LaTeX, but the integers 0 to 10 and years.

    Those two stay true on any song (K = 3, "two of the three", Griffin and Lim 1984).
    """
    text = LATEX.sub(" ", source.replace(r"\$", " "))
    return [
        number
        for number in PROSE_NUMBER.findall(text)
        if not (number.isdigit() and (int(number) <= 10 or 1900 <= int(number) <= 2099))
    ]


def numbers_in(text: str) -> set[float]:
    return {float(number) for number in PROSE_NUMBER.findall(text)}


def text_outputs(notebook) -> str:
    """Everything the executed notebook printed or displayed as text."""
    return "\n".join(
        output.get("text", "") + output.get("data", {}).get("text/plain", "")
        for output in outputs(notebook)
    )


def is_written_answer(cell) -> bool:
    return cell.cell_type == "markdown" and bool(cell.metadata.get("nbgrader", {}).get("solution"))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_number_in_the_prose_comes_from_the_notebook(name):
    """Numbers copied into prose from one run go stale: the prose holds none of them.

    In every markdown cell, every number outside LaTeX (but the integers 0 to 10 and years)
    must be one that a code cell of the notebook writes: a parameter or a threshold (K = 30,
    100 iterations). What a run measures is printed by a cell, and the prose says "the
    printed ...", so it stays true when a student sets the "Use your own music" cell. A
    written answer (an nbgrader solution cell) is a record of one run: its numbers may also
    be ones the executed notebook printed.
    """
    notebook = nbformat.read(runner.NOTEBOOK_DIR / name, as_version=4)
    in_code = numbers_in("\n".join(c.source for c in notebook.cells if c.cell_type == "code"))
    unknown = {
        index: [number for number in prose_numbers(cell.source) if float(number) not in in_code]
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "markdown"
    }
    answers = [
        index
        for index, numbers in unknown.items()
        if numbers and is_written_answer(notebook.cells[index])
    ]
    if answers:  # only then is the executed notebook needed (one execution per session)
        shown = numbers_in(text_outputs(executed(name)))
        for index in answers:
            unknown[index] = [number for number in unknown[index] if float(number) not in shown]
    stale = [f"cell {index}: {', '.join(numbers)}" for index, numbers in unknown.items() if numbers]
    assert not stale, (
        f"{name}: numbers in the prose that no code cell writes"
        f" (print them from a cell, or write what stays true on any song): {'; '.join(stale)}"
    )


def loss_plots(source: str):
    """(the call, its ylabel= expression or None) for each nh.plot_losses or nh.plot_fits call."""
    code = "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )
    for node in ast.walk(ast.parse(code)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("plot_losses", "plot_fits")
        ):
            ylabel = next((kw.value for kw in node.keywords if kw.arg == "ylabel"), None)
            yield node, ylabel


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_loss_axis_names_its_divergence(name):
    """nh.plot_losses and nh.plot_fits get a ylabel= that names what the fit minimised."""
    notebook = nbformat.read(runner.NOTEBOOK_DIR / name, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for call, ylabel in loss_plots(cell.source):
            where = f"{name}, cell {index}: nh.{call.func.attr}"
            assert ylabel is not None, f"{where} has no ylabel= (the axis would say only 'loss')"
            words = " ".join(
                node.value
                for node in ast.walk(ylabel)
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
            )
            assert DIVERGENCE.search(words), (
                f"{where}: ylabel={ast.unparse(ylabel)} names no divergence or distance"
            )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_html_export_is_offline_with_the_maths_drawn(name):
    notebook = executed(name)
    page = runner.export_html(notebook)
    assert not re.search(r"<script[^>]*\bsrc=[\"']?(?:https?:)?//", page), "a script from the web"
    assert not re.search(r"<link[^>]*\bhref=[\"']?(?:https?:)?//", page), (
        "a stylesheet from the web"
    )
    assert "mathjax" not in page.lower()
    assert "tex-unrendered" not in page, "a formula mathtext could not draw"
    formulas = re.findall(r"\$\$.+?\$\$|\$[^$\n]+?\$", markdown(notebook), re.DOTALL)
    assert page.count('class="math"') == len(formulas)
    assert page.count("<audio") == count_figures_and_audio(notebook)[1]
    assert page.count("data:image/png;base64") >= count_figures_and_audio(notebook)[0]


# ---------------------------------------------------------------- notebook 0


@pytest.fixture(scope="module")
def groove_fit():
    """Notebook 0's computation, rerun here: x, sr, V, W H, losses, Griffin-Lim."""
    x, sr = nh.load_audio(nh.clip_path("groove"))
    V = nh.spectrogram(x)
    W, H, losses = nh.nmf_euclidean(V, K=3, n_iter=100, seed=0)
    return x, sr, V, W @ H, losses


def test_notebook_0_prints_the_loss_a_rerun_gives(groove_fit):
    text = printed("0_background_euclidean.ipynb")
    _, _, V, WH, losses = groove_fit
    assert f"first iteration {losses[0]:.4g}, last {losses[-1]:.4g}" in text
    relative_error = number_after(text, r"\|\|V - WH\|\| / \|\|V\|\| after 100 iterations:")
    assert relative_error == pytest.approx(np.linalg.norm(V - WH) / np.linalg.norm(V), abs=6e-4)
    assert 0 < relative_error < 1
    late_drop = number_after(text, "the loss fell by") / 100
    assert 0 < late_drop == pytest.approx(1 - losses[-1] / losses[-11], abs=6e-5)


def kl_shares_printed(text: str) -> dict[str, float]:
    """Notebook 0's line of the KL loss's share per loudness band: {band: share}."""
    line = re.search(r"measured with KL, share of the loss by band: (.+)", text)
    assert line, "notebook 0 prints no KL share per band"
    return {band: percent(share) for band, share in re.findall(r"(.+?) ([\d.]+%)(?:, |$)", line[1])}


def test_notebook_0_prints_the_loudness_bands_plain_numpy_gives(groove_fit):
    """The band table and the KL shares against plain numpy, not nh.loudness_band_table."""
    text = printed("0_background_euclidean.ipynb")
    _, _, V, WH, _ = groove_fit
    V64, WH64 = V.astype(np.float64), WH.astype(np.float64)
    level = 20 * np.log10(np.maximum(V64, V64.max() * 1e-4) / V64.max())
    bands = {"> -30 dB": level > -30, "<= -50 dB": level <= -50}
    bands["-50 to -30 dB"] = ~(bands["> -30 dB"] | bands["<= -50 dB"])
    squared = (V64 - WH64) ** 2
    rows = table_rows(text, "squared error of the fit, by loudness band")
    assert list(rows) == ["> -30 dB", "-50 to -30 dB", "<= -50 dB"]
    for band, cells in rows.items():
        inside = bands[band]
        assert percent(cells[0]) == pytest.approx(inside.mean(), abs=6e-4), band
        share = squared[inside].sum() / squared.sum()
        assert percent(cells[3]) == pytest.approx(share, abs=6e-4), band
    assert sum(percent(cells[3]) for cells in rows.values()) == pytest.approx(1, abs=2e-3)
    assert percent(rows["> -30 dB"][3]) > 10 * percent(rows["> -30 dB"][0])
    WH_floored = np.maximum(WH64, nh.EPS)
    kl = V64 * np.log(np.maximum(V64, 1e-300) / WH_floored) - V64 + WH_floored
    shares = kl_shares_printed(text)
    assert list(shares) == list(rows)
    for band, share in shares.items():
        assert share == pytest.approx(kl[bands[band]].sum() / kl.sum(), abs=6e-4), band


def test_notebook_0_prints_kl_linear_and_squared_error_quadratic_in_the_level(groove_fit):
    text = printed("0_background_euclidean.ipynb")
    peak = float(groove_fit[2].max())
    euclidean = table_rows(text, "squared error of the fit")
    loud_median = 10 ** (float(euclidean["> -30 dB"][1]) / 20)  # dB below V's peak
    for cells in euclidean.values():
        median = 10 ** (float(cells[1]) / 20)
        level_ratio, cost_ratio = float(cells[-2]), float(cells[-1])
        assert level_ratio == pytest.approx(median / loud_median, rel=0.02)
        assert cost_ratio == pytest.approx(level_ratio**2, rel=2e-2)  # v^2 (r - 1)^2
        assert float(cells[4]) == pytest.approx((median * peak) ** 2, rel=0.02)  # WH = 2 V
    quiet = euclidean["<= -50 dB"]
    line = re.search(
        rf"level x ({NUMBER}); a factor of 2 costs x ({NUMBER}) under KL,"
        rf" x ({NUMBER}) under the squared error, x ({NUMBER}) under Itakura-Saito",
        text,
    )
    assert line, "notebook 0 prints no comparison of the quiet band with the loud one"
    level, kl_cost, euclidean_cost, is_cost = (float(number) for number in line.groups())
    assert level == float(quiet[-2]) and euclidean_cost == float(quiet[-1])
    assert kl_cost == pytest.approx(level, rel=2e-3)  # v (r - 1 - log r): linear
    assert is_cost == pytest.approx(1)  # 1/r + log r - 1: the same at every level


def test_notebook_0_prints_the_itakura_saito_cost_of_v_against_wh(groove_fit):
    """D_IS(V || WH) per bin is V/WH - log(V/WH) - 1: at WH = 2 V, 1/2 + log 2 - 1 = 0.193.

    The reverse divergence, D_IS(WH || V) = r - 1 - log r, would print 0.307.
    """
    text = printed("0_background_euclidean.ipynb")
    costs = re.search(
        rf"Itakura-Saito cost of W H = 2 V: ({NUMBER}) at the loud band's median level,"
        rf" ({NUMBER}) at the quiet band's",
        text,
    )
    assert costs, "notebook 0 prints no Itakura-Saito cost"
    expected = 1 / 2 + np.log(2) - 1
    assert [float(cost) for cost in costs.groups()] == [round(expected, 3)] * 2


@pytest.mark.parametrize("name", ["0_background_euclidean.ipynb", "1_kl_nmf.ipynb"])
def test_notebook_0_and_1_write_itakura_saito_as_the_divergence_of_v_from_wh(name):
    notebook = nbformat.read(runner.NOTEBOOK_DIR / name, as_version=4)
    text = markdown(notebook)
    assert r"D_{\mathrm{IS}}(V \,\|\, WH)" in text
    assert r"\frac{1}{r} + \log r - 1" in text  # its cost of a factor r, with r = WH / V
    formula = re.search(r"D_\{\\mathrm\{IS\}\}\(V \\,\\\|\\, WH\) = ([^$]+)\$", text)
    assert formula and re.sub(r"_\{mn\}|[()\s]", "", formula[1]).endswith(
        r"\frac{V}{WH}-\log\frac{V}{WH}-1"
    ), "D_IS(V || WH) is V/WH - log(V/WH) - 1, not r - 1 - log r"
    assert not re.search(r"Itakura[^.]*r - 1 - \\log r", text), "the reverse divergence"


def test_notebook_0_prints_the_griffin_lim_result_a_rerun_gives(groove_fit):
    text = printed("0_background_euclidean.ipynb")
    x, _, _, WH, _ = groove_fit
    y = nh.griffin_lim(WH, n_iter=100, length=len(x))
    convergence = number_after(text, "spectral convergence of the Griffin-Lim result:")
    assert convergence == pytest.approx(nh.spectral_convergence(WH, y), abs=6e-4)
    assert 0 < convergence < 0.5


# ---------------------------------------------------------------- notebooks 1 and 2 (Tasks 1, 2)


@pytest.fixture(scope="module")
def groove_kl_3():
    x, _ = nh.load_audio(nh.clip_path("groove"))
    V = nh.spectrogram(x)
    return V, nh.nmf_kl(V, 3, n_iter=100, seed=0)


NB1 = "1_kl_nmf.ipynb"


def notebook_1_cells() -> list:
    return nbformat.read(runner.NOTEBOOK_DIR / NB1, as_version=4).cells


def notebook_1_grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def notebook_1_solution_and_start() -> dict:
    """Notebook 1's own kl_divergence, kl_nmf (the solution) and random_start, run here."""
    cells = notebook_1_cells()
    namespace = {"np": np, "nh": nh}
    exec(next(c.source for c in cells if notebook_1_grade_id(c) == "task1_code"), namespace)
    experiment = next(c.source for c in cells if "def random_start(" in c.source)
    start = next(
        node
        for node in ast.parse(experiment).body
        if isinstance(node, ast.FunctionDef) and node.name == "random_start"
    )
    exec(ast.get_source_segment(experiment, start), namespace)
    return namespace


def test_notebook_1_prints_losses_that_fall_with_k_and_a_rerun_gives(groove_kl_3):
    """The experiment's losses are the notebook's kl_nmf from its random_start, rerun here."""
    text = printed(NB1)
    firsts, finals = {}, {}
    for K in (3, 10, 30):
        line = re.search(rf"K = +{K}: loss +({NUMBER}) +-> +({NUMBER})", text)
        firsts[K], finals[K] = float(line[1]), float(line[2])
    assert finals[3] > finals[10] > finals[30] > 0
    code = notebook_1_solution_and_start()
    V, (_, _, engine_losses) = groove_kl_3
    _, _, losses = code["kl_nmf"](V, *code["random_start"](V, 3), n_iter=100)
    assert (f"{losses[0]:.4g}", f"{losses[-1]:.4g}") == (f"{firsts[3]:.4g}", f"{finals[3]:.4g}")
    # random_start is the start nh.nmf_kl(V, K, seed=0) draws: the engine follows one path
    np.testing.assert_allclose(losses, engine_losses, rtol=1e-4)


def test_notebook_1_instructions_followed_literally_pass_the_visible_tests():
    """kl_divergence and kl_nmf written from "Your part" word for word pass the visible tests.

    The floors are the text's own code (WH at nh.EPS, and 0 log 0 counted as 0 in each of
    the three ways it offers); the updates are its formulas with the text's ratio and sums.
    Flooring WH alone, as an earlier text said, gives NaN on the tests' silent bins.
    """
    import os

    import scipy.special

    cells = notebook_1_cells()
    your_part = next(c.source for c in cells if c.source.startswith("## Your part"))
    spans = set(re.findall(r"`([^`]+)`", your_part))
    floor_WH, ratio = "WH = np.maximum(WH, nh.EPS)", "V / np.maximum(W @ H, nh.EPS)"
    row_sums, column_sums = "H.sum(axis=1)", "W.sum(axis=0)[:, None]"
    store, sum64 = "losses[i] = kl_divergence(V, W @ H)", "np.sum(..., dtype=np.float64)"
    ways = {
        "ratio floored": "V * np.log(np.maximum(V / WH, nh.EPS))",
        "xlogy": "scipy.special.xlogy(V, V / WH)",
        "np.where": "np.where(V > 0, ..., 0)",
    }
    for span in (floor_WH, ratio, row_sums, column_sums, store, sum64, "W.copy()", "H.copy()"):
        assert span in spans, f"'Your part' no longer says `{span}`"
    assert set(ways.values()) <= spans
    ways["np.where"] = ways["np.where"].replace("...", "V * np.log(V / WH)")
    ways["WH floored only (NaN)"] = "V * np.log(V / WH)"
    tests = [
        c.source.split("### BEGIN HIDDEN TESTS")[0]
        for c in cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
    ]
    assert len(tests) == 2
    for way, x_log_x in ways.items():
        answer = (
            f"def kl_divergence(V, WH):\n    {floor_WH}\n"
            f"    return float(np.sum({x_log_x} - V + WH, dtype=np.float64))\n\n\n"
            "def kl_nmf(V, W, H, n_iter=100):\n"
            "    W, H = W.copy(), H.copy()\n"
            "    losses = np.zeros(n_iter)\n"
            "    for i in range(n_iter):\n"
            f"        W = W * (({ratio}) @ H.T) / ({row_sums} + nh.EPS)\n"
            f"        H = H * (W.T @ ({ratio})) / ({column_sums} + nh.EPS)\n"
            f"        {store}\n"
            "    return W, H, losses\n"
        )
        namespace = {"np": np, "nh": nh, "os": os, "scipy": scipy}
        with np.errstate(divide="ignore", invalid="ignore"):  # np.where computes log 0 too
            exec(answer, namespace)
            if way.endswith("(NaN)"):
                with pytest.raises(AssertionError):
                    exec(tests[0], namespace)
                continue
            for test in tests:
                exec(test, namespace)


def test_notebook_1_experiment_runs_your_kl_nmf_and_the_engine_only_in_one_optional_cell():
    """Task 1's figures, sounds and numbers come from the student's kl_nmf, not nh.nmf_kl.

    Outside the graded cells, one code cell may call a fitting function of the package,
    under a heading "Optional"; the cells that draw, play or tabulate the fits call
    fit(K), which runs kl_nmf. No assertion outside the graded tests states what the
    written question asks (a larger K fits better, sounds closer): the only one checks that
    the loss never increased, which the assignment asks to make sure of.
    """
    cells = notebook_1_cells()
    engine = re.compile(r"nmf\w*|factorise|split_drums\w*|filter_vocals|learn_sample")

    def calls_the_engine(source: str) -> bool:
        return any(
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "nh"
            and engine.fullmatch(node.func.attr)
            for node in ast.walk(ast.parse(source))
        )

    ungraded = [
        (index, cell)
        for index, cell in enumerate(cells)
        if cell.cell_type == "code" and notebook_1_grade_id(cell) is None
    ]
    calls = [index for index, cell in ungraded if calls_the_engine(cell.source)]
    assert len(calls) == 1, f"cells {calls} call the package's engine"
    assert cells[calls[0] - 1].source.startswith("## Optional")
    experiment = next(cell.source for _, cell in ungraded if "def fit(" in cell.source)
    assert "kl_nmf(V, *random_start(V, K), n_iter=N_ITER)" in experiment
    assert "N_ITER = 100" in experiment and "KS = (3, 10, 30)" in experiment
    shows = ["nh.plot_fits", "nh.plot_losses", "nh.loss_table", "nh.griffin_lim"]
    for name in shows:
        (source,) = [cell.source for _, cell in ungraded if name in cell.source]
        assert "fit(K)" in source, f"the cell calling {name} does not use fit(K)"
    for index, cell in ungraded:
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Assert):
                message = ast.unparse(node.msg) if node.msg else ""
                assert "the loss increased" in message, f"cell {index}: {ast.unparse(node)}"


NB2 = "2_separating_components.ipynb"


def component_rows(text: str) -> dict[str, list[float]]:
    """Notebook 2's component table, by label: [component, flatness, centroid, voice on,
    % drums, % vocals, % other]."""
    rows = {}
    for line in text[text.index("component  label") :].splitlines()[1:]:
        cells = line.split()
        if len(cells) != 8 or not cells[0].isdigit():  # the end of the table
            break
        rows[cells[1]] = [float(cell.rstrip("%")) for cell in [cells[0], *cells[2:]]]
    return rows


def test_notebook_2_prints_the_fit_of_notebook_1_and_a_drums_component(groove_kl_3):
    text = printed(NB2)
    V, (W, H, losses) = groove_kl_3
    assert f"final KL loss {losses[-1]:.4g} ({losses[-1] / V.sum():.4f} per unit of V)" in text
    rows = component_rows(text)
    assert sorted(rows) == ["drums", "other", "vocals"]
    column = {name: index for index, name in enumerate(["k", "flat", "hz", "on", "d", "v", "o"])}

    def best(name):
        return max(rows, key=lambda label: rows[label][column[name]])

    # what the discussion says of the groove
    drums, vocals, other = rows["drums"], rows["vocals"], rows["other"]
    assert best("flat") == best("hz") == "drums"
    assert drums[column["d"]] > 50, "the drums component should be mostly drums"
    assert best("v") == best("on") == "vocals", "the voice switches the vocals component on"
    assert vocals[column["o"]] > vocals[column["v"]], "vocals: more bass and keys than voice"
    assert max(row[column["v"]] for row in rows.values()) < 50, "no component is mostly voice"
    assert max(other[column["d"] :]) == other[column["o"]] and min(other[column["d"] :]) > 0
    # The shares come from the student's component (masks component / W H): they are the
    # package's soft masks of a rerun.
    masks = nh.soft_masks(W, H, [[k] for k in range(3)])
    stems = nh.load_stems("groove")
    truth = {
        "drums": stems["drums"],
        "vocals": stems["vocals"],
        "other": stems["bass"] + stems["keys"],
    }
    share = nh.stem_shares(masks, {label: nh.spectrogram(y) for label, y in truth.items()})
    for label, row in rows.items():
        k = int(row[0])
        rerun = [f"{share[stem][k]:.0%}" for stem in truth]
        assert rerun == [f"{value:.0f}%" for value in row[column["d"] :]], label


def _called_names(tree) -> set[str]:
    return {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


def test_notebook_2_experiments_run_on_the_students_component():
    """After the tests, every cell calls the student's component, directly or through a
    function of the notebook that does; the package's nh.component is in one optional cell."""
    cells = nbformat.read(runner.NOTEBOOK_DIR / NB2, as_version=4).cells
    trees = {i: ast.parse(cell.source) for i, cell in enumerate(cells) if cell.cell_type == "code"}
    defined = {
        node.name: _called_names(node)
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name != "component"
    }
    uses = {"component"}  # and every function that calls it, through others too
    while more := {name for name, calls in defined.items() if calls & uses} - uses:
        uses |= more
    last_test = max(
        i for i, cell in enumerate(cells) if cell.metadata.get("nbgrader", {}).get("grade")
    )
    after = [i for i in trees if i > last_test]
    assert len(after) >= 8, "the experiments: parts, Griffin-Lim, soft masks, the table"
    for index in after:
        assert _called_names(trees[index]) & uses, f"{NB2}, cell {index} does not use component"
    engine = [i for i in trees if "nh.component(" in cells[i].source]
    assert len(engine) == 1, f"nh.component in cells {engine}: one optional cell at most"
    assert cells[engine[0] - 1].source.startswith("**Optional"), "say that the cell is optional"


def test_notebook_2_until_component_is_written_each_experiment_stops_in_one_line(tmp_path):
    """With the student edition's stub in place of the solution, the tests and every
    experiment after them stop with nh.friendly_stubs' one line: no traceback, and no
    NameError for something a cell before failed to compute."""
    notebook = nbformat.read(runner.NOTEBOOK_DIR / NB2, as_version=4)
    ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells]
    task = ids.index("task2_code")
    cell = notebook.cells[task]
    begin, end = cell.source.index("### BEGIN SOLUTION"), cell.source.index("### END SOLUTION")
    cell.source = f"{cell.source[:begin]}raise NotImplementedError(){cell.source[end + 16 :]}"
    for later in notebook.cells[task + 1 :]:
        later.metadata["tags"] = ["raises-exception"]  # nbclient runs on after its error
    nbformat.write(notebook, tmp_path / NB2)
    stubbed, _ = runner.execute_notebook(tmp_path / NB2)
    one_line = [f"NotImplementedError: {nh.not_written_message('component')}"]
    for index, cell in enumerate(stubbed.cells):
        if cell.cell_type != "code":
            continue
        tracebacks = [out.traceback for out in cell.outputs if out.output_type == "error"]
        assert tracebacks == ([one_line] if index > task else []), f"cell {index}: {tracebacks}"


# ---------------------------------------------------------------- notebook 3 (Task 3)


NOTEBOOK_3 = "3_sample_processing.ipynb"
SOLUTION = re.compile(r"(?m)^( *)### BEGIN SOLUTION\n.*?^ *### END SOLUTION\n?", re.DOTALL)


def notebook_cells(name: str) -> dict[str, nbformat.NotebookNode]:
    """The committed notebook's cells by nbgrader grade_id, or by cell id when they have none."""
    notebook = nbformat.read(runner.NOTEBOOK_DIR / name, as_version=4)
    return {
        cell.metadata.get("nbgrader", {}).get("grade_id", cell.id): cell for cell in notebook.cells
    }


def task3_fits(V_sample, V_track) -> dict:
    """The notebook's settings, model answer (``task3_code``) and fits, defined here."""
    cells = notebook_cells(NOTEBOOK_3)
    namespace = {"np": np, "nh": nh, "V_sample": V_sample, "V_track": V_track}
    settings = re.findall(r"(?m)^[A-Z_]+ = .*$", cells["cell-02"].source)  # K, N_ITER, ...
    for source in ("\n".join(settings), cells["task3_code"].source, cells["nb3-fits"].source):
        exec(source, namespace)
    return namespace


def test_notebook_3_is_short_and_its_experiments_run_the_students_kl_nmf():
    cells = notebook_cells(NOTEBOOK_3)
    assert len(cells) <= 30, "Task 3 is 6 points: its notebook stays short"
    assert "nh.friendly_stubs()" in cells["setup"].source
    experiments = [
        cell.source
        for cell in cells.values()
        if cell.cell_type == "code" and "nbgrader" not in cell.metadata
    ]
    engine = [source for source in experiments if "nh.nmf_kl" in source]
    assert len(engine) <= 1 and all("optional" in source.lower() for source in engine)
    fits = cells["nb3-fits"].source  # every fit of the notebook: fitted(step)
    assert fits.count("kl_nmf(") == 3, "W on the sample, W fixed on the track, both on the track"
    assert "fix_W=True" in fits


def test_notebook_3_experiments_stop_in_one_line_until_kl_nmf_is_written():
    """As in the student edition: kl_nmf a stub, each cell that needs a fit fails in one line."""
    code = [cell.source for cell in notebook_cells(NOTEBOOK_3).values() if cell.cell_type == "code"]
    stubbed = [SOLUTION.sub(r"\1raise NotImplementedError()\n", source) for source in code]
    assert all("### BEGIN SOLUTION" not in source for source in stubbed)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in stubbed])
    client = runner.NotebookClient(notebook, timeout=120, allow_errors=True, kernel_name="python3")
    client.execute()
    one_line = [f"NotImplementedError: {nh.not_written_message('kl_nmf')}"]
    experiments = [
        cell
        for cell in notebook.cells
        if re.search(r"\b(fitted|WH)\(", cell.source) and "def fitted" not in cell.source
    ]
    assert len(experiments) >= 5
    for cell in notebook.cells:
        errors = [output for output in cell.outputs if output.output_type == "error"]
        if cell in experiments:
            assert len(errors) == 1, f"no error from the stub in:\n{cell.source}"
        for error in errors:
            assert error.traceback == one_line, f"{error.traceback} from:\n{cell.source}"


def test_notebook_3_prints_the_sample_fit_a_rerun_gives():
    """The model answer's kl_nmf from the notebook's seeded start, rerun here: the same digits."""
    text = printed_before_any_failure(NOTEBOOK_3)
    V_sample, V_track = (
        nh.spectrogram(nh.load_audio(nh.clip_path(name))[0])
        for name in ("sample", "sampling_track")
    )
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):  # as the notebook: the same sums, same digits
        _, _, losses = task3_fits(V_sample, V_track)["fitted"]("sample")
    assert f"sample: final KL {losses[-1]:.4g}" in text
    # with W fixed the track is explained worse than with W learned too, by the printed factor
    fixed = number_after(text, r"track, W fixed: final KL")
    free = number_after(text, r"track, W and H learned: final KL")
    assert free < fixed
    assert number_after(text, "fixed W ends") == pytest.approx(fixed / free, abs=0.06)
    # the fixed fit resembles the sample stem, the free one the new parts (the table's rows)
    row = r"\s+([\d.]+)\s+([\d.]+)"
    fixed_row = re.search(r"W fixed \(sample's templates\)" + row, text)
    free_row = re.search(r"W and H learned on the track" + row, text)
    assert fixed_row and free_row, "notebook 3 no longer prints its table against the stems"
    assert float(fixed_row[1]) > float(free_row[1])  # correlation with the sample stem
    assert float(fixed_row[2]) < float(free_row[2])  # correlation with drums + lead


# ---------------------------------------------------------------- notebook 6 (beyond: detection)


def test_notebook_6_prints_a_detection_above_the_threshold_only_on_the_sampling_track():
    text = printed("6_sample_detection.ipynb")
    threshold = number_after(text, r"(?m)^threshold")
    assert threshold == nh.DETECTION_THRESHOLD
    track = number_after(text, r"sampling track +score")
    unrelated = number_after(text, r"unrelated track +score")
    assert unrelated < threshold < track


def test_notebook_6_splits_the_track_between_the_fully_fixed_and_the_learned_fit():
    text = printed("6_sample_detection.ipynb")
    part = number_after(text, r"partially fixed: final KL per unit of V")
    fully_fixed = number_after(text, r"\(fully fixed:")
    learned = number_after(text, r"all learned:")
    assert learned < part < fully_fixed  # free columns take what the sample cannot explain
    # notebook 3 prints the same fixed-W fit per unit of V (the engine there is the student's)
    assert f"per unit of V {fully_fixed:.4f}" in printed_before_any_failure(NOTEBOOK_3)


def test_notebook_6_finds_the_chop_twice_at_its_tempo():
    text = printed("6_sample_detection.ipynb")
    found = re.findall(rf"plays sample ({NUMBER})-({NUMBER}) s at x({NUMBER})", text)
    assert len(found) == 2, "the chop is looped twice"
    for start, end, ratio in found:
        assert float(ratio) == pytest.approx(1.05, abs=0.02)
        assert float(start) == pytest.approx(2.2, abs=0.6) and float(end) > float(start) + 3


def test_notebook_6_reports_every_play_of_the_covered_loop_one_by_one():
    text = printed("6_sample_detection.ipynb")
    found = re.findall(
        rf"play (\d): track\s+({NUMBER})-\s*({NUMBER}) s, sample .* at x({NUMBER})", text
    )
    assert [int(k) for k, *_ in found] == [1, 2, 3, 4], "four plays, two under the bridge"
    starts = [float(start) for _, start, _, _ in found]
    period = (starts[-1] - starts[0]) / 3
    assert period == pytest.approx(2.8 / 1.05, abs=0.2)
    assert np.diff(starts) == pytest.approx([period] * 3, abs=0.5)
    assert all(float(ratio) == pytest.approx(1.05, abs=0.03) for *_, ratio in found)


def test_notebook_6_finds_every_play_of_the_buried_pad_only_by_its_waveform():
    text = printed("6_sample_detection.ipynb")
    assert re.search(r"with its waveform: score .* detected True, 8 occurrences", text)
    assert re.search(r"activations only: score .* detected False, 0 occurrences", text)
    found = re.findall(rf"pad play (\d): track\s+({NUMBER})-\s*({NUMBER}) s", text)
    assert [int(k) for k, *_ in found] == list(range(1, 9))
    for k, start, end in found:
        truth = 2.4 + 2.5 * (int(k) - 1)
        assert float(start) == pytest.approx(truth, abs=0.35)
        assert float(end) == pytest.approx(truth + 2.5, abs=0.35)


# ---------------------------------------------------------------- notebook 4 (Task 4)


def test_notebook_4_prints_the_fixed_w_fits_notebook_6_printed():
    """Notebook 4 repeats notebook 6's seeded fixed-W fits in another kernel: same digits."""
    text = printed("4_ethics.ipynb")
    ethics = re.findall(rf"fixed-W KL per unit of V = ({NUMBER})", text)
    assert len(ethics) == 2, "the sampling track and the unrelated track"
    beyond = printed_before_any_failure("6_sample_detection.ipynb")
    found = re.search(
        rf"fixed-W KL per unit of V: sampling track ({NUMBER}), unrelated track ({NUMBER})", beyond
    )
    assert found, "notebook 6 no longer prints its fixed-W fits"
    assert ethics == [found[1], found[2]]
    margin = number_after(text, "the unrelated track scores")
    assert margin == pytest.approx(float(ethics[1]) / float(ethics[0]), abs=0.006)
    assert 1 < margin < 10


# ---------------------------------------------------------------- notebook 5


def test_notebook_5_separates_the_voice_and_a_rerun_gives_the_same_numbers():
    text = printed("5_vocal_filtering.ipynb")
    # the two tracks add up to the song
    assert number_after(text, r"largest \|karaoke \+ vocals - song\|:") < 1e-5
    # the a cappella is nearly silent where nobody sings, not after
    in_passage = number_after(text, "a cappella against the song:")
    after = number_after(text, "dB in the passage,")
    assert in_passage < after - 10
    # between the floor (doing nothing) and the ceiling (ideal masks), with a margin
    for source in ("vocals", "karaoke"):
        gain = number_after(text, f"{source}: filter_vocals is")
        gap = number_after(text, f"{source}: filter_vocals is {NUMBER} dB above the floor,")
        assert gain > 5 and gap > 0, source
    # a fixed-seed rerun of the separation prints the same digits
    x, sr = nh.load_audio(nh.clip_path("groove"))
    passage = (0.0, nh.clip_facts("groove")["instrumental_intro_end_s"])
    song = nh.filter_vocals(x, instrumental=passage, sr=sr)
    rerun = nh.relative_level(song.vocals, x, sr=sr, time_range=passage)
    assert f"{rerun:.1f}" == f"{in_passage:.1f}"
    stems = nh.load_stems("groove")
    references = {
        "vocals": stems["vocals"],
        "karaoke": stems["drums"] + stems["bass"] + stems["keys"],
    }
    rows = nh.evaluate({"vocals": song.vocals, "karaoke": song.karaoke}, references).rows
    sdr = table_rows(text, "SDR (dB):")["filter_vocals"]
    assert [f"{row['sdr']:.2f}" for row in rows] == sdr[:2]


def test_notebook_5_step_gains_add_up_to_the_table():
    text = printed("5_vocal_filtering.ipynb")
    steps = text[text.index("plain recipe") :]
    table = table_rows(steps, "SDR (dB):")
    assert list(table) == [
        "plain recipe",
        "+ transposed accompaniment",
        "+ transposed voice, refit",
        "defaults",
    ]
    sdr = np.array([[float(cell) for cell in cells] for cells in table.values()])
    gains = re.findall(rf"vocals ({NUMBER}), karaoke ({NUMBER})", steps)
    np.testing.assert_allclose(np.array(gains, dtype=float), np.diff(sdr, axis=0), atol=0.011)
    # the defaults row is the separation measured above
    first = table_rows(text, "SDR (dB):")["filter_vocals"][:2]
    assert table["defaults"] == first
    assert sdr[-1].min() > sdr[0].max(), "the fixes and defaults beat the plain recipe"
    # what the prose says of the groove: the first fix mainly helps the vocals, the second
    # mainly the karaoke; the defaults move the two by less than a decibel, one up, one down
    (vocals_1, karaoke_1), (vocals_2, karaoke_2), defaults = np.array(gains, dtype=float)
    assert vocals_1 > karaoke_1 and karaoke_2 > vocals_2
    assert np.abs(defaults).max() < 1 and defaults.prod() < 0


# ---------------------------------------------------------------- the runner


def test_a_run_prints_no_kernel_transport_warning(tmp_path, capfd):
    tiny = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    path = tmp_path / "tiny.ipynb"
    nbformat.write(tiny, path)
    notebook, _ = runner.execute_notebook(path)  # the kernel writes to this process's stderr
    assert printed_text(notebook) == "42\n"
    captured = capfd.readouterr()
    assert "WARNING" not in captured.err and "without encryption" not in captured.err
    assert list(tmp_path.iterdir()) == [path], "kernel files left beside the notebook"


def test_render_math_draws_inline_and_display_formulas():
    page = runner.render_math(r"cost $v\,(r - 1 - \log r)$ and $$\sum_{m,n} V_{mn}$$, 5 \$ left")
    assert page.count('class="math"') == 2
    assert page.count("display:block") == 1
    assert r'alt="v\,(r - 1 - \log r)"' in page
    assert page.endswith(r", 5 \$ left")
    broken = runner.render_math(r"$\notacommand{x}$")
    assert 'class="tex-unrendered"' in broken


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


def test_runner_refuses_to_write_into_the_notebooks_folder(tmp_path, monkeypatch, capsys):
    # A stand-in notebooks/ folder, so that a broken refusal overwrites nothing real, and a
    # notebook that exists there, so that the refusal is the only reason to stop.
    folder = tmp_path / "notebooks"
    folder.mkdir()
    tiny = folder / "tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), tiny)
    monkeypatch.setattr(runner, "NOTEBOOK_DIR", folder)
    assert runner.main(["--out", str(tmp_path), str(tiny)]) == 2
    err = capsys.readouterr().err
    assert "must not write into notebooks/" in err
    assert "no such notebook" not in err
    assert sorted(folder.iterdir()) == [tiny], "something was written into notebooks/"


def test_runner_refuses_a_missing_notebook(tmp_path, capsys):
    assert runner.main(["--out", str(tmp_path), "no_such.ipynb"]) == 2
    assert "run_notebooks: no such notebook:" in capsys.readouterr().err
    assert not (tmp_path / "notebooks").exists()
