#!/usr/bin/env python3
"""The dashboard and the missing page of one practice of the large store, served for real, beside
#15's aim "p95 < 150 ms over 200 requests".

Prints figures; it asserts nothing (docs/PERFORMANCE.md holds the results).

    python bench/bench_web_pages.py [--home DIR] [--requests 200]

1. Builds bench/large_store.py (100,000 links; one practice holds 1,308 attestations and
   10,000 links) unless --home names a built one, and adds a user allowed to read it.
2. Starts `evidence serve` (uvicorn) in a subprocess on a free loopback port and signs in.
3. Asks for the dashboard, then the missing page, --requests times each, one after the other
   on one connection. The first request of each page is reported on its own (it computes the
   report: the cold figure); p50/p95/max are of the others, which reuse the kept answer until
   the store changes (evidence/web/answers.py). Beside them, the server's CPU milliseconds per
   request (from /proc), which other jobs on the machine inflate far less than wall time.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
AIM_MS = 150.0
USER, PASSWORD = "bench-officer", "a long bench passphrase, 2026"
TIN, YEAR = "000000001", 2020


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _add_user(home: Path) -> None:
    from evidence.access.users import add_user, list_users
    from evidence.app import App
    from evidence.config import resolve_settings

    app = App(resolve_settings(home, None), actor="bench")
    with app.write() as session:
        if all(u.name != USER for u in list_users(session)):
            add_user(session, USER, "officer", PASSWORD, practices=[TIN], actor="bench")
    app.close()


def _serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "EVIDENCE_ACTOR": "bench"}
    args = [sys.executable, "-m", "evidence", "--home", str(home), "serve", "--port", str(port)]
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("evidence serve did not start")
        time.sleep(0.2)


def _signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/sign-in").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert match, "no CSRF field on the sign-in page"
    done = client.post("/sign-in", data={"name": USER, "password": PASSWORD, "next": "/", "csrf_token": match[1]})
    assert done.status_code == 303, f"sign-in refused: {done.status_code}"
    return client


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the server process has used (Linux /proc): a loaded machine
    stretches wall time far more than CPU time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _times(client: httpx.Client, path: str, count: int, pid: int) -> tuple[float, list[float], float, int]:
    """Milliseconds of the first request and of the `count - 1` after it, the server's CPU
    milliseconds per request of those, and the page's size in bytes."""
    seconds, size, cpu = [], 0, 0.0
    for n in range(count):
        if n == 1:
            cpu = _server_cpu(pid)
        start = time.perf_counter()
        response = client.get(path)
        seconds.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:200]}"
        size = len(response.content)
    return seconds[0], seconds[1:], (_server_cpu(pid) - cpu) * 1000 / max(1, count - 1), size


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="a store bench/large_store.py built (skips building)")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from bench.large_store import build_large_store

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        home = args.home
        if home is None:
            home = Path(tmp) / "large"
            t_build, counts = build_large_store(home)
            print(f"large store built in {t_build:.1f} s: {counts}")
        _add_user(home)
        port = _free_port()
        server = _serve(home, port)
        try:
            print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
                  f"Python {sys.version.split()[0]}")  # fmt: skip
            client = _signed_in(f"http://127.0.0.1:{port}")
            try:
                for name, path in (
                    ("dashboard", f"/dashboard?tin={TIN}&year={YEAR}"),
                    ("missing page", f"/missing?tin={TIN}&year={YEAR}"),
                ):
                    first, rest, cpu, size = _times(client, path, args.requests, server.pid)
                    print(f"{name} ({size:,} bytes): first request {first:.0f} ms (computes the report); "
                          f"the next {len(rest)}: p50 {statistics.median(rest):.1f} ms, "
                          f"p95 {_quantile(rest, 0.95):.1f} ms, max {max(rest):.1f} ms; server CPU {cpu:.1f} ms a request "
                          f"(aim: p95 < {AIM_MS:.0f} ms)")  # fmt: skip
            finally:
                client.close()
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
