"""Tests of nmf_helpers/separation.py: the column view of W H and soft masks."""

import numpy as np
import pytest

import nmf_helpers as nh
from nmf_helpers.separation import mask_shares


@pytest.fixture(scope="module")
def fitted(groove, groove_V):
    W, H, _ = nh.nmf_kl(groove_V, 4, n_iter=40)
    return groove[0], W, H


def test_components_add_up_to_W_H(fitted):
    _, W, H = fitted
    total = sum(nh.component(W, H, k) for k in range(4))
    assert np.allclose(total, W @ H, rtol=1e-4, atol=1e-4 * float((W @ H).max()))


def test_component_is_W_times_H_with_other_rows_zeroed(fitted):
    _, W, H = fitted
    H_only_2 = np.zeros_like(H)
    H_only_2[2] = H[2]
    assert np.allclose(nh.component(W, H, 2), W @ H_only_2)
    assert np.allclose(nh.components(W, H, [0, 2]), nh.component(W, H, 0) + nh.component(W, H, 2))
    assert np.allclose(nh.components(W, H, [3]), nh.component(W, H, 3))


def test_soft_mask_estimates_add_up_to_the_mixture(fitted):
    x, W, H = fitted
    parts = nh.separate(x, W, H, [[0], [1], [2, 3]])
    assert parts.shape == (3, x.size) and parts.dtype == np.float32
    assert np.max(np.abs(parts.sum(axis=0) - x)) < 1e-5


@pytest.mark.parametrize("power", [0.5, 1.0, 2.0])
def test_masks_sum_to_one_with_the_rest_group(fitted, power):
    _, W, H = fitted
    masks = nh.soft_masks(W, H, [[0], [3]], power=power)
    explicit = nh.soft_masks(W, H, [[0], [3], [1, 2]], power=power)
    assert masks.shape == (2, W.shape[0], H.shape[1])
    assert np.all(masks >= 0) and np.all(masks <= 1)
    assert np.allclose(masks, explicit[:2])  # the implicit rest group is [1, 2]
    assert np.allclose(explicit.sum(axis=0), 1.0, atol=1e-5)


def test_power_one_is_the_plain_ratio(fitted):
    _, W, H = fitted
    mask = nh.soft_masks(W, H, [[1]])[0]
    WH = W @ H
    expected = nh.component(W, H, 1) / WH
    where = WH > 1e-6
    assert np.allclose(mask[where], expected[where], rtol=1e-4)


@pytest.mark.parametrize("power", [0.5, 2.0, 7.0])
def test_the_power_raises_each_group_magnitude_before_sharing(fitted, power):
    # (W_g H_g)^p / sum_g' (W_g' H_g')^p, computed the obvious way in float64.
    _, W, H = fitted
    groups = [[0], [1, 3]]  # component 2 is the implicit rest group
    W64, H64 = W.astype(np.float64), H.astype(np.float64)
    magnitudes = np.stack([W64[:, g] @ H64[g] for g in [*groups, [2]]]) ** power
    expected = magnitudes[:2] / magnitudes.sum(axis=0)
    masks = nh.soft_masks(W, H, groups, power=power)
    loud = magnitudes.sum(axis=0) > 1e-30  # away from bins where every group is ~0
    np.testing.assert_allclose(masks[:, loud], expected[:, loud], rtol=1e-3, atol=1e-5)
    # The exponent makes a difference the test can see.
    assert np.abs(masks - nh.soft_masks(W, H, groups)).max() > 0.1


def test_separate_applies_the_power_to_its_masks(fitted):
    x, W, H = fitted
    X = nh.stft(x)
    masks = nh.soft_masks(W, H, [[0], [1, 2, 3]], power=3.0)
    parts = nh.separate(x, W, H, [[0], [1, 2, 3]], power=3.0)
    for mask, part in zip(masks, parts, strict=True):
        np.testing.assert_allclose(part, nh.istft(mask * X, length=x.size), atol=1e-6)
    assert np.abs(parts - nh.separate(x, W, H, [[0], [1, 2, 3]])).max() > 1e-3


def test_mask_shares_silence_equally():
    W = np.array([[1.0, 0.0], [0.0, 0.0]])
    H = np.array([[1.0, 0.0], [1.0, 0.0]])
    masks = nh.soft_masks(W, H, [[0], [1]])
    assert np.allclose(masks[:, 1, :], 0.5)
    assert np.allclose(masks[:, 0, 0], [1.0, 0.0])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda W, H: nh.component(W, H, 7), "component index 7 out of range for K = 4"),
        (lambda W, H: nh.component(W, H, 1.5), "k must be an integer"),
        (lambda W, H: nh.components(W, H, []), "ks is empty"),
        (lambda W, H: nh.component(W, H.T, 0), "H must have shape"),
        (lambda W, H: nh.soft_masks(W, H, [[0, 1], [1]]), "component 1 is in two groups"),
        (lambda W, H: nh.soft_masks(W, H, []), "groups must be a non-empty list"),
        (lambda W, H: nh.soft_masks(W, H, [[0]], power=0), "power must be between"),
        (lambda W, H: nh.soft_masks(-W, H, [[0]]), "W must be nonnegative"),
    ],
)
def test_bad_arguments(fitted, call, message):
    _, W, H = fitted
    with pytest.raises(nh.ParameterError, match=message):
        call(W, H)


