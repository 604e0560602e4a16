"""Nonnegative matrix factorisation by multiplicative updates (Lee & Seung).

``V ~ W H`` with ``V`` of shape (M, N) (frequency bins x frames), ``W`` of
shape (M, K) (one spectral template per column) and ``H`` of shape (K, N)
(one activation row per template). Two objectives are minimised, each by
its own multiplicative updates (``*`` and ``/`` elementwise, ``1`` a matrix
of ones shaped like V):

* Euclidean: ``||V - W H||_F^2 = sum_mn (V_mn - (WH)_mn)^2``::

      W <- W * (V H^T) / (W H H^T)
      H <- H * (W^T V) / (W^T W H)

* generalised Kullback-Leibler:
  ``D(V || W H) = sum_mn V_mn log(V_mn / (WH)_mn) - V_mn + (WH)_mn``::

      W <- W * ((V / WH) H^T) / (1 H^T)
      H <- H * (W^T (V / WH)) / (W^T 1)

Lee & Seung (2001) proved that these updates never increase their
objective, so the loss curves returned here are monotone (to float32
rounding). Each objective is a small class whose ``step`` reports the loss
of the current factors and then updates W and H (so it can get the loss from
work the update does anyway), registered in ``_OBJECTIVES`` under its name in
:data:`LOSSES` (the names, and each loss's per-bin terms for the measures,
are in :mod:`nmf_helpers._losses`). One loop, :func:`factorise`, runs them all;
fixing the first ``n_fixed`` columns of W just means that the W update
touches the columns ``n_fixed:`` only.

The KL step needs ``V / WH``, a full M x N matrix, twice per iteration; on a
song that is most of the work. Its fast form (blocks of rows in cache, worker
threads, fused numba kernels) lives in :mod:`nmf_helpers._kl_sweep`;
:meth:`_KullbackLeibler.reference_step` shows the same step in plain numpy.

Numerical hazards are handled in one place, :mod:`nmf_helpers._numerics`,
with one constant, :data:`EPS`: denominators get ``+ EPS`` and the KL ratio
uses ``max(W H, EPS)``, so zeros in V, silent frames and all-zero columns give
zeros, never NaN or Inf. Magnitudes are the other hazard: values beyond
float32's range are refused at the door, and a V far from audio's magnitudes
(``UNSCALED_RANGE``) is fitted divided by a power of two, where neither
float32's range nor EPS gets in the way, and the result scaled back: both
objectives are homogeneous in V (KL of degree 1, Euclidean of degree 2).

References
----------
D. D. Lee and H. S. Seung, "Algorithms for non-negative matrix
factorization", NIPS 13, 2001.

S. Gururani and A. Lerch, "Automatic sample detection in polyphonic music",
ISMIR 2017 (partially fixed W).
"""

from __future__ import annotations

import contextlib

import numpy as np
from tqdm.auto import tqdm

from ._kl_sweep import KLSweep
from ._losses import LOSSES
from ._numerics import EPS, multiplicative_update, rescaling_exponent
from ._threads import library_threads_for
from ._validation import (
    ParameterError,
    check_choice,
    check_components,
    check_iterations,
    check_matrix,
    check_seed,
)

__all__ = ["EPS", "LOSSES", "nmf", "nmf_euclidean", "nmf_kl"]


