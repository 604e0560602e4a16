"""The automatic points: the hidden tests' results, judged outside the student's kernel.

A hidden test cell only calls the student's function on inputs fixed by a
seed (fresh copies for each call) and saves what comes back
(``grading_<test>.npz`` in the submission's working folder). This module, in
the grader's own process, rebuilds the same inputs, computes what the answer
must be and compares. Nothing the submission does inside its kernel
(patching ``np.allclose``, editing a test) can change the comparison, only
the arrays it saved, and those must be right.

What a test judges is what defines its task, not one way to code it:

* **One update.** The KL cells also save one iteration from the hidden
  start (``n_iter=1``). It must be one multiplicative update of W then H
  *or* of H then W (Lee & Seung's own order), which :func:`kl_update`
  computes here in float64; any dtype, floor or vectorisation of a correct
  update lands within float32 rounding (:data:`RTOL_STEP`) of one of them.
* **The path.** The long fit must then follow that same order's path: the
  package's ``nh.nmf_kl`` for W then H (and for a fixed W, where only H is
  updated and the order does not matter), :func:`kl_path` in float64 for
  H then W. The losses are ``D(V || WH)`` after each update.
* **The loss test** checks the student's losses against the divergence of
  the student's own factors (after the first iteration and the last), that
  the fit really fell below the start's divergence and never rose; a
  function that hands back its inputs earns nothing here either.
* **Components** are compared with ``W[:, k] H[k, :]``; untouched inputs
  earn their points only from a ``component`` that works.

Every lost point has a note (:func:`judge`), and a recognisable mistake a
hint the student can act on (NaN from ``0 log 0``, the loss recorded before
the update, a fixed W updated, Euclidean updates, the inputs changed in
place, ...). Notes are shown to the student, so they are built from fixed
text, the expected shapes and iteration counts only: never a value of the
hidden inputs or a seed, never a number computed from the arrays the student
saved, never text the student chose (an exception's message or class name,
see :func:`explain_error`), which could smuggle the hidden inputs out.

Each entry of :data:`TESTS` is one graded test cell of the notebooks
(its ``grade_id``), with its notebook, task and points; the input recipes
here and in the hidden cells are the same lines, and the tests check that
the solution notebooks and many other correct answers get every point.
"""

from __future__ import annotations

import builtins
import functools
import math
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import nmf_helpers as nh

#: Relative tolerance of one update from the hidden start: room for float32 rounding of one
#: step, far below how much a wrong update (Euclidean, a stale ratio, a fixed W updated)
#: moves the factors; tests/test_course_judge.py holds both sides of that margin.
RTOL_STEP = 1e-4
#: Relative tolerances of a path of 40 to 60 updates and of its losses: rounding grows along
#: a path, another path (the other order, a wrong update) diverges by orders of magnitude.
RTOL_FACTORS, RTOL_LOSSES = 1e-3, 1e-4
#: A loss that goes up by more than ``RISE * losses[0]`` in one iteration has risen (a
#: correct fit falls by far more than that in every iteration); a fit whose last divergence
#: is above ``FALL * D(V || W0 H0)`` did not fit at all (a function handing back its start).
RISE, FALL = 1e-6, 0.99

#: The updates a note points the student to.
KL_UPDATES = "W <- W * ((V / WH) H^T) / (1 H^T) and H <- H * (W^T (V / WH)) / (W^T 1)"