def test_separate_checks_that_W_H_fits_x(fitted):
    x, W, H = fitted
    with pytest.raises(nh.ParameterError, match="separate: W H has shape"):
        nh.separate(x[:50_000], W, H, [[0]])


def test_large_and_small_powers_stay_finite_and_exact(fitted):
    _, W, H = fitted
    for scale in (1e-6, 1.0, 1e3):
        masks = nh.soft_masks(W * scale, H, [[0], [1], [2, 3]], power=50)
        assert np.all(np.isfinite(masks))
        assert np.allclose(masks.sum(axis=0), 1.0, atol=1e-5)
    tiny = nh.soft_masks(W * 1e-6, H * 1e-6, [[0], [1]], power=20)
    assert np.allclose(tiny, nh.soft_masks(W, H, [[0], [1]], power=20), atol=1e-5)


def test_empty_group_gets_zero_even_in_silent_bins():
    W = np.array([[1.0, 0.0], [0.0, 0.0]])
    H = np.array([[1.0, 0.0], [1.0, 0.0]])
    masks = nh.soft_masks(W, H, [[], [0, 1]])
    assert not masks[0].any() and np.allclose(masks[1], 1.0)


def test_groups_that_are_not_lists_are_a_clear_error(fitted):
    _, W, H = fitted
    with pytest.raises(nh.ParameterError, match="groups must be a list of index lists"):
        nh.soft_masks(W, H, [0, 1])


