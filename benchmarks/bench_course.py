"""Time to grade a class (issue 21, item 6): ``course.py grade --jobs N`` against one at a time.

Builds the student edition in a temporary course folder and a class of
``--students`` submissions (default 30), each handing in the solution's
answers with a comment line of its own (no two submissions are the same
file), plus a written answer. Grades them with ``--jobs`` students at a time
(default: the usable cores), then all again one at a time (``--regrade``,
``jobs=1``), and prints both times, the seconds per student, the speed-up
and whether every grade is the same.

Targets: the class graded in at most 180 s with the default jobs, every
student 18 / 18, and the same grades both ways; exit status 1 if one is
missed. ``--skip-serial`` times the parallel run only (the grades are then
compared with 18 / 18 alone).

Run: ``python benchmarks/bench_course.py [--students 30] [--jobs N] [--skip-serial]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from course_lib import edition, grading

TARGET_SECONDS = 180.0


def make_class(folder: Path, release: Path, students: int) -> None:
    """``students`` folders of the four graded notebooks, answered as the solution does."""
    answers = edition.solution_answers()
    for index in range(students):
        mine = folder / f"student{index:03d}"
        mine.mkdir(parents=True)
        for name in edition.NOTEBOOKS:
            own = {
                grade_id: f"# student {index}\n{source}"
                for grade_id, source in answers[name].items()
            }
            notebook = edition.answered(release / f"{name}.ipynb", own)
            nbformat.write(notebook, mine / f"{name}.ipynb")


def grade(submissions: Path, course: Path, out: Path, jobs: int, regrade: bool):
    start = time.perf_counter()
    grading.grade_all(
        submissions, course_dir=course, out_dir=out, jobs=jobs, regrade=regrade, log=lambda _: None
    )
    seconds = time.perf_counter() - start
    results = json.loads((out / "results.json").read_text())
    return seconds, {student: result["tests"] for student, result in results.items()}


def verdict(targets: list[tuple[str, bool]]) -> int:
    """Print the targets; the exit status (1 if one was missed)."""
    for what, met in targets:
        print(f"  {'PASS' if met else 'MISS'}  {what}")
    missed = sum(not met for _, met in targets)
    if missed:
        print(f"bench_course: {missed} of {len(targets)} targets missed", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=grading.usable_cores())
    parser.add_argument("--skip-serial", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-course-") as folder:
        folder = Path(folder)
        course = folder / "course"
        release = edition.generate_student_edition(course)
        make_class(folder / "submissions", release, args.students)
        parallel, grades = grade(folder / "submissions", course, folder / "out", args.jobs, False)
        print(
            f"{args.students} students, {args.jobs} at a time: {parallel:.1f} s"
            f" ({parallel / args.students:.2f} s per student)"
        )
        targets = [
            (
                f"the class in {parallel:.0f} s <= {TARGET_SECONDS:.0f} s",
                parallel <= TARGET_SECONDS,
            ),
            (
                "every student 18 / 18",
                all(sum(p for p, _ in tests.values()) == 18 for tests in grades.values()),
            ),
        ]
        if not args.skip_serial:
            serial, again = grade(folder / "submissions", course, folder / "out", 1, True)
            print(
                f"{args.students} students, one at a time: {serial:.1f} s"
                f" ({serial / args.students:.2f} s per student); speed-up {serial / parallel:.2f}"
            )
            targets.append(("the same grades one at a time", again == grades))
    sys.exit(verdict(targets))


if __name__ == "__main__":
    main()
