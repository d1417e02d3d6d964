"""The web app's /log page on a trail of many events: the chain verification it shows at the top
walks every event, so its cost grows with the trail (docs/PERFORMANCE.md has the figures).

    python -m bench.bench_log_page [--events 10000] [--requests 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from evidence.access.users import add_user
from evidence.app import App
from evidence.config import resolve_settings
from evidence.retention.audit import NewEvent, record_many, verify_chain, write_head_file
from evidence.web.app import create_app
from evidence.web.settings import WebSettings

PASSWORD = "correct horse battery staple 42"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        app = App(resolve_settings(home), actor="bench")
        with app.write() as session:
            add_user(session, "ada", "admin", PASSWORD, actor="bench")
            batch = [NewEvent("bench.note", f"event {n} of the bench", "000123456", 2020, {"n": n})
                     for n in range(args.events)]  # fmt: skip
            for start in range(0, len(batch), 1000):
                record_many(session, "bench", batch[start : start + 1000])
        with app.read() as session:
            write_head_file(home, session)
            started = time.perf_counter()
            check = verify_chain(session, home)
            print(f"verify_chain: {check.events} events, ok={check.ok}, {time.perf_counter() - started:.3f} s")
        client = TestClient(create_app(WebSettings(store=app.settings, secret_key="k" * 64)), follow_redirects=False)
        form = client.get("/sign-in").text
        token = form.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/sign-in", data={"name": "ada", "password": PASSWORD, "next": "/", "csrf_token": token})
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            response = client.get("/log")
            times.append(time.perf_counter() - started)
            assert response.status_code == 200 and "Intact:" in response.text, response.text[:500]
        print(
            f"GET /log over {args.requests} requests: median {statistics.median(times):.3f} s, max {max(times):.3f} s"
        )
        client.close()
        app.close()


if __name__ == "__main__":
    main()