# The hints: fixed text, shown to the student.
NAN_LOSS = (
    "the losses hold NaN: V has zeros, and 0 log 0 counts as 0, but a floor on WH alone"
    " leaves V * log(V / WH) = 0 * -inf = NaN where V == 0; floor the ratio too"
    " (np.log(np.maximum(V / WH, eps))) or sum only where V > 0"
)
NAN_FACTORS = (
    "W or H holds NaN or Inf: after one update W H is 0 in the silent bin and frame, and"
    " V / WH is then 0 / 0; divide by np.maximum(W @ H, eps), and add eps to the sums"
)
LOSS_BEFORE = (
    "losses[i] is the divergence of the factors before update i; it must be D(V || WH)"
    " after update i (compute the loss after updating W and H)"
)
NO_UPDATE = (
    "the W and H returned are the W and H given: the updates are not applied (or not"
    " returned), so the loss cannot fall"
)
EUCLIDEAN = "these are the Euclidean updates (V H^T / (W H H^T)); the KL ones are " + KL_UPDATES
STALE_RATIO = (
    "the second update used V / WH of before the first one: form W @ H again after"
    " updating W (or H), as Lee & Seung's updates do"
)
W_UPDATED = (
    "W is updated although fix_W=True: with a fixed W only H is updated (skip W's update;"
    " do not rescale or normalise W)"
)
W_NOT_UPDATED = "W was not updated: each iteration updates W and H"
H_NOT_UPDATED = "H was not updated: each iteration updates W and H"
KL_FORMULA = "D(V || WH) = sum of V log(V / WH) - V + WH, 0 log 0 counting as 0"
W_T_ONE = (
    "W^T 1 is W.sum(axis=0), one sum per component (shape (K,)); H's update divides a"
    " (K, N) array by it, so make it a column: W.sum(axis=0)[:, None], shape (K, 1)"
    " (W.sum(axis=1) sums over the components instead; 1 H^T is H.sum(axis=1))"
)
COPY_H = (
    "component changed the H it was given: zero the rows of a new array"
    " (np.zeros_like(H), or H.copy()), never of H itself"
)

#: The functions each task asks for, and how its hidden tests call them, named in the notes.
FUNCTIONS = {
    1: "kl_divergence and kl_nmf(V, W, H, n_iter=100)",
    2: "component(W, H, ks)",
    3: "kl_divergence and kl_nmf(V, W, H, n_iter=100, fix_W=False)",
}
CALLS = {
    1: "kl_nmf(V, W, H, n_iter=...)",
    2: "component(W, H, ks) with ks one int or a list of ints",
    3: "kl_nmf(V, W, H, n_iter=..., fix_W=True)",
}
KL_SHAPES = (
    "V is (M, N), W (M, K), H (K, N): check the transposes ((V / WH) H^T is (M, K),"
    " W^T (V / WH) is (K, N))"
)
SHAPES = {1: KL_SHAPES, 2: "W[:, ks] is (M, len(ks)) and H[ks] is (len(ks), N)", 3: KL_SHAPES}


class Wrong(Exception):
    """The saved result is missing or wrong; the message says how (fixed text only)."""


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
    floors are exercised: after one update W H is 0 there.
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


# ---------------------------------------------------------------- the references


def kl_divergence(V, WH) -> float:
    """``D(V || WH)`` in float64, with the package's floor at ``nh.EPS``."""
    V, WH = V.astype(np.float64), np.maximum(WH.astype(np.float64), nh.EPS)
    return float(np.sum(V * np.log(np.maximum(V / WH, nh.EPS)) - V + WH))


def kl_update(V, W, H, *, order: str = "WH", fix_W: bool = False, rule: str = "kl"):
    """One multiplicative update of ``(W, H)`` in float64: the judge's own reference.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), non-negative]
    W : np.ndarray [shape=(M, K), non-negative]
    H : np.ndarray [shape=(K, N), non-negative]
    order : {"WH", "HW"}
        Which factor is updated first.
    fix_W : bool
        Update H only.
    rule : {"kl", "euclidean", "stale"}
        Lee & Seung's KL updates, each with the ratio ``V / WH`` of the
        current factors; their Euclidean updates; or KL with the ratio formed
        once per iteration (a mistake the notes recognise).

    Returns
    -------
    W, H : np.ndarray [float64]
    """
    V, W, H = (np.asarray(array, dtype=np.float64) for array in (V, W, H))
    R = None
    for factor in order:
        if factor == "W" and fix_W:
            continue
        if rule == "euclidean":
            if factor == "W":
                W = W * (V @ H.T) / (W @ (H @ H.T) + nh.EPS)
            else:
                H = H * (W.T @ V) / ((W.T @ W) @ H + nh.EPS)
            continue
        if R is None or rule == "kl":
            R = V / np.maximum(W @ H, nh.EPS)
        if factor == "W":  # (1 H^T)_mk = sum_n H_kn
            W = W * (R @ H.T) / (H.sum(axis=1) + nh.EPS)
        else:  # (W^T 1)_kn = sum_m W_mk
            H = H * (W.T @ R) / (W.sum(axis=0)[:, None] + nh.EPS)
    return W, H


