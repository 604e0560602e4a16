"""Execute the homework notebooks top to bottom and export them to HTML.

Every notebook in ``notebooks/`` runs on a fresh ``python3`` kernel (the
interpreter running this script, so the project's venv), with ``notebooks/``
as its working directory, ``--jobs`` at a time (default: the usable cores;
each kernel is seeded and on its own, so the results do not depend on it).
The executed copy and an HTML page (audio players included) go to
``OUT/notebooks/``; the committed notebooks are never written to, so they
stay without outputs.

Usage::

    python scripts/run_notebooks.py                      # all, into build/
    python scripts/run_notebooks.py --out /tmp/build 1_kl_nmf.ipynb

The exit status is 1 if a cell fails, and the message names the notebook
and the cell. ``tests/test_notebooks.py`` imports :func:`execute_notebook`.

Offline by design: the HTML loads nothing from the internet. The LaTeX of the
markdown cells is drawn at export time by matplotlib's mathtext into inline
SVG images (no MathJax, which no installed package ships as a standalone
script), and the template's CDN scripts (MathJax, require.js, mermaid) are
left out. The kernel talks to this process over IPC sockets in a private
temporary folder rather than unencrypted TCP, so ipykernel has no transport
warning to print.
"""

from __future__ import annotations

import argparse
import base64
import copy
import html
import io
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter
from traitlets.config import Config

__all__ = [
    "NOTEBOOK_DIR",
    "NotebookError",
    "execute_notebook",
    "export_html",
    "main",
    "notebooks",
    "render_math",
]

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT = 600  # seconds


class NotebookError(RuntimeError):
    """A cell raised: ``notebook`` and ``cell`` (index among all cells) say where."""

    def __init__(self, notebook: str, cell: int, message: str, executed=None):
        super().__init__(f"{notebook}: cell {cell} failed:\n{message}")
        self.notebook = notebook
        self.cell = cell
        self.executed = executed


