"""`python -m local`, what `make run` runs: see local.launcher."""
import sys

from local.launcher import run

sys.exit(run())