def kl_path(V, W, H, n_iter: int, *, order: str = "WH", fix_W: bool = False):
    """``n_iter`` KL updates (:func:`kl_update`) from ``(W, H)``, in float64.

    Returns
    -------
    W, H : np.ndarray [float64]
        After the last update.
    losses : np.ndarray [shape=(n_iter,)]
        ``D(V || WH)`` after each update.
    """
    losses = np.empty(n_iter)
    for i in range(n_iter):
        W, H = kl_update(V, W, H, order=order, fix_W=fix_W)
        losses[i] = kl_divergence(V, W @ H)
    return W, H, losses


@functools.cache
def _reference(seed, M, N, K, n_iter, order, fix_W):
    """The answer from the hidden start, computed once per grading run.

    W then H (and any fixed W) is the package's ``nh.nmf_kl``; H then W is
    :func:`kl_path`.
    """
    V, W, H = kl_inputs(seed, M, N, K)
    if fix_W:
        return nh.nmf_kl(V, K, n_iter=n_iter, W_fixed=W, H_init=H)
    if order == "WH":
        return nh.nmf_kl(V, K, n_iter=n_iter, W_init=W, H_init=H)
    return kl_path(V, W, H, n_iter, order=order)


# ---------------------------------------------------------------- comparisons


def prepare() -> None:
    """Compute every reference now (the grader does, before it forks a process per student)."""
    for order in ("WH", "HW"):
        _reference(7101, 48, 36, 5, 40, order, False)
    _reference(7302, 60, 50, 8, 60, "WH", True)


def _array(saved: dict, name: str, shape: tuple, label: str, nan_hint: str = "") -> np.ndarray:
    """``saved[name]`` as float64 if it has ``shape`` and only finite numbers."""
    if name not in saved:
        raise Wrong(f"no array {name!r} was saved")
    array = saved[name]
    if array.shape != shape:
        transposed = " (it is transposed)" if array.shape == shape[::-1] else ""
        raise Wrong(f"{label} does not have the shape {shape} expected{transposed}")
    if array.dtype.kind not in "fiu":
        raise Wrong(f"{label} does not hold plain numbers")
    if not np.isfinite(array).all():
        if nan_hint is NAN_LOSS and not np.isnan(array).all():
            nan_hint = ""  # 0 log 0 makes every loss NaN, not some of them
        raise Wrong(nan_hint or f"{label} contains NaN or Inf")
    return array.astype(np.float64)


def _near(got, expected, rtol: float, atol_of_peak: float = 1e-5) -> bool:
    """``got`` within ``rtol`` of ``expected``, and ``atol_of_peak`` of its peak near 0."""
    expected = np.asarray(expected, dtype=np.float64)
    atol = atol_of_peak * float(np.abs(expected).max(initial=0.0))
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=rtol, atol=atol))


def _step_is(step, W1, H1) -> bool:
    """The factors of one update, ``step``, are (W1, H1) (``W1`` None: H alone is compared)."""
    W, H = step
    return (W1 is None or _near(W1, W, RTOL_STEP, 1e-6)) and _near(H1, H, RTOL_STEP, 1e-6)


def _mistake(V, W0, H0, W1, H1, *, fix_W: bool = False) -> str:
    """The hint for the known wrong step from (W0, H0) that (W1, H1) is, or ``""``."""
    mistakes = [((W0, H0), NO_UPDATE)]
    if fix_W:
        mistakes.append((kl_update(V, W0, H0), W_UPDATED))
    else:
        mistakes.append((kl_update(V, W0, H0, fix_W=True), W_NOT_UPDATED))
        mistakes.append(((kl_update(V, W0, H0)[0], H0), H_NOT_UPDATED))
    for order in ("WH",) if fix_W else ("WH", "HW"):
        for rule, hint in (("euclidean", EUCLIDEAN), ("stale", STALE_RATIO)):
            mistakes.append((kl_update(V, W0, H0, order=order, fix_W=fix_W, rule=rule), hint))
    return next((hint for step, hint in mistakes if _step_is(step, W1, H1)), "")


