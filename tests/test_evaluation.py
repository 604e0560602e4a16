"""Scores against references (bss_eval), the ideal-ratio-mask ceiling, the clips' stems."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import nmf_helpers as nh


@pytest.fixture(scope="module")
def two_sources():
    rng = np.random.default_rng(7)
    return {"a": rng.standard_normal(16000), "b": rng.standard_normal(16000)}


def test_a_perfect_estimate_scores_far_above_a_mixed_one(two_sources):
    a, b = two_sources["a"], two_sources["b"]
    perfect = nh.evaluate({"a": a, "b": b}, two_sources)
    mixed = nh.evaluate({"a": a + b, "b": a + b}, two_sources)
    assert perfect["a"]["sdr"] > 60.0
    assert abs(mixed["a"]["sdr"]) < 1.0  # equal parts of a and b: about 0 dB
    assert mixed["a"]["sir"] == pytest.approx(mixed["a"]["sdr"], abs=0.1)


def test_rows_follow_the_references_order_and_estimates_are_matched_by_name(two_sources):
    a, b = two_sources["a"], two_sources["b"]
    scores = nh.evaluate({"b": b, "a": a + 0.1 * b}, {"b": b, "a": a})
    assert [row["source"] for row in scores.rows] == ["b", "a"]
    assert scores["a"]["sir"] == pytest.approx(20.0, abs=0.5)
    assert scores.seconds >= 0.0


def test_table_prints_as_markdown(two_sources):
    scores = nh.evaluate(dict(two_sources), two_sources)
    text = str(scores)
    assert text.splitlines()[0] == "| source | SDR | SIR | SAR |"
    assert len(text.splitlines()) == 2 + 2
    assert "| a |" in text and "| b |" in text
    labelled = scores.to_markdown(label="ours").splitlines()
    assert labelled[0] == "| method | source | SDR | SIR | SAR |"
    assert labelled[2].startswith("| ours | a | ")
    with pytest.raises(KeyError, match="no source named 'c'"):
        scores["c"]


def test_segment_evaluates_only_that_span(two_sources):
    a, b = two_sources["a"], two_sources["b"]
    estimate = a.copy()
    estimate[8000:] += b[8000:]  # clean first half, mixed second half
    first = nh.evaluate({"a": estimate, "b": b}, two_sources, sr=8000, segment=(0.0, 1.0))
    second = nh.evaluate({"a": estimate, "b": b}, two_sources, sr=8000, segment=(1.0, 2.0))
    assert first["a"]["sdr"] > second["a"]["sdr"] + 30.0


@pytest.mark.parametrize(
    ("estimates", "message"),
    [
        ({"a": np.ones(16000)}, "same names"),
        ({"a": np.ones(16000), "b": np.ones(100)}, "one length"),
        ({"a": np.ones(16000), "b": np.full(16000, np.nan)}, "NaN"),
    ],
)
def test_bad_estimates_are_refused(two_sources, estimates, message):
    with pytest.raises(nh.ParameterError, match=message):
        nh.evaluate(estimates, two_sources)


def test_a_silent_reference_is_refused_by_name(two_sources):
    references = {"a": two_sources["a"], "b": np.zeros(16000)}
    with pytest.raises(nh.ParameterError, match="reference 'b' is silent"):
        nh.evaluate(dict(references), references)


def test_ideal_ratio_estimates_add_up_to_the_mixture_and_beat_it(two_sources):
    tone = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    references = {"tone": tone, "noise": 0.3 * two_sources["b"]}
    estimates = nh.ideal_ratio_estimates(references)
    assert list(estimates) == ["tone", "noise"]
    mixture = tone + references["noise"]
    np.testing.assert_allclose(estimates["tone"] + estimates["noise"], mixture, atol=1e-4)
    ceiling = nh.evaluate(estimates, references)
    floor = nh.evaluate({"tone": mixture, "noise": tone}, references)
    assert ceiling["tone"]["sdr"] > floor["tone"]["sdr"] + 10.0


def test_ideal_ratio_estimates_refuse_references_that_overflow_together():
    loud = np.full(4096, 3e38, dtype=np.float32)
    with pytest.raises(nh.ParameterError, match="ideal_ratio_estimates: the references' sum"):
        nh.ideal_ratio_estimates({"a": loud, "b": loud})


def test_a_silent_estimate_is_refused_by_name(two_sources):
    # mir_eval's own error spoke of "estimated sources" and an "underdetermined system".
    with pytest.raises(nh.ParameterError) as error:
        nh.evaluate({"a": two_sources["a"], "b": np.zeros(16000)}, two_sources)
    assert str(error.value) == (
        "evaluate: estimate 'b' is silent (all zeros) in the evaluated segment;"
        " bss_eval cannot score silence: the separation has failed on that source"
    )
    silent_late = two_sources["b"].copy()
    silent_late[8000:] = 0.0
    with pytest.raises(nh.ParameterError, match="evaluate: estimate 'b' is silent"):
        nh.evaluate(
            {"a": two_sources["a"], "b": silent_late}, two_sources, sr=8000, segment=(1.0, 2.0)
        )


def test_waveforms_beyond_float32_are_refused_by_name(two_sources):
    loud = {"a": two_sources["a"] * 1e39, "b": two_sources["b"]}
    with pytest.raises(nh.ParameterError) as error:
        nh.evaluate(dict(two_sources), loud)
    assert str(error.value).startswith("evaluate: references['a'] has samples up to")
    with pytest.raises(
        nh.ParameterError, match=r"ideal_ratio_estimates: references\['a'\] has samples up to"
    ):
        nh.ideal_ratio_estimates(loud)


@pytest.mark.parametrize("exponent", [120, -100])
def test_ideal_ratio_estimates_far_from_audio_are_scaled_back(two_sources, exponent):
    # References near 1e36: their STFTs passed float32's range (NaN before).
    references = {name: s.astype(np.float32) for name, s in two_sources.items()}
    estimates = nh.ideal_ratio_estimates({n: np.ldexp(s, exponent) for n, s in references.items()})
    expected = nh.ideal_ratio_estimates(references)
    for name in references:
        assert np.all(np.isfinite(estimates[name]))
        assert np.array_equal(estimates[name], np.ldexp(expected[name], exponent))
    factor = 3e37 / max(np.abs(s).max() for s in references.values())
    estimates = nh.ideal_ratio_estimates({n: s * factor for n, s in references.items()})
    for name in references:
        np.testing.assert_allclose(
            estimates[name], expected[name] * factor, rtol=1e-4, atol=1e-5 * factor
        )
