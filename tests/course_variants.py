"""Students' answers to the course's tasks: many right ones, and the usual wrong ones.

Plain data for the course's tests (``tests/test_course_judge.py`` runs each
answer and the notebooks' hidden tests in-process; whole submissions can be
built from it too). Each answer is the full source of a notebook's answer cell,
written as a student would, for the cell of that ``grade_id``:

* ``1_kl_nmf``, ``task1_code``: ``kl_divergence(V, WH)`` and
  ``kl_nmf(V, W, H, n_iter=100)``;
* ``2_separating_components``, ``task2_code``: ``component(W, H, ks)``;
* ``3_sample_processing``, ``task3_code``: ``kl_divergence(V, WH)`` and
  ``kl_nmf(V, W, H, n_iter=100, fix_W=False)``.

The cells run after the notebook's first cell (``import os``, ``numpy as np``,
``nmf_helpers as nh``); while grading, only ``nh.EPS`` of the package works.

:data:`CORRECT` ``{name: {notebook: {grade_id: source}}}``: each must earn
every automatic point of its notebooks.

:data:`WRONG` ``{name: Mistake(codes, points, hints)}``: ``codes`` as in
:data:`CORRECT`; ``points`` ``{grade_id: points}``, exactly what each test of
those notebooks earns; ``hints`` ``{grade_id: substring}``, what the note of a
test that loses points must say.
"""

from __future__ import annotations

from typing import NamedTuple

NB1, NB2, NB3 = "1_kl_nmf", "2_separating_components", "3_sample_processing"
CELL = {NB1: "task1_code", NB2: "task2_code", NB3: "task3_code"}

# ---------------------------------------------------------------- pieces of answers

#: The solution's divergence: WH floored, and the ratio floored (0 log 0 = 0).
DIVERGENCE = '''\
def kl_divergence(V, WH):
    """D(V || WH) = sum of V log(V / WH) - V + WH, with WH floored at nh.EPS."""
    WH = np.maximum(WH, nh.EPS)
    return float(np.sum(V * np.log(np.maximum(V / WH, nh.EPS)) - V + WH, dtype=np.float64))
'''


def answer(*parts: str) -> str:
    """One cell's source from its functions, two blank lines apart."""
    return "\n\n".join(part.rstrip("\n") + "\n" for part in parts)


# ---------------------------------------------------------------- right answers

H_THEN_W = answer(
    DIVERGENCE,
    '''\
def kl_nmf(V, W, H, n_iter=100):
    """KL NMF by multiplicative updates from (W, H); returns new (W, H, losses)."""
    W, H = W.copy(), H.copy()
    losses = np.zeros(n_iter)
    for i in range(n_iter):
        # Lee & Seung's order: first H, then W
        H = H * (W.T @ (V / np.maximum(W @ H, nh.EPS))) / (W.sum(axis=0)[:, None] + nh.EPS)
        W = W * ((V / np.maximum(W @ H, nh.EPS)) @ H.T) / (H.sum(axis=1) + nh.EPS)
        losses[i] = kl_divergence(V, W @ H)
    return W, H, losses
''',
)

FLOAT64_ONES = '''\
def kl_divergence(V, WH):
    """Generalised KL divergence, 0 log 0 = 0, in float64."""
    V = np.asarray(V, dtype=np.float64)
    WH = np.maximum(np.asarray(WH, dtype=np.float64), 1e-12)
    total = WH - V
    positive = V > 0
    total[positive] += V[positive] * np.log(V[positive] / WH[positive])
    return float(total.sum())


def kl_nmf(V, W, H, n_iter=100):
    """KL NMF, everything in float64, with the matrix of ones written out."""
    V = V.astype(np.float64)
    W = W.astype(np.float64)
    H = H.astype(np.float64)
    ones = np.ones_like(V)
    losses = []
    for _ in range(n_iter):
        W *= ((V / np.maximum(W @ H, 1e-12)) @ H.T) / (ones @ H.T)
        H *= (W.T @ (V / np.maximum(W @ H, 1e-12))) / (W.T @ ones)
        losses.append(kl_divergence(V, W @ H))
    return W, H, np.array(losses)
'''

