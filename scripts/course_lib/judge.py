"""The automatic points: the hidden tests' results, judged outside the student's kernel.

A hidden test cell only calls the student's function on inputs fixed by a
seed and saves what comes back (``grading_<test>.npz`` in the submission's
working folder). This module, in the grader's own process, rebuilds the same
inputs, computes what the answer must be with the package (``nh.nmf_kl``, the
outer product ``W[:, k] H[k, :]``), and compares. Nothing the submission does
inside its kernel (patching ``np.allclose``, editing a test) can change
the comparison, only the arrays it saved, and those must be right.

Each entry of :data:`TESTS` is one graded test cell of the notebooks
(its ``grade_id``), with its notebook, task and points; the input recipes
here and in the hidden cells are the same lines, and a test checks that the
solution notebooks get every point.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import nmf_helpers as nh

#: Tolerances: float32 rounding of the same updates in a different order.
RTOL_FACTORS, RTOL_LOSSES = 1e-3, 1e-4


class Wrong(Exception):
    """The saved result is missing or wrong; the message says how."""


@dataclass(frozen=True)
class Test:
    """One automatically graded test cell."""

    grade_id: str
    notebook: str
    task: int
    points: float
    what: str
    check: Callable[[dict], None]


# ---------------------------------------------------------------- the hidden inputs


def kl_inputs(seed: int, M: int, N: int, K: int):
    """The hidden tests' ``V, W, H`` (float32), as the hidden cells build them.

    ``V`` has a silent frame (column 1) and a silent bin (row 2), so the
    floors at ``nh.EPS`` are exercised.
    """
    rng = np.random.default_rng(seed)
    V = rng.gamma(0.5, 1.0, size=(M, N)).astype(np.float32)
    V[:, 1] = 0
    V[2] = 0
    W = (1 - rng.random((M, K))).astype(np.float32)
    H = (1 - rng.random((K, N))).astype(np.float32)
    return V, W, H


def factor_inputs(seed: int, M: int, N: int, K: int):
    """The hidden tests' ``W, H`` for Task 2 (float32)."""
    rng = np.random.default_rng(seed)
    W = (1 - rng.random((M, K))).astype(np.float32)
    H = (1 - rng.random((K, N))).astype(np.float32)
    return W, H


@functools.cache
def _reference_kl(seed, M, N, K, n_iter, fixed):
    """``nh.nmf_kl`` from the hidden start: the answer, computed once per grading run."""
    V, W, H = kl_inputs(seed, M, N, K)
    if fixed:
        return nh.nmf_kl(V, K, n_iter=n_iter, W_fixed=W, H_init=H)
    return nh.nmf_kl(V, K, n_iter=n_iter, W_init=W, H_init=H)


def kl_divergence(V, WH) -> float:
    """``D(V || WH)`` in float64, with the package's floor at ``nh.EPS``."""
    V, WH = V.astype(np.float64), np.maximum(WH.astype(np.float64), nh.EPS)
    return float(np.sum(V * np.log(np.maximum(V / WH, nh.EPS)) - V + WH))


# ---------------------------------------------------------------- comparisons


def _array(saved: dict, name: str, shape: tuple) -> np.ndarray:
    if name not in saved:
        raise Wrong(f"no array {name!r} was saved")
    array = saved[name]
    if array.shape != shape:
        raise Wrong(f"{name} has shape {array.shape}, expected {shape}")
    if array.dtype.kind not in "fiu":
        raise Wrong(f"{name} holds {array.dtype}, not numbers")
    if not np.isfinite(array).all():
        raise Wrong(f"{name} contains NaN or Inf")
    return array.astype(np.float64)


def _close(name: str, got, expected, rtol: float, atol_of_peak: float = 1e-5) -> None:
    expected = np.asarray(expected, dtype=np.float64)
    atol = atol_of_peak * float(np.abs(expected).max())
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        gap = np.abs(got - expected).max() / max(float(np.abs(expected).max()), 1e-300)
        raise Wrong(f"{name} differs from the reference by up to {gap:.2g} of its peak")


def _identical(name: str, got, expected) -> None:
    if not np.array_equal(got, np.asarray(expected, dtype=np.float64)):
        changed = int(np.count_nonzero(got != expected))
        raise Wrong(f"{name} is not bit-identical to the W given ({changed} entries changed)")


# ---------------------------------------------------------------- the tests


def _task1_matches_engine(saved):
    W_ref, H_ref, losses_ref = _reference_kl(7101, 48, 36, 5, 40, False)
    _close("W", _array(saved, "W", W_ref.shape), W_ref, RTOL_FACTORS)
    _close("H", _array(saved, "H", H_ref.shape), H_ref, RTOL_FACTORS)
    _close("losses", _array(saved, "losses", losses_ref.shape), losses_ref, RTOL_LOSSES, 0)