class _Euclidean:
    """Squared Frobenius error ``||V - W H||_F^2`` and its Lee-Seung updates.

    ``W H H^T`` is formed as ``W (H H^T)`` and ``W^T W H`` as ``(W^T W) H``,
    so no M x N matrix is ever built. The loss, too, comes from products the
    H update already has, never from ``W @ H``:
    ``||V||^2 - 2 <H, W^T V> + <W^T W, H H^T>``.
    """

    #: ``||cV - W (cH)||^2 = c^2 ||V - W H||^2``: the loss of V scaled by c.
    homogeneity = 2

    @classmethod
    @contextlib.contextmanager
    def running(cls, V: np.ndarray, K: int):
        """The objective on V, with BLAS's threads suited to its size (more on long songs)."""
        with library_threads_for(V.size):
            yield cls(V)

    def __init__(self, V: np.ndarray):
        self.V = V
        self.norm_V_squared = float(np.einsum("ij,ij->", V, V, dtype=np.float64))
        self.WtV = self.WtW = None  # W^T V and W^T W, kept while W does not change

    def _products_of_W(self, W):
        if self.WtV is None:
            self.WtV = W.T @ self.V
            self.WtW = W.T @ W

    def step(self, W, H, first_free):
        """The loss at (W, H) as given, then one update of ``W[:, first_free:]`` and of H."""
        loss = self.loss(W, H)
        free = slice(first_free, None)
        if first_free < W.shape[1]:
            # W <- W * (V H^T) / (W H H^T), on the free columns
            multiplicative_update(W[:, free], self.V @ H[free].T, W @ (H @ H[free].T))
            self.WtV = None
        self._products_of_W(W)
        # H <- H * (W^T V) / (W^T W H); the update consumes its numerator
        multiplicative_update(H, self.WtV.copy(), self.WtW @ H)
        return loss

    def loss(self, W, H):
        """``||V - W H||_F^2``."""
        self._products_of_W(W)
        cross = np.einsum("kn,kn->", H, self.WtV, dtype=np.float64)
        WtW = self.WtW.astype(np.float64)
        HHt = (H @ H.T).astype(np.float64)
        return max(self.norm_V_squared - 2.0 * cross + np.vdot(WtW, HHt), 0.0)


class _KullbackLeibler:
    """Generalised KL divergence ``D(V || W H)`` and its Lee-Seung updates.

    With the ratio ``R = V / WH`` (``WH`` floored at :data:`EPS`)::

        W <- W * (R H^T) / (1 H^T)
        H <- H * (W^T R) / (W^T 1)      R formed again from the new W

    :meth:`reference_step` is one step in plain numpy, the formulas line by
    line. The loop runs the same step as a :class:`~nmf_helpers._kl_sweep.KLSweep`:
    one pass over blocks of rows, each while it is in cache, that forms R
    with the loss fused in, updates the block's rows of W and adds the
    block's share of ``W^T R``; worker threads share the blocks on long
    songs. The loss of each iteration's result is thus reported by the next
    sweep at no extra cost.
    """

    #: ``D(cV || W (cH)) = c D(V || W H)``: the loss of V scaled by c.
    homogeneity = 1

    @classmethod
    @contextlib.contextmanager
    def running(cls, V: np.ndarray, K: int):
        """The objective on V, with the sweep's own worker threads (on long songs)."""
        with KLSweep(V, K) as sweep:
            yield cls(sweep)

    def __init__(self, sweep: KLSweep):
        self.sweep = sweep

    def step(self, W, H, first_free):
        """The loss at (W, H) as given, then one update of ``W[:, first_free:]`` and of H."""
        return self.sweep.step(W, H, first_free)

    def loss(self, W, H):
        """``D(V || W H)``."""
        return self.sweep.loss(W, H)

    @staticmethod
    def reference_step(V, W, H, first_free):
        """:meth:`step` in plain numpy: what the sweep computes, to float32 rounding.

        V, W and H are float32; W's free columns and H are updated in place.
        Returns ``D(V || W H)`` at the W and H given.
        """
        free = slice(first_free, None)
        WH = W @ H
        R = V / np.maximum(WH, EPS)
        # D(V || WH) = sum V log(V / WH) - V + WH; the floor makes V = 0 add WH
        loss = np.sum(V * np.log(np.maximum(R, EPS)) - V + WH, dtype=np.float64)
        if first_free < W.shape[1]:
            # W <- W * (R H^T) / (1 H^T); (1 H^T)_mk = sum_n H_kn, the same for every m
            multiplicative_update(W[:, free], R @ H[free].T, H[free].sum(axis=1))
            R = V / np.maximum(W @ H, EPS)
        # H <- H * (W^T R) / (W^T 1); (W^T 1)_kn = sum_m W_mk, the same for every n
        multiplicative_update(H, W.T @ R, W.sum(axis=0)[:, None])
        return max(float(loss), 0.0)