EINSUM = '''\
EPSILON = 1e-9


def kl_divergence(V, WH):
    """sum V log(V / WH) - V + WH; the epsilon keeps V = 0 at 0 * log(small) = 0."""
    terms = V * np.log((V + EPSILON) / (WH + EPSILON)) - V + WH
    return float(np.einsum("mn->", terms, dtype=np.float64))


def kl_nmf(V, W, H, n_iter=100):
    """KL NMF with einsum for every product; the losses kept in float32."""
    W = W.copy()
    H = H.copy()
    losses = np.empty(n_iter, dtype=np.float32)
    for it in range(n_iter):
        R = V / (np.einsum("mk,kn->mn", W, H) + EPSILON)
        W *= np.einsum("mn,kn->mk", R, H) / (np.einsum("kn->k", H) + EPSILON)
        R = V / (np.einsum("mk,kn->mn", W, H) + EPSILON)
        H *= np.einsum("mk,mn->kn", W, R) / (np.einsum("mk->k", W)[:, None] + EPSILON)
        losses[it] = kl_divergence(V, np.einsum("mk,kn->mn", W, H))
    return W, H, losses
'''

OWN_EPSILON_IN_PLACE = """\
eps = 1e-10  # my own epsilon, added to every denominator


def kl_divergence(V, WH):
    WH = WH + eps
    logs = np.where(V > 0, V * np.log(np.where(V > 0, V, 1.0) / WH), 0.0)
    return float(np.sum(logs - V + WH))


def kl_nmf(V, W, H, n_iter=100):
    W = np.array(W, copy=True)
    H = np.array(H, copy=True)
    R = np.empty_like(V)
    losses = np.zeros(n_iter)
    for i in range(n_iter):
        np.divide(V, W @ H + eps, out=R)
        np.multiply(W, R @ H.T, out=W)
        W /= H.sum(axis=1) + eps
        np.divide(V, W @ H + eps, out=R)
        np.multiply(H, W.T @ R, out=H)
        H /= W.sum(axis=0)[:, np.newaxis] + eps
        losses[i] = kl_divergence(V, W @ H)
    return W, H, losses
"""

LOOP_OVER_K = answer(
    DIVERGENCE,
    '''\
def kl_nmf(V, W, H, n_iter=100):
    """One component at a time, as the update formulas read entry by entry."""
    W = np.array(W, dtype=np.float32)
    H = np.array(H, dtype=np.float32)
    K = W.shape[1]
    losses = np.zeros(n_iter)
    for i in range(n_iter):
        R = V / np.maximum(W @ H, nh.EPS)
        for k in range(K):
            W[:, k] = W[:, k] * (R @ H[k]) / (H[k].sum() + nh.EPS)
        R = V / np.maximum(W @ H, nh.EPS)
        for k in range(K):
            H[k] = H[k] * (W[:, k] @ R) / (W[:, k].sum() + nh.EPS)
        losses[i] = kl_divergence(V, W @ H)
    return W, H, losses
''',
)

XLOGY_H_FIRST_FLOAT64 = """\
from scipy.special import xlogy


def kl_divergence(V, WH):
    WH = np.maximum(WH.astype(np.float64), 1e-12)
    V = V.astype(np.float64)
    return float(np.sum(xlogy(V, V) - xlogy(V, WH) - V + WH))


def kl_nmf(V, W, H, n_iter=100):
    V, W, H = (np.array(a, dtype=np.float64) for a in (V, W, H))
    losses = np.empty(n_iter)
    for i in range(n_iter):
        WH = np.maximum(W @ H, 1e-12)
        H *= (W.T @ (V / WH)) / W.sum(axis=0, keepdims=True).T
        WH = np.maximum(W @ H, 1e-12)
        W *= ((V / WH) @ H.T) / H.sum(axis=1, keepdims=True).T
        losses[i] = kl_divergence(V, W @ H)
    return W, H, losses
"""

FIXED_H_FIRST_FLOAT64 = answer(
    DIVERGENCE,
    '''\
def kl_nmf(V, W, H, n_iter=100, fix_W=False):
    """H first, then W unless it is fixed; in float64."""
    V = V.astype(np.float64)
    W = W.astype(np.float64)
    H = H.astype(np.float64)
    losses = np.zeros(n_iter)
    for i in range(n_iter):
        H *= (W.T @ (V / np.maximum(W @ H, 1e-12))) / (W.sum(axis=0)[:, None] + 1e-12)
        if not fix_W:
            W *= ((V / np.maximum(W @ H, 1e-12)) @ H.T) / (H.sum(axis=1) + 1e-12)
        losses[i] = kl_divergence(V, W @ H)
    return W, H, losses
''',
)

