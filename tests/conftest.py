"""Shared fixtures: the project's own music as real-sized test data; a user without rights."""

import contextlib
import os
import shutil
import subprocess
import sys

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


@pytest.fixture(scope="session")
def nobody() -> tuple[list[str], dict]:
    """How to run this Python as a user without root's rights: (command prefix, Popen keywords).

    CI runs as root, for whom every folder is writable. ``setpriv`` also
    works where root's Python lives in a folder only root may enter (it
    finds the program before it drops the rights); skip if neither way runs.
    """
    if os.geteuid() != 0:
        return [], {}
    ways = [([], {"preexec_fn": lambda: (os.setgroups([]), os.setgid(65534), os.setuid(65534))})]
    if shutil.which("setpriv"):
        ways.append((["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], {}))
    for prefix, popen in ways:
        probe = [*prefix, sys.executable, "-c", "import numpy, soundfile"]
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            if subprocess.run(probe, capture_output=True, cwd="/", timeout=60, **popen).returncode:
                continue
            return prefix, popen
    pytest.skip("cannot run Python as an unprivileged user here")
