"""Tests of nmf_helpers/nmf.py on real music spectrograms (the project's clips)."""

import contextlib
import importlib
import re
import warnings

import numpy as np
import pytest
from sklearn.decomposition import NMF
from sklearn.decomposition._nmf import _beta_divergence

import nmf_helpers as nh
from nmf_helpers import _kernels

NMF_MODULE = importlib.import_module("nmf_helpers.nmf")
# Where the KL sweep asks how many worker threads to run.
KL_SWEEP_MODULE = importlib.import_module("nmf_helpers._kl_sweep")

FITS = [(nh.nmf_kl, "kullback-leibler"), (nh.nmf_euclidean, "frobenius")]
IDS = ["kl", "euclidean"]

# An increase this small relative to the loss scale is float32 rounding, not a
# violation of Lee & Seung's monotonicity theorem.
ROUNDING = 1e-6


def monotone(losses, V, beta_loss):
    """True if ``losses`` never increase by more than float32 rounding.

    The Euclidean loss is tracked as ``||V||^2 - 2 <H, W^T V> + <W^T W, H H^T>``
    from float32 products, so its rounding scales with ``||V||^2`` (it matters
    only once the fit is nearly exact); the KL loss is summed entry by entry.
    """
    scale = np.sum(np.square(V, dtype=np.float64)) if beta_loss == "frobenius" else losses[0]
    return bool(np.all(np.diff(losses) <= ROUNDING * scale))


def direct_loss(V, W, H, beta_loss):
    """The objective computed the slow, obvious way in float64."""
    V = V.astype(np.float64)
    WH = W.astype(np.float64) @ H.astype(np.float64)
    if beta_loss == "frobenius":
        return np.sum((V - WH) ** 2)
    positive = V > 0
    WH = np.maximum(WH, nh.EPS)
    return np.sum(V[positive] * np.log(V[positive] / WH[positive])) - V.sum() + WH.sum()


def random_start(V, K, seed=1):
    rng = np.random.default_rng(seed)
    W0 = (1.0 - rng.random((V.shape[0], K))).astype(np.float32)
    H0 = (1.0 - rng.random((K, V.shape[1]))).astype(np.float32)
    scale = np.sqrt(V.mean() / (W0.sum(0) @ H0.sum(1) / V.size)).astype(np.float32)
    return W0 * scale, H0 * scale


@pytest.fixture(scope="module")
def groove_singular_values(groove_V):
    """Singular values of the groove's spectrogram in float64, computed once."""
    return np.linalg.svd(groove_V.astype(np.float64), compute_uv=False)


def best_one_component_loss(V, beta_loss, singular_values=None):
    """The loss of the best rank-1 fit, in closed form (the bar any K >= 2 must clear).

    Euclidean: the leading singular pair of a nonnegative V is nonnegative
    (Perron-Frobenius), so the best rank-1 NMF is the best rank-1
    approximation and leaves ``sum_i>1 s_i^2``. KL: the best rank-1 fit is
    ``r c^T / sum(V)`` (row sums times column sums), the independence model.
    """
    V = V.astype(np.float64)
    if beta_loss == "frobenius":
        if singular_values is None:
            singular_values = np.linalg.svd(V, compute_uv=False)
        return float(np.sum(singular_values[1:] ** 2))
    WH = np.outer(V.sum(axis=1), V.sum(axis=0)) / V.sum()
    positive = V > 0
    return float(np.sum(V[positive] * np.log(V[positive] / WH[positive])) - V.sum() + WH.sum())


@pytest.mark.parametrize("K", [3, 10, 30])
@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_loss_never_increases_on_music(groove_V, groove_singular_values, fit, beta_loss, K):
    W, H, losses = fit(groove_V, K, n_iter=100)
    assert losses.shape == (100,)
    assert np.all(np.isfinite(losses))
    assert monotone(losses, groove_V, beta_loss)
    # It learned something: K components beat the best single one.
    singular = groove_singular_values
    one = best_one_component_loss(groove_V, beta_loss, singular)
    assert losses[-1] < one
    if beta_loss == "frobenius":
        # No rank-K matrix beats the truncated SVD (Eckart-Young), nonnegative
        # or not; 100 iterations close at least 90 % of the gap between the best
        # rank-1 fit and that bound (measured: 93 % at K = 3, 97 to 98 % at K = 10 and 30).
        bound = float(np.sum(singular[K:] ** 2))
        assert bound * (1 - 1e-6) <= losses[-1] <= bound + 0.1 * (one - bound)


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_tracked_loss_is_the_objective(groove_V, fit, beta_loss):
    W, H, losses = fit(groove_V, 10, n_iter=30)
    assert losses[-1] == pytest.approx(direct_loss(groove_V, W, H, beta_loss), rel=1e-4)


