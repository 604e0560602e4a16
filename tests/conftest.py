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


def _notebook_group(item) -> str | None:
    """The notebook a test of tests/test_notebooks.py reads, as a group name.

    Each notebook is executed once per process (cached); tests that read the
    same notebook must share a process. Notebook 4 repeats notebook 3's fits
    and its test reads both, so the two go together.
    """
    callspec = getattr(item, "callspec", None)
    name = str(callspec.params.get("name", "")) if callspec else ""
    digit = name[:1] if name[:1].isdigit() else None
    if digit is None:
        parts = item.name.split("_")
        digit = parts[2] if item.name.startswith("test_notebook_") else None
    if digit is None:
        return None
    return "notebook-3" if digit == "4" else f"notebook-{digit}"


def pytest_collection_modifyitems(config, items):
    """With ``-n N --dist loadgroup`` (pytest-xdist): one process per file, per notebook.

    A module's expensive fixtures (a CLI run, a fit on a clip) are built once
    when its tests share a process; the notebooks, the longest tests, are
    spread over the processes one notebook at a time.
    """
    for item in items:
        module = item.nodeid.split("::")[0]
        group = _notebook_group(item) if module.endswith("test_notebooks.py") else None
        item.add_marker(pytest.mark.xdist_group(group or module))