FIXED_HELPERS_OWN_EPSILON = """\
EPS_MINE = 1e-9


def kl_divergence(V, WH):
    ratio = np.maximum(V / (WH + EPS_MINE), EPS_MINE)
    return float(np.sum(V * np.log(ratio) - V + WH))


def update_W(V, W, H):
    R = V / (W @ H + EPS_MINE)
    return W * (R @ H.T) / (H.sum(axis=1) + EPS_MINE)


def update_H(V, W, H):
    R = V / (W @ H + EPS_MINE)
    return H * (W.T @ R) / (W.sum(axis=0)[:, None] + EPS_MINE)


def kl_nmf(V, W, H, n_iter=100, fix_W=False):
    losses = np.zeros(n_iter, dtype=np.float32)
    for i in range(n_iter):
        if fix_W:
            H = update_H(V, W, H)
        else:
            W = update_W(V, W, H)
            H = update_H(V, W, H)
        losses[i] = kl_divergence(V, W @ H)
    return W, H, losses
"""

OUTER_PRODUCTS = '''\
def component(W, H, ks):
    """The sum of the outer products W[:, k] H[k, :] over k in ks."""
    total = np.zeros((W.shape[0], H.shape[1]), dtype=W.dtype)
    for k in np.atleast_1d(ks):
        total += np.outer(W[:, k], H[k, :])
    return total
'''

ZERO_H_LOOP = """\
def component(W, H, ks):
    if isinstance(ks, int):
        ks = [ks]
    H_only = np.zeros_like(H)
    for k in ks:
        H_only[k, :] = H[k, :]
    return np.dot(W, H_only)
"""

COLUMNS_FLOAT64 = """\
def component(W, H, ks):
    ks = np.atleast_1d(ks)
    return W[:, ks].astype(np.float64) @ H[ks, :].astype(np.float64)
"""

MASK = """\
def component(W, H, ks):
    keep = np.isin(np.arange(H.shape[0]), ks)  # True for the components in ks
    return (W * keep) @ H
"""

CORRECT = {
    "h_then_w": {NB1: {CELL[NB1]: H_THEN_W}},
    "float64_ones_matrix": {NB1: {CELL[NB1]: FLOAT64_ONES}},
    "einsum_epsilon_added": {NB1: {CELL[NB1]: EINSUM}},
    "own_epsilon_in_place": {NB1: {CELL[NB1]: OWN_EPSILON_IN_PLACE}},
    "loop_over_k": {NB1: {CELL[NB1]: LOOP_OVER_K}},
    "xlogy_h_first_float64": {NB1: {CELL[NB1]: XLOGY_H_FIRST_FLOAT64}},
    "fixed_h_first_float64": {NB3: {CELL[NB3]: FIXED_H_FIRST_FLOAT64}},
    "fixed_helpers_own_epsilon": {NB3: {CELL[NB3]: FIXED_HELPERS_OWN_EPSILON}},
    "outer_products": {NB2: {CELL[NB2]: OUTER_PRODUCTS}},
    "zero_h_loop": {NB2: {CELL[NB2]: ZERO_H_LOOP}},
    "columns_float64": {NB2: {CELL[NB2]: COLUMNS_FLOAT64}},
    "mask": {NB2: {CELL[NB2]: MASK}},
}

# ---------------------------------------------------------------- wrong answers


class Mistake(NamedTuple):
    """A wrong answer: its cells, the points each test earns, what the notes must say."""

    codes: dict
    points: dict
    hints: dict


#: The solution's loop with the lines of one mistake put in (two updates, then the loss).
LOOP = """\
def kl_nmf(V, W, H, n_iter=100):
    W, H = W.copy(), H.copy()
    losses = np.empty(n_iter)
    for i in range(n_iter):
{body}
    return W, H, losses
"""
SOLUTION_BODY = """\
        R = V / np.maximum(W @ H, nh.EPS)
        W *= (R @ H.T) / (H.sum(axis=1) + nh.EPS)
        R = V / np.maximum(W @ H, nh.EPS)
        H *= (W.T @ R) / (W.sum(axis=0)[:, None] + nh.EPS)
        losses[i] = kl_divergence(V, W @ H)"""


