"""The house rules of ARCHITECTURE.md, checked on the code as it stands.

1. No module imports a private name (``_x``) from another module of the package.
2. One public call checks each of its arguments once, at its own door: every
   check made during the call names that public function, and no check is
   made twice on the same argument (the old ``split_drums`` passed ``x``
   through ``check_signal`` four times, under four function names).
"""

from __future__ import annotations

import ast
import functools
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nmf_helpers as nh
from nmf_helpers import _validation

PACKAGE_DIR = Path(nh.__file__).parent

# The checks that carry the name of one argument (the composite checks such as
# check_audio_for_frames or check_factors are made of these).
LEAF_CHECKS = [
    "check_choice",
    "check_components",
    "check_int",
    "check_matrix",
    "check_not_silent",
    "check_real",
    "check_seed",
    "check_signal",
    "check_time_range",
]


def _package_modules():
    yield nh
    for info in pkgutil.walk_packages(nh.__path__, prefix="nmf_helpers."):
        yield importlib.import_module(info.name)


def _private_imports(source: str) -> list[str]:
    """``from X import _name`` lines of the package that cross module boundaries."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or node.module == "__future__":
            continue
        inside = node.level > 0 or (node.module or "").startswith("nmf_helpers")
        for alias in node.names:
            # ``from . import _kernels`` names a private module, not a private name in one.
            is_module = node.module is None and (PACKAGE_DIR / f"{alias.name}.py").exists()
            if inside and alias.name.startswith("_") and not is_module:
                found.append(f"from {'.' * node.level}{node.module or ''} import {alias.name}")
    return found


def test_no_private_name_is_imported_across_modules():
    offenders = {
        str(path.relative_to(PACKAGE_DIR)): _private_imports(path.read_text())
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
    }
    assert {path: lines for path, lines in offenders.items() if lines} == {}


def test_the_private_import_finder_sees_one():
    assert _private_imports("from .spectral import _shift_columns\n") == [
        "from .spectral import _shift_columns"
    ]
    assert _private_imports("from . import _secret\n") == ["from . import _secret"]
    assert _private_imports("from ._validation import check_int\n") == []
    assert _private_imports("from . import _kernels\n") == []


# The layers of ARCHITECTURE.md, top first: a room may import from later layers only.
LAYERS = [
    {"cli"},
    {"long_songs"},
    {"grouping", "vocals", "detection", "evaluation"},
    {"separation"},
    {"nmf", "spectral"},
    {"audio", "analysis", "plotting", "homework"},
    {"_kl_sweep"},
    {"_kernels", "_threads", "_losses"},
    {"_validation", "_numerics", "_startup"},
    {"_fault_injection"},
]


def _room(path: Path) -> str:
    relative = path.relative_to(PACKAGE_DIR)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imported_rooms(path: Path) -> set[str]:
    """Rooms of the package that ``path`` imports from (relative imports only)."""
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            depth = node.level - (1 if len(path.relative_to(PACKAGE_DIR).parts) > 1 else 0)
            if depth != 1:
                continue  # inside a subpackage (cli's own modules)
            if node.module:
                rooms.add(node.module.split(".")[0])
            else:
                rooms.update(alias.name for alias in node.names)
    return rooms


def test_imports_run_down_the_layers():
    layer_of = {room: i for i, layer in enumerate(LAYERS) for room in layer}
    upward = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        room = _room(path)
        if room not in layer_of:  # __init__ and __main__ gather everything
            continue
        for imported in _imported_rooms(path) - {room}:
            if layer_of[imported] <= layer_of[room]:
                upward.append(f"{path.relative_to(PACKAGE_DIR)} imports {imported}")
    assert upward == []
    every_room = {_room(p) for p in PACKAGE_DIR.rglob("*.py")} - {"__init__", "__main__"}
    assert every_room == set(layer_of), "a room is missing from LAYERS (and ARCHITECTURE.md)"


@pytest.fixture
def checks_made(monkeypatch):
    """Every leaf check made while the test runs, as (check, function, argument)."""
    log: list[tuple[str, str, str]] = []

    def recording(check_name, original):
        @functools.wraps(original)
        def check(function, *args, **kwargs):
            if check_name == "check_seed":
                argument = "seed"
            elif check_name == "check_components":
                argument = "K"
            else:
                argument = args[0]
            log.append((check_name, function, argument))
            return original(function, *args, **kwargs)

        return check

    originals = {name: getattr(_validation, name) for name in LEAF_CHECKS}
    for module in _package_modules():
        for name, original in originals.items():
            if getattr(module, name, None) is original:
                monkeypatch.setattr(module, name, recording(name, original))
    return log


def _clip(seconds: float, *, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 22050)) / 22050
    tone = np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))
    return (0.3 * tone + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def song():
    x = _clip(3.0)
    W, H, _ = nh.nmf_kl(nh.spectrogram(x), 4, n_iter=3)
    return x, W, H


# One call of each public function that does work below its door.
CALLS = {
    "split_drums": lambda x, W, H: nh.split_drums(x, K=4, n_iter=2),
    "separate": lambda x, W, H: nh.separate(x, W, H, [[0, 1], [2, 3]], power=2.0),
    "soft_masks": lambda x, W, H: nh.soft_masks(W, H, [[0], [1, 2]]),
    "filter_vocals": lambda x, W, H: nh.filter_vocals(
        x, instrumental=(0.0, 1.5), K=3, K_voice=2, semitones=1, voice_semitones=1, n_iter=2
    ),
    "fit_vocal_model": lambda x, W, H: nh.fit_vocal_model(
        nh.spectrogram(x), slice(0, 40), K=3, K_voice=2, semitones=1, n_iter=2
    ),
    "learn_sample": lambda x, W, H: nh.learn_sample(x[:22050], n_components=4, n_iter=2),
    "detect_sample": lambda x, W, H: nh.detect_sample(
        x[:22050], x, n_free=3, n_iter=2, min_part_s=1.0
    ),
    "detect_sample (files)": lambda x, W, H: nh.detect_sample(
        nh.clip_path("sample"), nh.clip_path("sampling_track"), n_free=3, n_iter=2
    ),
    "load_stems": lambda x, W, H: nh.load_stems("sample"),
    "nmf": lambda x, W, H: nh.nmf(nh.spectrogram(x), 3, loss="euclidean", n_iter=2),
    "nmf_kl": lambda x, W, H: nh.nmf_kl(nh.spectrogram(x), 3, n_iter=2, W_fixed=W[:, :2]),
    "component_features": lambda x, W, H: nh.component_features(W, H),
    "percussive_harmonic_groups": lambda x, W, H: nh.percussive_harmonic_groups(W, H),
    "ideal_ratio_estimates": lambda x, W, H: nh.ideal_ratio_estimates({"a": x, "b": x[::-1]}),
    "griffin_lim": lambda x, W, H: nh.griffin_lim(W @ H, n_iter=2),
    "spectral_convergence": lambda x, W, H: nh.spectral_convergence(W @ H, x),
    "time_range_frames": lambda x, W, H: nh.time_range_frames((0.5, 1.5), n_samples=x.size),
    "component_table": lambda x, W, H: nh.component_table(
        W, sr=22050, voice_on=np.ones(W.shape[1])
    ),
    "spectrogram_table": lambda x, W, H: nh.spectrogram_table(
        {"fit": W @ H}, {"itself": W @ H, "half": W @ H / 2}, track=W @ H, sr=22050
    ),
    "divergence_table": lambda x, W, H: nh.divergence_table({"fit": (W @ H, W @ H)}, sr=22050),
    "correlation_table": lambda x, W, H: nh.correlation_table({"x": x}, {"x": x, "y": x[::-1]}),
    "loss_table": lambda x, W, H: nh.loss_table({"a": [3.0, 2.0, 1.0]}, total=4.0, last=1),
    "range_table": lambda x, W, H: nh.range_table([(1.0, 2.0)], [(1.1, 2.0), (3.0, 4.0)]),
    "loudness_band_table": lambda x, W, H: nh.loudness_band_table(
        W @ H + 1, W @ H, loss="kl", edges_db=[-1.0, -2.0]
    ),
    "relative_level": lambda x, W, H: nh.relative_level(x, x, sr=22050, time_range=(0.5, 1.5)),
    "players": lambda x, W, H: nh.players({"x": x, "half": x / 2}, sr=22050, scale=1.0),
    "audio_player": lambda x, W, H: nh.audio_player(x, sr=22050, scale=1.0),
}

# Inputs the test prepares (the spectrogram handed to the NMF functions) are
# checked by their own public call before the one under test starts.
PREPARED_BY = {"fit_vocal_model": "spectrogram", "nmf": "spectrogram", "nmf_kl": "spectrogram"}


@pytest.mark.parametrize("public", sorted(CALLS))
def test_each_argument_is_checked_once_at_the_door(public, song, checks_made):
    CALLS[public](*song)
    made = [entry for entry in checks_made if entry[1] != PREPARED_BY.get(public)]
    assert made, f"{public} made no check at all"
    assert {function for _, function, _ in made} == {public.split(" (")[0]}
    repeated = {entry for entry in made if made.count(entry) > 1}
    assert not repeated, f"{public} checks these twice: {sorted(repeated)}"


def test_the_check_counter_sees_a_second_check(song, checks_made):
    """A door that calls another door is caught: separate's x, checked by spectrogram too."""
    x, W, H = song
    nh.separate(x, W, H, [[0], [1]])
    nh.spectrogram(x)
    assert {function for _, function, _ in checks_made} == {"separate", "spectrogram"}


def test_importing_the_package_leaves_the_heavy_libraries_for_first_use():
    """pyplot, librosa.display, scipy.signal and scipy.optimize load when a function needs them.

    Together they were two thirds of ``import nmf_helpers`` (about 2 s of CPU),
    paid by every command-line run, grading kernel and scan worker.
    """
    heavy = ["matplotlib.pyplot", "librosa.display", "scipy.signal", "scipy.optimize"]
    code = f"import sys, nmf_helpers; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
