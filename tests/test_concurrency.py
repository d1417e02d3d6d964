"""Concurrency: several real `evidence` processes writing one SQLite store at the same time.

Writers queue on SQLite's write lock (BEGIN IMMEDIATE with a busy timeout), so no user ever sees
"database is locked"; the audit chain stays one line; `verify --repair` running beside
registrations never removes a file that one of them is about to commit.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLE, sqlite_only

TIN = "000123456"
PROCESSES = 4
FILES_EACH = 250


def child_env(home: Path) -> dict[str, str]:
    """The test's own store: its home folder, and its database when the suite runs on PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_") or k == "EVIDENCE_DATABASE_URL"}
    env.update(EVIDENCE_HOME=str(home), EVIDENCE_ACTOR="tester", PYTHONPATH=str(REPO))
    return env


@dataclass
class Finished:
    returncode: int
    output: str
    started: float
    ended: float


def run_together(home: Path, commands: list[tuple[object, ...]], log_dir: Path) -> list[Finished]:
    """Start every command at once (one process each) and wait for all of them."""
    running = []
    for n, args in enumerate(commands):
        log = log_dir / f"process-{n}.log"
        handle = open(log, "wb")  # noqa: SIM115 - closed below, once the process is done
        process = subprocess.Popen(
            [sys.executable, "-m", "evidence", *map(str, args)], env=child_env(home), cwd=REPO,
            stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
        running.append((process, handle, log, time.monotonic()))
    finished = []
    for process, handle, log, started in running:
        process.wait(timeout=600)
        handle.close()
        finished.append(Finished(process.returncode, log.read_text(errors="replace"), started, time.monotonic()))
    return finished


def make_files(folder: Path, count: int, seed: int) -> Path:
    rng = random.Random(seed)
    folder.mkdir()
    for i in range(count):
        (folder / f"{folder.name}-{i:03d}.txt").write_bytes(f"{folder.name} {i}\n".encode() + rng.randbytes(2000))
    return folder


def assert_no_lock_errors(results: list[Finished]) -> None:
    for result in results:
        assert result.returncode == 0, result.output
        assert "locked" not in result.output.lower() and "Traceback" not in result.output, result.output


@pytest.mark.slow
def test_four_processes_register_a_thousand_files_at_once(run, home: Path, tmp_path: Path, request) -> None:
    run("import", SAMPLE / "practice.csv")
    folders = [make_files(tmp_path / f"clinic-{n}", FILES_EACH, seed=n) for n in range(PROCESSES)]
    commands = [
        ("register", folder, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7", "--effective-date", "2020-06-01")
        for folder in folders
    ]
    started = time.monotonic()
    results = run_together(home, commands, tmp_path)
    wall = time.monotonic() - started
    assert_no_lock_errors(results)
    for result in results:
        assert f"{FILES_EACH} registered, 0 already present, 0 failed" in result.output
    # they really ran at the same time: every process started before any other finished
    assert max(r.started for r in results) < min(r.ended for r in results)

    total = PROCESSES * FILES_EACH
    listed = json.loads(run("list", "--format", "json").output)
    assert sorted(e["name"] for e in listed) == sorted(p.name for folder in folders for p in folder.iterdir())
    events = json.loads(run("log", "--format", "json").output)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert sum(e["action"] == "register" for e in events) == total
    assert f"audit trail intact: {len(events)} events" in run("log", "verify").output
    assert f"{total} stored files checked: 0 problems" in run("verify").output
    figures = {"processes": PROCESSES, "files": total, "wall_seconds": round(wall, 2)}
    if getattr(request.config, "cache", None) is not None:
        request.config.cache.set("evidence/reliability/concurrency", figures)
    print(f"\nconcurrency: {json.dumps(figures)}")


@pytest.mark.slow
def test_two_processes_registering_the_same_files_register_each_once(run, home: Path, tmp_path: Path) -> None:
    run("import", SAMPLE / "practice.csv")
    folder = make_files(tmp_path / "shared", FILES_EACH, seed=7)
    command = ("register", folder, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7")
    results = run_together(home, [command, command], tmp_path)
    assert_no_lock_errors(results)
    counts = []
    for result in results:
        summary = next(line for line in result.output.splitlines() if line.endswith(" failed"))
        registered, present = int(summary.split()[0]), int(summary.split()[2])
        assert registered + present == FILES_EACH and summary.endswith(", 0 failed")
        counts.append(registered)
    assert sum(counts) == FILES_EACH  # every file registered by exactly one of them
    assert len(json.loads(run("list", "--format", "json").output)) == FILES_EACH
    assert f"{FILES_EACH} stored files checked: 0 problems" in run("verify").output
    assert "intact" in run("log", "verify").output


@pytest.mark.slow
def test_verify_repair_beside_registrations_never_removes_their_files(run, home: Path, tmp_path: Path) -> None:
    """verify --repair deletes orphans; a file stored but not yet committed must not look like one."""
    run("import", SAMPLE / "practice.csv")
    folders = [make_files(tmp_path / f"batch-{n}", FILES_EACH, seed=10 + n) for n in range(2)]
    commands: list[tuple[object, ...]] = [
        ("register", folder, "--tin", TIN, "--year", 2020, "--activity", "IA_PM_7") for folder in folders
    ]
    commands += [("verify", "--repair")] * 6
    results = run_together(home, commands, tmp_path)
    for result in results[:2]:
        assert result.returncode == 0 and f"{FILES_EACH} registered" in result.output, result.output
    for result in results[2:]:
        assert "locked" not in result.output.lower() and "Traceback" not in result.output, result.output
        assert "missing:" not in result.output and "corrupted:" not in result.output, result.output
    assert f"{2 * FILES_EACH} stored files checked: 0 problems" in run("verify").output


@pytest.mark.slow
@sqlite_only  # creating the SQLite file and its schema (a PostgreSQL test database comes migrated)
def test_processes_opening_a_new_store_at_once_create_it_once(tmp_path: Path) -> None:
    """The first use creates the schema and loads the catalog; six processes racing for it must all succeed."""
    for attempt in range(2):  # before the fix, four runs in five ended in "database is locked"
        home = tmp_path / f"new-{attempt}"
        # Write commands create a new store (read commands refuse a missing home): six at once.
        results = run_together(home, [("init",)] * 6, tmp_path)
        assert_no_lock_errors(results)
        listed = subprocess.run(
            [sys.executable, "-m", "evidence", "catalog", "list", "--year", "2020", "--format", "json"],
            env=child_env(home), cwd=REPO, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert len(json.loads(listed.stdout)) == 106  # PY2020's inventory
        check = subprocess.run(
            [sys.executable, "-m", "evidence", "log", "--format", "json"], env=child_env(home), cwd=REPO,
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert [e["action"] for e in json.loads(check.stdout)] == ["catalog.sync"]  # loaded exactly once
