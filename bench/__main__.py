"""Run the benchmarks, print their tables with the targets beside them, store the figures.

    python -m bench [--quick] [--scale N] [--results DIR] [names...]

Every benchmark is a module of this package named in BENCHMARKS, exposing

    run(quick: bool, scale: int) -> dict

`quick` asks for tiny sizes that finish in seconds (the test suite runs them so they never rot: figures from a
quick run mean nothing); `scale` multiplies the data size (1 = the seed's 1,000 users x 3 calendars x 100
events). The module starts what it needs itself (bench.harness.bench_app / bench_database) and times with the
one loop in bench.harness.timed. It returns

    {
        "title": "one line: what was measured, on what data",
        "rows": [                         # bench.harness.row(...) builds one
            {"what": "week read p99, scale 1", "measured": 0.41, "unit": "ms",
             "target": "<= 1 ms", "met": True},     # target "" and met None when there is no target
        ],
        "notes": ["free text lines: plans, sizes, machine state"],   # optional
    }

The runner prints each table as it finishes and writes bench/results/<name>.json (<name>_x<scale>.json when
--scale is not 1; --quick runs go to bench/results/quick/, not committed) with the result plus the machine,
the scale and the time of the run.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = ("week_read", "pages", "audit_log", "sync_store", "sync_first", "sync_incremental", "sweep",
              "worker_memory", "recurrence", "interop", "ics_refresh", "ssrf", "live")
RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    memory_kb = 0
    if Path("/proc/meminfo").exists():
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {"cores": os.cpu_count(), "memory_gb": round(memory_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def print_result(name: str, result: dict) -> None:
    print(f"\n== {name}: {result['title']}")
    rows = result["rows"]
    width = max([len(r["what"]) for r in rows] + [4])
    print(f"{'what':<{width}}  {'measured':>14}  {'target':<16} met")
    print("-" * (width + 40))
    for r in rows:
        measured = "-" if r["measured"] is None else f"{r['measured']:,.2f} {r['unit']}"
        met = {True: "yes", False: "NO", None: ""}[r["met"]]
        print(f"{r['what']:<{width}}  {measured:>14}  {r['target']:<16} {met}")
    for note in result.get("notes", []):
        print(note)
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Almanac's benchmarks.")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the benchmarks still run")
    parser.add_argument("--scale", type=int, default=1, help="data size as a multiple of the seed's (default 1)")
    parser.add_argument("--results", type=Path, help="where to write <name>.json")
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"benchmarks to run (default all: {', '.join(BENCHMARKS)})")
    arguments = parser.parse_args(argv)
    unknown = sorted(set(arguments.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    if arguments.scale < 1:
        parser.error("--scale must be 1 or more")
    results_dir = arguments.results or (RESULTS / "quick" if arguments.quick else RESULTS)
    results_dir.mkdir(parents=True, exist_ok=True)
    for name in arguments.names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        started = datetime.now(UTC)
        result = module.run(quick=arguments.quick, scale=arguments.scale)
        print_result(name, result)
        stored = {"name": name, "quick": arguments.quick, "scale": arguments.scale,
                  "started_at": started.isoformat(timespec="seconds"), "machine": machine(), **result}
        stem = name if arguments.scale == 1 else f"{name}_x{arguments.scale}"
        (results_dir / f"{stem}.json").write_text(json.dumps(stored, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