def _task1_loss_never_rises(saved):
    V, _, _ = kl_inputs(7102, 60, 50, 8)
    W, H = _array(saved, "W", (60, 8)), _array(saved, "H", (8, 50))
    losses = _array(saved, "losses", (150,))
    rises = np.diff(losses)
    if rises.max() > 1e-6 * abs(losses[0]):
        raise Wrong(f"the loss rose by up to {rises.max():.3g} in one iteration")
    if W.min() < 0 or H.min() < 0:
        raise Wrong("W or H has negative entries")
    actual = kl_divergence(V, W @ H)
    if not np.isclose(losses[-1], actual, rtol=RTOL_LOSSES):
        raise Wrong(f"the last loss {losses[-1]:.6g} is not D(V || WH) = {actual:.6g}")


def _task2_one_component(saved):
    W, H = factor_inputs(7201, 48, 36, 6)
    H[4] = 0
    W64, H64 = W.astype(np.float64), H.astype(np.float64)
    parts = _array(saved, "parts", (6, 48, 36))
    for k in range(6):
        _close(f"component {k}", parts[k], np.outer(W64[:, k], H64[k]), 1e-5, 1e-6)


def _task2_group(saved):
    W, H = factor_inputs(7202, 48, 36, 6)
    W64, H64 = W.astype(np.float64), H.astype(np.float64)
    groups = _array(saved, "groups", (3, 48, 36))
    for i, ks in enumerate(([1, 4], [0, 2, 3, 5], [5])):
        _close(f"the group {ks}", groups[i], W64[:, ks] @ H64[ks], 1e-5, 1e-6)


def _task2_inputs_untouched(saved):
    W, H = factor_inputs(7203, 48, 36, 6)
    if not np.array_equal(_array(saved, "W", W.shape), W):
        raise Wrong("component changed the W it was given")
    if not np.array_equal(_array(saved, "H", H.shape), H):
        raise Wrong("component changed the H it was given (zero the rows of a copy)")


def _task3_W_stays_fixed(saved):
    _, W, _ = kl_inputs(7301, 48, 36, 5)
    _identical("the W returned", _array(saved, "W", W.shape), W)
    _identical("the W passed in", _array(saved, "W_given", W.shape), W)


def _task3_H_matches_engine(saved):
    _, H_ref, losses_ref = _reference_kl(7302, 60, 50, 8, 60, True)
    _close("H", _array(saved, "H", H_ref.shape), H_ref, RTOL_FACTORS)
    _close("losses", _array(saved, "losses", losses_ref.shape), losses_ref, RTOL_LOSSES, 0)


TESTS = (
    Test("task1_matches_engine", "1_kl_nmf", 1, 4,
         "KL updates reach nh.nmf_kl's W, H, losses", _task1_matches_engine),
    Test("task1_loss_never_rises", "1_kl_nmf", 1, 2,
         "the loss is D(V || WH) and never rises", _task1_loss_never_rises),
    Test("task2_one_component", "2_separating_components", 2, 4,
         "a component is W[:, k] H[k, :]", _task2_one_component),
    Test("task2_group", "2_separating_components", 2, 2,
         "a group is W[:, ks] H[ks, :]", _task2_group),
    Test("task2_inputs_untouched", "2_separating_components", 2, 2,
         "W and H are left as given", _task2_inputs_untouched),
    Test("task3_W_stays_fixed", "3_sample_processing", 3, 2,
         "W stays bit-identical when fixed", _task3_W_stays_fixed),
    Test("task3_H_matches_engine", "3_sample_processing", 3, 2,
         "H and losses of nh.nmf_kl(W_fixed=W)", _task3_H_matches_engine),
)  # fmt: skip

#: Graded by hand (points, the rubric in rubric.md).
WRITTEN = (
    Test("task1_written", "1_kl_nmf", 1, 4, "what changes with K, and why", None),
    Test("task3_written", "3_sample_processing", 3, 2, "fixed W vs learning both", None),
    Test("task4_written", "4_ethics", 4, 4, "the ethics discussion", None),
)  # fmt: skip


def load_saved(path: Path) -> dict:
    """The arrays of one ``.npz`` a hidden test saved, read without unpickling.

    Raises :class:`Wrong` if it is missing, not a regular file (a link could
    point anywhere) or not a plain ``.npz``.
    """
    try:
        if not path.is_file() or path.is_symlink():
            raise Wrong("no result was saved (the test cell failed, timed out or was not run)")
        if os.path.getsize(path) > 64 * 2**20:
            raise Wrong("the saved result is far too large")
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except Wrong:
        raise
    except Exception as error:  # any unreadable file: no credit, never a crash
        raise Wrong(f"the saved result cannot be read ({type(error).__name__})") from None


def judge(results_dir: Path) -> dict[str, tuple[float, str]]:
    """The points of every test in :data:`TESTS` from the files in ``results_dir``.

    Returns
    -------
    dict
        ``{grade_id: (points, note)}``, the note ``"ok"`` or why no points.
    """
    scores = {}
    for test in TESTS:
        try:
            test.check(load_saved(Path(results_dir) / f"grading_{test.grade_id}.npz"))
        except Wrong as wrong:
            scores[test.grade_id] = (0.0, str(wrong))
        else:
            scores[test.grade_id] = (float(test.points), "ok")
    return scores
