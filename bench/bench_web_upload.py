#!/usr/bin/env python3
"""Server memory during a large upload: `evidence serve` in a subprocess over a fresh store,
one 200 MiB file streamed from a generator with httpx to POST /api/v1/evidence, and the server's
RSS (VmRSS, and its peak VmHWM, from /proc/PID/status) before and after, beside the anchor
"< 50 MB" of issue #15. Prints figures; asserts nothing (docs/PERFORMANCE.md has the results).

    python bench/bench_web_upload.py [--mib 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CSV = REPO / "sample_evidence" / "practice.csv"
BOUNDARY = "bench-boundary-7f3a"


def evidence(home: Path, *args: str) -> str:
    env = {**os.environ, "EVIDENCE_HOME": str(home), "EVIDENCE_ACTOR": "bench", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "evidence", *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"evidence {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def memory_kib(pid: int) -> dict[str, int]:
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[name] = int(value.split()[0])
    return figures


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def body(size: int) -> Iterator[bytes]:
    """The multipart form, made as it is sent: fields first, then the file in 1 MiB blocks."""
    fields = {"tin": "000123456", "year": "2020", "activity": "IA_BE_6", "items": "1", "effective_date": "2020-08-03"}
    for name, value in fields.items():
        yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="large.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    block = os.urandom(1 << 20)
    sent, counter = 0, 0
    while sent < size:
        counter += 1
        chunk = counter.to_bytes(8, "big") + block[8 : min(len(block), size - sent)]
        sent += len(chunk)
        yield chunk
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def one_run(mib: int) -> tuple[dict[str, int], dict[str, int], float, int]:
    with tempfile.TemporaryDirectory(prefix="bench-web-upload-") as folder:
        home = Path(folder) / "home"
        evidence(home, "import", str(SAMPLE_CSV))
        token = evidence(home, "token", "create", "bench", "--role", "officer").strip().splitlines()[-1].strip()
        port = free_port()
        env = {**os.environ, "EVIDENCE_HOME": str(home), "PYTHONPATH": str(REPO), "TMPDIR": folder}
        server = subprocess.Popen(
            [sys.executable, "-m", "evidence", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            # one small request first, so the figures compare a warm server with itself
            httpx.get(f"{base}/api/v1/practices", headers={"Authorization": f"Bearer {token}"}, timeout=10)
            Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # the peak (VmHWM) restarts from now
            before = memory_kib(server.pid)
            start = time.perf_counter()
            response = httpx.post(
                f"{base}/api/v1/evidence",
                content=body(mib << 20),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                },
                timeout=600,
            )
            seconds = time.perf_counter() - start
            after = memory_kib(server.pid)
            return before, after, seconds, response.status_code
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=200, help="size of the uploaded file (MiB)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"POST /api/v1/evidence of one {args.mib} MiB file, streamed (no Content-Length); anchor: growth < 50 MB")
    for run in range(1, args.runs + 1):
        before, after, seconds, status = one_run(args.mib)
        growth = (after["VmHWM"] - before["VmRSS"]) / 1024
        print(
            f"run {run}: HTTP {status} in {seconds:.1f} s; server VmRSS {before['VmRSS'] / 1024:.1f} -> "
            f"{after['VmRSS'] / 1024:.1f} MiB, peak VmHWM {after['VmHWM'] / 1024:.1f} MiB: "
            f"growth {growth:.1f} MiB (anchor < 50 MB)"
        )


if __name__ == "__main__":
    main()