@pytest.mark.parametrize("K", [3, 30])
@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_same_objective_as_scikit_learn(sample_V, fit, beta_loss, K):
    W0, H0 = random_start(sample_V, K)
    W, H, losses = fit(sample_V, K, n_iter=100, W_init=W0, H_init=H0)
    model = NMF(K, init="custom", solver="mu", beta_loss=beta_loss, tol=0, max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter, as intended
        W_sklearn = model.fit_transform(sample_V, W=W0.copy(), H=H0.copy())
    theirs = _beta_divergence(sample_V, W_sklearn, model.components_, beta_loss)
    if beta_loss == "frobenius":
        theirs *= 2  # scikit-learn minimises half the squared error
    assert losses[-1] == pytest.approx(theirs, rel=1e-3)
    assert direct_loss(sample_V, W, H, beta_loss) == pytest.approx(theirs, rel=1e-3)


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_partially_fixed_columns_stay_bit_identical(groove_V, sample_V, fit, beta_loss):
    W_sample, _, _ = fit(sample_V, 8, n_iter=30)
    W, H, losses = fit(groove_V, 12, n_iter=40, W_fixed=W_sample)
    assert np.array_equal(W[:, :8], W_sample)
    assert not np.array_equal(W[:, 8:], np.zeros_like(W[:, 8:]))
    assert monotone(losses, groove_V, beta_loss)


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_fully_fixed_W_recovers_a_spectrogram_built_from_it(sample_V, fit, beta_loss, rng):
    W_true, _, _ = fit(sample_V, 6, n_iter=50)
    H_true = rng.gamma(0.5, 1.0, size=(6, 400)).astype(np.float32)
    V = W_true @ H_true
    W, H, losses = fit(V, 6, n_iter=300, W_fixed=W_true)
    assert np.array_equal(W, W_true)
    initial_error = direct_loss(V, W_true, np.full_like(H_true, H_true.mean()), beta_loss)
    assert losses[-1] < 1e-3 * initial_error
    assert monotone(losses, V, beta_loss)


def test_fully_fixed_W_fits_a_related_clip_better_than_an_unrelated_one(sample_V):
    W_sample, _, _ = nh.nmf_kl(sample_V, 30, n_iter=100)
    per_entry = {}
    for name in ("sampling_track", "unrelated_track"):
        V = nh.spectrogram(nh.load_audio(nh.clip_path(name))[0])
        _, _, losses = nh.nmf_kl(V, 30, W_fixed=W_sample)
        per_entry[name] = losses[-1] / V.sum()
    # Measured: 1.24 vs 1.48 per unit of sum(V); the track's new drums and lead
    # cost loss too, so the margin is real but modest.
    assert per_entry["sampling_track"] < 0.9 * per_entry["unrelated_track"]


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_zeros_silence_and_empty_columns_give_finite_results(fit, beta_loss, rng):
    V = rng.random((64, 50)).astype(np.float32) ** 4
    V[:, 10:20] = 0.0  # silent frames
    V[30:40, :] = 0.0  # empty frequency bins
    V[V < 0.01] = 0.0  # scattered exact zeros
    W, H, losses = fit(V, 5, n_iter=200)
    assert np.all(np.isfinite(W)) and np.all(np.isfinite(H)) and np.all(np.isfinite(losses))
    assert np.all(W >= 0) and np.all(H >= 0)
    assert monotone(losses, V, beta_loss)
    W_zero_column = np.concatenate([W[:, :4], np.zeros((64, 1), np.float32)], axis=1)
    W2, H2, losses2 = fit(V, 5, n_iter=20, W_fixed=W_zero_column)
    assert np.all(np.isfinite(H2)) and np.all(np.isfinite(losses2))


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_deterministic_with_a_fixed_seed(sample_V, fit, beta_loss):
    first = fit(sample_V, 5, n_iter=20)
    again = fit(sample_V, 5, n_iter=20)
    other = fit(sample_V, 5, n_iter=20, seed=1)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    generator = fit(sample_V, 5, n_iter=20, seed=np.random.default_rng(0))
    assert np.array_equal(generator[0], first[0])


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_inputs_are_not_modified(fit, beta_loss, rng):
    V = rng.random((40, 30))
    W_fixed = rng.random((40, 2))
    W_init, H_init = rng.random((40, 4)), rng.random((4, 30))
    copies = [a.copy() for a in (V, W_fixed, W_init, H_init)]
    fit(V, 4, n_iter=5, W_fixed=W_fixed, W_init=W_init, H_init=H_init)
    for original, copy in zip((V, W_fixed, W_init, H_init), copies, strict=True):
        assert np.array_equal(original, copy)


def test_warm_start_continues_where_it_stopped(sample_V):
    W, H, first = nh.nmf_kl(sample_V, 4, n_iter=20)
    _, _, second = nh.nmf_kl(sample_V, 4, n_iter=20, W_init=W, H_init=H)
    assert second[0] <= first[-1] * (1 + ROUNDING)
    assert second[-1] < first[-1]


@pytest.mark.parametrize("door", [nh.nmf_kl, nh.nmf_euclidean, nh.nmf], ids=lambda f: f.__name__)
def test_progress_bar_does_not_change_the_result(sample_V, capsys, door):
    V = sample_V[:, :100]
    quiet = door(V, 3, n_iter=15)
    assert capsys.readouterr().err == ""  # no bar unless asked for
    shown = door(V, 3, n_iter=15, progress=True)
    assert np.array_equal(quiet[2], shown[2])
    # The bar is labelled with the door's own name and counts to n_iter.
    bar = capsys.readouterr().err
    assert re.search(rf"(^|\r){door.__name__}: ", bar)
    assert "/15 [" in bar
    assert not bar.endswith("\n")  # the bar is cleared when done, not left behind


def test_the_progress_bar_shows_the_loss_every_tenth_iteration(monkeypatch, rng):
    bars = []

    class RecordedBar(NMF_MODULE.tqdm):
        """The package's bar, recording what it is asked to show beside the count."""

        def __init__(self, *args, **kwargs):
            self.postfixes = []
            bars.append(self)
            super().__init__(*args, **kwargs)

        def set_postfix(self, *args, refresh=True, **kwargs):
            self.postfixes.append((kwargs, refresh))
            super().set_postfix(*args, refresh=refresh, **kwargs)

    monkeypatch.setattr(NMF_MODULE, "tqdm", RecordedBar)
    V = rng.random((20, 30))
    nh.nmf_kl(V, 3, n_iter=25)
    _, _, losses = nh.nmf_kl(V, 3, n_iter=25, progress=True)
    hidden, shown = bars
    assert hidden.postfixes == []  # nothing is formatted for a bar that is not shown
    # Iterations 0, 10 and 20 show the loss they start from (the start's, then
    # losses[9] and losses[19]), without a redraw of their own: the next update draws it.
    assert [refresh for _, refresh in shown.postfixes] == [False] * 3
    shown_losses = [postfix["loss"] for postfix, _ in shown.postfixes]
    assert shown_losses[1:] == [f"{losses[9]:.4g}", f"{losses[19]:.4g}"]


def test_the_core_shows_no_bar_and_names_its_errors_nmf_unless_told(sample_V, capsys):
    # learn_sample and the chunk fits of long songs call the core without
    # progress; the chunk fits without name, too.
    NMF_MODULE.factorise(sample_V, 2, loss="kl", n_iter=3, seed=0)
    assert capsys.readouterr().err == ""
    W_fixed = np.full((sample_V.shape[0], 2), 3e38, np.float32)
    with pytest.raises(nh.ParameterError) as error:
        NMF_MODULE.factorise(sample_V, 2, loss="kl", n_iter=3, seed=0, W_fixed=W_fixed)
    assert str(error.value).startswith("nmf: the fit left float32's range")


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_a_float64_V_is_fitted_as_float32(sample_V, fit, beta_loss):
    V = sample_V[:, :200]
    for a, b in zip(fit(V.astype(np.float64), 3, n_iter=5), fit(V, 3, n_iter=5), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("door", [nh.nmf_kl, nh.nmf_euclidean, nh.nmf], ids=lambda f: f.__name__)
def test_the_default_is_100_iterations(door):
    V = np.random.default_rng(0).random((6, 8))
    assert door(V, 2)[2].shape == (100,)


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_a_loss_below_one_is_reported_as_it_is(fit, beta_loss, rng):
    # Losses are floored at 0 (rounding), not at any larger value.
    V = rng.random((20, 30)) * 0.01
    W, H, losses = fit(V, 3, n_iter=20)
    assert losses[-1] < 0.5  # a floor at 1 would show
    assert losses[-1] == pytest.approx(direct_loss(V, W, H, beta_loss), rel=1e-3)
    if beta_loss == "kullback-leibler":
        V32 = V.astype(np.float32)
        loss = NMF_MODULE._KullbackLeibler.reference_step(V32, W.copy(), H.copy(), 0)
        assert loss == pytest.approx(direct_loss(V32, W, H, beta_loss), rel=1e-4)


@pytest.mark.parametrize("n_workers", [2, 3])
@pytest.mark.parametrize("K", [3, 12])
def test_worker_threads_give_the_single_thread_result(groove_V, monkeypatch, n_workers, K):
    # Clips this short run on one thread; force the threaded path of long songs.
    W_fixed = nh.nmf_kl(groove_V, 2, n_iter=10)[0]
    runs = {}
    for workers in (1, n_workers):
        monkeypatch.setattr(KL_SWEEP_MODULE, "worker_count", lambda entries, w=workers: w)
        runs[workers] = [
            nh.nmf_kl(groove_V, K, n_iter=30),
            nh.nmf_kl(groove_V, K, n_iter=10, W_fixed=W_fixed),
            nh.nmf_kl(groove_V, 2, n_iter=10, W_fixed=W_fixed),
        ]
    for single, threaded in zip(runs[1], runs[n_workers], strict=True):
        # Only the order in which the workers' shares are summed differs.
        np.testing.assert_allclose(threaded[2], single[2], rtol=1e-5)
        np.testing.assert_allclose(threaded[1], single[1], rtol=1e-3, atol=1e-6 * single[1].max())
        assert monotone(threaded[2], groove_V, "kullback-leibler")
    _, partial, full = runs[n_workers]
    assert np.array_equal(partial[0][:, :2], W_fixed)
    assert np.array_equal(full[0], W_fixed)


def test_more_worker_threads_than_rows(monkeypatch, rng):
    V = rng.random((2, 300)).astype(np.float32)
    monkeypatch.setattr(KL_SWEEP_MODULE, "worker_count", lambda entries: 4)
    W, H, losses = nh.nmf_kl(V, 2, n_iter=20)
    assert np.all(np.isfinite(H)) and monotone(losses, V, "kullback-leibler")
    assert losses[-1] == pytest.approx(direct_loss(V, W, H, "kullback-leibler"), rel=1e-4)


@pytest.mark.parametrize("n_workers", [1, 3])
@pytest.mark.parametrize(("K", "first_free"), [(4, 0), (4, 2), (4, 4), (12, 5), (12, 9), (96, 72)])
def test_kl_sweep_computes_the_reference_step(groove_V, monkeypatch, n_workers, K, first_free):
    # The sweep (blocks, workers, fused kernels, the fixed columns' product kept when
    # they are many and most of W: K = 96, first_free = 72) against the formulas in plain numpy.
    monkeypatch.setattr(KL_SWEEP_MODULE, "worker_count", lambda entries: n_workers)
    V = np.ascontiguousarray(groove_V, dtype=np.float32)
    W, H = random_start(V, K)
    W_reference, H_reference = W.copy(), H.copy()
    with KL_SWEEP_MODULE.KLSweep(V, K) as sweep:
        for _ in range(5):
            loss = sweep.step(W, H, first_free)
            expected = NMF_MODULE._KullbackLeibler.reference_step(
                V, W_reference, H_reference, first_free
            )
            assert loss == pytest.approx(expected, rel=1e-5)
        assert sweep.loss(W, H) == pytest.approx(direct_loss(V, W, H, "kl"), rel=1e-5)
    np.testing.assert_array_equal(W[:, :first_free], W_reference[:, :first_free])
    np.testing.assert_allclose(W, W_reference, rtol=1e-3, atol=1e-5 * W_reference.max())
    np.testing.assert_allclose(H, H_reference, rtol=1e-3, atol=1e-5 * H_reference.max())


LOSS_FITS = [(nh.nmf_kl, "kl"), (nh.nmf_euclidean, "euclidean")]


@pytest.mark.parametrize(("fit", "loss"), LOSS_FITS, ids=IDS)
def test_nmf_with_a_loss_is_the_function_of_that_loss(sample_V, fit, loss):
    W_sample = fit(sample_V, 3, n_iter=5)[0]
    for options in ({}, {"seed": 7, "W_fixed": W_sample}, {"seed": 7, "W_fixed": W_sample[:, :2]}):
        ours = nh.nmf(sample_V, 5 if "W_fixed" in options else 3, loss=loss, n_iter=20, **options)
        theirs = fit(sample_V, 5 if "W_fixed" in options else 3, n_iter=20, **options)
        for a, b in zip(ours, theirs, strict=True):
            assert np.array_equal(a, b)


def test_nmf_minimises_kl_by_default(sample_V):
    assert nh.LOSSES == ("kl", "euclidean")
    for a, b in zip(nh.nmf(sample_V, 3, n_iter=10), nh.nmf_kl(sample_V, 3, n_iter=10), strict=True):
        assert np.array_equal(a, b)


def test_each_loss_has_its_definition_and_its_objective_class():
    # One list of names (_losses.LOSS_DEFINITIONS); the engine maps each name to its class.
    losses = importlib.import_module("nmf_helpers._losses")
    assert nh.LOSSES is losses.LOSSES
    assert tuple(NMF_MODULE._OBJECTIVES) == nh.LOSSES == tuple(losses.LOSS_DEFINITIONS)


def test_the_loop_runs_any_objective_registered_under_a_name(monkeypatch):
    # No branch on the loss name in the engine: a class in _OBJECTIVES is all the loop needs.
    class Halving:
        homogeneity = 1

        def __init__(self, V):
            self.V = V

        @classmethod
        @contextlib.contextmanager
        def running(cls, V, K):
            yield cls(V)

        def step(self, W, H, first_free):
            loss = self.loss(W, H)
            W[:, first_free:] *= np.float32(0.5)
            return loss

        def loss(self, W, H):
            return float(W.sum())

    monkeypatch.setitem(NMF_MODULE._OBJECTIVES, "halving", Halving)
    V = np.ones((4, 5), dtype=np.float32)
    W, _, losses = NMF_MODULE.factorise(V, 2, loss="halving", n_iter=3, seed=0)
    np.testing.assert_allclose(losses[:-1] / losses[1:], 2.0, rtol=1e-6)


@pytest.mark.parametrize("loss", ["x", "KL", "frobenius", None])
def test_an_unknown_loss_is_a_clear_error(loss):
    with pytest.raises(nh.ParameterError) as error:
        nh.nmf(np.ones((6, 10)), 3, loss=loss)
    assert str(error.value) == f"nmf: loss must be 'kl' or 'euclidean', got {loss!r}"


def test_divergence_kernel_over_a_wide_range_of_magnitudes(rng):
    # The kernel's own logarithm must hold for every exponent a ratio can have.
    V = np.exp(rng.uniform(-40, 40, (16, 4000))).astype(np.float32)
    V[:, ::7] = 0.0
    WH = np.exp(rng.uniform(-40, 40, V.shape)).astype(np.float32)
    ratio = WH.copy()
    divergence = _kernels.kl_ratio_and_divergence(V, ratio)
    V64, WH64 = V.astype(np.float64), np.maximum(WH.astype(np.float64), nh.EPS)
    expected_ratio = V64 / WH64
    terms = np.where(V64 > 0, V64 * np.log(np.maximum(expected_ratio, nh.EPS)) - V64, 0.0) + WH64
    np.testing.assert_allclose(ratio, expected_ratio, rtol=1e-6)
    assert divergence == pytest.approx(terms.sum(), rel=1e-5)
    # Term by term too: each row is a sum of nonnegative terms.
    for row in range(4):
        single = _kernels.kl_ratio_and_divergence(V[row : row + 1], WH[row : row + 1].copy())
        assert single == pytest.approx(terms[row].sum(), rel=1e-5)


def test_returned_dtypes_and_shapes(sample_V):
    W, H, losses = nh.nmf_euclidean(sample_V.astype(np.float64), 7, n_iter=3)
    assert W.shape == (sample_V.shape[0], 7) and W.dtype == np.float32
    assert H.shape == (7, sample_V.shape[1]) and H.dtype == np.float32
    assert losses.dtype == np.float64


BAD_INPUTS = [
    ({"V": -np.ones((4, 4))}, "V must be nonnegative"),
    ({"V": np.full((4, 4), np.nan)}, "V contains 16 NaN or Inf"),
    ({"V": np.array([[1.0, np.inf], [1.0, 1.0]])}, "NaN or Inf"),
    ({"V": np.ones(8)}, "V must be 2-D"),
    ({"V": np.ones((4, 4, 2))}, "V must be 2-D"),
    ({"V": np.zeros((4, 4))}, "V is all zeros"),
    ({"V": np.ones((0, 4))}, "V is empty"),
    ({"V": [["a"]]}, "numeric"),
    ({"K": 0}, "K must be >= 1, got 0"),
    ({"K": 2.5}, "K must be an integer"),
    ({"K": 500}, "K = 500 is out of range"),
    ({"n_iter": 0}, "n_iter must be >= 1, got 0"),
    ({"W_fixed": np.ones((5, 2))}, "W_fixed must have shape (6, ?)"),
    ({"W_fixed": -np.ones((6, 2))}, "W_fixed must be nonnegative"),
    ({"W_fixed": np.ones((6, 4))}, "W_fixed has 4 columns, more than K = 3"),
    ({"W_init": np.ones((6, 2))}, "W_init must have shape (6, 3)"),
    ({"H_init": np.ones((3, 9))}, "H_init must have shape (3, 10)"),
    ({"H_init": -np.ones((3, 10))}, "H_init must be nonnegative"),
    # Beyond float32's range, in which the package computes: Inf there, then NaN.
    ({"V": np.full((6, 10), 1e39)}, "V has values up to 1e+39 in magnitude, beyond float32's"),
    ({"W_fixed": np.full((6, 2), 4e38)}, "W_fixed has values up to 4e+38 in magnitude"),
    ({"W_init": np.full((6, 3), 1e300)}, "W_init has values up to 1e+300 in magnitude"),
    ({"H_init": np.full((3, 10), 1e39)}, "H_init has values up to 1e+39"),
    # A zero never moves under multiplicative updates: W H would stay 0.
    ({"W_init": np.zeros((6, 3))}, "W_init is all zeros; multiplicative updates never move"),
    ({"H_init": np.zeros((3, 10))}, "H_init is all zeros; multiplicative updates never move"),
    (
        {"W_fixed": np.zeros((6, 3))},
        "W_fixed is all zeros and is the whole of W (all K = 3 columns)",
    ),
    (
        {"W_fixed": np.ones((6, 1)), "W_init": np.pad(np.ones((6, 1)), ((0, 0), (0, 2)))},
        "W_init is all zeros in the columns W_fixed leaves free (1:)",
    ),
]


@pytest.mark.parametrize("fit", [nh.nmf_kl, nh.nmf_euclidean, nh.nmf], ids=[*IDS, "nmf"])
@pytest.mark.parametrize(("change", "message"), BAD_INPUTS)
def test_bad_input_is_a_clear_error(fit, change, message):
    arguments = {"V": np.ones((6, 10)), "K": 3} | change
    V = arguments.pop("V")
    with pytest.raises(ValueError) as error:
        fit(V, **arguments)
    assert isinstance(error.value, nh.ParameterError)
    assert str(error.value).startswith(fit.__name__ + ": ")
    assert message in str(error.value)


def test_the_issue_example_is_refused_not_nan():
    with pytest.raises(nh.ParameterError) as error:
        nh.nmf_kl(np.full((64, 40), 1e39), 3)
    assert str(error.value).startswith("nmf_kl: V has values up to 1e+39")
    assert "scale it down" in str(error.value)


def test_zero_columns_and_zero_fixed_templates_beside_free_ones_are_allowed(sample_V):
    # Only a start that keeps all of W H (or all free components) at 0 is refused.
    W_init = np.ones((sample_V.shape[0], 3), np.float32)
    W_init[:, 1] = 0.0
    W, H, losses = nh.nmf_kl(sample_V, 3, n_iter=5, W_init=W_init)
    assert not W[:, 1].any() and W[:, [0, 2]].all() and np.all(np.isfinite(losses))
    W, H, losses = nh.nmf_kl(sample_V, 3, n_iter=5, W_fixed=np.zeros((sample_V.shape[0], 1)))
    assert not W[:, 0].any() and np.all(np.isfinite(losses)) and losses[-1] < losses[0]


# Peaks far outside any spectrogram of audio: Euclidean overflowed float32 from
# about 1e19 (N max(V)^2 in H H^T), KL near 1e38 (W H itself); tiny ones drowned
# in the floors (EPS in every denominator).
FAR_PEAKS = [3e38, 1e20, 1e-30]


@pytest.mark.parametrize("peak", FAR_PEAKS)
@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_far_from_audio_V_is_the_scaled_down_fit_scaled_back(sample_V, fit, beta_loss, peak):
    V = (sample_V.astype(np.float64) * (peak / sample_V.max())).astype(np.float32)
    W, H, losses = fit(V, 5, n_iter=40)
    assert np.all(np.isfinite(W)) and np.all(np.isfinite(H)) and np.all(np.isfinite(losses))
    # The same call on V brought to a peak of 1, scaled back: W H by the
    # factor, the loss by its power (KL is 1-homogeneous in V, Euclidean 2).
    factor = float(V.max())
    W_unit, H_unit, losses_unit = fit(V / factor, 5, n_iter=40)
    WH = W.astype(np.float64) @ H.astype(np.float64)
    WH_unit = W_unit.astype(np.float64) @ H_unit.astype(np.float64) * factor
    np.testing.assert_allclose(WH, WH_unit, rtol=1e-3, atol=1e-5 * WH_unit.max())
    degree = 2 if beta_loss == "frobenius" else 1
    np.testing.assert_allclose(losses, losses_unit * factor**degree, rtol=1e-4)
    if peak > 1:  # direct_loss floors W H at EPS, as the loop did before scaling
        assert losses[-1] == pytest.approx(direct_loss(V, W, H, beta_loss), rel=1e-3)


@pytest.mark.parametrize("warm", [False, True], ids=["random start", "warm start"])
@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_scaling_by_a_power_of_two_changes_no_digit(sample_V, fit, beta_loss, warm):
    V = np.ldexp(sample_V, 120)  # peak 1e38: scaled internally by 2**-127
    W0, H0 = random_start(np.ldexp(V, -127), 4)
    start = {"W_init": W0, "H_init": np.ldexp(H0, 127)} if warm else {}
    W, H, losses = fit(V, 4, n_iter=20, **start)
    start_unit = {"W_init": W0, "H_init": H0} if warm else {}
    W_unit, H_unit, losses_unit = fit(np.ldexp(V, -127), 4, n_iter=20, **start_unit)
    assert np.array_equal(W, W_unit)
    assert np.array_equal(H, np.ldexp(H_unit, 127))
    assert np.array_equal(
        losses, np.ldexp(losses_unit, 127 * (2 if beta_loss == "frobenius" else 1))
    )


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_activations_too_large_for_float32_move_into_W(sample_V, fit, beta_loss):
    # Tiny starting templates push H beyond float32's range when V peaks at 3e38;
    # each such row hands the excess to its column of W, W H unchanged.
    V = (sample_V.astype(np.float64) * (3e38 / sample_V.max())).astype(np.float32)
    W_init = np.full((V.shape[0], 3), 1e-6, np.float32)
    W, H, _ = fit(V, 3, n_iter=20, W_init=W_init)
    assert np.all(np.isfinite(W)) and np.all(np.isfinite(H))
    factor = float(V.max())
    W_unit, H_unit, _ = fit(V / factor, 3, n_iter=20, W_init=W_init)
    assert float(H_unit.max()) * factor > 3.4e38  # it would have overflowed
    WH = W.astype(np.float64) @ H.astype(np.float64)
    WH_unit = W_unit.astype(np.float64) @ H_unit.astype(np.float64) * factor
    np.testing.assert_allclose(WH, WH_unit, rtol=1e-3, atol=1e-5 * WH_unit.max())


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_fixed_templates_that_cannot_reach_V_are_refused(sample_V, fit, beta_loss):
    V = (sample_V.astype(np.float64) * (3e38 / sample_V.max())).astype(np.float32)
    with pytest.raises(nh.ParameterError) as error:
        fit(V, 3, n_iter=5, W_fixed=np.full((V.shape[0], 3), 1e-6))
    assert str(error.value) == (
        f"{fit.__name__}: the activations of fixed template 0 would pass float32's range"
        " for this V; scale W_fixed up or V down"
    )


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_a_warm_start_that_overflows_is_refused_not_returned(sample_V, fit, beta_loss):
    W_init = np.full((sample_V.shape[0], 3), 1e20)
    H_init = np.full((3, sample_V.shape[1]), 1e20)  # W H = 3e40
    with pytest.raises(nh.ParameterError) as error:
        fit(sample_V, 3, n_iter=5, W_init=W_init, H_init=H_init)
    assert str(error.value).startswith(f"{fit.__name__}: the fit left float32's range")
    assert "scale W_init and H_init" in str(error.value)


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_fixed_templates_that_overflow_are_refused_in_one_error_naming_them(
    sample_V, fit, beta_loss
):
    # The Inf - Inf of such a fit (NaN) warns nothing: the refusal is the one message.
    W_fixed = np.full((sample_V.shape[0], 3), 3e38, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(nh.ParameterError) as error:
            fit(sample_V, 3, n_iter=5, W_fixed=W_fixed)
    assert str(error.value) == (
        f"{fit.__name__}: the fit left float32's range (Inf or NaN in W H or its products);"
        " scale W_fixed so that W H is about as large as V"
    )


@pytest.mark.parametrize("n_fixed", [0, 2])
@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_given_H_scales_the_free_columns_of_the_random_W(sample_V, fit, beta_loss, n_fixed):
    # H_init without W_init: W is drawn from the seed, the fixed columns put in,
    # and only the free columns scaled, by mean(V) / mean(W H) of that start
    # (with no fixed column, mean(W H) = mean(V) exactly).
    V = sample_V[:, :200]
    M, N = V.shape
    K = 4
    rng = np.random.default_rng(3)
    W_fixed = rng.random((M, n_fixed)).astype(np.float32) if n_fixed else None
    H_init = rng.random((K, N)).astype(np.float32)
    W_start = (1.0 - np.random.default_rng(7).random((M, K))).astype(np.float32)
    W_start[:, :n_fixed] = W_fixed if n_fixed else W_start[:, :n_fixed]
    mean_WH = np.dot(W_start.sum(axis=0, dtype=np.float64), H_init.sum(axis=1)) / (M * N)
    W_start[:, n_fixed:] *= np.float32(V.mean(dtype=np.float64) / mean_WH)
    if not n_fixed:
        assert (W_start.astype(np.float64) @ H_init).mean() == pytest.approx(V.mean(), rel=1e-5)
    given_H = fit(V, K, n_iter=3, seed=7, W_fixed=W_fixed, H_init=H_init)
    given_both = fit(V, K, n_iter=3, W_fixed=W_fixed, W_init=W_start, H_init=H_init)
    for a, b in zip(given_H, given_both, strict=True):
        assert np.array_equal(a, b)
    if n_fixed:
        assert np.array_equal(given_H[0][:, :n_fixed], W_fixed)


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_given_W_starts_from_a_random_H_of_the_scale_of_V(sample_V, fit, beta_loss):
    # W_init without H_init: H is drawn from the seed, in (0, 1], and scaled so
    # that mean(W H) = mean(V).
    V = sample_V[:, :200]
    M, N = V.shape
    W_init = np.random.default_rng(3).random((M, 4)).astype(np.float32)
    H_start = (1.0 - np.random.default_rng(7).random((4, N))).astype(np.float32)
    mean_WH = np.dot(W_init.sum(axis=0, dtype=np.float64), H_start.sum(axis=1)) / (M * N)
    H_start *= np.float32(V.mean(dtype=np.float64) / mean_WH)
    given_W = fit(V, 4, n_iter=3, seed=7, W_init=W_init)
    given_both = fit(V, 4, n_iter=3, W_init=W_init, H_init=H_start)
    for a, b in zip(given_W, given_both, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_warm_starts_of_any_dtype_and_layout_give_the_float32_fit(sample_V, fit, beta_loss):
    V = sample_V[:, :200]
    W0, H0 = random_start(V, 4)
    reference = fit(V, 4, n_iter=5, W_init=W0, H_init=H0)
    for W_init, H_init in [
        (W0.astype(np.float64), H0.astype(np.float64)),
        (np.asfortranarray(W0), np.asfortranarray(H0)),
    ]:
        result = fit(V, 4, n_iter=5, W_init=W_init, H_init=H_init)
        assert result[0].dtype == result[1].dtype == np.float32
        for a, b in zip(result, reference, strict=True):
            assert np.array_equal(a, b)


@pytest.mark.parametrize(("fit", "beta_loss"), FITS, ids=IDS)
def test_a_float64_warm_start_gives_its_float32_fit_at_any_scale_of_V(sample_V, fit, beta_loss):
    # A V far below audio's magnitudes is fitted scaled up by a power of two,
    # and H_init with it: H_init is cast to float32 first, as for any V, so
    # entries below float32's normal range keep only the digits float32 holds.
    V = (sample_V[:, :200].astype(np.float64) * (1e-30 / sample_V.max())).astype(np.float32)
    W0, H0 = random_start(V, 4)
    H_init = H0.astype(np.float64)
    H_init[:, ::3] *= 1e-25  # about 1e-41: subnormal in float32
    assert np.any((H_init > 0) & (H_init < np.finfo(np.float32).tiny))
    reference = fit(V, 4, n_iter=5, W_init=W0, H_init=H_init.astype(np.float32))
    result = fit(V, 4, n_iter=5, W_init=W0, H_init=H_init)
    for a, b in zip(result, reference, strict=True):
        assert np.array_equal(a, b)


def test_all_zero_warm_starts_are_refused_in_full_sentences():
    V = np.ones((6, 10))
    never = "multiplicative updates never move a zero"
    for arguments, message in [
        (
            {"W_init": np.zeros((6, 3))},
            f"nmf_kl: W_init is all zeros; {never}, so W H would stay 0:"
            " give W_init positive entries, or leave it out",
        ),
        (
            {"W_fixed": np.ones((6, 1)), "W_init": np.pad(np.ones((6, 1)), ((0, 0), (0, 2)))},
            f"nmf_kl: W_init is all zeros in the columns W_fixed leaves free (1:); {never},"
            " so those components stay 0: give W_init positive entries, or leave it out",
        ),
        (
            {"H_init": np.zeros((3, 10))},
            f"nmf_kl: H_init is all zeros; {never}, so W H would stay 0:"
            " give H_init positive entries, or leave it out",
        ),
    ]:
        with pytest.raises(nh.ParameterError) as error:
            nh.nmf_kl(V, 3, **arguments)
        assert str(error.value) == message


def test_a_W_init_beside_a_W_fixed_of_every_column_is_accepted():
    # With n_fixed = K no column of W_init is free: nothing there can be all zeros.
    V = np.random.default_rng(0).random((6, 10))
    W_fixed = np.ones((6, 2))
    W, _, _ = nh.nmf_kl(V, 2, n_iter=3, W_fixed=W_fixed, W_init=np.zeros((6, 2)))
    assert np.array_equal(W, W_fixed)


@pytest.mark.parametrize("door", [nh.nmf_kl, nh.nmf_euclidean, nh.nmf], ids=lambda f: f.__name__)
def test_a_bad_seed_names_the_door(door):
    with pytest.raises(nh.ParameterError) as error:
        door(np.ones((5, 5)), 2, seed=-1)
    assert str(error.value).startswith(f"{door.__name__}: seed must be")
