"""How fast, and how big, is `evidence packet`? Compared with plain WeasyPrint on a same-size table.

    python3 bench/bench_packet.py            # builds a temporary home, renders, prints the figures
    python3 bench/bench_packet.py typical    # the typical practice only

Two synthetic PY2020 group practices are built in a temporary home: a large one (200 clinicians,
8 activities, 2,000 evidence files) and a typical one (4 activities, 40 files). Each render runs
in its own child process, which reports its time, page count and peak memory (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

YEAR = 2020
GENERATED_AT = None  # now: a packet may not be dated before the records it shows
LARGE_ACTIVITIES = ["IA_CC_15", "IA_PM_16", "IA_PM_17", "IA_PSPA_28", "IA_PSPA_20", "IA_BE_6", "IA_CC_9", "IA_PM_7"]
TYPICAL_ACTIVITIES = ["IA_PM_7", "IA_CC_9", "IA_BE_6", "IA_PSPA_21"]
PRACTICES = {
    # name: (TIN, clinicians, activities, evidence files)
    "large": ("000200001", 200, LARGE_ACTIVITIES, 2000),
    "typical": ("000200002", 6, TYPICAL_ACTIVITIES, 40),
}


def npi_for(number: int) -> str:
    from evidence.rules.identifiers import luhn_check_digit

    stem = f"1{number:08d}"
    return stem + str(luhn_check_digit("80840" + stem))


def build_practice(app, store, files_dir: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    """Practice, clinicians, attestations and participation through the service functions; evidence rows via the ORM."""
    from sqlalchemy import select

    from evidence.db.models import Blob, DocumentationItem, Evidence, EvidenceLink
    from evidence.db.types import utcnow
    from evidence.records.practices import add_clinician, add_practice, attest, participate

    tin, clinicians, activities, files = PRACTICES[name]
    offset = 0 if name == "large" else 500
    npis = [npi_for(offset + i) for i in range(clinicians)]
    with app.write() as session:
        add_practice(session, tin, f"Bench {name} practice")
        for i, npi in enumerate(npis):
            add_clinician(session, tin, npi, f"Dr. Bench {offset + i}", YEAR)
        attestations = {}
        for activity in activities:
            attestation, _ = attest(session, tin, activity, YEAR, date(2020, 1, 1), date(2020, 12, 31), actor="bench")
            attestations[activity] = attestation.id
            for npi in npis[: clinicians // 2 + 1]:  # just over half take part: the 50% test passes
                participate(session, tin, npi, activity, YEAR, date(2020, 2, 1), date(2020, 7, 31), actor="bench")
        items = {
            activity: list(
                session.scalars(select(DocumentationItem.id).where(DocumentationItem.activity_id == activity))
            )
            for activity in activities
        }
    sources = []
    for n in range(files):
        source = files_dir / f"{name}-{n:05d}.txt"
        source.write_text(f"{name} evidence {n}\n" + "minutes of the quality meeting\n" * (20 + n % 50))
        sources.append((source, store.put_file(source)))
    with app.write() as session:
        for n, (source, stored) in enumerate(sources):
            activity = activities[n % len(activities)]
            blob = Blob(digest=stored.digest, size=stored.size, media_type=stored.media_type)
            evidence = Evidence(
                blob=blob,
                original_name=source.name,
                effective_date=date(2020, 3, 1 + n % 28),
                description=f"Quality meeting minutes, session {n}, with attendance and action items",
                registered_by="bench",
                registered_at=utcnow(),
            )
            item_ids = items[activity]
            session.add(
                EvidenceLink(
                    evidence=evidence,
                    attestation_id=attestations[activity],
                    item_id=item_ids[(n // len(activities)) % len(item_ids)],
                    created_by="bench",
                )
            )


def render_packet_child(home: Path, tin: str, out: Path) -> dict[str, float]:
    import weasyprint  # noqa: F401 - imported first so the timing is the render alone

    from evidence.app import App
    from evidence.config import resolve_settings
    from evidence.packet.content import build_packet, write_packet

    app = App(resolve_settings(home, None), actor="bench")
    started, cpu = time.perf_counter(), time.process_time()
    with app.read() as session:
        packet = build_packet(session, app.blob_store, tin, YEAR, generated_at=GENERATED_AT)
    write_packet(packet, out)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "pages": packet.pages,
        "bytes": len(packet.pdf),
    }


def render_plain_child(rows: int, out: Path) -> dict[str, float]:
    from weasyprint import HTML

    cells = "".join(
        f"<tr><td>{n}</td><td>large-{n:05d}.txt</td><td>2020-03-01</td><td>{1000 + n}</td><td>{n:064x}</td></tr>"
        for n in range(rows)
    )
    html = f"<table><thead><tr><th>id</th><th>name</th><th>date</th><th>size</th><th>sha256</th></tr></thead>{cells}</table>"
    started, cpu = time.perf_counter(), time.process_time()
    document = HTML(string=html).render()
    document.write_pdf(out)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "pages": len(document.pages),
        "bytes": out.stat().st_size,
    }


def run_child(*args: str) -> dict[str, float]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["command_seconds"] = time.perf_counter() - started
    return figures


def main(only: list[str]) -> None:
    from evidence.app import App
    from evidence.config import resolve_settings

    practices = {name: PRACTICES[name] for name in only or PRACTICES}

    with tempfile.TemporaryDirectory(prefix="bench-packet-") as tmp:
        root = Path(tmp)
        home, files_dir = root / "home", root / "files"
        files_dir.mkdir()
        app = App(resolve_settings(home, None), actor="bench")
        store = app.blob_store
        started = time.perf_counter()
        for name in practices:
            build_practice(app, store, files_dir, name)
        app.close()
        print(f"built the bench store in {time.perf_counter() - started:.1f} s")
        runs = {
            name: run_child("packet", str(home), tin, str(root / f"{name}.pdf"))
            for name, (tin, *_) in practices.items()
        }
        for name, (_, _, _, files) in practices.items():
            runs[f"plain table, {2 * files} rows"] = run_child("plain", str(2 * files), str(root / f"plain-{name}.pdf"))
    # seconds: the render alone (wall); cpu s: its CPU time; command s: the whole child process, with Python start-up
    print(
        f"{'render':<26}{'seconds':>9}{'cpu s':>8}{'command s':>11}{'pages':>7}{'pages/s':>9}{'PDF MB':>8}{'peak MB':>9}"
    )
    for name, f in runs.items():
        print(
            f"{name:<26}{f['seconds']:>9.2f}{f['cpu_seconds']:>8.2f}{f['command_seconds']:>11.2f}{int(f['pages']):>7}"
            f"{f['pages'] / f['seconds']:>9.1f}{f['bytes'] / 1e6:>8.1f}{f['maxrss_kb'] / 1024:>9.0f}"
        )


def child(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="kind", required=True)
    packet = sub.add_parser("packet")
    packet.add_argument("home", type=Path)
    packet.add_argument("tin")
    packet.add_argument("out", type=Path)
    plain = sub.add_parser("plain")
    plain.add_argument("rows", type=int)
    plain.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.kind == "packet":
        figures = render_packet_child(args.home, args.tin, args.out)
    else:
        figures = render_plain_child(args.rows, args.out)
    figures["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps(figures))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("packet", "plain"):
        child(sys.argv[1:])
    else:  # optional practice names: `bench_packet.py typical` renders the typical practice only
        main([name for name in sys.argv[1:] if name in PRACTICES])
