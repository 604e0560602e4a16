"""The homework as a course hands it out and grades it, with nbgrader.

The solution notebooks in ``notebooks/`` are the one source: nbgrader's
marks in them (``### BEGIN SOLUTION``, ``### BEGIN HIDDEN TESTS``, graded and
read-only cells) say what students write and how it is graded.

* :mod:`.edition`: the course directory under ``build/course/`` and the
  student edition nbgrader generates from the notebooks.
* :mod:`.judge`: what the hidden tests' saved results must be, judged
  against the package in the grader's own process (never the student's
  kernel), with the points of each test.
* :mod:`.grading`: every submission autograded in its own process and
  throw-away copy of the course, judged, checked for tampering, turned into
  points (CSV) and feedback (HTML); resumable.

``scripts/course.py`` is the command line.
"""
