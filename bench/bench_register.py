#!/usr/bin/env python3
"""Registration speed and memory (the missing report has its own bench: bench/bench_missing.py).

Prints figures; it asserts nothing (see docs/PERFORMANCE.md for the targets and results).

    python bench/bench_register.py [--small 1000] [--large 5] [--large-mib 200] [--profile]
                                   [--skip-throughput] [--skip-memory]

1. 1,000 files of 64 KiB and 5 files of 200 MiB registered with the whole `evidence register`
   command, each beside the anchor `sha256sum` + `cp` + `sync` of the same files in the same run
   (the anchor runs first, then its copies are removed and the page cache is left warm for both).
   With --profile, each workload is registered once more into a fresh store with timers around
   the phases (bench/register_phases.py): hashing and copying, fsync, renames, SQL, commit.
2. Peak memory (max RSS) of `evidence register` on one 1 GiB file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CSV = REPO / "sample_evidence" / "practice.csv"


def evidence(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EVIDENCE_HOME": str(home), "EVIDENCE_ACTOR": "bench", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "evidence", *args], env=env, capture_output=True, text=True, check=True
    )


def timed(func) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def make_files(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    block = os.urandom(min(size, 1 << 20))
    for i in range(count):
        path = folder / f"f{i:05d}.bin"
        with open(path, "wb") as handle:
            written = 0
            while written < size:
                chunk = block[: size - written]
                handle.write(i.to_bytes(8, "big") + chunk[8:])  # distinct content per file
                written += len(chunk)
        paths.append(path)
    return paths


def baseline(paths: list[Path], target: Path) -> float:
    """The anchor: hash every file, copy it, and make the copies durable (one `sync`)."""
    target.mkdir(parents=True, exist_ok=True)

    def run() -> None:
        for start in range(0, len(paths), 500):
            batch = [str(p) for p in paths[start : start + 500]]
            subprocess.run(["sha256sum", *batch], check=True, capture_output=True)
            subprocess.run(["cp", *batch, str(target)], check=True)
        subprocess.run(["sync"], check=True)

    return timed(run)


REGISTER_ARGS = ("--tin", "000123456", "--year", "2020", "--activity", "IA_PM_7", "--effective-date", "2020-06-01")


def register_folder(home: Path, folder: Path) -> float:
    return timed(lambda: evidence(home, "register", str(folder), *REGISTER_ARGS))


def fresh_home(root: Path, name: str) -> Path:
    home = root / name
    shutil.rmtree(home, ignore_errors=True)
    evidence(home, "import", str(SAMPLE_CSV))
    return home


def phases(root: Path, folder: Path) -> None:
    """Register `folder` into a fresh store once more, with timers around each phase; print them."""
    home = fresh_home(root, "home-phases")
    env = {**os.environ, "EVIDENCE_HOME": str(home), "EVIDENCE_ACTOR": "bench", "PYTHONPATH": str(REPO)}
    command = [sys.executable, str(REPO / "bench" / "register_phases.py"), "register", str(folder), *REGISTER_ARGS]
    start = time.perf_counter()
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    report = json.loads(out.stderr.strip().splitlines()[-1])
    steps = report["phases"]
    whole = steps.pop("registration (all of it)", 0.0)
    print(f"  profile (one more run, {wall:.2f} s wall, {report['sql_statements']} SQL statements; "
          "wall and CPU time of the calling thread):")  # fmt: skip
    measured = 0.0
    closing = [name for name in steps if name.startswith("close")][-1]
    for name, seconds in steps.items():
        calls = report["calls"][name]
        print(
            f"    {name:<40} {seconds:6.3f} s {report['cpu'][name]:6.3f} s cpu  ({calls} call{'s' if calls != 1 else ''})"
        )
        measured += seconds if not name.startswith(" ") else 0.0
        if name == closing:  # the phases above are outside register_files, the ones below inside
            before, imports = wall - report["total"], report["start-up (interpreter + imports)"]
            print(f"    {'interpreter start-up and exit':<40} {before:6.3f} s")
            print(f"    {'imports (evidence, SQLAlchemy, click)':<40} {imports:6.3f} s")
            print(
                f"    {'output, finding the files, the rest':<40} {wall - whole - measured - before - imports:6.3f} s"
            )
            measured = 0.0
    print(f"    {'registration, the rest':<40} {whole - measured:6.3f} s  (outcomes, settling markers, locks)")
    shutil.rmtree(home)


def compare(label: str, paths: list[Path], folder: Path, root: Path, amount: str, rate: float) -> tuple[float, float]:
    t_base = baseline(paths, root / "copy")
    shutil.rmtree(root / "copy")
    t_ours = register_folder(fresh_home(root, "home"), folder)
    shutil.rmtree(root / "home")
    print(f"{label}: evidence register {t_ours:.2f} s ({rate / t_ours:.0f} {amount}/s); "
          f"sha256sum+cp+sync {t_base:.2f} s; ratio {t_ours / t_base:.2f}")  # fmt: skip
    return t_ours, t_base


def bench_throughput(root: Path, small: int, large: int, large_mib: int, profile: bool) -> None:
    small_files = make_files(root / "small", small, 64 * 1024)
    compare(f"small files: {small} x 64 KiB", small_files, root / "small", root, "files", small)
    if profile:
        phases(root, root / "small")
    shutil.rmtree(root / "small")
    large_files = make_files(root / "large", large, large_mib << 20)
    compare(f"large files: {large} x {large_mib} MiB", large_files, root / "large", root, "MiB", large * large_mib)
    if profile:
        phases(root, root / "large")
    shutil.rmtree(root / "large")


def bench_memory(root: Path) -> None:
    folder = root / "gib"
    make_files(folder, 1, 1 << 30)
    home = fresh_home(root, "home-gib")
    # A fresh parent process, so RUSAGE_CHILDREN sees the register command and nothing else.
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    command = [sys.executable, "-m", "evidence", "register", str(folder), *REGISTER_ARGS]
    env = {**os.environ, "EVIDENCE_HOME": str(home), "EVIDENCE_ACTOR": "bench", "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", probe, *command], env=env, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    peak_kib = int(out.stdout.split()[-1])
    print(f"peak memory registering one 1 GiB file: {peak_kib / 1024:.0f} MB max RSS ({seconds:.1f} s)")
    shutil.rmtree(folder)
    shutil.rmtree(home)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=5)
    parser.add_argument("--large-mib", type=int, default=200)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print where registration's time goes, by phase")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        root = Path(tmp)
        if not args.skip_throughput:
            bench_throughput(root, args.small, args.large, args.large_mib, args.profile)
        if not args.skip_memory:
            bench_memory(root)


if __name__ == "__main__":
    main()