#: The class that minimises each objective of :data:`LOSSES`, by its name. Each
#: has ``running(V, K)``, a context that yields it on V with its threads, and
#: ``step``, ``loss`` and ``homogeneity``, which :func:`factorise` uses.
_OBJECTIVES = {"kl": _KullbackLeibler, "euclidean": _Euclidean}


def _initial_factors(V, K, rng, W_fixed, W_init, H_init):
    """Random (or given) starting W and H in float32, of the scale of V.

    A random H is scaled so that mean(W H) = mean(V). With H given and W
    random, the free columns of W are scaled by mean(V) / mean(W H) of that
    start (so mean(W H) = mean(V) when no column is fixed); given W and H are
    used as they are.
    """
    M, N = V.shape
    if W_init is None:
        # 1 - random() lies in (0, 1]: an exact zero would stay zero forever.
        W = (1.0 - rng.random((M, K))).astype(np.float32)
    else:
        W = np.array(W_init, dtype=np.float32, order="C")
    if H_init is None:
        H = (1.0 - rng.random((K, N))).astype(np.float32)
    else:
        H = np.array(H_init, dtype=np.float32, order="C")
    if W_fixed is not None:
        W[:, : W_fixed.shape[1]] = W_fixed
    if W_init is None or H_init is None:
        mean_WH = np.dot(W.sum(axis=0, dtype=np.float64), H.sum(axis=1)) / (M * N)
        scale = V.mean(dtype=np.float64) / max(mean_WH, EPS)
        if H_init is None:
            H *= np.float32(scale)
        else:
            W[:, 0 if W_fixed is None else W_fixed.shape[1] :] *= np.float32(scale)
    return W, H


