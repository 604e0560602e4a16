"""What grading hands out: each student's feedback pages, and ``grades.csv`` for the instructor.

* ``feedback/<student>/index.html``: the points and the judge's reason for
  every test, the written answers "to be graded", the notes; and one page per
  notebook with the student's own cells and, under each test, its visible
  part and verdict. Built only from the submission, the student edition and
  the judge's fixed notes: no output of the grading run, no hidden test and
  no hidden input can reach it.
* ``grades.csv``: one row per student, points per task and per test, how the
  student was isolated, the notes; the written-answer points an instructor
  typed in are kept.

The cell readers take a submitted cell as nbformat reads it, whatever the
submission put in its metadata, and never raise.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path

import nbformat

from .edition import NOTEBOOKS

UNSAFE_NOTE = "graded WITHOUT isolation (--unsafe): the submission's code could reach the solution"


# ---------------------------------------------------------------- submitted cells


def cell_text(value) -> str:
    """A cell's source as nbformat allows it (a string or a list of lines), else ""."""
    if isinstance(value, list):
        return "".join(item for item in value if isinstance(item, str))
    return value if isinstance(value, str) else ""


def cell_marks(cell) -> dict:
    """A submitted cell's nbgrader metadata, whatever the submission put there."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    marks = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return marks if isinstance(marks, dict) else {}


def cell_grade_id(cell) -> str | None:
    """A submitted cell's nbgrader ``grade_id``, or None if it has no proper one."""
    grade_id = cell_marks(cell).get("grade_id")
    return grade_id if isinstance(grade_id, str) else None


# ---------------------------------------------------------------- feedback


_STYLE = (
    "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
    "pre{background:#f5f5f5;padding:.6em;overflow:auto}.verdict{border-left:4px solid #888;"
    "padding:.4em .8em;margin:.4em 0 1.2em}.ok{border-color:#2a2}.lost{border-color:#c22}"
    ".hand{border-color:#c90}</style>"
)


def notebook_feedback(
    submitted: Path, release: Path, scores: dict, tests, written, *, unsafe: bool
) -> str:
    """One notebook's feedback page: the student's cells, each test's visible part and verdict.

    Built from the notebook as submitted (its outputs dropped) and the
    student edition's test cells: nothing of the hidden tests, their inputs
    or the grading run's outputs is in it.
    """
    given = {cell_grade_id(cell): cell for cell in nbformat.read(release, as_version=4).cells}
    by_id = {t.grade_id: t for t in (*tests, *written)}
    try:
        cells = nbformat.read(submitted, as_version=4).cells
        cells = [cell for cell in cells if isinstance(cell, dict)]
    except Exception:
        cells = []
    parts = [_STYLE]
    if unsafe:
        parts.append(f"<p class='verdict lost'><b>{html.escape(UNSAFE_NOTE)}</b></p>")
    for cell in cells:
        grade_id = cell_grade_id(cell)
        shown = given.get(grade_id, cell) if grade_id in by_id else cell
        text = html.escape(cell_text(shown.get("source")))
        parts.append(f"<pre>{text}</pre>")
        test = by_id.get(grade_id)
        if test is None:
            continue
        if test.check is None:
            parts.append(
                f"<div class='verdict hand'>Written answer ({test.points:g} points):"
                " to be graded by hand.</div>"
            )
            continue
        points, why = scores[grade_id]
        css = "ok" if points == test.points else "lost"
        parts.append(
            f"<div class='verdict {css}'>Test <code>{grade_id}</code>: <b>{points:g} /"
            f" {test.points:g}</b> — {html.escape(why)}</div>"
        )
    return "".join(parts)


