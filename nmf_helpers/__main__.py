"""``python -m nmf_helpers COMMAND ...``: see :mod:`nmf_helpers.cli`."""

from .cli import exit_with, main

if __name__ == "__main__":
    exit_with(main())
