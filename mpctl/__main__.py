"""`python -m mpctl`: the same entry point as the `mpctl` console script."""

from mpctl.cli.main import run

run()
