"""Tests of nmf_helpers/plotting.py: plots draw what they are given, with axes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import nmf_helpers as nh


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_spectrogram_has_time_and_frequency_axes(groove_V):
    ax = nh.plot_spectrogram(groove_V, title="groove")
    assert ax.get_title() == "groove"
    assert ax.get_xlabel() == "Time" and ax.get_ylabel() == "Hz"
    image = ax.collections[0]
    values = np.asarray(image.get_array())
    assert values.max() == pytest.approx(0.0, abs=1e-3)  # the peak is 0 dB
    low, high = image.get_clim()
    assert (low, high) == (-80.0, 0.0)
    assert ax.get_xlim()[1] == pytest.approx(groove_V.shape[1] * 512 / 22050, rel=0.01)


def test_shared_reference_keeps_levels_comparable(groove_V):
    ax = nh.plot_spectrogram(groove_V / 10, ref=float(groove_V.max()))
    assert np.asarray(ax.collections[0].get_array()).max() == pytest.approx(-20.0, abs=0.01)


def test_loss_curves_are_drawn_per_label():
    ax = nh.plot_losses({"K = 3": [3.0, 2.0, 1.5], "K = 10": [3.0, 1.0, 0.5]}, title="KL")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["K = 3", "K = 10"]
    assert list(lines[1].get_xdata()) == [1, 2, 3]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "iteration"


def test_grid_of_spectrograms_shares_axes(groove_V):
    figure = nh.plot_spectrograms({"a": groove_V, "b": groove_V / 2, "c": groove_V}, ncols=2)
    visible = [ax for ax in figure.axes if ax.get_visible()]
    titled = [ax.get_title() for ax in visible if ax.get_title()]
    assert titled == ["a", "b", "c"]
    assert len(visible) >= 3
    b = next(ax for ax in visible if ax.get_title() == "b")
    assert np.asarray(b.collections[0].get_array()).max() == pytest.approx(-6.02, abs=0.01)
