"""Measures of a factorisation or a separation, and the tables built from them."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import nmf_helpers as nh

SR = 8000  # with M = 5 bins the rows lie at 0, 1000, 2000, 3000 and 4000 Hz


# ---------------------------------------------------------------- decibels, frequencies


def test_decibels_of_known_magnitudes():
    A = np.array([[2.0, 0.2], [0.02, 0.0]])
    expected = np.array([[0.0, -20.0], [-40.0, -60.0]])
    np.testing.assert_allclose(nh.decibels(A, reference=2.0, floor_db=-60), expected)


def test_decibels_keeps_the_shape_and_the_floor():
    A = np.random.default_rng(0).random((7, 3)) * 1e-6
    dB = nh.decibels(A, reference=1.0)
    assert dB.shape == (7, 3)
    assert dB.min() >= -80.0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"A": np.ones((2, 2)), "reference": 0.0}, "decibels: reference must be > 0"),
        ({"A": np.ones((2, 2)), "reference": 1.0, "floor_db": 10}, "decibels: floor_db"),
        ({"A": -np.ones((2, 2)), "reference": 1.0}, "decibels: A must be nonnegative"),
        ({"A": np.ones(3), "reference": 1.0}, "decibels: A must be 2-D"),
    ],
)
def test_decibels_names_a_bad_argument(arguments, message):
    A = arguments.pop("A")
    with pytest.raises(nh.ParameterError, match=message):
        nh.decibels(A, **arguments)


def test_bin_frequencies_run_from_zero_to_nyquist():
    np.testing.assert_allclose(nh.bin_frequencies(5, sr=SR), [0, 1000, 2000, 3000, 4000])
    frequencies = nh.bin_frequencies(1025, sr=22050)
    assert frequencies.shape == (1025,)
    assert frequencies[-1] == 11025.0


def test_bin_frequencies_names_a_bad_argument():
    with pytest.raises(nh.ParameterError, match="bin_frequencies: M must be >= 2, got 1"):
        nh.bin_frequencies(1, sr=SR)
    with pytest.raises(nh.ParameterError, match="bin_frequencies: sr must be an integer"):
        nh.bin_frequencies(5, sr=8000.5)


def test_share_above_of_a_vector_and_of_a_spectrogram():
    values = np.array([1.0, 1.0, 1.0, 3.0, 4.0])  # 7 of 10 at or above 3000 Hz
    assert nh.share_above(values, sr=SR, hz=3000) == pytest.approx(0.7)
    assert nh.share_above(np.tile(values[:, None], (1, 4)), sr=SR, hz=3000) == pytest.approx(0.7)
    assert nh.share_above(np.zeros(5), sr=SR, hz=3000) == 0.0


def test_share_above_names_a_bad_argument():
    with pytest.raises(nh.ParameterError, match="share_above: hz must be between 0.0 and 4000"):
        nh.share_above(np.ones(5), sr=SR, hz=5000)
    with pytest.raises(nh.ParameterError, match="share_above: A needs at least 2 frequency bins"):
        nh.share_above(np.ones((1, 4)), sr=SR, hz=0)


# ---------------------------------------------------------------- W and H


def test_spectral_flatness_by_hand():
    W = np.array([[1.0, 1.0, 1.0], [1.0, 4.0, 0.0]])
    flatness = nh.spectral_flatness(W)
    assert flatness.shape == (3,)
    assert flatness[0] == pytest.approx(1.0)  # flat
    assert flatness[1] == pytest.approx(2.0 / 2.5)  # geometric mean 2, arithmetic 2.5
    # a zero is floored at 1e-10 of the column's peak: sqrt(1e-10) / 0.5
    assert flatness[2] == pytest.approx(2e-5, rel=1e-6)


def test_spectral_flatness_separates_noise_from_a_comb():
    rng = np.random.default_rng(1)
    noise = rng.random(1025) + 0.5
    comb = np.where(np.arange(1025) % 50 == 0, 1.0, 1e-4)
    flatness = nh.spectral_flatness(np.column_stack([noise, comb]))
    assert flatness[0] > 0.9
    assert flatness[1] < 0.01


def test_spectral_flatness_names_a_bad_argument():
    with pytest.raises(nh.ParameterError, match="spectral_flatness: W contains 1 NaN"):
        nh.spectral_flatness(np.array([[1.0], [np.nan]]))


def test_spectral_centroid_by_hand():
    W = np.zeros((5, 3))
    W[1, 0] = 2.0  # all at 1000 Hz
    W[[0, 4], 1] = 1.0  # half at 0 Hz, half at 4000 Hz
    centroid = nh.spectral_centroid(W, sr=SR)  # column 2 is silent
    np.testing.assert_allclose(centroid, [1000.0, 2000.0, 0.0])


def test_spectral_centroid_names_a_bad_argument():
    with pytest.raises(nh.ParameterError, match="spectral_centroid: W needs at least 2"):
        nh.spectral_centroid(np.ones((1, 3)), sr=SR)
    with pytest.raises(nh.ParameterError, match="spectral_centroid: sr must be >= 1"):
        nh.spectral_centroid(np.ones((5, 3)), sr=0)


def test_activation_ratio_by_hand():
    H = np.array([[1.0, 1.0, 4.0, 2.0], [2.0, 2.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    ratio = nh.activation_ratio(H, split=2)
    assert ratio.shape == (3,)
    assert ratio[:2] == pytest.approx([3.0, 0.5])
    assert ratio[2] > 1e9  # silent before: very large, not inf or nan


@pytest.mark.parametrize("split", [0, 4])
def test_activation_ratio_names_a_bad_split(split):
    with pytest.raises(nh.ParameterError, match=f"activation_ratio: split .*got {split}"):
        nh.activation_ratio(np.ones((2, 4)), split=split)


# ---------------------------------------------------------------- W H against V


def test_divergence_by_bin_by_hand():
    V = np.array([[1.0, 0.0, 2.0], [1.0, 1.0, 1.0]])
    WH = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    # row 0: 0 + (0 - 0 + 1) + (2 log 2 - 2 + 1); row 1: a perfect fit
    expected = [1.0 + 2 * np.log(2) - 1.0, 0.0]
    divergence = nh.divergence_by_bin(V.astype(np.float32), WH)
    assert divergence.dtype == np.float64
    np.testing.assert_allclose(divergence, expected, atol=1e-12)


def test_divergence_by_bin_adds_up_to_the_nmf_loss(sample_V):
    W, H, losses = nh.nmf_kl(sample_V, 4, n_iter=30, seed=0)
    # within one iteration's change (0.08 % here), whichever factors the last loss is of
    total = nh.divergence_by_bin(sample_V, W @ H).sum()
    assert total == pytest.approx(losses[-1], rel=2e-3)


def test_divergence_by_bin_names_a_mismatched_shape():
    with pytest.raises(nh.ParameterError, match=r"divergence_by_bin: WH must have shape \(2, 3\)"):
        nh.divergence_by_bin(np.ones((2, 3)), np.ones((3, 2)))


def test_log_spectral_correlation_by_hand():
    A = np.array([[1.0, 0.1], [0.01, 0.001]])
    assert nh.log_spectral_correlation(A, 3 * A, reference=1.0) == pytest.approx(1.0)
    assert nh.log_spectral_correlation(A, 1 / (1000 * A), reference=1.0) == pytest.approx(-1.0)
    # below the floor everything is -80 dB: a constant picture has no correlation
    assert np.isnan(nh.log_spectral_correlation(A, A * 1e-9, reference=1.0))


def test_log_spectral_correlation_names_a_bad_argument():
    with pytest.raises(nh.ParameterError, match="log_spectral_correlation: B must have shape"):
        nh.log_spectral_correlation(np.ones((2, 2)), np.ones((2, 3)), reference=1.0)


# ---------------------------------------------------------------- separation against stems


def test_stem_shares_by_hand():
    masks = np.array([[[1.0, 0.5]], [[0.0, 0.5]]])  # two masks of shape (1, 2)
    stems = {"a": np.array([[3.0, 0.0]]), "b": np.array([[0.0, 2.0]])}
    shares = nh.stem_shares(masks, stems)
    assert list(shares) == ["a", "b"]
    np.testing.assert_allclose(shares["a"], [0.75, 0.0])  # mask 0 passes 3 of a, 1 of b
    np.testing.assert_allclose(shares["b"], [0.25, 1.0])


def test_stem_shares_names_a_bad_argument():
    masks = np.ones((2, 1, 2))
    with pytest.raises(nh.ParameterError, match="stem_shares: masks must be 3-D"):
        nh.stem_shares(masks[0], {"a": np.ones((1, 2))})
    with pytest.raises(nh.ParameterError, match=r"stem_shares: stems\['a'\] must have shape"):
        nh.stem_shares(masks, {"a": np.ones((2, 2))})
    with pytest.raises(nh.ParameterError, match="stem_shares: stems must be a non-empty"):
        nh.stem_shares(masks, {})


def test_waveform_correlations_by_hand():
    a, b = np.random.default_rng(2).standard_normal((2, 4000))
    correlations = nh.waveform_correlations(np.stack([a, 2 * a + 1, a + b]), {"a": a, "b": b})
    assert list(correlations) == ["a", "b"]
    assert correlations["a"].shape == (3,)
    np.testing.assert_allclose(correlations["a"][:2], [1.0, 1.0])
    assert correlations["a"][2] == pytest.approx(np.sqrt(0.5), abs=0.05)


def test_waveform_correlations_names_a_bad_argument():
    with pytest.raises(nh.ParameterError, match="waveform_correlations: all waveforms must"):
        nh.waveform_correlations(np.ones((2, 10)), {"a": np.ones(9)})
    with pytest.raises(nh.ParameterError, match=r"references\['a'\] contains NaN"):
        nh.waveform_correlations(np.ones((2, 2)), {"a": np.array([1.0, np.nan])})


def test_best_assignment_maximises_the_total_not_each_choice():
    # greedy would give drums component 0 (0.9) and vocals component 1 (0.1): total 1.0
    scores = {"drums": [0.9, 0.8, 0.0], "vocals": [0.7, 0.1, 0.2]}
    assert nh.best_assignment(scores) == {"drums": 1, "vocals": 0}


def test_best_assignment_names_a_bad_argument():
    with pytest.raises(nh.ParameterError, match="best_assignment: 2 names but only 1 components"):
        nh.best_assignment({"a": [1.0], "b": [2.0]})
    with pytest.raises(nh.ParameterError, match="best_assignment: the values of scores must"):
        nh.best_assignment({"a": [1.0, 2.0], "b": [2.0]})


# ---------------------------------------------------------------- tables


def test_table_prints_text_and_markdown_and_gives_rows():
    table = nh.Table(
        ("fit", "corr.", "share"), (("a", 0.5, 0.25), ("bb", 1.0, 1.0)), ("", ".2f", ".0%")
    )
    assert str(table).splitlines() == [
        "fit  corr.  share",
        "a     0.50    25%",
        "bb    1.00   100%",
    ]
    assert table.to_markdown().splitlines() == [
        "| fit | corr. | share |",
        "| --- | ---: | ---: |",
        "| a | 0.50 | 25% |",
        "| bb | 1.00 | 100% |",
    ]
    assert table["bb"] == {"fit": "bb", "corr.": 1.0, "share": 1.0}
    with pytest.raises(KeyError, match="no row named 'c'"):
        table["c"]


def test_table_names_rows_of_the_wrong_length():
    with pytest.raises(nh.ParameterError, match="Table: columns, formats and every row"):
        nh.Table(("a", "b"), (("x",),), ("", ".2f"))


def test_component_table_labels_each_component_by_the_best_assignment():
    W = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    shares = {"drums": [0.6, 0.5, 0.1], "vocals": [0.3, 0.4, 0.1]}
    correlations = {"drums": [0.9, 0.1, 0.0], "vocals": [0.1, 0.0, 0.8]}
    table = nh.component_table(
        W, sr=6000, shares=shares, correlations=correlations, voice_on=[1.0, 2.0, 3.0]
    )
    assert table.columns[:5] == ("component", "label", "flatness", "centroid (Hz)", "voice on")
    assert [table[k]["label"] for k in range(3)] == ["drums", "vocals", "-"]
    assert [table[k]["same by corr."] for k in range(3)] == [True, False, False]
    assert table[0]["flatness"] == pytest.approx(1.0)
    assert table[1]["centroid (Hz)"] == 0.0 and table[2]["centroid (Hz)"] == 1000.0
    assert table[1]["% vocals"] == 0.4 and table[2]["corr. vocals"] == 0.8


def test_component_table_without_stems_shows_the_features_only():
    table = nh.component_table(np.ones((4, 2)), sr=6000)
    assert table.columns == ("component", "flatness", "centroid (Hz)")


def test_component_table_names_a_bad_argument():
    W = np.ones((4, 2))
    with pytest.raises(
        nh.ParameterError, match=r"component_table: shares must have shape \(\?, 2\)"
    ):
        nh.component_table(W, sr=6000, shares={"a": [1.0, 0.0, 0.0]})
    with pytest.raises(nh.ParameterError, match="component_table: shares and correlations"):
        nh.component_table(W, sr=6000, shares={"a": [1, 0]}, correlations={"b": [1, 0]})


def test_spectrogram_table_by_hand():
    track = np.array([[4.0, 1.0], [1.0, 2.0]])  # rows at 0 Hz and 4000 Hz
    dark = np.array([[4.0, 1.0], [0.1, 0.2]])
    table = nh.spectrogram_table(
        {"dark": dark}, {"track": track}, track=track, sr=SR, above_hz=4000
    )
    assert table.columns == ("fit", "corr. track", "magnitude >= 4000 Hz")
    row = table["dark"]
    assert row["magnitude >= 4000 Hz"] == pytest.approx(0.1)  # 0.3 of the track's 3
    expected = np.corrcoef(
        nh.decibels(dark, reference=4.0).ravel(), nh.decibels(track, reference=4.0).ravel()
    )
    assert row["corr. track"] == pytest.approx(expected[0, 1])


def test_spectrogram_table_names_a_bad_argument():
    track = np.ones((2, 2))
    with pytest.raises(nh.ParameterError, match=r"spectrogram_table: fits\['x'\] must have shape"):
        nh.spectrogram_table({"x": np.ones((3, 2))}, {"t": track}, track=track, sr=SR)
    with pytest.raises(nh.ParameterError, match="spectrogram_table: track is all zeros"):
        nh.spectrogram_table({"x": track}, {"t": track}, track=0 * track, sr=SR)


def test_divergence_table_by_hand():
    V = np.ones((5, 2))
    WH = V.copy()
    WH[4, 0] = 2.0  # the whole loss (2 - 1 - log 2) sits at 4000 Hz
    table = nh.divergence_table({"toy": (V, WH)}, sr=SR, above_hz=3000)
    assert str(table).splitlines()[0] == "above 3000 Hz:"
    assert table["toy"]["share of the loss"] == pytest.approx(1.0)
    assert table["toy"]["share of the magnitude"] == pytest.approx(0.4)


def test_divergence_table_names_a_bad_argument():
    with pytest.raises(nh.ParameterError, match=r"divergence_table: fits\['x'\] must be a pair"):
        nh.divergence_table({"x": np.ones((2, 2))}, sr=SR)


def test_correlation_table_by_hand():
    a, b = np.random.default_rng(3).standard_normal((2, 2000))
    table = nh.correlation_table({"est. a": a, "est. -b": -b}, {"a": a, "b": b})
    assert table.columns == ("estimate", "corr. a", "corr. b")
    assert table["est. a"]["corr. a"] == pytest.approx(1.0)
    assert table["est. -b"]["corr. b"] == pytest.approx(-1.0)


def test_correlation_table_names_a_bad_argument():
    with pytest.raises(nh.ParameterError, match="correlation_table: all waveforms must"):
        nh.correlation_table({"x": np.ones(10)}, {"a": np.ones(11)})


def test_table_prints_none_as_a_dash_and_gives_columns():
    table = nh.Table(("fit", "ratio"), (("a", None), ("b", 2.0)), ("", ".2f"))
    assert str(table).splitlines() == ["fit  ratio", "a        -", "b     2.00"]
    assert table.to_markdown().splitlines()[2] == "| a | - |"
    assert table.column("ratio") == [None, 2.0]
    with pytest.raises(KeyError, match="no column named 'x'"):
        table.column("x")


def test_loss_table_by_hand():
    curves = {"K = 1": np.array([9.0, 6.0, 5.0, 4.0]), "K = 2": [8.0, 4.0, 3.0, 1.0]}
    table = nh.loss_table(curves, total=20.0, last=2)
    assert table.columns == (
        "fit",
        "first loss",
        "final loss",
        "final / sum(V)",
        "drop in last 2 it.",
        "previous final / final",
    )
    assert table.column("first loss") == [9.0, 8.0]
    assert table.column("final loss") == [4.0, 1.0]
    assert table.column("final / sum(V)") == pytest.approx([0.2, 0.05])
    assert table.column("drop in last 2 it.") == pytest.approx([1 / 3, 0.75])  # 1 - 4/6, 1 - 1/4
    assert table.column("previous final / final") == [None, 4.0]
    assert str(table).splitlines()[1].endswith("33.33%                       -")


def test_loss_table_without_total_and_with_a_loss_of_zero():
    table = nh.loss_table({"a": [2.0, 1.0], "b": [0.0, 0.0]}, last=1)
    assert "final / sum(V)" not in table.columns
    assert table["b"]["drop in last 1 it."] == 0.0  # nothing left to drop, not 0 / 0
    assert table["b"]["previous final / final"] == float("inf")


@pytest.mark.parametrize(
    ("losses", "options", "message"),
    [
        ({}, {}, "loss_table: losses must be a non-empty"),
        ({"a": np.ones((2, 11))}, {}, r"loss_table: losses\['a'\] must be 1-D"),
        ({"a": np.ones(10)}, {}, r"loss_table: losses\['a'\] has 10 values; .* at least 11"),
        ({"a": -np.ones(11)}, {}, r"loss_table: losses\['a'\] must be nonnegative"),
        ({"a": np.ones(11)}, {"total": 0.0}, "loss_table: total must be > 0, got 0.0"),
        ({"a": np.ones(11)}, {"last": 0}, "loss_table: last must be >= 1, got 0"),
    ],
)
def test_loss_table_names_a_bad_argument(losses, options, message):
    with pytest.raises(nh.ParameterError, match=message):
        nh.loss_table(losses, **options)


def test_range_table_pairs_the_ranges_in_time_order():
    found = [(10.25, 19.0), (1.0, 9.5)]  # not in order: sorted first
    table = nh.range_table(found, [(1.5, 9.25), (10.0, 18.0)])
    assert table.columns == (
        "range",
        "detected start (s)",
        "detected end (s)",
        "true start (s)",
        "true end (s)",
        "error (s)",
    )
    assert table[1]["detected start (s)"] == 1.0 and table[2]["true start (s)"] == 10.0
    assert table.column("error (s)") == [0.5, 1.0]  # max(0.5, 0.25), max(0.25, 1.0)


def test_range_table_shows_unpaired_ranges_as_dashes():
    table = nh.range_table([(1.0, 2.0)], [(1.0, 2.5), (5.0, 6.0)])
    assert len(table.rows) == 2
    assert table[2]["detected start (s)"] is None and table[2]["error (s)"] is None
    assert str(table).splitlines()[2].split() == ["2", "-", "-", "5.00", "6.00", "-"]
    assert nh.range_table([], []).rows == ()


@pytest.mark.parametrize(
    ("found", "true", "message"),
    [
        (5, [], "range_table: found must be a sequence of"),
        ([(2.0, 1.0)], [], r"range_table: found\[0\] 2:1 is empty"),
        ([], [(1.0, 2.0), (1.0,)], r"range_table: true\[1\] must be \(start, end\)"),
        ([(-1.0, 1.0)], [], r"range_table: found\[0\] -1:1: START must be"),
    ],
)
def test_range_table_names_a_bad_argument(found, true, message):
    with pytest.raises(nh.ParameterError, match=message):
        nh.range_table(found, true)


def _rows(**sdr):
    """Rows as nh.evaluate(...).rows gives them, with SIR = SDR + 1 and SAR = 20."""
    return [
        {"source": name, "sdr": value, "sir": value + 1.0, "sar": 20.0}
        for name, value in sdr.items()
    ]


def test_score_table_by_hand():
    scores = {"floor": _rows(voice=-2.0, band=1.5), "ours": _rows(voice=6.0, band=9.0)}
    table = nh.score_table(scores, floor="floor")
    assert table.columns == ("method", "voice", "band", "voice over floor", "band over floor")
    assert table["ours"] == {
        "method": "ours",
        "voice": 6.0,
        "band": 9.0,
        "voice over floor": 8.0,
        "band over floor": 7.5,
    }
    assert table["floor"]["voice over floor"] == 0.0
    lines = str(table).splitlines()
    assert lines[0] == "SDR (dB):"
    assert lines[3] == "ours     6.00  9.00             +8.00            +7.50"
    sir = nh.score_table(scores, measure="sir")
    assert sir.title == "SIR (dB):" and sir.columns == ("method", "voice", "band")
    assert sir.column("voice") == [-1.0, 7.0]


def test_score_table_reads_the_rows_of_evaluate():
    a, b = np.random.default_rng(0).standard_normal((2, 8000))
    rows = nh.evaluate({"a": a + 0.1 * b, "b": b}, {"a": a, "b": b}).rows
    table = nh.score_table({"test": rows}, measure="sir")
    assert table.columns == ("method", "a", "b")
    assert table["test"]["a"] == pytest.approx(rows[0]["sir"])


@pytest.mark.parametrize(
    ("scores", "options", "message"),
    [
        ({}, {}, "score_table: scores must be a non-empty"),
        ({"x": _rows(a=1.0)}, {"measure": "snr"}, "score_table: measure must be 'sdr' or"),
        ({"x": _rows(a=1.0)}, {"floor": "y"}, "score_table: floor must be 'x', got 'y'"),
        ({"x": {"a": 1.0}}, {}, r"score_table: scores\['x'\] must be a non-empty list of rows"),
        ({"x": [{"source": "a"}]}, {}, r"score_table: every row of scores\['x'\] must map"),
        ({"x": _rows(a=np.inf)}, {}, r"score_table: the sdr of 'a' in scores\['x'\] must be a fin"),
        ({"x": _rows(a=1.0) * 2}, {}, r"score_table: scores\['x'\] has two rows for 'a'"),
        (
            {"x": _rows(a=1.0), "y": _rows(b=1.0)},
            {},
            r"score_table: scores\['y'\] has the sources \['b'\], but scores\['x'\] has \['a'\]",
        ),
    ],
)
def test_score_table_names_a_bad_argument(scores, options, message):
    with pytest.raises(nh.ParameterError, match=message):
        nh.score_table(scores, **options)


# ---------------------------------------------------------------- loss by bin and by loudness band


def test_elementwise_loss_by_hand():
    V = np.array([[1.0, 0.0, 2.0]])
    WH = np.array([[2.0, 1.0, 1.0]])
    np.testing.assert_allclose(nh.elementwise_loss(V, WH, loss="euclidean"), [[1.0, 1.0, 1.0]])
    # KL: 1 log(1/2) - 1 + 2;  0 - 0 + 1 (0 log 0 = 0);  2 log 2 - 2 + 1
    expected = [[1 - np.log(2), 1.0, 2 * np.log(2) - 1]]
    np.testing.assert_allclose(nh.elementwise_loss(V, WH, loss="kl"), expected, atol=1e-12)


@pytest.mark.parametrize(("loss", "fit"), [("euclidean", nh.nmf_euclidean), ("kl", nh.nmf_kl)])
def test_elementwise_loss_adds_up_to_the_nmf_loss(sample_V, loss, fit):
    W, H, losses = fit(sample_V, 4, n_iter=30, seed=0)
    total = nh.elementwise_loss(sample_V, W @ H, loss=loss).sum()
    # within one iteration's change, whichever factors the last loss is of
    assert total == pytest.approx(losses[-1], rel=3e-3)


def test_elementwise_loss_names_a_bad_argument():
    with pytest.raises(nh.ParameterError, match="elementwise_loss: loss must be 'kl' or"):
        nh.elementwise_loss(np.ones((2, 2)), np.ones((2, 2)), loss="is")
    with pytest.raises(nh.ParameterError, match=r"elementwise_loss: WH must have shape \(2, 2\)"):
        nh.elementwise_loss(np.ones((2, 2)), np.ones((2, 3)), loss="kl")


# One row of bins at 0, -20, -40, -60 and -80 dB: two loud, one medium, two quiet.
LEVELS = np.array([[100.0, 10.0, 1.0, 0.1, 0.01]])
LOUD, MEDIUM, QUIET = "> -30 dB", "-50 to -30 dB", "<= -50 dB"


def test_loudness_band_table_by_hand():
    WH = LEVELS * np.array([[1.0, 2.0, 3.0, 1.0, 0.5]])
    table = nh.loudness_band_table(LEVELS, WH, loss="euclidean")
    assert table.column("band") == [LOUD, MEDIUM, QUIET]
    assert table.column("bins") == pytest.approx([0.4, 0.2, 0.4])
    # medians: of 100 and 10, of 1, of 0.1 and 0.01
    medians = np.array([55.0, 1.0, 0.055])
    assert table.column("median level (dB)") == pytest.approx(20 * np.log10(medians / 100))
    errors = np.array([0.0, 100.0, 4.0, 0.0, 0.005**2])  # (V - WH)^2
    shares = [errors[:2].sum(), errors[2], errors[3:].sum()] / errors.sum()
    assert table.column("share of the error") == pytest.approx(shares)
    # |dB(V) - dB(WH)|: 0 and 20 log10 2; 20 log10 3; 0 and 20 log10 2 (-80 to -86: floored)
    db2, db3 = 20 * np.log10(2), 20 * np.log10(3)
    assert table.column("mean |error| (dB)") == pytest.approx([db2 / 2, db3, 0.0], abs=1e-9)
    assert table.column("cost of WH = 2 V") == pytest.approx(medians**2)  # v^2 (2 - 1)^2
    assert table.column("level ratio") == pytest.approx(medians / 55.0)
    assert table.column("cost ratio") == pytest.approx((medians / 55.0) ** 2)
    assert table.title.startswith("squared error")


@pytest.mark.parametrize("factor", [0.5, 2.0, 4.0])
def test_kl_costs_a_factor_linearly_in_the_level_and_squared_error_quadratically(factor):
    tables = {
        loss: nh.loudness_band_table(LEVELS, LEVELS, loss=loss, factor=factor)
        for loss in ("kl", "euclidean")
    }
    heading = f"cost of WH = {factor:g} V"
    medians = np.array([55.0, 1.0, 0.055])
    kl_law = medians * (factor - 1 - np.log(factor))  # v (r - 1 - log r)
    assert tables["kl"].column(heading) == pytest.approx(kl_law, rel=1e-12)
    assert tables["euclidean"].column(heading) == pytest.approx(medians**2 * (factor - 1) ** 2)
    levels = np.array(tables["kl"].column("level ratio"))
    assert tables["kl"].column("cost ratio") == pytest.approx(levels, rel=1e-12)
    assert tables["euclidean"].column("cost ratio") == pytest.approx(levels**2, rel=1e-12)
    assert tables["kl"].title.startswith("KL divergence")


def test_loudness_band_table_shares_add_up_on_a_real_fit(groove_V):
    W, H, _ = nh.nmf_euclidean(groove_V, 3, n_iter=20, seed=0)
    for loss in ("euclidean", "kl"):
        table = nh.loudness_band_table(groove_V, W @ H, loss=loss)
        assert sum(table.column("bins")) == pytest.approx(1.0)
        assert sum(table.column("share of the error")) == pytest.approx(1.0)
        total = nh.elementwise_loss(groove_V, W @ H, loss=loss).sum()
        loud = nh.decibels(groove_V, reference=float(groove_V.max())) > -30
        loud_error = nh.elementwise_loss(groove_V, W @ H, loss=loss)[loud].sum()
        assert table[LOUD]["share of the error"] == pytest.approx(loud_error / total)


def test_loudness_band_table_puts_a_bin_on_an_edge_in_the_quieter_band():
    V = np.array([[1.0, 10 ** (-30 / 20)]])  # 0 dB and exactly -30 dB
    table = nh.loudness_band_table(V, V, edges_db=[-30.0])
    assert table.column("band") == [LOUD, "<= -30 dB"]
    assert table.column("bins") == [0.5, 0.5]


def test_loudness_band_table_shows_an_empty_band_as_dashes():
    V = np.array([[1.0, 0.5]])  # nothing below -30 dB
    table = nh.loudness_band_table(V, 2 * V, loss="kl")
    assert table[MEDIUM]["bins"] == 0.0 and table[MEDIUM]["share of the error"] == 0.0
    assert table[QUIET]["median level (dB)"] is None and table[QUIET]["cost ratio"] is None
    assert str(table).splitlines()[-1].split()[-1] == "-"


@pytest.mark.parametrize(
    ("V", "options", "message"),
    [
        (LEVELS, {"loss": "is"}, "loudness_band_table: loss must be 'kl' or 'euclidean'"),
        (LEVELS, {"edges_db": [-50, -30]}, "edges_db must be strictly decreasing"),
        (LEVELS, {"edges_db": []}, "edges_db must be strictly decreasing"),
        (LEVELS, {"edges_db": [0.0]}, "edges_db must be strictly decreasing"),
        (LEVELS, {"edges_db": [-90]}, r"edges_db\[0\] must be between -80.0 and 0.0"),
        (LEVELS, {"edges_db": 3}, "edges_db must be a sequence"),
        (LEVELS, {"factor": 1}, "factor must be > 0 and not 1"),
        (LEVELS, {"factor": 0}, "factor must be > 0 and not 1"),
        (LEVELS, {"floor_db": 0}, "floor_db must be < 0"),
        (0 * LEVELS, {}, "loudness_band_table: V is all zeros"),
        (LEVELS[:, :4], {}, r"WH must have shape \(1, 4\)"),
    ],
)
def test_loudness_band_table_names_a_bad_argument(V, options, message):
    with pytest.raises(nh.ParameterError, match=message):
        nh.loudness_band_table(V, LEVELS, **options)


def test_relative_level_by_hand():
    x = np.ones(8000)
    assert nh.relative_level(0.1 * x, x) == pytest.approx(-20.0)
    assert nh.relative_level(2 * x, x) == pytest.approx(20 * np.log10(2))
    y = np.concatenate([np.zeros(2000), 0.5 * np.ones(6000)])
    assert nh.relative_level(y, x, sr=8000, time_range=(0.25, 1.0)) == pytest.approx(-6.0206)
    assert nh.relative_level(y, x, sr=8000, time_range=(0.0, 0.25)) == -np.inf


def test_relative_level_names_a_bad_argument():
    x = np.ones(8000)
    with pytest.raises(nh.ParameterError, match="relative_level: time_range needs sr"):
        nh.relative_level(x, x, time_range=(0, 1))
    with pytest.raises(nh.ParameterError, match="relative_level: time_range 0:2 ends after"):
        nh.relative_level(x, x, sr=8000, time_range=(0, 2))
    with pytest.raises(nh.ParameterError, match="relative_level: reference is silent"):
        nh.relative_level(x, 0 * x)
    with pytest.raises(nh.ParameterError, match="relative_level: all waveforms must have one"):
        nh.relative_level(x, x[:10])


# ---------------------------------------------------------------- the package


def test_the_analysis_package_is_its_measures_and_its_tables():
    analysis = importlib.import_module("nmf_helpers.analysis")
    measures = importlib.import_module("nmf_helpers.analysis.measures")
    tables = importlib.import_module("nmf_helpers.analysis.tables")
    assert sorted(analysis.__all__) == sorted(measures.__all__ + tables.__all__)
    assert not set(measures.__all__) & set(tables.__all__)
    for name in analysis.__all__:
        assert getattr(analysis, name) is getattr(nh, name)


@pytest.mark.parametrize("loss", nh.LOSSES)
def test_the_terms_of_each_loss_add_up_to_what_the_nmf_reports(loss):
    V = np.random.default_rng(3).random((12, 9)) + 0.1
    W, H, losses = nh.nmf(V, 3, loss=loss, n_iter=5)
    total = nh.elementwise_loss(V, W @ H, loss=loss).sum()
    assert total == pytest.approx(losses[-1], rel=1e-4)
