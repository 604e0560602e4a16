"""The homework as a course hands it out and grades it, with nbgrader.

The solution notebooks in ``notebooks/`` are the one source: nbgrader's
marks in them (``### BEGIN SOLUTION``, ``### BEGIN HIDDEN TESTS``, graded and
read-only cells) say what students write and how it is graded.

* :mod:`.edition`: the course directory under ``build/course/`` and the
  student edition nbgrader generates from the notebooks.
* :mod:`.judge`: what the hidden tests' saved results must be, judged
  against the package in the grader's own process (never the student's
  kernel), with the points of each test.
* :mod:`.grading`: every submission autograded, ``--jobs`` at a time, in a
  process and throw-away copy of the course of its own, judged, checked for
  tampering by hashes; resumable.
* :mod:`.sandbox`: where each notebook's kernel runs (its own files,
  processes, network and user), and the package copy it imports, whose
  engine :mod:`.engine_block` switches off.
* :mod:`.reports`: the feedback pages (HTML) and ``grades.csv``.

``scripts/course.py`` is the command line.
"""