def _first_update(V, W0, H0, W1, H1, *, fix_W: bool = False) -> str:
    """The order (``"WH"`` or ``"HW"``) whose KL update from (W0, H0) gives (W1, H1).

    ``W1`` is None when only H was saved (a fixed W). Raises :class:`Wrong`
    naming the mistake the step matches, if any.
    """
    for order in ("WH",) if fix_W else ("WH", "HW"):
        if _step_is(kl_update(V, W0, H0, order=order, fix_W=fix_W), W1, H1):
            return order
    hint = _mistake(V, W0, H0, W1, H1, fix_W=fix_W)
    if hint:
        raise Wrong(f"the first iteration is wrong: {hint}")
    raise Wrong(
        "one iteration from the start given is not one KL multiplicative update"
        f" ({'of H' if fix_W else 'of W then H, or H then W'}) beyond float32 rounding;"
        f" the updates: {KL_UPDATES}"
    )


def _check_losses(losses, expected, D0: float) -> None:
    """The losses of a path that is right: ``D(V || WH)`` after each update."""
    if _near(losses, expected, RTOL_LOSSES, 0):
        return
    if _near(losses, np.concatenate([[D0], expected[:-1]]), RTOL_LOSSES, 0):
        raise Wrong(LOSS_BEFORE)
    raise Wrong(
        f"W and H are right but the losses are not D(V || WH) after each update: {KL_FORMULA}"
    )


def _check_path(label: str, got, expected, n_iter: int, order: str) -> None:
    """Factors after ``n_iter`` updates, whose first update was right, against the path."""
    if not _near(got, expected, RTOL_FACTORS):
        how = {"WH": "W then H", "HW": "H then W", "fixed": "H only"}[order]
        raise Wrong(
            f"the first iteration is right (updating {how}), but after {n_iter} iterations"
            f" {label} is not where those updates lead, beyond float32 rounding: does each"
            " iteration start from the W and H the one before left"
            + (", and W stay fixed?" if order == "fixed" else "?")
        )


# ---------------------------------------------------------------- the tests


def _task1_matches_engine(saved):
    V, W0, H0 = kl_inputs(7101, 48, 36, 5)
    W1 = _array(saved, "W_one", W0.shape, "W after one iteration", NAN_FACTORS)
    H1 = _array(saved, "H_one", H0.shape, "H after one iteration", NAN_FACTORS)
    W = _array(saved, "W", W0.shape, "W after 40 iterations", NAN_FACTORS)
    H = _array(saved, "H", H0.shape, "H after 40 iterations", NAN_FACTORS)
    losses = _array(saved, "losses", (40,), "losses (one per iteration)", NAN_LOSS)
    order = _first_update(V, W0, H0, W1, H1)
    W_ref, H_ref, losses_ref = _reference(7101, 48, 36, 5, 40, order, False)
    _check_path("W", W, W_ref, 40, order)
    _check_path("H", H, H_ref, 40, order)
    _check_losses(losses, losses_ref, kl_divergence(V, W0 @ H0))


def _task1_loss_never_rises(saved):
    V, W0, H0 = kl_inputs(7102, 60, 50, 8)
    W1 = _array(saved, "W_one", W0.shape, "W after one iteration", NAN_FACTORS)
    H1 = _array(saved, "H_one", H0.shape, "H after one iteration", NAN_FACTORS)
    first = _array(saved, "losses_one", (1,), "the loss of one iteration", NAN_LOSS)[0]
    W = _array(saved, "W", W0.shape, "W after 150 iterations", NAN_FACTORS)
    H = _array(saved, "H", H0.shape, "H after 150 iterations", NAN_FACTORS)
    losses = _array(saved, "losses", (150,), "losses (one per iteration)", NAN_LOSS)
    D0, D1, D = (kl_divergence(V, a @ b) for a, b in ((W0, H0), (W1, H1), (W, H)))
    for W_got, H_got in ((W1, H1), (W, H)):
        if _near(W_got, W0, RTOL_STEP) and _near(H_got, H0, RTOL_STEP):
            raise Wrong(NO_UPDATE)
    if D > FALL * D0:
        raise Wrong("the fit does not lower D(V || WH) below that of the start given")
    if not np.isclose(first, D1, rtol=RTOL_LOSSES):
        if np.isclose(first, D0, rtol=RTOL_LOSSES):
            raise Wrong(LOSS_BEFORE)
        raise Wrong(f"losses[0] is not D(V || WH) of the W, H after one iteration: {KL_FORMULA}")
    if not np.isclose(losses[-1], D, rtol=RTOL_LOSSES):
        raise Wrong(f"the last loss is not D(V || WH) of the W, H returned: {KL_FORMULA}")
    if np.diff(losses).max() > RISE * abs(losses[0]):
        hint = _mistake(V, W0, H0, W1, H1)
        raise Wrong(
            "the loss rose in an iteration (beyond float32 rounding): KL's updates never"
            f" raise D(V || WH){'; ' + hint if hint else ''}"
        )
    if W.min() < 0 or H.min() < 0:
        raise Wrong("W or H has negative entries")