def task1(body: str = SOLUTION_BODY, divergence: str = DIVERGENCE) -> dict:
    """Notebook 1's cell with ``body`` as the loop's body."""
    return {NB1: {CELL[NB1]: answer(divergence, LOOP.format(body=body))}}


def task1_points(matches: float, never_rises: float) -> dict:
    return {"task1_matches_engine": matches, "task1_loss_never_rises": never_rises}


def both(hint: str, *grade_ids: str) -> dict:
    return dict.fromkeys(grade_ids, hint)


TASK1 = ("task1_matches_engine", "task1_loss_never_rises")
TASK2 = ("task2_one_component", "task2_group", "task2_inputs_untouched")
TASK3 = ("task3_W_stays_fixed", "task3_H_matches_engine")

EUCLIDEAN_BODY = """\
        W *= (V @ H.T) / (W @ (H @ H.T) + nh.EPS)
        H *= (W.T @ V) / ((W.T @ W) @ H + nh.EPS)
        losses[i] = kl_divergence(V, W @ H)"""

NAN_DIVERGENCE = """\
def kl_divergence(V, WH):
    WH = np.maximum(WH, nh.EPS)  # the floor on WH, and no other
    return float(np.sum(V * np.log(V / WH) - V + WH))
"""

LOSS_FIRST_BODY = """\
        losses[i] = kl_divergence(V, W @ H)
        R = V / np.maximum(W @ H, nh.EPS)
        W *= (R @ H.T) / (H.sum(axis=1) + nh.EPS)
        R = V / np.maximum(W @ H, nh.EPS)
        H *= (W.T @ R) / (W.sum(axis=0)[:, None] + nh.EPS)"""

NO_OP_1 = answer(
    DIVERGENCE,
    """\
def kl_nmf(V, W, H, n_iter=100):
    start = kl_divergence(V, W @ H)
    losses = start * np.linspace(1.5, 1.0, n_iter)  # looks like a falling loss
    return W.copy(), H.copy(), losses
""",
)

NO_OP_3 = answer(
    DIVERGENCE,
    """\
def kl_nmf(V, W, H, n_iter=100, fix_W=False):
    losses = kl_divergence(V, W @ H) * np.linspace(1.5, 1.0, n_iter)
    return W.copy(), H.copy(), losses
""",
)

TRANSPOSED_BODY = SOLUTION_BODY.replace("W.sum(axis=0)[:, None]", "W.sum(axis=1)[:, None]")

STALE_RATIO_BODY = """\
        R = V / np.maximum(W @ H, nh.EPS)  # once per iteration
        W *= (R @ H.T) / (H.sum(axis=1) + nh.EPS)
        H *= (W.T @ R) / (W.sum(axis=0)[:, None] + nh.EPS)
        losses[i] = kl_divergence(V, W @ H)"""

NO_FLOOR_BODY = """\
        R = V / (W @ H)
        W *= (R @ H.T) / H.sum(axis=1)
        R = V / (W @ H)
        H *= (W.T @ R) / W.sum(axis=0)[:, None]
        losses[i] = kl_divergence(V, W @ H)"""

FIXED_LOOP = """\
def kl_nmf(V, W, H, n_iter=100, fix_W=False):
    W, H = W.copy(), H.copy()
    losses = np.empty(n_iter)
    for i in range(n_iter):
        if {update_W}:
            R = V / np.maximum(W @ H, nh.EPS)
            W *= (R @ H.T) / (H.sum(axis=1) + nh.EPS)
        R = V / np.maximum(W @ H, nh.EPS)
        H *= (W.T @ R) / (W.sum(axis=0)[:, None] + nh.EPS)
        losses[i] = kl_divergence(V, W @ H)
    return W, H, losses
"""


def task3(update_W: str = "not fix_W", divergence: str = DIVERGENCE) -> dict:
    return {NB3: {CELL[NB3]: answer(divergence, FIXED_LOOP.format(update_W=update_W))}}


IN_PLACE = """\
def component(W, H, ks):
    others = [k for k in range(H.shape[0]) if k not in np.atleast_1d(ks)]
    H[others] = 0  # zeroes the rows of the H given
    return W @ H
"""

