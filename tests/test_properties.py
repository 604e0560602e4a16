"""Laws that hold for every input, checked with hypothesis on small random cases.

Each property draws its sizes and options from hypothesis and its numbers
from a numpy generator seeded by hypothesis (drawing thousands of floats one
by one would be slow and no more searching). Example counts are small and
the search is derandomised, so the file runs in seconds and never flakes;
the deadline is generous because the machine may be shared.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nmf_helpers as nh

PROPERTY = settings(
    max_examples=60,
    deadline=5000,  # ms; each example takes a few ms, a busy machine may take 100 times that
    derandomize=True,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow],
)
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def random_factors(seed: int, M: int, N: int, K: int, zeros: float, decades: float):
    """W (M, K) and H (K, N): nonnegative, a share ``zeros`` of zeros, ``decades`` of range."""
    rng = np.random.default_rng(seed)

    def draw(shape):
        values = 10.0 ** rng.uniform(-decades, 0.0, shape) * rng.random(shape)
        values[rng.random(shape) < zeros] = 0.0
        return values

    return draw((M, K)), draw((K, N))


@st.composite
def partitions(draw, K: int):
    """Disjoint groups over a subset of range(K); some may be empty, some components left out."""
    labels = draw(st.lists(st.integers(-1, 3), min_size=K, max_size=K))  # -1: in no group
    n_groups = draw(st.integers(1, 4))
    groups = [[k for k in range(K) if labels[k] == g] for g in range(n_groups)]
    return groups


@PROPERTY
@given(
    seed=SEEDS,
    shape=st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 6)),
    zeros=st.sampled_from([0.0, 0.3, 0.9]),
    decades=st.sampled_from([0.0, 3.0, 12.0]),
    power=st.floats(1e-3, 100.0),
    data=st.data(),
)
def test_masks_of_any_groups_and_power_sum_to_one_with_the_rest(
    seed, shape, zeros, decades, power, data
):
    M, N, K = shape
    W, H = random_factors(seed, M, N, K, zeros, decades)
    groups = data.draw(partitions(K))
    masks = nh.soft_masks(W, H, groups, power=power)
    assert masks.shape == (len(groups), M, N) and masks.dtype == np.float32
    assert np.all(masks >= 0) and np.all(masks <= 1)
    rest = sorted(set(range(K)).difference(*groups))
    explicit = nh.soft_masks(W, H, [*groups, rest], power=power)
    # The rest group takes part in the denominator whether it is named or not.
    np.testing.assert_allclose(explicit[: len(groups)], masks, atol=1e-6)
    np.testing.assert_allclose(explicit.sum(axis=0), 1.0, atol=1e-5)
    for g, group in enumerate(groups):
        if not group:
            assert not masks[g].any()  # an empty group gets silence, even in silent bins


@PROPERTY
@given(
    seed=SEEDS,
    shape=st.tuples(st.integers(2, 16), st.integers(2, 16)),
    data=st.data(),
    loss=st.sampled_from(nh.LOSSES),
)
def test_fixed_columns_stay_bit_identical_for_any_F_up_to_K(seed, shape, data, loss):
    M, N = shape
    K = data.draw(st.integers(1, min(M, N)), label="K")
    F = data.draw(st.integers(1, K), label="F")
    rng = np.random.default_rng(seed)
    V = rng.random((M, N)) * 10.0 ** rng.uniform(-2, 2)
    W_fixed = rng.random((M, F)) + 1e-3  # float64: cast to float32 exactly once
    W, H, losses = nh.nmf(V, K, loss=loss, n_iter=5, seed=seed, W_fixed=W_fixed)
    assert np.array_equal(W[:, :F], W_fixed.astype(np.float32))
    assert np.all(np.isfinite(H)) and np.all(np.isfinite(losses))


# An increase this small relative to the loss scale is float32 rounding, not a
# violation of Lee & Seung's monotonicity theorem (as in tests/test_nmf.py).
ROUNDING = 1e-6


@PROPERTY
@given(
    seed=SEEDS,
    shape=st.tuples(st.integers(1, 24), st.integers(1, 24)),
    zeros=st.sampled_from([0.0, 0.5]),
    decades=st.sampled_from([0.0, 4.0]),
    loss=st.sampled_from(nh.LOSSES),
    data=st.data(),
)
def test_the_loss_never_increases_for_any_nonnegative_V(seed, shape, zeros, decades, loss, data):
    M, N = shape
    K = data.draw(st.integers(1, min(M, N)), label="K")
    W0, H0 = random_factors(seed, M, N, max(1, min(M, N) // 2 + 1), zeros, decades)
    V = W0 @ H0 + np.random.default_rng(seed).random((M, N)) * (zeros < 0.5)
    V[0, 0] += 1.0  # never all zeros
    _, _, losses = nh.nmf(V, K, loss=loss, n_iter=30, seed=seed)
    V32 = V.astype(np.float32).astype(np.float64)
    scale = np.sum(V32**2) if loss == "euclidean" else max(losses[0], V32.sum())
    assert np.all(np.isfinite(losses))
    assert np.all(np.diff(losses) <= ROUNDING * scale), np.diff(losses).max() / scale


@PROPERTY
@given(
    seed=SEEDS,
    win=st.sampled_from([256, 511, 512, 1024, 2048]),
    hop_share=st.integers(2, 8),
    extra=st.integers(0, 6000),
    amplitude=st.sampled_from([1e-3, 0.3, 1.0]),
)
def test_istft_of_stft_gives_back_any_length(seed, win, hop_share, extra, amplitude):
    hop = win // hop_share  # at least two windows over every sample
    x = (np.random.default_rng(seed).standard_normal(win + extra) * amplitude).astype(np.float32)
    y = nh.istft(nh.stft(x, win=win, hop=hop), win=win, hop=hop, length=x.size)
    assert y.dtype == np.float32 and y.shape == x.shape
    # float32 FFTs: the error scales with the signal (about 1e-7 of it, a few
    # ulps amplified where the summed windows are small near the ends).
    assert np.max(np.abs(y - x)) <= 5e-5 * np.max(np.abs(x))


# Detection on a few seconds of the project's clips with few iterations:
# enough for the law (the score is a correlation of activations, and the fit
# of g V is the fit of V with H times g), far too little for a good decision.
DETECT = {"n_free": 4, "n_iter": 15}


@pytest.fixture(scope="module")
def small_detection():
    sample = nh.load_audio(nh.clip_path("sample"))[0][: 3 * 22050]  # over one bar
    track = nh.load_audio(nh.clip_path("sampling_track"))[0][: 6 * 22050]
    templates = nh.learn_sample(sample, n_components=3, shifts=(0,), n_iter=20)
    return templates, track, nh.detect_sample(templates, track, **DETECT)


@settings(PROPERTY, max_examples=8)
@given(gain=st.floats(1e-3, 1e3), threshold=st.floats(-0.5, 0.9))
def test_detection_score_and_decision_do_not_change_with_gain(small_detection, gain, threshold):
    templates, track, reference = small_detection
    louder = nh.detect_sample(templates, track * np.float32(gain), threshold=threshold, **DETECT)
    assert louder.score == pytest.approx(reference.score, abs=1e-4)
    # The decision is the score against the threshold asked for; a score
    # within rounding of it may fall either way.
    if abs(reference.score - threshold) > 1e-4:
        assert louder.detected == (reference.score >= threshold)
    assert louder.threshold == threshold
