"""Frozen-app entry point: the same ``main`` as the ``layertune`` console script."""

import sys

from app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