def _task2_one_component(saved):
    W, H = factor_inputs(7201, 48, 36, 6)
    H[4] = 0
    W64, H64 = W.astype(np.float64), H.astype(np.float64)
    parts = _array(
        saved, "parts", (6, 48, 36), "the components (each of shape (M, N))",
        "a component contains NaN or Inf (one row of H is all zeros: its component is 0)",
    )  # fmt: skip
    for k in range(6):
        part = np.outer(W64[:, k], H64[k])
        if _near(parts[k], part, 1e-5, 1e-6):
            continue
        if _near(parts[k], W64 @ H64, 1e-5, 1e-6):
            raise Wrong("component(W, H, k) returned all of W H: keep row k of H only")
        if _near(parts[k], W64 @ H64 - part, 1e-5, 1e-6):
            raise Wrong(
                "component(W, H, k) kept every component but k: keep row k, zero the others"
            )
        raise Wrong("component(W, H, k) is not W[:, k] H[k, :], the outer product of column k"
                    " of W and row k of H")  # fmt: skip


def _task2_group(saved):
    W, H = factor_inputs(7202, 48, 36, 6)
    W64, H64 = W.astype(np.float64), H.astype(np.float64)
    groups = _array(saved, "groups", (3, 48, 36), "the groups (each of shape (M, N))")
    for i, ks in enumerate(([1, 4], [0, 2, 3, 5], [5])):
        if _near(groups[i], W64[:, ks] @ H64[ks], 1e-5, 1e-6):
            continue
        if _near(groups[i], np.outer(W64[:, ks[0]], H64[ks[0]]), 1e-5, 1e-6):
            raise Wrong("component(W, H, ks) for a list ks kept only its first member: a group"
                        " is the sum of its members, W[:, ks] H[ks, :]")  # fmt: skip
        raise Wrong("component(W, H, ks) for a list ks is not W[:, ks] H[ks, :], the sum of"
                    " its members' components")  # fmt: skip


def _task2_inputs_untouched(saved):
    W, H = factor_inputs(7203, 48, 36, 6)
    if not np.array_equal(_array(saved, "W", W.shape, "W after the calls"), W):
        raise Wrong("component changed the W it was given: leave W as it is")
    if not np.array_equal(_array(saved, "H", H.shape, "H after the calls"), H):
        raise Wrong(COPY_H)
    W64, H64 = W.astype(np.float64), H.astype(np.float64)
    part = _array(saved, "part", (48, 36), "component(W, H, k)")
    group = _array(saved, "group", (48, 36), "component(W, H, ks)")
    if not (_near(part, np.outer(W64[:, 2], H64[2]), 1e-5, 1e-6)
            or _near(group, W64[:, [0, 5]] @ H64[[0, 5]], 1e-5, 1e-6)):  # fmt: skip
        raise Wrong(
            "W and H are untouched, but component returned no right component"
            " (W[:, ks] H[ks, :]): untouched inputs earn points from a component that works"
        )


def _task3_W_stays_fixed(saved):
    V, W0, H0 = kl_inputs(7301, 48, 36, 5)
    if not np.array_equal(_array(saved, "W", W0.shape, "the W returned"), W0):
        raise Wrong(f"the W returned is not the W given, bit for bit: {W_UPDATED}")
    if not np.array_equal(_array(saved, "W_given", W0.shape, "the W passed in"), W0):
        raise Wrong("kl_nmf changed the W passed in: work on a copy (W.copy())")
    H = _array(saved, "H", H0.shape, "the H returned", NAN_FACTORS)
    if kl_divergence(V, W0 @ H) > FALL * kl_divergence(V, W0 @ H0):
        raise Wrong(
            "W stays fixed, but H was not learned (D(V || WH) did not fall): with"
            " fix_W=True, H is still updated every iteration"
        )


