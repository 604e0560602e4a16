"""Shared fixtures: the project's own music as real-sized test data."""

import matplotlib

matplotlib.use("Agg")  # headless: tests never open windows

import numpy as np
import pytest

import nmf_helpers as nh

#: The test files that take longest, slowest first (``--durations=0`` summed per file, on
#: this machine's two cores). test.sh hands whole files to its two workers in collection
#: order (``--dist loadfile --no-loadscope-reorder``): started first, these run beside
#: each other, and the many quick files that come after them even out the end, so neither
#: worker is left waiting long for the other. The order changes no result.
SLOWEST_FILES = (
    "test_notebooks.py",
    "test_cli_faults.py",
    "test_course.py",
    "test_course_student.py",
    "test_cli_scan.py",
    "test_cli_separate.py",
    "test_cli_demo.py",
    "test_cli_detect.py",
    "test_detection.py",
    "test_nmf.py",
    "test_spectral.py",
)


def pytest_collection_modifyitems(items):
    """The slowest files first, the others after them in the order they were collected."""
    rank = {name: index for index, name in enumerate(SLOWEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: same order inside


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
