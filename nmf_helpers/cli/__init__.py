"""Command line: ``python -m nmf_helpers COMMAND ...`` (also the ``nmf-helpers`` script).

Each command lives in its own module of this package and exposes
``add_parser(subparsers)``, which registers its arguments and sets
``run=function(args) -> int``. :func:`main` turns every problem with what the
user gave (missing file, unreadable or silent audio, a bad range, K out of
range, an output that already exists) into one line on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
from pathlib import Path

from .._validation import ParameterError

__all__ = ["COMMANDS", "UsageError", "main", "output_paths"]

#: Modules of nmf_helpers.cli that provide a command, in --help order.
COMMANDS = ["demo", "detect", "scan", "separate"]


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit 2."""


def output_paths(outdir, names: list[str], force: bool) -> list[Path]:
    """Paths ``outdir / name``; refuse (UsageError) if any exists and not ``force``."""
    paths = [Path(outdir) / name for name in names]
    existing = [str(path) for path in paths if path.exists()]
    if existing and not force:
        raise UsageError(
            f"{existing[0]} already exists ({len(existing)} of the outputs do);"
            " choose another output folder or pass --force to overwrite"
        )
    return paths


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nmf_helpers",
        description="Music source separation with NMF: command-line tools.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    for command_parser in [parser, *subparsers.choices.values()]:
        command_parser.error = functools.partial(_one_line_error, command_parser.prog)
    return parser


def _one_line_error(prog: str, message: str):
    """argparse's errors in one line, like every other bad input (exit 2)."""
    command = prog.removeprefix("python -m nmf_helpers").strip() or "nmf_helpers"
    print(f"error: {command}: {message} (see --help)", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 on bad input)."""
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (UsageError, ParameterError, FileNotFoundError, IsADirectoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