def _task3_H_matches_engine(saved):
    V, W0, H0 = kl_inputs(7302, 60, 50, 8)
    H1 = _array(saved, "H_one", H0.shape, "H after one iteration", NAN_FACTORS)
    H = _array(saved, "H", H0.shape, "H after 60 iterations", NAN_FACTORS)
    losses = _array(saved, "losses", (60,), "losses (one per iteration)", NAN_LOSS)
    _first_update(V, W0, H0, None, H1, fix_W=True)
    _, H_ref, losses_ref = _reference(7302, 60, 50, 8, 60, "WH", True)
    _check_path("H", H, H_ref, 60, "fixed")
    _check_losses(losses, losses_ref, kl_divergence(V, W0 @ H0))


TESTS = (
    Test("task1_matches_engine", "1_kl_nmf", 1, 4,
         "KL updates (W then H, or H then W) reach their path's W, H, losses",
         _task1_matches_engine),
    Test("task1_loss_never_rises", "1_kl_nmf", 1, 2,
         "the loss is D(V || WH), falls and never rises", _task1_loss_never_rises),
    Test("task2_one_component", "2_separating_components", 2, 4,
         "a component is W[:, k] H[k, :]", _task2_one_component),
    Test("task2_group", "2_separating_components", 2, 2,
         "a group is W[:, ks] H[ks, :]", _task2_group),
    Test("task2_inputs_untouched", "2_separating_components", 2, 2,
         "W and H are left as given", _task2_inputs_untouched),
    Test("task3_W_stays_fixed", "3_sample_processing", 3, 2,
         "W stays bit-identical when fixed, H is learned", _task3_W_stays_fixed),
    Test("task3_H_matches_engine", "3_sample_processing", 3, 2,
         "H and losses of nh.nmf_kl(W_fixed=W)", _task3_H_matches_engine),
)  # fmt: skip

#: Graded by hand (points, the rubric in rubric.md).
WRITTEN = (
    Test("task1_written", "1_kl_nmf", 1, 4, "what changes with K, and why", None),
    Test("task3_written", "3_sample_processing", 3, 2, "fixed W vs learning both", None),
    Test("task4_written", "4_ethics", 4, 4, "the ethics discussion", None),
)  # fmt: skip

_TASKS = {test.grade_id: test.task for test in TESTS}

#: Names of the exceptions a note may repeat: Python's own, which a student cannot rename.
_BUILTIN_ERRORS = frozenset(
    name
    for name in dir(builtins)
    if isinstance(getattr(builtins, name), type)
    and issubclass(getattr(builtins, name), BaseException)
)


