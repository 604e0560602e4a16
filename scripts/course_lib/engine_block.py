"""Inside a grading kernel, the package's fitting and component functions refuse to run.

Not imported by the grader: :func:`course_lib.sandbox.make_package_copy` puts
this file into the kernel's copy of the package as ``nmf_helpers/_grading_block``
and replaces each engine module of that copy (``nmf``, ``separation``,
``_kl_sweep``) by a stand-in in which every function and class the real module
defines is :func:`stand_in`. The copy holds no engine code at all, so no
spelling reaches one (``nh.nmf_kl``, ``getattr(nh, "nmf_" + "kl")``,
``from nmf_helpers.nmf import factorise``, ``importlib.reload``): each raises
:class:`EngineOff`. Each refusal is also appended to the file named by
``NMF_GRADING_RECORD``, so the feedback can say why the points were lost.
"""

from __future__ import annotations

import json
import os
import sys

#: What each graded notebook asks the student to write.
TASKS = {
    "1_kl_nmf": "Task 1 asks for the updates in numpy",
    "2_separating_components": "Task 2 asks for the component in numpy",
    "3_sample_processing": "Task 3 asks for the fixed-W updates in numpy",
}


class EngineOff(RuntimeError):
    """A package function the student's code called while being graded."""


def _caller() -> str:
    """The name of the first function outside the package on the stack (the student's)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("nmf_helpers"):
        frame = frame.f_back
    return frame.f_code.co_name if frame is not None else "?"


def refuse(spelled: str):
    """Record the call and raise :class:`EngineOff` naming the task, the caller and the name."""
    by = _caller()
    by = "a cell" if by == "<module>" else by
    task = TASKS.get(os.environ.get("NMF_GRADING_NOTEBOOK", ""), "The task asks for numpy")
    record = os.environ.get("NMF_GRADING_RECORD")
    if record:
        try:
            with open(record, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"by": by, "called": spelled}) + "\n")
        except OSError:
            pass
    raise EngineOff(f"{task}; {by} called {spelled} (switched off while grading)")


def stand_in(spelled: str, name: str):
    """A function named ``name`` that refuses to run, reporting itself as ``spelled``."""

    def switched_off(*args, **kwargs):
        refuse(spelled)

    switched_off.__name__ = switched_off.__qualname__ = name
    return switched_off