def write_feedback(folder: Path, student: str, result: dict, submitted: Path, release: Path):
    """``index.html`` and one page per notebook submitted, in ``folder``."""
    from .judge import TESTS, WRITTEN

    folder.mkdir(parents=True, exist_ok=True)
    scores = {key: tuple(value) for key, value in result["tests"].items()}
    pages = []
    for name in NOTEBOOKS:
        mine = submitted / f"{name}.ipynb"
        if not mine.exists():
            continue
        page = folder / f"{name}.html"
        body = notebook_feedback(
            mine, release / f"{name}.ipynb", scores, TESTS, WRITTEN, unsafe=result["unsafe"]
        )
        page.write_text(
            f"<!doctype html><meta charset='utf-8'><title>{html.escape(name)}</title>{body}",
            encoding="utf-8",
        )
        pages.append(page.name)
    _write_index(folder / "index.html", student, result, pages, TESTS, WRITTEN)


def _write_index(path: Path, student: str, result: dict, pages, tests, written) -> None:
    """The student's feedback page: points and why per test, the written answers, notes."""
    rows = "".join(
        f"<tr><td>Task {t.task}</td><td>{html.escape(t.what)}</td>"
        f"<td>{result['tests'][t.grade_id][0]:g} / {t.points:g}</td>"
        f"<td>{html.escape(result['tests'][t.grade_id][1])}</td></tr>"
        for t in tests
    )
    rows += "".join(
        f"<tr><td>Task {t.task}</td><td>{html.escape(t.what)} (written)</td>"
        f"<td>to be graded / {t.points:g}</td><td>graded by hand</td></tr>"
        for t in written
    )
    links = "".join(f'<li><a href="{html.escape(p)}">{html.escape(p)}</a></li>' for p in pages)
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in result["notes"])
    total = sum(result["tests"][t.grade_id][0] for t in tests)
    warning = f"<p><b>{html.escape(UNSAFE_NOTE)}</b></p>" if result["unsafe"] else ""
    path.write_text(
        f"<!doctype html><meta charset='utf-8'><title>Feedback: {html.escape(student)}</title>"
        f"{_STYLE}<h1>NMF homework: feedback for {html.escape(student)}</h1>{warning}"
        f"<p>Automatic points: <b>{total:g} / {sum(t.points for t in tests):g}</b>"
        f" (the written answers, {sum(t.points for t in written):g} points, are graded"
        " by hand).</p>"
        "<table border=1 cellpadding=4>"
        "<tr><th>task</th><th>test</th><th>points</th><th>why</th></tr>"
        f"{rows}</table>"
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
        + f"<h2>Your notebooks, as graded</h2><ul>{links}</ul>",
        encoding="utf-8",
    )


# ---------------------------------------------------------------- the CSV


def _csv_rows(results: dict, old_rows: dict) -> tuple[list[str], list[list]]:
    from .judge import TESTS, WRITTEN

    header = ["student"]
    header += [
        f"task{task} auto (of {sum(t.points for t in TESTS if t.task == task):g})"
        for task in (1, 2, 3)
    ]
    header += [f"auto total (of {sum(t.points for t in TESTS):g})"]
    header += [f"{t.grade_id} (of {t.points:g})" for t in WRITTEN]
    header += [f"{t.grade_id} (of {t.points:g})" for t in TESTS]
    header += ["isolation", "notes"]
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
        isolation = "NONE (--unsafe)" if results[student].get("unsafe") else "sandbox"
        rows.append(
            [student, *[f"{p:g}" for p in per_task], f"{sum(per_task):g}", *written,
             *[f"{tests[t.grade_id][0]:g}" for t in TESTS], isolation, "; ".join(notes)]
        )  # fmt: skip
    return header, rows


def write_csv(path: Path, results: dict) -> None:
    """``grades.csv``: one row per student, keeping written-answer points already typed in."""
    old_rows = {}
    if path.exists():
        # utf-8-sig: a spreadsheet saving "CSV UTF-8" puts a byte-order mark first
        with open(path, newline="", encoding="utf-8-sig") as handle:
            old_rows = {row.get("student"): row for row in csv.DictReader(handle)}
    header, rows = _csv_rows(results, old_rows)
    partial = path.with_suffix(".csv.partial")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    partial.replace(path)
