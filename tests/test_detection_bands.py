"""The detector's view of a spectrogram: bands a third of a semitone wide, frames in pairs."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import nmf_helpers as nh

BANDS = importlib.import_module("nmf_helpers.detection.bands")
SR, WIN, HOP = 22050, 2048, 512


def test_the_bands_cover_every_bin_once_and_are_a_third_of_a_semitone_above_the_bass():
    starts = BANDS.band_starts(WIN // 2 + 1, SR, WIN)
    assert starts[0] == 0 and np.all(np.diff(starts) >= 1) and starts[-1] < WIN // 2 + 1
    frequencies = starts * SR / WIN
    third = 2 ** (1 / 36)
    # Where a bin is narrower than a third of a semitone, a band is the fewest bins that span one.
    wide = np.flatnonzero(np.diff(starts) > 1)
    assert wide.size and np.all(frequencies[wide + 1] >= frequencies[wide] * third)
    assert np.all(frequencies[wide + 1] - SR / WIN < frequencies[wide] * third)
    # Below that, every bin is a band of its own.
    assert np.array_equal(starts[: wide[0] + 1], np.arange(wide[0] + 1))
    assert 150 < starts.size < 250  # about a fifth of the 1025 bins


def test_bands_and_pairs_add_up_and_spreading_gives_them_back():
    rng = np.random.default_rng(0)
    starts = BANDS.band_starts(WIN // 2 + 1, SR, WIN)
    V = rng.random((WIN // 2 + 1, 7)).astype(np.float32)  # an odd last frame, alone
    compact = BANDS.compact(V, starts)
    assert compact.shape == (starts.size, 4)
    bounds = np.append(starts, V.shape[0])
    b = 150  # a band of several bins
    assert bounds[b + 1] - bounds[b] > 1
    assert compact[b, 1] == pytest.approx(V[bounds[b] : bounds[b + 1], 2:4].sum(), rel=1e-5)
    assert compact[b, 3] == pytest.approx(V[bounds[b] : bounds[b + 1], 6].sum(), rel=1e-5)
    W = rng.random((starts.size, 3)).astype(np.float32)
    spread = BANDS.spread_bins(W, starts, V.shape[0])
    assert spread.shape == (V.shape[0], 3)
    assert spread.dtype == np.float32  # the detection's W at full resolution: float32, as W is
    np.testing.assert_allclose(BANDS.to_bands(spread, starts), W, rtol=1e-5)
    assert np.ptp(spread[bounds[b] : bounds[b + 1]], axis=0).max() == 0  # evenly
    H = rng.random((3, 4)).astype(np.float32)
    frames = BANDS.spread_frames(H, 7)
    assert frames.shape == (3, 7) and frames.dtype == np.float32  # and its H
    np.testing.assert_allclose(np.add.reduceat(frames, [0, 2, 4, 6], axis=1), H, rtol=1e-6)
    np.testing.assert_array_equal(frames[:, 0], frames[:, 1])


def test_the_detection_fits_the_compact_spectrogram_and_gives_it_back_at_the_stfts_resolution():
    x = nh.load_audio(nh.clip_path("sampling_track"))[0][: 6 * SR]
    templates = nh.learn_sample(
        nh.load_audio(nh.clip_path("sample"))[0][: 3 * SR], n_components=3, shifts=(0,), n_iter=20
    )
    V = nh.detection.track_spectrogram_unchecked(x, WIN, HOP)
    starts = BANDS.band_starts(WIN // 2 + 1, SR, WIN)
    np.testing.assert_allclose(
        V, BANDS.compact(nh.spectrogram(x, win=WIN, hop=HOP), starts), rtol=1e-5, atol=1e-6
    )
    result = nh.detect_sample(templates, x, n_free=4, n_iter=10, min_part_s=1.0)
    N = 1 + x.size // HOP
    assert result.W.shape == (WIN // 2 + 1, 7) and result.H.shape == (7, N)
    np.testing.assert_array_equal(result.W[:, :3], templates.W)  # the sample's own, unbanded
    # In bands over pairs, the result is the fit itself.
    W_bands, H_steps = nh.detection.door._fit(templates, V, 4, 10, 0, False)
    np.testing.assert_allclose(
        BANDS.compact(result.W @ result.H, starts), W_bands @ H_steps, rtol=1e-4, atol=1e-7
    )
    np.testing.assert_allclose(BANDS.to_bands(result.W, starts), W_bands, rtol=1e-5, atol=1e-9)
