"""Where the package runs: read-only installs, a deleted current folder, what installs bring.

The install is copied to a folder nobody may write, and run by an
unprivileged user whose home does not exist (a service account, ``docker
--user``): numba and matplotlib must find caches they can write
(``nmf_helpers._startup.writable_caches``). The dependency checks read the
files ``pip`` reads.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import numba
import pytest

from nmf_helpers import _startup

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "nmf_helpers"

#: Tools for developing the package, never needed to run it.
DEVELOPMENT_TOOLS = {
    "pytest", "pytest-xdist", "execnet", "ruff", "hypothesis", "mutmut", "coverage", "nbgrader",
    "pretty_midi", "scikit-learn",
}  # fmt: skip

#: Import names whose distribution is spelt differently.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "IPython": "ipython"}


@pytest.fixture(scope="module")
def read_only_install():
    """A copy of the package that nobody may write, in a folder the unprivileged user may enter."""
    folder = Path(tempfile.mkdtemp(prefix="nmf_helpers_install_"))  # pytest's tmp is root's only
    shutil.copytree(
        PACKAGE_DIR, folder / "nmf_helpers", ignore=shutil.ignore_patterns("__pycache__")
    )
    scratch = folder / "tmp"  # the system's temporary folder, as this test sees it
    scratch.mkdir()
    for path in [folder, *folder.rglob("*")]:
        if path != scratch:
            path.chmod(0o555 if path.is_dir() else 0o444)
    scratch.chmod(0o1777)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder, ignore_errors=True)


def _as_service_account(nobody, install: Path, *args: str) -> subprocess.CompletedProcess:
    """``python ARGS`` as an unprivileged user with no home, the package read-only."""
    prefix, popen = nobody
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NUMBA_", "MPL", "XDG_", "PYTHON"))
    }
    environment |= {
        "HOME": "/nonexistent",
        "PYTHONPATH": str(install),  # ahead of the editable install of the working copy
        "TMPDIR": str(install / "tmp"),
    }
    return subprocess.run(
        [*prefix, sys.executable, *args],
        capture_output=True, text=True, cwd="/", env=environment, timeout=300, **popen,
    )  # fmt: skip


def test_a_read_only_install_runs_for_a_user_without_a_home(nobody, read_only_install):
    script = (
        "import numpy as np, nmf_helpers as nh\n"
        f"assert nh.__file__.startswith({str(read_only_install)!r}), nh.__file__\n"
        "V = nh.spectrogram(np.random.default_rng(0).standard_normal(22050))\n"
        "print(len(nh.nmf_kl(V, K=2, n_iter=3)[2]))\n"
        "import matplotlib.pyplot\n"
    )
    run = _as_service_account(nobody, read_only_install, "-c", script)
    assert (run.returncode, run.stdout, run.stderr) == (0, "3\n", "")  # no cache warning either
    uid = 65534 if os.geteuid() == 0 else os.getuid()
    for name in ["numba", "matplotlib"]:
        cache = read_only_install / "tmp" / f"nmf_helpers-{name}-{uid}"
        assert stat.S_IMODE(cache.stat().st_mode) == 0o700, name
    assert any((read_only_install / "tmp").glob("nmf_helpers-numba-*/**/*.nbi"))  # compiled, kept

    help_run = _as_service_account(nobody, read_only_install, "-m", "nmf_helpers", "--help")
    assert help_run.returncode == 0 and help_run.stderr == "", help_run.stderr
    assert "separate" in help_run.stdout


def test_a_cache_folder_another_user_could_write_is_never_used(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    uid = os.getuid()
    shared = tmp_path / f"nmf_helpers-numba-{uid}"
    shared.mkdir()
    shared.chmod(0o777)  # numba would load compiled code from whatever is put here
    chosen = Path(_startup._own_folder("nmf_helpers-numba"))
    assert chosen != shared and chosen.parent == tmp_path
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o700
    shared.chmod(0o700)
    assert Path(_startup._own_folder("nmf_helpers-numba")) == shared  # ours: kept across runs


def test_caches_are_left_alone_where_they_can_be_written(tmp_path, monkeypatch):
    for name in ["NUMBA_CACHE_DIR", "MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    without = {k: v for k, v in sys.modules.items() if k != "matplotlib"}
    monkeypatch.setattr(sys, "modules", without)
    assert _startup.writable_caches() == {}

    (tmp_path / "a_file").write_text("")
    unwritable = str(tmp_path / "a_file" / "cache")  # under a file: not writable, even for root
    monkeypatch.setenv("XDG_CACHE_HOME", unwritable)  # matplotlib's font list goes there
    assert set(_startup.writable_caches()) == {"MPLCONFIGDIR"}

    monkeypatch.delenv("MPLCONFIGDIR")
    monkeypatch.setattr(_startup, "_source_folders", lambda: [unwritable])
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)  # restored after
    chosen = _startup.writable_caches()
    assert set(chosen) == {"NUMBA_CACHE_DIR", "MPLCONFIGDIR"}
    assert os.environ["NUMBA_CACHE_DIR"] == chosen["NUMBA_CACHE_DIR"]  # worker processes inherit it
    assert numba.config.CACHE_DIR == chosen["NUMBA_CACHE_DIR"]  # numba was imported before


def test_a_deleted_current_folder_is_one_line_before_any_import(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    command = f"cd {gone} && rmdir {gone} && exec {sys.executable} -m nmf_helpers separate song.wav"
    run = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("error: nmf_helpers: the current")
    assert "cd to a folder that exists" in run.stderr


# -- what installs bring ------------------------------------------------------------------------


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            names.add(re.split(r"[=<>\[;~! ]", line)[0].lower())
    return names


def _declared(specifiers: list[str]) -> set[str]:
    return {re.split(r"[=<>\[;~! ]", spec)[0].lower() for spec in specifiers}


def _third_party_imports() -> tuple[set[str], set[str]]:
    """Distributions the package imports at module level, and inside functions."""
    at_top, inside = set(), set()
    for path in PACKAGE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                root = module.split(".")[0]
                if root in sys.stdlib_module_names or root in {"nmf_helpers", "__future__"}:
                    continue
                (at_top if id(node) in top_level else inside).add(
                    DISTRIBUTIONS.get(root, root).lower()
                )
    return at_top, inside


def test_pip_install_brings_what_the_package_imports_and_no_development_tool():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = _declared(project["dependencies"])
    extras = set().union(*(_declared(v) for v in project["optional-dependencies"].values()))
    at_top, inside = _third_party_imports()
    assert at_top <= needed, f"imported at module level but not declared: {at_top - needed}"
    assert inside <= needed | extras, f"imported but in no extra: {inside - needed - extras}"
    assert not (needed | extras) & DEVELOPMENT_TOOLS


def test_the_requirements_split_running_from_developing():
    running = _requirement_names(ROOT / "requirements.txt")
    developing = _requirement_names(ROOT / "requirements-dev.txt")
    assert not running & DEVELOPMENT_TOOLS, running & DEVELOPMENT_TOOLS
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert DEVELOPMENT_TOOLS - {"coverage"} <= developing  # coverage comes with mutmut
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert _declared(project["dependencies"]) <= running  # every need pinned
    assert "requirements-dev.txt" in (ROOT / "scripts" / "setup_env.sh").read_text()
