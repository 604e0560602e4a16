"""Tests of nmf_helpers/plotting.py: plots draw what they are given, with labelled axes
in seconds and colour bars; players play on one scale."""

import base64
import io
import re
import wave
from types import SimpleNamespace

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
    assert ax.get_xlabel() == "Time (s)" and ax.get_ylabel() == "Hz"
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


# ---------------------------------------------------------------- time axes and colour bars


def colour_bars(figure):
    """The axes of a figure that are colour bars (matplotlib marks them with a label)."""
    return [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]


def test_spectrogram_time_axis_is_in_seconds(groove_V):
    ax = nh.plot_spectrogram(groove_V)
    assert ax.get_xlabel() == "Time (s)"
    ax.figure.canvas.draw()
    ticks = [label.get_text() for label in ax.get_xticklabels() if label.get_text()]
    assert ":" not in "".join(ticks)  # seconds, not m:ss


def test_spectrogram_grid_has_one_colour_bar_in_db(groove_V):
    figure = nh.plot_spectrograms({"a": groove_V, "b": groove_V / 2})
    (bar,) = colour_bars(figure)
    assert bar.get_ylim() == pytest.approx((-80.0, 0.0))
    assert "dB" in bar.yaxis.get_major_formatter()(-20.0, 0)
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert all(ax.get_xlabel() in ("Time (s)", "") for ax in panels)
    assert panels[-1].get_xlabel() == "Time (s)"


def test_spectrogram_grid_without_a_shared_level_has_a_bar_per_panel(groove_V):
    figure = nh.plot_spectrograms({"a": groove_V, "b": groove_V / 2}, shared_ref=False)
    assert len(colour_bars(figure)) == 2


def test_template_draws_the_column_in_db_against_frequency():
    w = np.array([0.5, 1.0, 0.1, 0.01, 0.001])  # bins at 0, 2756, ..., 11025 Hz
    ax = nh.plot_template(w, sr=22050, title="k = 0")
    (line,) = ax.get_lines()
    # the 0 Hz bin is left out of the logarithmic axis; the peak is 0 dB
    np.testing.assert_allclose(line.get_xdata(), [2756.25, 5512.5, 8268.75, 11025.0])
    np.testing.assert_allclose(line.get_ydata(), [0.0, -20.0, -40.0, -60.0], atol=1e-6)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("Hz", "dB", "k = 0")
    assert ax.get_xscale() == "log" and ax.get_ylim() == (-80.0, 3.0)


def test_vertical_template_puts_frequency_on_the_y_axis():
    w = np.array([0.5, 1.0, 0.1])
    ax = nh.plot_template(w, sr=8000, vertical=True, top_db=60)
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_ydata(), [0.0, 2000.0, 4000.0])
    np.testing.assert_allclose(line.get_xdata(), [-6.0206, 0.0, -20.0], atol=1e-4)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("dB", "Hz")
    assert ax.get_xlim() == (-60.0, 3.0)


