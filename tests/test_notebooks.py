"""The homework notebooks run headless, print the numbers their text uses, and are deterministic.

Every notebook is executed once (cached for the session) with the runner's own
function from ``scripts/run_notebooks.py``. Then:

* every number the prose quotes in backticks (`77.6%`) must be printed by that
  notebook (so the text cannot drift from what the code computes);
* the numbers the answers rely on are parsed from the printed text and checked
  against the laws they should obey, and against a second run of the seeded
  computation that printed them: in this process (a fixed-seed rerun of the
  cell's computation), or in another notebook that prints the same computation
  (notebook 4 repeats notebook 3's fixed-W fits). That second run is the
  determinism check, for every notebook: the same seed must print the same
  digits. It costs seconds per notebook where executing each notebook again
  would cost minutes;
* the HTML export loads nothing from the internet, with every formula drawn;
* the runner's refusals and failures are the ones they name, and a run prints
  no kernel transport warning.
"""

from __future__ import annotations

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
    "3_sample_processing.ipynb": (5, 7),
    "4_ethics.ipynb": (0, 0),
    "5_vocal_filtering.ipynb": (2, 4),
}
# A number as a notebook prints it: 7.45e+06, -24.1, +0.38, 77.6%, 1.8e-07.
NUMBER = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
QUOTED = re.compile(rf"`({NUMBER}%?)`")


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


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_number_the_prose_quotes_is_printed(name):
    notebook = executed(name)
    text = printed_text(notebook)
    for quoted in QUOTED.findall(markdown(notebook)):
        # the same digits, not part of a longer number
        pattern = rf"(?<![\d.]){re.escape(quoted)}(?![\d])"
        assert re.search(pattern, text), f"{name}: the text quotes {quoted}, never printed"


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


def test_notebook_0_prints_the_loudness_bands_plain_numpy_gives(groove_fit):
    """The band tables against a computation that does not use nh.loudness_band_table."""
    text = printed("0_background_euclidean.ipynb")
    _, _, V, WH, _ = groove_fit
    V64, WH64 = V.astype(np.float64), WH.astype(np.float64)
    level = 20 * np.log10(np.maximum(V64, V64.max() * 1e-4) / V64.max())
    bands = {"> -30 dB": level > -30, "<= -50 dB": level <= -50}
    bands["-50 to -30 dB"] = ~(bands["> -30 dB"] | bands["<= -50 dB"])
    WH_floored = np.maximum(WH64, nh.EPS)
    per_bin = {
        "squared error": (V64 - WH64) ** 2,
        "KL divergence": V64 * np.log(np.maximum(V64, 1e-300) / WH_floored) - V64 + WH_floored,
    }
    for title, errors in per_bin.items():
        rows = table_rows(text, f"{title} of the fit, by loudness band")
        assert list(rows) == ["> -30 dB", "-50 to -30 dB", "<= -50 dB"]
        for band, cells in rows.items():
            inside = bands[band]
            assert percent(cells[0]) == pytest.approx(inside.mean(), abs=6e-4), (title, band)
            share = errors[inside].sum() / errors.sum()
            assert percent(cells[3]) == pytest.approx(share, abs=6e-4), (title, band)
        assert sum(percent(cells[3]) for cells in rows.values()) == pytest.approx(1, abs=2e-3)
    euclidean = table_rows(text, "squared error of the fit")
    assert percent(euclidean["> -30 dB"][3]) > 10 * percent(euclidean["> -30 dB"][0])


