"""``python -m secretcache``: the command line (also installed as the ``secretcache`` script)."""

import sys

from ._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
