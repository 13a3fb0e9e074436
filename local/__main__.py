"""`python -m local`, what `make run` runs: see local.launcher."""
import sys

from local.launcher import run

if __name__ == "__main__":
    sys.exit(run())