STUB = {
    NB1: '''\
def kl_divergence(V, WH):
    """D(V || WH) = sum of V log(V / WH) - V + WH, with WH floored at nh.EPS."""
    # YOUR CODE HERE
    raise NotImplementedError()


def kl_nmf(V, W, H, n_iter=100):
    """KL NMF by multiplicative updates from (W, H); returns new (W, H, losses)."""
    # YOUR CODE HERE
    raise NotImplementedError()
''',
    NB2: '''\
def component(W, H, ks):
    """W H with every row of H outside ks set to 0: the part components ks explain."""
    # YOUR CODE HERE
    raise NotImplementedError()
''',
}

THE_PACKAGE = """\
def component(W, H, ks):
    return nh.component(W, H, ks)
"""

FIRST_MEMBER_ONLY = """\
def component(W, H, ks):
    k = np.atleast_1d(ks)[0]
    return np.outer(W[:, k], H[k])
"""

EVERYTHING = """\
def component(W, H, ks):
    return W @ H
"""

WRONG = {
    "euclidean_updates": Mistake(
        task1(EUCLIDEAN_BODY), task1_points(0, 0), both("Euclidean updates", *TASK1)
    ),
    "nan_in_silent_bins": Mistake(
        task1(divergence=NAN_DIVERGENCE), task1_points(0, 0), both("0 log 0", *TASK1)
    ),
    "nan_in_silent_bins_fixed_W": Mistake(
        task3(divergence=NAN_DIVERGENCE),
        {"task3_W_stays_fixed": 2, "task3_H_matches_engine": 0},
        {"task3_H_matches_engine": "0 log 0"},
    ),
    "loss_before_the_update": Mistake(
        task1(LOSS_FIRST_BODY), task1_points(0, 0), both("before update i", *TASK1)
    ),
    "no_floor_on_the_ratio": Mistake(
        task1(NO_FLOOR_BODY), task1_points(0, 0), both("np.maximum(W @ H, eps)", *TASK1)
    ),
    "stale_ratio": Mistake(
        task1(STALE_RATIO_BODY),
        task1_points(0, 0),  # not Lee & Seung's step, and the loss rises
        both("form W @ H again", *TASK1),
    ),
    "transposed_sum": Mistake(
        task1(TRANSPOSED_BODY), task1_points(0, 0), both("W.sum(axis=0)[:, None]", *TASK1)
    ),
    "no_op": Mistake({NB1: {CELL[NB1]: NO_OP_1}}, task1_points(0, 0), both("not applied", *TASK1)),
    "stub_left": Mistake({NB1: {CELL[NB1]: STUB[NB1]}}, task1_points(0, 0), both("stub", *TASK1)),
    "W_updated_when_fixed": Mistake(
        task3("True"),
        {"task3_W_stays_fixed": 0, "task3_H_matches_engine": 0},
        both("fix_W=True", *TASK3),
    ),
    "no_op_fixed_W": Mistake(
        {NB3: {CELL[NB3]: NO_OP_3}},
        {"task3_W_stays_fixed": 0, "task3_H_matches_engine": 0},
        {"task3_W_stays_fixed": "H was not learned", "task3_H_matches_engine": "not applied"},
    ),
    "inputs_changed_in_place": Mistake(
        {NB2: {CELL[NB2]: IN_PLACE}},
        {"task2_one_component": 4, "task2_group": 2, "task2_inputs_untouched": 0},
        {"task2_inputs_untouched": "np.zeros_like(H)"},
    ),
    "stub_left_component": Mistake(
        {NB2: {CELL[NB2]: STUB[NB2]}},
        dict.fromkeys(TASK2, 0),
        both("stub was not replaced", *TASK2),
    ),
    "calls_the_package": Mistake(
        {NB2: {CELL[NB2]: THE_PACKAGE}},
        dict.fromkeys(TASK2, 0),
        both("switched off while grading", *TASK2),
    ),
    "group_keeps_first_member": Mistake(
        {NB2: {CELL[NB2]: FIRST_MEMBER_ONLY}},
        {"task2_one_component": 4, "task2_group": 0, "task2_inputs_untouched": 2},
        {"task2_group": "sum of its members"},
    ),
    "everything": Mistake(
        {NB2: {CELL[NB2]: EVERYTHING}},
        dict.fromkeys(TASK2, 0),
        {
            "task2_one_component": "all of W H",
            "task2_group": "sum of",
            "task2_inputs_untouched": "a component that works",
        },
    ),
}