def notebooks(names: list[str] | None = None, *, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The notebooks to run, in name order: all of ``folder`` or the given names.

    Parameters
    ----------
    names : list of str, optional
        File names (``1_kl_nmf.ipynb``) or paths; all notebooks when empty.
    folder : Path

    Returns
    -------
    list of Path
    """
    if not names:
        return sorted(folder.glob("*.ipynb"))
    paths = [Path(name) if Path(name).exists() else folder / name for name in names]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise FileNotFoundError(f"run_notebooks: no such notebook: {', '.join(missing)}")
    return paths


def _failing_cell(notebook) -> int:
    """Index of the first cell with an error output (the one that stopped the run)."""
    for index, cell in enumerate(notebook.cells):
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            return index
    return -1


def execute_notebook(path: Path, *, timeout: int = CELL_TIMEOUT, kernel: str = "python3"):
    """Run a notebook in memory, top to bottom, with its folder as working directory.

    Parameters
    ----------
    path : Path
    timeout : int
        Seconds allowed per cell.
    kernel : str
        Kernel name; ``python3`` resolves to the interpreter running this code.

    Returns
    -------
    notebook : nbformat.NotebookNode
        The executed notebook (the file on disk is not touched).
    seconds : float

    Raises
    ------
    NotebookError
        If a cell raises; ``.executed`` holds the partly executed notebook.
    """
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    # The kernel must draw inline: an MPLBACKEND=Agg inherited from a headless
    # shell would make plt.show() a silent no-op and the notebook figure-less.
    kernel_env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nmf-kernel-") as sockets:
        # Over TCP, ipykernel warns that its traffic is unencrypted; Unix sockets
        # in a folder only this user can open need no encryption and no warning.
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(Path(sockets) / "kernel")
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name=kernel,
            resources={"metadata": {"path": str(path.parent)}},
            config=config,
        )
        try:
            client.execute(env=kernel_env)
        except CellExecutionError as error:
            raise NotebookError(path.name, _failing_cell(notebook), str(error), notebook) from None
    return notebook, time.perf_counter() - start


# $$display$$ or $inline$ (inline: on one line; a \$ or $$ does not open it).
_MATH = re.compile(r"\$\$(?P<display>.+?)\$\$|(?<![\\$])\$(?P<inline>[^$\n]+?)\$", re.DOTALL)
# Sizes that mathtext lacks; the brackets it draws are the same ones, unsized.
_UNSUPPORTED_SIZES = re.compile(r"\\(?:big|Big|bigg|Bigg)[lr]?(?![a-zA-Z])")
_MATH_POINTS = 12.0  # mathtext's font size; the image is then sized in em of the page's text
# The page without the template's CDN scripts: MathJax (the maths comes as SVG),
# require.js (only for widgets, which the notebooks do not use) and mermaid (no diagrams).
_OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def _math_image(tex: str, display: bool) -> str:
    """``tex`` drawn by matplotlib's mathtext as an inline SVG ``<img>`` (alt: the TeX)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    source = "$" + _UNSUPPORTED_SIZES.sub("", tex.strip()) + "$"
    font = FontProperties(size=_MATH_POINTS)
    buffer = io.BytesIO()
    with rc_context({"mathtext.fontset": "cm", "svg.fonttype": "path"}):  # TeX's look, no fonts
        try:
            width, height, depth, _, _ = MathTextParser("path").parse(source, dpi=72, prop=font)
        except ValueError:
            # Left as visible TeX: tests/test_notebooks.py fails on any such formula.
            return f'<code class="tex-unrendered">{html.escape(tex)}</code>'
        figure = Figure(figsize=(width / 72.0, height / 72.0))
        figure.text(0, depth / height, source, fontproperties=font)
        figure.savefig(buffer, format="svg", transparent=True, metadata={"Date": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    style = (
        f"height:{height / _MATH_POINTS:.3f}em;"
        f"vertical-align:{-depth / _MATH_POINTS:.3f}em;display:inline"
    )
    image = (
        f'<img class="math" alt="{html.escape(tex, quote=True)}" style="{style}"'
        f' src="data:image/svg+xml;base64,{data}">'
    )
    return f'<span style="display:block;text-align:center">{image}</span>' if display else image


def render_math(markdown: str) -> str:
    """Markdown with every ``$...$`` and ``$$...$$`` replaced by an inline SVG image.

    The images are drawn here, by matplotlib's mathtext (a TeX subset that
    covers the notebooks' formulas), so the HTML needs no MathJax and no
    network to show the maths.
    """
    return _MATH.sub(
        lambda match: _math_image(
            match["display"] if match["display"] is not None else match["inline"],
            display=match["display"] is not None,
        ),
        markdown,
    )


def export_html(notebook) -> str:
    """The executed notebook as a standalone, offline HTML page.

    Figures and audio are embedded, the maths is drawn as SVG by
    :func:`render_math`, and no script is loaded from elsewhere. The notebook
    given is not modified.
    """
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = render_math(cell.source)
    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="offline.html.j2",
    )
    body, _ = exporter.from_notebook_node(notebook)
    return body


def _write(notebook, path: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out_dir / path.name)
    (out_dir / path.with_suffix(".html").name).write_text(export_html(notebook), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--out", type=Path, default=Path("build"), help="output folder")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    parser.add_argument(
        "--jobs",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="notebooks run at once, each in its own kernel (default: the usable cores)",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        print(f"run_notebooks: --jobs must be at least 1, got {args.jobs}", file=sys.stderr)
        return 2
    try:
        paths = notebooks(args.notebooks)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    out_dir = args.out / "notebooks"
    if out_dir.resolve() == NOTEBOOK_DIR.resolve():
        print("run_notebooks: --out must not write into notebooks/", file=sys.stderr)
        return 2
    start, failed = time.perf_counter(), []
    # Each notebook has a kernel of its own, seeded, so running several at once changes no
    # result; the HTML is written here, one at a time, as each finishes.
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        running = {
            pool.submit(execute_notebook, path, timeout=args.timeout): path for path in paths
        }
        for done in as_completed(running):
            path = running[done]
            try:
                notebook, seconds = done.result()
            except NotebookError as error:
                if error.executed is not None:
                    _write(error.executed, path, out_dir)
                failed.append(error)
                continue
            _write(notebook, path, out_dir)
            print(f"{path.name}: {seconds:.1f} s", flush=True)
    for error in sorted(failed, key=lambda error: error.notebook):
        print(f"FAILED {error.notebook}, cell {error.cell}", file=sys.stderr)
        print(str(error), file=sys.stderr)
    if failed:
        return 1
    print(
        f"total: {time.perf_counter() - start:.1f} s ({len(paths)} notebooks,"
        f" {args.jobs} at a time) -> {out_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