def explain_error(grade_id: str, ename: str, evalue: str) -> str:
    """A note for a hidden test cell that raised instead of saving a result.

    The student's code chose ``ename`` and ``evalue`` (a custom exception
    class, any message), so neither is repeated: the exception is named only
    if ``ename`` is one of Python's built-in exceptions, and ``evalue`` only
    selects a fixed hint for a recognisable mistake.

    Parameters
    ----------
    grade_id : str
        The test cell, one of :data:`TESTS`.
    ename, evalue : str
        The exception's class name and message, as the cell's error output
        holds them.

    Returns
    -------
    str
        ``"the test cell raised ValueError: <hint>"``, fixed text only.
    """
    ename, evalue = str(ename), str(evalue)
    task = _TASKS.get(grade_id, 0)
    name = ename if ename in _BUILTIN_ERRORS else "an exception"
    functions = FUNCTIONS.get(task, "the task's functions")
    text = evalue.lower()
    hint = ""
    if "switched off while grading" in text:
        hint = (
            "the package's functions (nh.nmf_kl, nh.component, ...) are switched off while"
            " grading: the task asks for the numpy code itself"
        )
    elif ename == "NotImplementedError":
        hint = "the stub was not replaced: write your code in place of raise NotImplementedError()"
    elif ename == "NameError":
        hint = (
            f"a name is not defined: define {functions} in the answer cell, as spelled there,"
            " and run it (and the first cell, which imports numpy as np)"
        )
    elif ename == "ValueError" and "broadcast" in text:
        hint = W_T_ONE if task in (1, 3) else f"the shapes do not fit: {SHAPES[2]}"
    elif ename == "ValueError" and ("matmul" in text or "not aligned" in text):
        hint = f"a matrix product of shapes that do not fit: {SHAPES.get(task, '')}"
    elif ename == "ValueError" and "unpack" in text and task in (1, 3):
        hint = "kl_nmf must return three things: W, H, losses"
    elif ename == "ValueError" and "same shape" in text and task == 2:
        hint = "component must return one array of shape (M, N) for any ks"
    elif ename == "TypeError" and "argument" in text and task in CALLS:
        hint = f"the hidden test calls {CALLS[task]}: keep that signature"
    elif ename == "TypeError":
        hint = f"a value of the wrong type (None?): {functions} take and return numpy arrays"
    elif ename == "IndexError":
        hint = "an index out of range" + (
            ": ks is one int or a list of ints, rows of H" if task == 2 else ""
        )
    elif ename in ("ZeroDivisionError", "FloatingPointError"):
        hint = "a division by zero: floor W H (np.maximum(W @ H, eps)) and add eps to the sums"
    return f"the test cell raised {name}" + (f": {hint}" if hint else "")


#: The note of a test whose cell saved nothing (the grader names the cause where it knows it).
NOT_SAVED = "no result was saved (the test cell failed, timed out or was not run)"
#: The most a saved result may hold, packed or unpacked.
SAVED_BYTES = 64 * 2**20


def _check_unpacked_size(path: Path) -> None:
    """Refuse an ``.npz`` that would unpack to more than :data:`SAVED_BYTES` (a zip bomb).

    Both what the archive says of each member and what each array's own
    header says of its shape are checked before any array is read.
    """
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > 32 or sum(m.file_size for m in members) > SAVED_BYTES:
            raise Wrong("the saved result is far too large")
        for member in members:
            with archive.open(member) as handle:
                version = np.lib.format.read_magic(handle)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(handle)
                if math.prod(shape) * dtype.itemsize > SAVED_BYTES:
                    raise Wrong("the saved result is far too large")


def load_saved(path: Path) -> dict:
    """The arrays of one ``.npz`` a hidden test saved, read without unpickling.

    Raises :class:`Wrong` if it is missing, not a regular file (a link could
    point anywhere), too large or not a plain ``.npz``.
    """
    try:
        if not path.is_file() or path.is_symlink():
            raise Wrong(NOT_SAVED)
        if os.path.getsize(path) > SAVED_BYTES:
            raise Wrong("the saved result is far too large")
        _check_unpacked_size(path)
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except Wrong:
        raise
    except Exception as error:  # any unreadable file: no credit, never a crash
        objects = "object arrays" in str(error).lower()
        raise Wrong(
            "the saved result cannot be read"
            + (": a function returned something that is not a numeric array" if objects else "")
        ) from None


def judge(results_dir: Path, errors: dict | None = None) -> dict[str, tuple[float, str]]:
    """The points of every test in :data:`TESTS` from the files in ``results_dir``.

    Parameters
    ----------
    results_dir : Path
        The submission's working folder, holding ``grading_<grade_id>.npz``.
    errors : dict, optional
        ``{grade_id: (ename, evalue)}``: the exception a hidden test cell
        raised, for the note of a test whose result is missing
        (:func:`explain_error`).

    Returns
    -------
    dict
        ``{grade_id: (points, note)}``, the note ``"ok"`` or why no points
        (fixed text: see the module docstring).
    """
    errors = errors or {}
    scores = {}
    for test in TESTS:
        path = Path(results_dir) / f"grading_{test.grade_id}.npz"
        try:
            if test.grade_id in errors and not (path.exists() or path.is_symlink()):
                raise Wrong(explain_error(test.grade_id, *errors[test.grade_id]))
            test.check(load_saved(path))
        except Wrong as wrong:
            scores[test.grade_id] = (0.0, str(wrong))
        else:
            scores[test.grade_id] = (float(test.points), "ok")
    return scores