def test_separate_accepts_a_fit_with_an_odd_window():
    """N depends on win's parity (the padding is win // 2): the door must not guess it."""
    x = np.random.default_rng(0).standard_normal(20480).astype(np.float32)
    V = nh.spectrogram(x, win=2047, hop=512)
    assert V.shape[1] == 40 != 1 + x.size // 512
    W, H, _ = nh.nmf_kl(V, 3, n_iter=3)
    parts = nh.separate(x, W, H, [[0, 1, 2]], win=2047, hop=512)
    np.testing.assert_allclose(parts[0], x, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_masks_of_huge_factors_stay_finite_and_scale_free(fitted, dtype):
    # W H near 1e40: beyond float32, where the masks are formed (NaN before).
    _, W, H = fitted
    big_W, big_H = (W * (1e20 / W.max())).astype(dtype), (H * (1e20 / H.max())).astype(dtype)
    masks = nh.soft_masks(big_W, big_H, [[0], [1, 2]], power=2.0)
    assert np.all(np.isfinite(masks))
    expected = nh.soft_masks(big_W / 1e20, big_H / 1e20, [[0], [1, 2]], power=2.0)
    np.testing.assert_allclose(masks, expected, atol=1e-6)


def test_separate_with_huge_factors_still_adds_up_to_the_mixture(fitted):
    x, W, H = fitted
    parts = nh.separate(
        x, W * np.float32(3e37 / W.max()), H * np.float32(3e37 / H.max()), [[0], [1, 2, 3]]
    )
    assert np.all(np.isfinite(parts))
    np.testing.assert_allclose(parts, nh.separate(x, W, H, [[0], [1, 2, 3]]), atol=1e-5)


def test_separate_a_mixture_far_louder_than_audio(fitted):
    # x near 1e36: its STFT sums 2048 samples and passed float32's range.
    x, W, H = fitted
    loud = np.ldexp(x, 120)
    parts = nh.separate(loud, W, H, [[0], [1, 2, 3]])
    assert np.all(np.isfinite(parts))
    assert np.array_equal(parts, np.ldexp(nh.separate(x, W, H, [[0], [1, 2, 3]]), 120))
    factor = 3e37 / np.abs(x).max()
    parts = nh.separate((x * factor).astype(np.float32), W, H, [[0], [1, 2, 3]])
    expected = nh.separate(x, W, H, [[0], [1, 2, 3]]) * factor
    np.testing.assert_allclose(parts, expected, rtol=1e-4, atol=1e-5 * factor)


def test_separate_refuses_a_part_beyond_float32():
    # A mixture that peaks at float32's maximum, and sharp masks (power 50):
    # a part peaks 1 % above the mixture, beyond float32.
    rng = np.random.default_rng(0)
    x = (np.sin(np.arange(4608) * 0.3) * np.finfo(np.float32).max).astype(np.float32)
    W, H = rng.random((1025, 3)), rng.random((3, 10))
    parts = nh.separate(x / 2, W, H, [[0], [1, 2]], power=50)
    assert 1.0 < np.abs(parts).max() / np.abs(x / 2).max() < 2.0
    with pytest.raises(nh.ParameterError) as error:
        nh.separate(x, W, H, [[0], [1, 2]], power=50)
    assert str(error.value) == (
        "separate: a part of x would pass float32's range (3.4e38); scale x down"
    )


def test_factors_beyond_float32_are_refused_by_name(fitted):
    _, W, H = fitted
    for call, name in [
        (lambda: nh.soft_masks(W.astype(np.float64) / W.max() * 1e39, H, [[0]]), "soft_masks: W"),
        (lambda: nh.separate(np.ones(4096), W, H.astype(np.float64) * 1e40, [[0]]), "separate: H"),
        (lambda: nh.components(W, np.full_like(H, 1e39, dtype=np.float64), [0]), "components: H"),
    ]:
        with pytest.raises(nh.ParameterError) as error:
            call()
        assert str(error.value).startswith(name + " has values up to")


def test_a_component_spectrogram_beyond_float32_is_refused(fitted):
    _, W, H = fitted
    big_W, big_H = W * np.float32(1e20 / W.max()), H * np.float32(1e20 / H.max())
    for call, name in [
        (lambda: nh.components(big_W, big_H, [0, 1]), "components"),
        (lambda: nh.component(big_W, big_H, 0), "component"),
    ]:
        with pytest.raises(nh.ParameterError) as error:
            call()
        assert str(error.value) == (
            f"{name}: W H passes the range of float32 (3.4e+38);"
            " scale W or H down (or pass them as float64)"
        )
    # float64 factors hold the product: returned as it is.
    product = nh.components(big_W.astype(np.float64), big_H.astype(np.float64), [0, 1])
    assert product.dtype == np.float64 and np.all(np.isfinite(product))


# Every door names itself and the argument, in full (one message per check).
DOOR_ERRORS = [
    (lambda W, H: nh.components(W, H, True), "components: ks must be integers, got True"),
    (lambda W, H: nh.components(W, H, [4]), "components: component index 4 out of range for K = 4"),
    (lambda W, H: nh.components(W, H, [-5]), "components: component index -5 out of range"),
    (lambda W, H: nh.component(W, H, 9), "component: component index 9 out of range for K = 4"),
    (lambda W, H: nh.component(W, H.T, 0), "component: H must have shape"),
    (lambda W, H: nh.soft_masks(W, H, [[0], [9]]), "soft_masks: component index 9 out of range"),
    (lambda W, H: nh.soft_masks(W, H, [[0], [0]]), "soft_masks: component 0 is in two groups"),
    (
        lambda W, H: nh.soft_masks(W, H, [[0]], power=100.5),
        "soft_masks: power must be between 0.001 and 100.0, got 100.5",
    ),
]


@pytest.mark.parametrize(("call", "message"), DOOR_ERRORS)
def test_each_door_names_itself_in_its_errors(fitted, call, message):
    _, W, H = fitted
    with pytest.raises(nh.ParameterError) as error:
        call(W, H)
    assert str(error.value).startswith(message)


def test_separate_names_itself_in_each_of_its_checks(fitted):
    x, W, H = fitted
    n_frames = H.shape[1]
    for call, message in [
        (lambda: nh.separate(x[:100], W, H, [[0]]), "separate: x has 100 samples"),
        (
            lambda: nh.separate(x[:50_000], W, H, [[0]]),
            f"separate: W H has shape (1025, {n_frames}) but the STFT of x has shape (1025, 98);"
            " fit W and H to spectrogram(x, win=2048, hop=512)",
        ),
        (lambda: nh.separate(x, W, H, [[1], [1]]), "separate: component 1 is in two groups"),
        (
            lambda: nh.separate(x, W, H, [[0]], power=100.5),
            "separate: power must be between 0.001 and 100.0, got 100.5",
        ),
    ]:
        with pytest.raises(nh.ParameterError) as error:
            call()
        assert str(error.value).startswith(message)


def test_a_lone_int_is_one_component(fitted):
    _, W, H = fitted
    assert np.array_equal(nh.components(W, H, 2), nh.component(W, H, 2))
    assert np.array_equal(nh.components(W, H, np.array([0, 2])), nh.components(W, H, [0, 2]))


@pytest.mark.parametrize(
    "ks", [np.array(2), np.int64(2), [np.array(2)], np.array([2]), (np.uint8(2),)]
)
def test_numpy_integers_and_0d_integer_arrays_are_indices(fitted, ks):
    """``np.array(2)`` raised a bare TypeError (iteration over a 0-d array); int() takes it."""
    _, W, H = fitted
    assert np.array_equal(nh.components(W, H, ks), nh.component(W, H, 2))


@pytest.mark.parametrize(
    ("ks", "message"),
    [
        (np.array(2.0), "components: ks must be integers, got np.float64(2.0)"),
        ([np.array(1.0)], "components: ks must be integers, got np.float64(1.0) in"),
        (np.array(True), "components: ks must be integers, got np.True_"),
        (np.array(-1), "components: component index -1 out of range for K = 4"),
        ([np.array(4)], "components: component index 4 out of range for K = 4"),
    ],
)
def test_0d_arrays_of_floats_bools_or_bad_indices_are_refused(fitted, ks, message):
    _, W, H = fitted
    with pytest.raises(nh.ParameterError) as error:
        nh.components(W, H, ks)
    assert str(error.value).startswith(message)


# One rule for every door: an index is an integer in 0..K-1. A negative one
# is refused like K is (it used to count from the end in some doors only), a
# float is never truncated (1.9 was component 1), and a dict of named groups
# is refused by name rather than read as the letters of its keys.
INDEX_ERRORS = [
    (
        lambda x, W, H: nh.component(W, H, -1),
        "component: component index -1 out of range for K = 4 (indices run from 0 to 3)",
    ),
    (
        lambda x, W, H: nh.components(W, H, [-4]),
        "components: component index -4 out of range for K = 4",
    ),
    (
        lambda x, W, H: nh.components(W, H, [1.9]),
        "components: ks must be integers, got 1.9 in [1.9]",
    ),
    (lambda x, W, H: nh.component(W, H, 1.0), "component: k must be an integer, got 1.0"),
    (
        lambda x, W, H: nh.soft_masks(W, H, [[0], [1.5]]),
        "soft_masks: groups must be integers, got 1.5",
    ),
    (
        lambda x, W, H: nh.soft_masks(W, H, [[0], [-1]]),
        "soft_masks: component index -1 out of range",
    ),
    (
        lambda x, W, H: nh.separate(x, W, H, {"drums": [0]}),
        "separate: groups must be a list of index lists, e.g. [[0, 2], [1]], got a dict keyed by"
        " ['drums']; pass list(groups.values())",
    ),
    (
        lambda x, W, H: nh.separate(x, W, H, [[0], "1"]),
        "separate: groups must be a list of index lists",
    ),
]


@pytest.mark.parametrize(("call", "message"), INDEX_ERRORS)
def test_indices_are_integers_from_0_to_K_minus_1(fitted, call, message):
    x, W, H = fitted
    with pytest.raises(nh.ParameterError) as error:
        call(x, W, H)
    assert str(error.value).startswith(message)


def test_the_default_power_is_one(fitted):
    x, W, H = fitted
    groups = [[0], [1, 2, 3]]
    assert np.array_equal(nh.separate(x, W, H, groups), nh.separate(x, W, H, groups, power=1.0))
    magnitudes = np.stack([nh.components(W, H, group) for group in groups])
    assert np.array_equal(mask_shares(magnitudes), mask_shares(magnitudes, power=1.0))


def test_mask_shares_of_silence_go_to_every_group_when_none_is_said_absent():
    magnitudes = np.zeros((3, 2, 4), np.float32)
    magnitudes[0, 0, 0] = 2.0
    shares = mask_shares(magnitudes)
    assert shares.shape == (3, 2, 4) and shares.dtype == np.float32
    np.testing.assert_array_equal(shares[:, 0, 0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(shares[:, 1, :], 1 / 3)
    absent = mask_shares(magnitudes, present=[2, 0, 1])  # truthy counts as present, not a weight
    np.testing.assert_allclose(absent[:, 1, 3], [0.5, 0.0, 0.5])


def test_a_product_refused_only_when_it_really_passes_float32(fitted):
    # The bound max W * max H * K passes float32's range, the product does not:
    # the huge entries of W and H never meet. Returned, not refused.
    W = np.zeros((4, 2), np.float32)
    H = np.zeros((2, 3), np.float32)
    W[0, 0], H[1, 0] = 1e20, 1e19
    W[1, 1], H[0, 1] = 1.0, 1.0
    product = nh.components(W, H, [0, 1])
    assert np.all(np.isfinite(product)) and product.max() == 1e20
    # Each entry of W H is 2 * 1.5e19**2 = 4.5e38, beyond float32, although
    # max W * max H alone (2.25e38) is not: refused.
    big = np.float32(1.5e19)
    with pytest.raises(nh.ParameterError, match="components: W H passes the range of float32"):
        nh.components(np.full((4, 2), big), np.full((2, 3), big), [0, 1])
