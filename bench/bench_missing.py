#!/usr/bin/env python3
"""The missing report on a large store: the library call and the whole command, beside their aims.

Prints figures; it asserts nothing (docs/PERFORMANCE.md holds the results).

    python bench/bench_missing.py [--runs 3] [--home DIR] [--profile]

1. Builds bench/large_store.py (10 practices, 1,000 clinicians, 13,080 attestations,
   100,000 evidence links) and a one-practice store beside it, unless --home names a built one.
2. `missing_report()` in a fresh process: seconds (best and median of --runs) and the SQL
   statements issued (a `before_cursor_execute` listener), on both stores: the count must not
   grow with the data.
3. `evidence missing` as a whole process (start-up, the report, writing the output to a file),
   table, JSON and CSV.
4. --profile: the cProfile top entries of the library call and of the whole command.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIBRARY_AIM = 0.5
COMMAND_AIM = 1.0

# Run in a fresh process, so nothing is warm that a real command would not have warm.
LIBRARY_CALL = """
import sys, time
from sqlalchemy import event
from evidence.app import App
from evidence.config import resolve_settings
from evidence.records.missing import missing_report
app = App(resolve_settings(sys.argv[1], None))
app.engine
statements = []
event.listen(app.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
seconds, cpu = [], []
for _ in range(int(sys.argv[2])):
    statements.clear()
    start, start_cpu = time.perf_counter(), time.process_time()
    with app.read() as session:
        report = missing_report(session)
    seconds.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)
if len(sys.argv) > 3:
    import cProfile, pstats
    profile = cProfile.Profile()
    with app.read() as session:
        profile.runcall(missing_report, session)
    pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(int(sys.argv[3]))
queries = [s for s in statements if not s.startswith("BEGIN")]
links = sum(len(i.evidence) for a in report.activities for i in a.items)
print(" ".join(f"{s:.3f}" for s in seconds), min(cpu), len(queries), len(report.activities), links)
"""


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "EVIDENCE_ACTOR": "bench"}


def library(home: Path, runs: int, profile: int = 0) -> tuple[list[float], float, int, int, int]:
    args = [sys.executable, "-c", LIBRARY_CALL, str(home), str(runs)] + ([str(profile)] if profile else [])
    out = subprocess.run(args, env=environment(), capture_output=True, text=True, check=True)
    if profile:
        print(out.stderr)
    *seconds, cpu, queries, activities, links = out.stdout.split()
    return [float(s) for s in seconds], float(cpu), int(queries), int(activities), int(links)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command(home: Path, fmt: str, runs: int, target: Path) -> tuple[list[float], float]:
    """Wall seconds of each run, and the least CPU seconds (user + system) one run took."""
    args = [sys.executable, "-m", "evidence", "--home", str(home), "missing", "--format", fmt]
    seconds, cpu = [], []
    for _ in range(runs):
        with open(target, "w") as out:
            start, start_cpu = time.perf_counter(), children_cpu()
            subprocess.run(args, env=environment(), stdout=out, check=True)
            seconds.append(time.perf_counter() - start)
            cpu.append(children_cpu() - start_cpu)
    return seconds, min(cpu)


def profile_command(home: Path, top: int) -> None:
    args = [sys.executable, "-c", "import cProfile, sys; from evidence.cli import main; sys.argv = sys.argv[1:]; "
            "cProfile.run('main()', sort='cumulative')", "evidence", "--home", str(home), "missing"]  # fmt: skip
    out = subprocess.run(args, env=environment(), capture_output=True, text=True)  # main() exits through SystemExit
    lines = out.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if "function calls" in line), 0)
    print("\n".join(lines[start : start + top + 8]))


def figures(seconds: list[float], cpu: float) -> str:
    """Wall time, and CPU time, which a loaded machine (other jobs on the 2 cores) inflates far less."""
    return f"best {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s wall; {cpu:.2f} s CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--home", type=Path, help="a store bench/large_store.py built (skips building)")
    parser.add_argument("--formats", default="table,json,csv", help="the command's output formats to time")
    parser.add_argument("--profile", action="store_true", help="print where the time goes (cProfile)")
    parser.add_argument("--top", type=int, default=25, help="profile entries to print")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from bench.large_store import build_large_store

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        root = Path(tmp)
        home = args.home
        if home is None:
            home = root / "large"
            t_build, counts = build_large_store(home)
            print(f"large store built in {t_build:.1f} s: {counts}")
        small = root / "small"
        build_large_store(small, practices=1, per_practice=10, links=1_000)
        _, _, small_queries, small_activities, small_links = library(small, 1)
        seconds, cpu, queries, activities, links = library(home, args.runs)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
              f"Python {sys.version.split()[0]}")  # fmt: skip
        print(f"missing_report() (library), {activities} activities, {links} links: {figures(seconds, cpu)} "
              f"(aim < {LIBRARY_AIM} s)")  # fmt: skip
        print(f"SQL statements: {queries} on the large store, {small_queries} on a store of {small_activities} "
              f"activities and {small_links} links (aim: the same)")  # fmt: skip
        for fmt in args.formats.split(","):
            target = root / f"missing.{fmt}"
            seconds, cpu = command(home, fmt, args.runs, target)
            lines = target.read_text().count("\n")
            aim = f" (aim < {COMMAND_AIM} s)" if fmt == "table" else ""
            print(f"evidence missing --format {fmt} (whole command, {lines} lines): {figures(seconds, cpu)}{aim}")
        if args.profile:
            print("\n--- missing_report() profile ---")
            library(home, 1, profile=args.top)
            print("--- evidence missing (table) profile ---")
            profile_command(home, args.top)


if __name__ == "__main__":
    main()
