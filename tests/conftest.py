"""Shared fixtures: the project's own music as real-sized test data."""

import matplotlib

matplotlib.use("Agg")  # headless: tests never open windows

import numpy as np
import pytest

import nmf_helpers as nh


@pytest.fixture(scope="session")
def groove():
    """The groove clip: (waveform float32, sample rate)."""
    return nh.load_audio(nh.clip_path("groove"))


@pytest.fixture(scope="session")
def groove_V(groove):
    """Magnitude spectrogram of the groove, shape (1025, ~790): real music."""
    V = nh.spectrogram(groove[0])
    V.flags.writeable = False  # a test that modifies it by accident fails loudly
    return V


@pytest.fixture(scope="session")
def sample_V():
    """Magnitude spectrogram of the sample clip (the riff sampled in sampling_track)."""
    V = nh.spectrogram(nh.load_audio(nh.clip_path("sample"))[0])
    V.flags.writeable = False
    return V


@pytest.fixture()
def rng():
    return np.random.default_rng(12345)

