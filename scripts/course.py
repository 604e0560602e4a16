"""The homework as a course: the student edition, and autograding a folder of submissions.

Usage::

    python scripts/course.py student                  # build/course/release/nmf_homework/
    python scripts/course.py grade SUBMISSIONS_DIR     # build/course/grades/grades.csv + feedback/
    python scripts/course.py grade SUBMISSIONS_DIR --jobs 4

``student`` rebuilds the nbgrader course directory ``build/course/`` from the
solution notebooks and generates the student edition (stubs, "YOUR ANSWER
HERE", visible tests; no solution code and no hidden tests). ``grade``
autogrades ``SUBMISSIONS_DIR/<student_id>/<notebook>.ipynb``, ``--jobs``
students at a time, each notebook in a sandbox of its own (it refuses in one
line where the machine cannot isolate them, unless ``--unsafe``), into
``grades.csv`` (points per task and per test) and
``feedback/<student_id>/index.html``; run it again to grade only new or
changed submissions. See ``scripts/course_lib``.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from course_lib.edition import CELL_TIMEOUT, COURSE_DIR, generate_student_edition


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", type=Path, default=COURSE_DIR, help="course directory")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("student", help="generate the student edition")
    grade = commands.add_parser("grade", help="autograde SUBMISSIONS_DIR/<student_id>/*.ipynb")
    grade.add_argument("submissions", type=Path)
    grade.add_argument("--out", type=Path, help="results folder (default: COURSE/grades)")
    grade.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    grade.add_argument("--regrade", action="store_true", help="grade everyone again")
    grade.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="students graded at once (default: the usable cores)",
    )
    grade.add_argument(
        "--unsafe",
        action="store_true",
        help="grade even where submissions cannot be isolated (said on every feedback page)",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "student":
            release = generate_student_edition(args.course)
            print(f"student edition: {release}")
        else:
            from course_lib.grading import grade_all

            grade_all(
                args.submissions,
                course_dir=args.course,
                out_dir=args.out,
                timeout=args.timeout,
                regrade=args.regrade,
                jobs=args.jobs,
                unsafe=args.unsafe,
            )
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(error, file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Stopped) as stop:
        signum = stop.signum if isinstance(stop, Stopped) else signal.SIGINT
        # The student being graded was stopped and its temporary folder removed (grading.py).
        print(
            f"course {args.command}: stopped by {signal.Signals(signum).name}; students graded"
            " so far are kept, and the same command goes on with the others",
            file=sys.stderr,
        )
        return 128 + signum
    return 0


class Stopped(BaseException):
    """SIGTERM, raised where the program is, so cleanup runs as for Ctrl-C (and, like
    KeyboardInterrupt, it is not one student's trouble: grading stops)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stop(signum, frame):
    raise Stopped(signum)


if __name__ == "__main__":
    # SIGTERM ends a run like Ctrl-C: the student being graded is stopped and its temporary
    # folder removed; everyone graded so far is kept, and the next run resumes.
    signal.signal(signal.SIGTERM, _stop)
    sys.exit(main())
