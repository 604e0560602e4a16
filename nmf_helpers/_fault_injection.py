"""The fault-injection hook: named moments of a run that a test can see and stop at.

Inert unless :data:`CHECKPOINT_LOG` is set in the environment; no user sets it.
``tests/test_cli_faults.py`` (and the scan and output tests) send real signals to
real runs, and need them to land at a known moment rather than after a guessed
delay:

* with ``NMF_HELPERS_CHECKPOINTS=FILE``, each moment a run reaches is appended to
  FILE (:func:`record`), so the test knows where the run is;
* with ``NMF_HELPERS_HOLD_AT=MOMENT`` too, the run waits at that moment, the first
  time it reaches it (:func:`hold`), until the test sends its signal or removes
  FILE to let the run go on (at most :data:`HOLD_S`).

Two places name moments: :mod:`nmf_helpers._startup` (``starting``, before numba
is imported) and :func:`nmf_helpers.cli._interrupts.checkpoint` (every later one).
This module imports nothing of the package, so the first can use it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

__all__ = ["CHECKPOINT_LOG", "HOLD_AT", "HOLD_S", "hold", "holds_at", "record"]

#: The environment variables of the hook.
CHECKPOINT_LOG = "NMF_HELPERS_CHECKPOINTS"
HOLD_AT = "NMF_HELPERS_HOLD_AT"
#: Longest a held moment waits, in seconds: a test that never signals does not hang.
HOLD_S = 60.0

_held: set[str] = set()  # moments already held in this process


def record(moment: str) -> bool:
    """Append ``moment`` to the log if the hook is on; whether it is on."""
    log = os.environ.get(CHECKPOINT_LOG)
    if not log:
        return False
    with open(log, "a") as handle:
        handle.write(f"{moment}\n")
    return True


def holds_at(moment: str) -> bool:
    """Whether a test asked the run to wait at ``moment`` (and it has not waited there yet)."""
    wanted = bool(os.environ.get(CHECKPOINT_LOG)) and os.environ.get(HOLD_AT) == moment
    return wanted and moment not in _held


def hold(moment: str, *, released: Callable[[], bool] = lambda: False) -> None:
    """Wait at ``moment`` if a test asked to, the first time only.

    The wait ends when the test removes the log, when ``released()`` is true
    (a signal was received and held), after :data:`HOLD_S`, or when a signal
    handler raises in here, which is what the test is after.
    """
    if not holds_at(moment):
        return
    _held.add(moment)
    log = os.environ[CHECKPOINT_LOG]
    deadline = time.monotonic() + HOLD_S
    while not released() and os.path.exists(log) and time.monotonic() < deadline:
        time.sleep(0.01)