def test_activation_draws_the_row_against_time_in_seconds():
    h = np.array([0.0, 1.0, 3.0, 2.0])
    ax = nh.plot_activation(h, sr=1000, hop=250, title="H[0]")
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), [0.0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(line.get_ydata(), h)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("Time (s)", "activation", "H[0]")
    assert ax.get_xlim() == (0.0, 0.75) and ax.get_ylim()[0] == 0.0


def test_component_shows_template_activation_and_spectrogram_with_a_colour_bar():
    w, h = np.linspace(1.0, 0.01, 1025), np.linspace(0.0, 2.0, 44)
    C = np.outer(w, h)
    figure = nh.plot_component(w, h, C, ref=4.0, title="component 0")
    by_title = {ax.get_title(): ax for ax in figure.axes}
    template, activation = by_title["template W[:, k]"], by_title["activation H[k, :]"]
    np.testing.assert_allclose(activation.get_lines()[0].get_ydata(), h)
    assert template.get_lines()[0].get_xdata().max() == pytest.approx(0.0)  # w's peak is 0 dB
    spectrogram = next(ax for ax in figure.axes if ax.collections and ax.get_xlabel())
    assert spectrogram.get_xlabel() == "Time (s)"
    # ref = 4 is 0 dB: C's peak, 2, is 6 dB below it
    values = np.asarray(spectrogram.collections[0].get_array())
    assert values.max() == pytest.approx(-6.02, abs=0.01)
    (bar,) = colour_bars(figure)
    assert bar.get_ylim() == pytest.approx((-80.0, 0.0))
    assert figure.get_suptitle() == "component 0"


def test_fits_draw_each_spectrogram_and_loss_curve_on_shared_scales():
    fits = {
        "K = 3": (np.full((1025, 44), 0.5), np.array([9.0, 6.0, 5.0])),
        "K = 10": (np.ones((1025, 44)), np.array([9.0, 4.0, 2.0])),
    }
    figure = nh.plot_fits(fits)
    titles = {ax.get_title(): ax for ax in figure.axes if ax.get_title()}
    assert set(titles) == {"K = 3: W H", "K = 3: loss", "K = 10: W H", "K = 10: loss"}
    np.testing.assert_allclose(titles["K = 10: loss"].get_lines()[0].get_ydata(), [9, 4, 2])
    # one 0 dB for all: the largest W H (1.0); 0.5 is 6 dB below it
    low = np.asarray(titles["K = 3: W H"].collections[0].get_array())
    assert low.max() == pytest.approx(-6.02, abs=0.01)
    assert titles["K = 10: W H"].get_xlabel() == "Time (s)"
    assert titles["K = 10: loss"].get_xlabel() == "iteration"
    (bar,) = colour_bars(figure)
    assert bar.get_ylim() == pytest.approx((-80.0, 0.0))


def test_detection_time_axis_is_in_seconds():
    result = SimpleNamespace(
        activations=np.ones((4, 100)),
        sr=22050,
        hop=512,
        ranges=((0.5, 1.5),),
        similarity=np.zeros(80),
        threshold=0.23,
        similarity_times=np.linspace(-0.4, 1.4, 80),
    )
    assert nh.plot_detection(result).get_xlabel() == "Time (s)"


def detection(F=6, N=400):
    """What plot_detection reads of a SampleDetection: activations, ranges, the score's curve."""
    rng = np.random.default_rng(0)
    return SimpleNamespace(
        activations=rng.random((F, N)),
        sr=22050,
        hop=512,
        ranges=((1.0, 5.0), (5.5, 9.0)),
        similarity=rng.random(N - 40),
        threshold=0.38,
        similarity_times=np.linspace(0.0, 8.0, N - 40),
    )


def drawn_extent(artist):
    artist.figure.canvas.draw()
    return artist.get_window_extent()


@pytest.mark.parametrize("show_similarity", [True, False])
def test_detection_has_a_colour_bar_beside_its_axes_and_a_legend_outside_the_data(
    show_similarity,
):
    ax = nh.plot_detection(
        detection(), true_ranges=[(1.1, 5.1)], show_similarity=show_similarity, title="track"
    )
    (bar,) = [child for child in ax.child_axes if child.get_label() == "<colorbar>"]
    assert bar.get_ylim() == pytest.approx((0.0, 1.0))  # activations over their peak
    assert "activation" in bar.get_ylabel()
    data = drawn_extent(ax)  # the axes' frame: where the activations and ranges are drawn
    legend = ax.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == ["true range", "detected"]
    assert legend.get_window_extent().y0 >= data.y1 - 1, "the legend covers the data"
    assert bar.get_window_extent().x0 >= data.x1, "the colour bar covers the data"
    if show_similarity:  # right of the score's axis, its ticks and its label
        twin = ax.figure.axes[-1]
        assert twin.get_ylabel().startswith("score")
        assert bar.get_window_extent().x0 >= twin.get_tightbbox().x1


def test_alignment_ticks_are_whole_template_numbers():
    result = detection(F=20)  # without integer ticks: 0, 2.5, 5, 7.5, ...
    result.occurrences = (nh.Occurrence(1.0, 3.5, 2.0, 4.7, 1.08, 0.0, 0.6),)
    ax = nh.plot_alignment(result, sample_duration_s=8.9)
    ax.figure.canvas.draw()
    low, high = ax.get_ylim()
    ticks = [tick for tick in ax.get_yticks() if low <= tick <= high]
    assert len(ticks) >= 3
    assert all(float(tick).is_integer() for tick in ticks), ticks


def test_loss_axes_can_name_their_divergence():
    ax = nh.plot_losses([3.0, 2.0], ylabel="KL divergence D(V‖WH)")
    assert ax.get_ylabel() == "KL divergence D(V‖WH)"
    fits = {"K = 3": (np.ones((1025, 44)), np.array([9.0, 6.0]))}
    figure = nh.plot_fits(fits, ylabel="KL divergence D(V‖WH)")
    (loss_ax,) = [ax for ax in figure.axes if ax.get_title() == "K = 3: loss"]
    assert loss_ax.get_ylabel() == "KL divergence D(V‖WH)"


# ---------------------------------------------------------------- audio players


def decoded(wav: bytes) -> np.ndarray:
    """The samples of a player's WAV, as floats in [-1, 1] (IPython writes 16-bit WAV)."""
    with wave.open(io.BytesIO(wav)) as file:
        frames = file.readframes(file.getnframes())
    return np.frombuffer(frames, dtype="<i2") / 32767


def test_audio_player_keeps_the_level_instead_of_normalising():
    x = 0.25 * np.sin(np.linspace(0, 200, 2205))
    played = decoded(nh.audio_player(x, sr=22050).data)
    assert np.abs(played).max() == pytest.approx(0.25, abs=1e-3)
    half = decoded(nh.audio_player(x, sr=22050, scale=0.5).data)
    assert np.abs(half).max() == pytest.approx(0.5, abs=1e-3)


def test_players_share_one_scale_and_label_each_signal():
    x = 0.5 * np.sin(np.linspace(0, 200, 2205))
    html = nh.players({"loud": x, "quiet <10x>": x / 10}, sr=22050).data
    assert html.count("<audio") == 2
    assert "loud" in html and "quiet &lt;10x&gt;" in html
    assert "every signal divided by 0.5," in html
    # each player's WAV: the loud one at full scale, the quiet one ten times lower
    wavs = [base64.b64decode(data) for data in re.findall(r"base64,([A-Za-z0-9+/=]+)", html)]
    peaks = [np.abs(decoded(wav)).max() for wav in wavs]
    assert peaks == pytest.approx([1.0, 0.1], abs=1e-3)


def test_audio_scale_is_the_largest_peak():
    assert nh.audio_scale(np.array([0.1, -0.7]), np.array([0.3])) == pytest.approx(0.7)
    assert nh.audio_scale(np.zeros(3)) == 1.0


def test_players_refuse_a_scale_that_would_clip():
    with pytest.raises(nh.ParameterError, match="audio_player: a signal peaks at 0.9, above"):
        nh.audio_player(np.array([0.9, 0.0]), sr=8000, scale=0.5)
    with pytest.raises(nh.ParameterError, match="players: a signal peaks at 2, above scale 1"):
        nh.players({"a": np.array([2.0, 0.0])}, sr=8000, scale=1.0)
    with pytest.raises(nh.ParameterError, match="players: signals must be a non-empty"):
        nh.players({}, sr=8000)
    with pytest.raises(nh.ParameterError, match="audio_scale: give at least one signal"):
        nh.audio_scale()
