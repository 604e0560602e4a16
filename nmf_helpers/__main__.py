"""``python -m nmf_helpers COMMAND ...``: see :mod:`nmf_helpers.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