def test_notebook_0_prints_kl_linear_and_squared_error_quadratic_in_the_level(groove_fit):
    text = printed("0_background_euclidean.ipynb")
    peak = float(groove_fit[2].max())
    kl = table_rows(text, "KL divergence of the fit")
    euclidean = table_rows(text, "squared error of the fit")
    for band in kl:
        median = 10 ** (float(kl[band][1]) / 20)  # dB below V's peak
        level_ratio, kl_cost, euclidean_cost = (
            float(kl[band][-2]),
            float(kl[band][-1]),
            float(euclidean[band][-1]),
        )
        loud_median = 10 ** (float(kl["> -30 dB"][1]) / 20)
        assert level_ratio == pytest.approx(median / loud_median, rel=0.02)
        assert kl_cost == pytest.approx(level_ratio, rel=2e-3)  # v (r - 1 - log r): linear
        assert euclidean_cost == pytest.approx(level_ratio**2, rel=2e-2)  # v^2 (r - 1)^2
        # the cost of WH = 2 V itself at the band's median level v
        v = median * peak
        assert float(kl[band][4]) == pytest.approx(v * (2 - 1 - np.log(2)), rel=0.01)
        assert float(euclidean[band][4]) == pytest.approx(v**2, rel=0.02)
    assert number_after(text, "a factor of 2 costs x") == float(kl["<= -50 dB"][-1])


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


def test_notebook_1_prints_losses_that_fall_with_k_and_a_rerun_gives(groove_kl_3):
    text = printed("1_kl_nmf.ipynb")
    finals = {
        K: float(re.search(rf"K = +{K}: loss +{NUMBER} +-> +({NUMBER})", text)[1])
        for K in (3, 10, 30)
    }
    assert finals[3] > finals[10] > finals[30] > 0
    _, (_, _, losses) = groove_kl_3
    assert f"{losses[-1]:.4g}" == f"{finals[3]:.4g}"


def test_notebook_2_prints_the_fit_of_notebook_1_and_a_drums_component(groove_kl_3):
    text = printed("2_separating_components.ipynb")
    V, (_, _, losses) = groove_kl_3
    assert f"final KL loss {losses[-1]:.4g} ({losses[-1] / V.sum():.4f} per unit of V)" in text
    drums = number_after(text, r"drums: component \d+,") / 100
    assert 0.5 < drums <= 1


# ---------------------------------------------------------------- notebook 3 (Task 3)


def test_notebook_3_prints_the_sample_fit_a_rerun_gives():
    text = printed_before_any_failure("3_sample_processing.ipynb")
    x_sample, _ = nh.load_audio(nh.clip_path("sample"))
    V_sample = nh.spectrogram(x_sample)
    _, _, losses = nh.nmf_kl(V_sample, 30, n_iter=100, seed=0)
    assert f"sample: final KL {losses[-1]:.4g}" in text
    # with W fixed the track is explained worse than with W learned too, by the printed factor
    fixed = number_after(text, r"track, W fixed: final KL")
    free = number_after(text, r"track, W and H learned: final KL")
    assert free < fixed
    assert number_after(text, "fixed W ends") == pytest.approx(fixed / free, abs=0.06)


def test_notebook_3_prints_a_detection_above_the_threshold_only_on_the_sampling_track():
    text = printed("3_sample_processing.ipynb")
    threshold = number_after(text, r"(?m)^threshold")
    assert threshold == nh.DETECTION_THRESHOLD
    track = number_after(text, r"sampling track +score")
    unrelated = number_after(text, r"unrelated track +score")
    assert unrelated < threshold < track


# ---------------------------------------------------------------- notebook 4 (Task 4)


def test_notebook_4_prints_the_fixed_w_fits_notebook_3_printed():
    """Notebook 4 repeats notebook 3's seeded fixed-W fits in another kernel: same digits."""
    text = printed("4_ethics.ipynb")
    ethics = re.findall(rf"fixed-W KL per unit of V = ({NUMBER})", text)
    assert len(ethics) == 2, "the sampling track and the unrelated track"
    task3 = printed_before_any_failure("3_sample_processing.ipynb")
    found = re.search(
        rf"fixed-W KL per unit of V: sampling track ({NUMBER}), unrelated track ({NUMBER})", task3
    )
    assert found, "notebook 3 no longer prints its fixed-W fits"
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