def factorise(
    V: np.ndarray,
    K: int,
    *,
    loss: str,
    n_iter: int,
    seed: int | np.random.Generator,
    W_fixed: np.ndarray | None = None,
    W_init: np.ndarray | None = None,
    H_init: np.ndarray | None = None,
    progress: bool = False,
    name: str = "nmf",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one multiplicative-update loop, for arguments already checked.

    The core behind :func:`nmf`, :func:`nmf_kl` and :func:`nmf_euclidean`,
    which call it once they have checked their arguments, and behind the
    package's recipes, which check theirs at their own door. It trusts its
    arguments and checks nothing: ``V`` finite, within float32's range,
    non-negative, 2-D and not all zeros; ``loss`` one of :data:`LOSSES`;
    ``K`` and ``n_iter`` ints >= 1 with ``K - n_fixed <= min(M, N)``; ``seed``
    an int in [0, 2**32) or a Generator; ``W_fixed`` of shape (M, n_fixed)
    with ``n_fixed <= K``; ``W_init`` (M, K) and ``H_init`` (K, N) finite and
    non-negative. The parameters and the result are those of :func:`nmf`;
    ``name`` labels the progress bar and the errors (the public caller's name).

    A V whose peak lies outside :data:`~nmf_helpers._numerics.UNSCALED_RANGE`
    is fitted as ``V / 2**e`` (``H_init`` too), so that neither float32's
    range nor :data:`EPS` gets in the way, and the result is scaled back
    (:func:`_scaled_back`). A fit that still leaves float32's range (warm
    starts or fixed templates far out of scale with V) raises
    :class:`ParameterError` rather than return NaN or Inf.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    V = np.ascontiguousarray(V, dtype=np.float32)
    exponent = rescaling_exponent(float(V.max()))
    if exponent:  # V / 2**e and H / 2**e change no digit: W H = V scales with H
        V = np.ldexp(V, -exponent)
        if H_init is not None:
            H_init = np.ldexp(np.asarray(H_init, dtype=np.float32), -exponent)
    W, H = _initial_factors(V, K, rng, W_fixed, W_init, H_init)
    first_free = 0 if W_fixed is None else W_fixed.shape[1]  # W[:, :first_free] stays fixed
    # losses[i] is the loss of the i-th iterate; step() reports the loss of
    # the (W, H) it starts from, so the last one is asked for separately.
    losses = np.empty(n_iter + 1, dtype=np.float64)
    with (
        _OBJECTIVES[loss].running(V, K) as objective,
        tqdm(total=n_iter, desc=name, disable=not progress, leave=False) as bar,
        np.errstate(over="ignore", invalid="ignore"),  # an overflow is refused below
    ):
        for iteration in range(n_iter):
            losses[iteration] = objective.step(W, H, first_free)
            bar.update()
            if progress and iteration % 10 == 0:
                bar.set_postfix(loss=f"{losses[iteration]:.4g}", refresh=False)
        losses[n_iter] = objective.loss(W, H)
    # The loss of the start, losses[0], is not returned, but it is checked:
    # a start out of scale can overflow, and the updates then go on from zeros.
    _refuse_overflow(W, H, losses, name, W_fixed=W_fixed, W_init=W_init, H_init=H_init)
    losses = losses[1:]
    if exponent:
        W, H = _scaled_back(W, H, exponent, first_free, name)
        losses = np.ldexp(losses, exponent * objective.homogeneity)
    return W, H, losses


def _refuse_overflow(W, H, losses, name, **given) -> None:
    """Raise, rather than return a fit with Inf or NaN in it (it left float32's range)."""
    if np.isfinite(losses).all() and np.isfinite(W.max()) and np.isfinite(H.max()):
        return
    culprits = " and ".join(key for key, value in given.items() if value is not None)
    advice = f"scale {culprits} so that W H is about as large as V" if culprits else "scale V down"
    raise ParameterError(
        f"{name}: the fit left float32's range (Inf or NaN in W H or its products); {advice}"
    )


def _scaled_back(W, H, exponent, first_free, name):
    """W and H of ``V`` from W and H fitted to ``V / 2**exponent``: ``H * 2**exponent``.

    The updates do not change when V and H are multiplied by the same
    number, so H carries V's scale, as it would have in a fit of V as given.
    A row of H that would pass float32's range hands the excess to its
    column of W, which leaves ``W[:, k] H[k]`` as it is; a fixed column of W
    cannot take it, and the fit is refused.
    """
    # A row's peak m * 2**p (m in [0.5, 1)) times 2**s stays finite while p + s <= 128.
    _, peak_exponents = np.frexp(H.max(axis=1))
    on_H = np.minimum(exponent, np.finfo(np.float32).maxexp - peak_exponents)
    on_W = exponent - on_H
    if on_W[:first_free].any():
        k = int(np.flatnonzero(on_W[:first_free])[0])
        raise ParameterError(
            f"{name}: the activations of fixed template {k} would pass float32's range"
            " for this V; scale W_fixed up or V down"
        )
    W = np.ldexp(W, on_W[None, :])
    if not np.isfinite(W.max()):  # W[:, k] H[k] itself beyond float32: not a fit of V
        raise ParameterError(f"{name}: W H would pass float32's range for this V; scale V down")
    return W, np.ldexp(H, on_H[:, None])


def _check_arguments(function, V, K, n_iter, seed, W_fixed, W_init, H_init) -> dict:
    """An NMF door's arguments, each checked once in the door's name, for :func:`factorise`."""
    V = check_matrix(function, "V", V)
    if not V.any():
        raise ParameterError(
            f"{function}: V is all zeros (silence?): there is nothing to factorise"
        )
    M, N = V.shape
    if W_fixed is not None:
        W_fixed = check_matrix(function, "W_fixed", W_fixed, shape=(M, None))
    n_fixed = 0 if W_fixed is None else W_fixed.shape[1]
    K = check_components(function, K, V.shape, n_fixed=n_fixed)
    # A zero stays zero under multiplicative updates (Lee & Seung), so a
    # start with W H = 0 stays there. A zero column or row is allowed: it is a
    # component left out.
    never_moves = "multiplicative updates never move a zero"
    if n_fixed == K and not W_fixed.any():
        raise ParameterError(
            f"{function}: W_fixed is all zeros and is the whole of W (all K = {K} columns);"
            f" {never_moves}, so W H would stay 0: give templates with positive entries"
        )
    n_iter = check_iterations(function, n_iter)
    if W_init is not None:
        W_init = check_matrix(function, "W_init", W_init, shape=(M, K))
        if n_fixed < K and not W_init[:, n_fixed:].any():
            where, stays = (
                (f" in the columns W_fixed leaves free ({n_fixed}:)", "those components stay 0")
                if n_fixed
                else ("", "W H would stay 0")
            )
            raise ParameterError(
                f"{function}: W_init is all zeros{where}; {never_moves}, so {stays}:"
                " give W_init positive entries, or leave it out"
            )
    if H_init is not None:
        H_init = check_matrix(function, "H_init", H_init, shape=(K, N))
        if not H_init.any():
            raise ParameterError(
                f"{function}: H_init is all zeros; {never_moves}, so W H would stay 0:"
                " give H_init positive entries, or leave it out"
            )
    seed = check_seed(function, seed)
    return {
        "V": V, "K": K, "n_iter": n_iter, "seed": seed,
        "W_fixed": W_fixed, "W_init": W_init, "H_init": H_init,
    }  # fmt: skip


def nmf(
    V: np.ndarray,
    K: int,
    *,
    loss: str = "kl",
    n_iter: int = 100,
    seed: int | np.random.Generator = 0,
    W_fixed: np.ndarray | None = None,
    W_init: np.ndarray | None = None,
    H_init: np.ndarray | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NMF ``V ~ W H`` with the objective named by ``loss`` (Lee-Seung updates).

    The same as :func:`nmf_kl` (``loss='kl'``) or :func:`nmf_euclidean`
    (``loss='euclidean'``), bit for bit: for code that chooses the objective
    at run time.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), non-negative, finite, at most 3.4e38]
        The matrix to factorise, typically a magnitude spectrogram. Not modified.
        Values beyond float32's range (3.4e38) are refused (ParameterError:
        scale V down). A V whose peak lies outside 1e-3 to 1e12 (the
        spectrogram of audio in [-1, 1] never does) is scaled internally: it
        is fitted as ``V / 2**e`` with its peak in [0.5, 1), and H is scaled
        back by ``2**e``, the losses by ``2**e`` (KL is 1-homogeneous in V) or
        ``4**e`` (Euclidean, 2-homogeneous); W stays as fitted, except where a
        row of H cannot hold its share in float32 and passes it to its column
        of W. Inside that range nothing is scaled.
    K : int >= 1
        Number of components (columns of W, rows of H).
    loss : {'kl', 'euclidean'}
        The objective: ``'kl'``, the generalised Kullback-Leibler divergence
        (:func:`nmf_kl`), or ``'euclidean'``, the squared Euclidean distance
        (:func:`nmf_euclidean`).
    n_iter : int in [1, 1_000_000]
        Number of multiplicative-update iterations (each updates W, then H).
    seed : int or np.random.Generator
        Seed of the random initialisation. The default is fixed, so two runs
        give bit-identical results on the same machine.
    W_fixed : np.ndarray [shape=(M, n_fixed), non-negative], n_fixed <= K, optional
        Templates kept fixed: they become ``W[:, :n_fixed]`` and are never
        updated (bit-identical to ``W_fixed`` cast to float32).
        ``n_fixed == K`` learns H only ("fully fixed W"), and then W_fixed may
        not be all zeros; ``n_fixed < K`` also learns ``K - n_fixed`` free
        columns.
    W_init : np.ndarray [shape=(M, K)], optional
        Warm start for W (its first n_fixed columns are replaced by ``W_fixed``).
        Not all zeros in its free columns: a zero never moves under
        multiplicative updates. A zero column leaves that component out.
    H_init : np.ndarray [shape=(K, N)], optional
        Warm start for H; not all zeros.
    progress : bool
        Show a tqdm progress bar (a widget in Jupyter).

    Returns
    -------
    W : np.ndarray [shape=(M, K), float32]
    H : np.ndarray [shape=(K, N), float32]
    losses : np.ndarray [shape=(n_iter,), float64]
        The objective after each iteration; it never increases.

    Raises
    ------
    ParameterError
        For a bad argument, and for a fit that would leave float32's range
        (warm starts or fixed templates far out of scale with V): never a
        result with NaN or Inf in it.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V = np.random.default_rng(1).random((64, 40))
    >>> W, H, losses = nh.nmf(V, 4, loss="euclidean", n_iter=50)
    >>> W.shape, H.shape, losses.shape
    ((64, 4), (4, 40), (50,))
    >>> bool(np.array_equal(losses, nh.nmf_euclidean(V, 4, n_iter=50)[2]))
    True
    """
    loss = check_choice("nmf", "loss", loss, LOSSES)
    checked = _check_arguments("nmf", V, K, n_iter, seed, W_fixed, W_init, H_init)
    return factorise(**checked, loss=loss, progress=progress, name="nmf")


def nmf_euclidean(
    V,
    K,
    *,
    n_iter: int = 100,
    seed: int | np.random.Generator = 0,
    W_fixed=None,
    W_init=None,
    H_init=None,
    progress: bool = False,
):
    """Euclidean NMF: minimise ``||V - W H||_F^2`` with Lee-Seung updates.

    ``W <- W * (V H^T) / (W H H^T)`` then ``H <- H * (W^T V) / (W^T W H)``.
    The loss is computed from the small products the updates already form,
    so tracking it every iteration costs no extra pass over V. Those products
    are float32, so the tracked value is accurate to about ``1e-6 ||V||_F^2``:
    exact enough for any loss curve, but for a near-perfect fit compute
    ``np.sum((V - W @ H) ** 2)`` in float64 if you need the last digits.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), non-negative, finite, at most 3.4e38]
        The matrix to factorise, typically a magnitude spectrogram. Not modified.
        Values beyond float32's range (3.4e38) are refused (ParameterError:
        scale V down). A V whose peak lies outside 1e-3 to 1e12 (the
        spectrogram of audio in [-1, 1] never does) is scaled internally: it
        is fitted as ``V / 2**e`` with its peak in [0.5, 1), and H is scaled
        back by ``2**e``, the losses by ``2**e`` (KL is 1-homogeneous in V) or
        ``4**e`` (Euclidean, 2-homogeneous); W stays as fitted, except where a
        row of H cannot hold its share in float32 and passes it to its column
        of W. Inside that range nothing is scaled.
    K : int >= 1
        Number of components (columns of W, rows of H).
    n_iter : int in [1, 1_000_000]
        Number of multiplicative-update iterations (each updates W, then H).
    seed : int or np.random.Generator
        Seed of the random initialisation. The default is fixed, so two runs
        give bit-identical results on the same machine.
    W_fixed : np.ndarray [shape=(M, n_fixed), non-negative], n_fixed <= K, optional
        Templates kept fixed: they become ``W[:, :n_fixed]`` and are never
        updated (bit-identical to ``W_fixed`` cast to float32).
        ``n_fixed == K`` learns H only ("fully fixed W"), and then W_fixed may
        not be all zeros; ``n_fixed < K`` also learns ``K - n_fixed`` free
        columns.
    W_init : np.ndarray [shape=(M, K)], optional
        Warm start for W (its first n_fixed columns are replaced by ``W_fixed``).
        Not all zeros in its free columns: a zero never moves under
        multiplicative updates. A zero column leaves that component out.
    H_init : np.ndarray [shape=(K, N)], optional
        Warm start for H; not all zeros.
    progress : bool
        Show a tqdm progress bar (a widget in Jupyter).

    Returns
    -------
    W : np.ndarray [shape=(M, K), float32]
    H : np.ndarray [shape=(K, N), float32]
    losses : np.ndarray [shape=(n_iter,), float64]
        The objective after each iteration; it never increases.

    Raises
    ------
    ParameterError
        For a bad argument, and for a fit that would leave float32's range
        (warm starts or fixed templates far out of scale with V): never a
        result with NaN or Inf in it.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V = np.random.default_rng(1).random((64, 40))
    >>> W, H, losses = nh.nmf_euclidean(V, K=4, n_iter=50)
    >>> W.shape, H.shape, len(losses)
    ((64, 4), (4, 40), 50)
    >>> bool(np.all(np.diff(losses) <= 1e-4 * losses[0]))
    True
    """
    checked = _check_arguments("nmf_euclidean", V, K, n_iter, seed, W_fixed, W_init, H_init)
    return factorise(**checked, loss="euclidean", progress=progress, name="nmf_euclidean")


def nmf_kl(
    V,
    K,
    *,
    n_iter: int = 100,
    seed: int | np.random.Generator = 0,
    W_fixed=None,
    W_init=None,
    H_init=None,
    progress: bool = False,
):
    """KL NMF: minimise ``D(V || W H) = sum V log(V / WH) - V + WH`` (Lee-Seung).

    ``W <- W * ((V / WH) H^T) / (1 H^T)`` then
    ``H <- H * (W^T (V / WH)) / (W^T 1)``. The divergence is evaluated at
    every iteration in the same fused pass that forms ``V / WH``.

    Parameters
    ----------
    V : np.ndarray [shape=(M, N), non-negative, finite, at most 3.4e38]
        The matrix to factorise, typically a magnitude spectrogram. Not modified.
        Values beyond float32's range (3.4e38) are refused (ParameterError:
        scale V down). A V whose peak lies outside 1e-3 to 1e12 (the
        spectrogram of audio in [-1, 1] never does) is scaled internally: it
        is fitted as ``V / 2**e`` with its peak in [0.5, 1), and H is scaled
        back by ``2**e``, the losses by ``2**e`` (KL is 1-homogeneous in V) or
        ``4**e`` (Euclidean, 2-homogeneous); W stays as fitted, except where a
        row of H cannot hold its share in float32 and passes it to its column
        of W. Inside that range nothing is scaled.
    K : int >= 1
        Number of components (columns of W, rows of H).
    n_iter : int in [1, 1_000_000]
        Number of multiplicative-update iterations (each updates W, then H).
    seed : int or np.random.Generator
        Seed of the random initialisation. The default is fixed, so two runs
        give bit-identical results on the same machine.
    W_fixed : np.ndarray [shape=(M, n_fixed), non-negative], n_fixed <= K, optional
        Templates kept fixed: they become ``W[:, :n_fixed]`` and are never
        updated (bit-identical to ``W_fixed`` cast to float32).
        ``n_fixed == K`` learns H only ("fully fixed W"), and then W_fixed may
        not be all zeros; ``n_fixed < K`` also learns ``K - n_fixed`` free
        columns.
    W_init : np.ndarray [shape=(M, K)], optional
        Warm start for W (its first n_fixed columns are replaced by ``W_fixed``).
        Not all zeros in its free columns: a zero never moves under
        multiplicative updates. A zero column leaves that component out.
    H_init : np.ndarray [shape=(K, N)], optional
        Warm start for H; not all zeros.
    progress : bool
        Show a tqdm progress bar (a widget in Jupyter).

    Returns
    -------
    W : np.ndarray [shape=(M, K), float32]
    H : np.ndarray [shape=(K, N), float32]
    losses : np.ndarray [shape=(n_iter,), float64]
        The objective after each iteration; it never increases.

    Raises
    ------
    ParameterError
        For a bad argument, and for a fit that would leave float32's range
        (warm starts or fixed templates far out of scale with V): never a
        result with NaN or Inf in it.

    Examples
    --------
    >>> import numpy as np, nmf_helpers as nh
    >>> V = np.random.default_rng(1).random((64, 40))
    >>> W, H, losses = nh.nmf_kl(V, K=4, n_iter=50)
    >>> bool(losses[-1] < losses[0])
    True

    Learn templates on one clip, then fit another with them fixed plus two
    free components:

    >>> V2 = np.random.default_rng(2).random((64, 30))
    >>> W2, H2, _ = nh.nmf_kl(V2, K=6, W_fixed=W)
    >>> bool(np.array_equal(W2[:, :4], W))
    True
    """
    checked = _check_arguments("nmf_kl", V, K, n_iter, seed, W_fixed, W_init, H_init)
    return factorise(**checked, loss="kl", progress=progress, name="nmf_kl")
