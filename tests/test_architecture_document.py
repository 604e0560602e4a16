"""ARCHITECTURE.md checked against the code, claim by claim, where a machine can check it.

1. The layer table holds exactly the rooms and bands of ``LAYERS``
   (``tests/test_architecture.py``, which checks that imports run down them).
2. ``nmf_helpers/__init__.py`` re-exports every name in each library room's ``__all__``.
3. Every public core (a public function of a room, outside its ``__all__``; of a
   package room, in any of its modules) is named in "Doors and cores".
4. Every ``check_*`` function lives in ``_validation.py``, or is one of the room
   checks that "Doors and cores" names.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from test_architecture import LAYERS

import nmf_helpers as nh

PACKAGE_DIR = Path(nh.__file__).parent
DOCUMENT = (PACKAGE_DIR.parent / "ARCHITECTURE.md").read_text()


def _section(title: str) -> str:
    start = DOCUMENT.index(f"## {title}")
    end = DOCUMENT.find("\n## ", start + 1)
    return DOCUMENT[start : end if end > 0 else None]


def _table_bands() -> list[set[str]]:
    """The rooms of the layer table, one set per band (a row with a layer name starts one)."""
    bands: list[set[str]] = []
    for line in DOCUMENT.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[1].startswith("`"):
            continue
        rooms = {
            name.removesuffix(".py").removesuffix("/")
            for name in re.findall(r"`([^`]+)`", cells[1])
        }
        if cells[0]:
            bands.append(set())
        bands[-1] |= rooms
    return bands


def _rooms() -> dict[str, object]:
    """Every room of the package by name: modules and subpackages below ``nmf_helpers``."""
    names = {path.stem for path in PACKAGE_DIR.glob("*.py")} - {"__init__", "__main__"}
    names |= {path.parent.name for path in PACKAGE_DIR.glob("*/__init__.py")}
    return {name: importlib.import_module(f"nmf_helpers.{name}") for name in sorted(names)}


def _defined_functions(module) -> dict[str, ast.FunctionDef]:
    """Top-level functions of a module's source (of a package: its __init__ and modules)."""
    path = Path(module.__file__)
    files = sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]
    found = {}
    for file in files:
        for node in ast.parse(file.read_text()).body:
            if isinstance(node, ast.FunctionDef):
                found[node.name] = node
    return found


def test_the_layer_table_is_the_layers_the_imports_are_checked_against():
    assert _table_bands() == LAYERS


def test_every_room_is_in_the_layer_table():
    assert set(_rooms()) == set().union(*LAYERS)


def test_the_package_re_exports_every_rooms_public_names():
    missing = {
        room: sorted(set(getattr(module, "__all__", ())) - set(dir(nh)))
        for room, module in _rooms().items()
        if not room.startswith("_") and room != "cli"  # for the package's own use
    }
    assert {room: names for room, names in missing.items() if names} == {}


def test_every_public_core_is_named_in_doors_and_cores():
    """A public function of a room outside its ``__all__`` is a core, whoever calls it."""
    text = _section("Doors and cores")
    unnamed = [
        f"{room}.{name}"
        for room, module in _rooms().items()
        if not room.startswith("_") and room != "cli"  # helpers of the ground; the commands
        for name in _defined_functions(module)
        if not name.startswith("_")
        and name not in getattr(module, "__all__", ())
        and f"`{name}`" not in text
    ]
    assert unnamed == []


def test_checks_live_in_validation_or_are_named_as_a_rooms_own():
    text = _section("Doors and cores")
    elsewhere = [
        f"{room}.{name}"
        for room, module in _rooms().items()
        if room != "_validation"
        for name in _defined_functions(module)
        if name.startswith("check_") and f"`{name}`" not in text
    ]
    assert elsewhere == []
