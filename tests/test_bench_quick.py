"""`python -m bench --quick` runs every benchmark of the runner at tiny sizes, so none of them rots. The figures
of a quick run mean nothing: only that each benchmark finishes, reports its rows and stores them."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.__main__ import BENCHMARKS
from webapp.config import PROJECT_ROOT


@pytest.mark.slow
@pytest.mark.parametrize("name", BENCHMARKS)  # one test each, so the suite's workers share them
def test_every_benchmark_runs_at_tiny_sizes_and_stores_its_rows(tmp_path, name, database_server):
    # A scratch database on the suite's server: the benchmark would otherwise start a PostgreSQL of its own.
    env = {**os.environ, "BENCH_DATABASE_URL": database_server.create_database("almanac_bench")}
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--results", str(tmp_path), name],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stored = json.loads((tmp_path / f"{name}.json").read_text())
    assert stored["quick"] is True and stored["rows"], name
    assert all(isinstance(row["measured"], int | float) for row in stored["rows"]), stored["rows"]
    assert f"== {name}:" in result.stdout
    if name == "pages":
        pages = {row["what"]: row for row in stored["rows"]}
        assert pages["full page errors"]["measured"] == 0 and pages["htmx partial errors"]["measured"] == 0
        assert pages["revisits not answered 304"]["measured"] == 0


def test_the_runner_refuses_an_unknown_benchmark():
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "no_such_bench"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 2 and "unknown benchmark no_such_bench" in result.stderr
