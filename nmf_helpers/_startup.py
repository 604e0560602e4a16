"""What must be settled before numba, librosa and matplotlib are imported.

Imported first by the package, this module does three things.

* **One-line interrupts while starting.** ``python -m nmf_helpers ...``
  spends its first seconds importing numpy, librosa and numba, before
  :func:`nmf_helpers.cli.main` installs its signal handlers; a Ctrl-C then
  would print Python's traceback. A handler exits with one line and status
  130 (SIGINT) or 143 (SIGTERM), but only when the program being started is
  this package's command line: a library user's handlers are never touched.
  Nothing has been written at that point.
* **Caches that can be written.** numba keeps compiled functions (ours and
  librosa's) next to their source or in the user's cache folder, and refuses
  to import the module when neither can be written (a read-only install run
  by a service account, ``docker --user``). Matplotlib does the same for its
  font list, and otherwise rebuilds it in a new temporary folder on every
  run. When the usual places cannot be written, both get a folder of this
  user's own under the system's temporary folder (:func:`writable_caches`).
* **A current folder that was deleted** makes the command line stop in one
  line: every relative path would name nothing, and numba's import crashes
  on it when coverage is installed (a development install).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import stat
import sys
import tempfile

from . import _fault_injection

__all__ = ["starting_the_command_line", "writable_caches"]

_SCRIPTS = {"nmf-helpers", "nmf-separate"}


def starting_the_command_line() -> bool:
    """True while ``python -m nmf_helpers`` or one of its console scripts is importing."""
    original = list(getattr(sys, "orig_argv", []))
    if sys.argv[:1] == ["-m"] and "-m" in original:
        # While -m locates its module, sys.argv[0] is "-m" (Python's documentation).
        start = original.index("-m") + 1
        return original[start : start + 1] == ["nmf_helpers"]
    return bool(sys.argv) and os.path.basename(sys.argv[0]) in _SCRIPTS


def _stop(signum, frame) -> None:
    name = signal.Signals(signum).name
    print(f"interrupted: stopped by {name} while starting; nothing written", file=sys.stderr)
    sys.exit(128 + signum)


def _can_write(folder: str) -> bool:
    """True if ``folder`` exists or can be made, and a file can be created in it."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _own_folder(name: str) -> str:
    """``TMP/name-UID``, made private to this user, or a fresh folder if it is not ours.

    Compiled code is loaded from a cache without further checks, so a folder
    another user made first (or could write into) is never used.
    """
    uid = os.getuid() if hasattr(os, "getuid") else 0
    folder = os.path.join(tempfile.gettempdir(), f"{name}-{uid}")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return tempfile.mkdtemp(prefix=f"{name}-")
    info = os.lstat(folder)
    private = stat.S_ISDIR(info.st_mode) and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if not private or getattr(info, "st_uid", uid) != uid:
        return tempfile.mkdtemp(prefix=f"{name}-")
    return folder


def _source_folders() -> list[str]:
    """The folders whose ``__pycache__`` numba would use for our functions and librosa's."""
    folders = [os.path.dirname(os.path.abspath(__file__))]
    spec = importlib.util.find_spec("librosa")
    # one folder stands for the install: librosa's subpackages share its permissions
    folders += list(spec.submodule_search_locations or []) if spec else []
    return folders


def _numba_can_cache() -> bool:
    """Whether numba finds a writable cache for every source folder, as its locators try them."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return True  # the user chose; numba reports it if it cannot be written
    if all(_can_write(os.path.join(folder, "__pycache__")) for folder in _source_folders()):
        return True  # numba's first choice, beside the source
    # its second: AppDirs("numba").user_cache_dir, i.e. XDG's cache folder
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return _can_write(os.path.join(cache_home, "numba"))


def _matplotlib_can_configure() -> bool:
    """Whether matplotlib's configuration and cache folders (XDG's) can both be written.

    The font list goes to the cache folder; MPLCONFIGDIR, when set, is both.
    """
    if os.environ.get("MPLCONFIGDIR"):
        return True
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return all(_can_write(os.path.join(home, "matplotlib")) for home in [config_home, cache_home])


def writable_caches() -> dict[str, str]:
    """Point numba's and matplotlib's caches at a private folder where theirs cannot be written.

    Sets ``NUMBA_CACHE_DIR`` and ``MPLCONFIGDIR`` in ``os.environ`` (so worker
    processes inherit them) only when needed; a choice the user made is kept.
    numba imported before this package gets the folder in its config too (it
    read the environment already); matplotlib imported before has chosen its
    folders, and is left alone.

    Returns
    -------
    chosen : dict[str, str]
        The variables that were set, and their folders (empty when nothing was needed).
    """
    chosen = {}
    if not _numba_can_cache():
        chosen["NUMBA_CACHE_DIR"] = _own_folder("nmf_helpers-numba")
        if "numba" in sys.modules:
            sys.modules["numba"].config.CACHE_DIR = chosen["NUMBA_CACHE_DIR"]
    if "matplotlib" not in sys.modules and not _matplotlib_can_configure():
        chosen["MPLCONFIGDIR"] = _own_folder("nmf_helpers-matplotlib")
    os.environ.update(chosen)
    return chosen


def _current_folder_exists() -> bool:
    try:
        os.getcwd()
    except FileNotFoundError:
        return False
    return True


if starting_the_command_line():
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    if not _current_folder_exists():
        print(
            "error: nmf_helpers: the current folder no longer exists (it was deleted or moved);"
            " cd to a folder that exists and run the command again",
            file=sys.stderr,
        )
        sys.exit(2)
    # The fault-injection tests' first moment (inert unless they set its variable):
    # a signal sent while held here ends the run through _stop.
    if _fault_injection.holds_at("starting"):
        _fault_injection.record("starting")  # the other moments' logs stay as the tests expect
        _fault_injection.hold("starting")
writable_caches()
