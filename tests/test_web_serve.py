"""`evidence serve` for real: a subprocess on a free loopback port, /healthz answered, then stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_healthz_on_loopback_and_stops(home: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "evidence", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    assert (answer.status, answer.read()) == (200, b'{"status":"ok"}')
                    assert answer.headers["X-Frame-Options"] == "DENY"
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
                assert time.monotonic() < deadline, "evidence serve did not answer /healthz within 60 s"
                time.sleep(0.2)
        assert (home / "web-secret").stat().st_mode & 0o777 == 0o600
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0].decode()
    assert f"Serving evidence at http://127.0.0.1:{port}/" in output


def test_serve_refuses_a_store_that_does_not_exist(run, tmp_path: Path) -> None:
    result = run("--home", tmp_path / "nowhere", "serve", expect=1)
    assert "no evidence home at" in result.output and "nothing was created" in result.output
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_serve_refuses_a_bad_port(run, port: str) -> None:
    assert "Invalid value for '--port'" in run("serve", "--port", port, expect=2).output


def test_serve_refuses_a_port_in_use_in_one_line(run) -> None:
    run("init")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port), expect=1)
    assert result.output.strip() == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"


@pytest.mark.parametrize("host", ["0.0.0.0x", "no such host.invalid"])
def test_serve_refuses_a_host_it_cannot_listen_on_in_one_line(run, host: str) -> None:
    run("init")
    result = run("serve", "--host", host, "--port", str(_free_port()), expect=1)
    assert result.output.startswith(f"Error: --host '{host}' is not an address this machine can listen on")
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
