"""How fast, and how big, is `evidence packet`? Each row beside its anchor, measured in the same run.

    python3 bench/bench_packet.py             # start-up, the typical and the large packet
    python3 bench/bench_packet.py typical     # start-up and the typical practice only
    python3 bench/bench_packet.py --profile   # where the typical packet's whole command spends its time
    python3 bench/bench_packet.py --options [large]   # WeasyPrint's own options, one child each (typical by default)

Two synthetic PY2020 group practices are built in a temporary home: a large one (200 clinicians,
8 activities, 2,000 evidence files) and a typical one (4 activities, 40 files). Rows and anchors:

- `evidence --help` beside `python -c pass` (best of 5 each), and `import click` alone, the floor;
- the typical packet, whole command (`python -m evidence packet ...`, best of 3);
- each packet rendered by the library in a child process, beside plain WeasyPrint (default options:
  no PDF/A, no tags, no attachments) rendering that packet's own HTML in another child: the same
  document, so the ratio is what the packet's own work costs or saves. The packet's child sets the
  garbage collector as `evidence packet` does (evidence.support.collection); plain WeasyPrint's
  keeps Python's defaults;
- peak memory over all processes: each child's own max RSS plus the largest max RSS of the
  processes it waited for (resource.RUSAGE_CHILDREN; psutil is not a dependency), in MB of 10^6
  bytes like the PDF's size and the aim (before 2026-12-02 the column was MiB, its figures 4.6% lower).

Nothing is asserted: docs/PERFORMANCE.md holds the figures and the aims.
"""

from __future__ import annotations

import argparse
import json
import os
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
    from evidence.packet.weasy import weasyprint

    weasyprint()  # imported first (as the packet imports it), so the timing is the render alone

    from evidence.app import App
    from evidence.config import resolve_settings
    from evidence.packet.content import build_packet, write_packet
    from evidence.packet.render import render_html

    app = App(resolve_settings(home, None), actor="bench")
    started, cpu = time.perf_counter(), time.process_time()
    with app.read() as session:
        packet = build_packet(session, app.blob_store, tin, YEAR, generated_at=GENERATED_AT)
    write_packet(packet, out)
    figures = {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "pages": packet.pages,
        "bytes": len(packet.pdf),
    }
    # The anchor renders this very HTML with plain WeasyPrint.
    out.with_suffix(".html").write_text(render_html(packet=packet.content), encoding="utf-8")
    return figures


def render_plain_child(html_path: Path, out: Path) -> dict[str, float]:
    """Plain WeasyPrint, default options, on the packet's own HTML (its stylesheet and fonts from the package)."""
    from weasyprint import HTML

    from evidence.packet.render import ASSETS_DIR, BASE_URL

    os.environ["FONTCONFIG_FILE"] = str(ASSETS_DIR / "fonts" / "fonts.conf")  # the same fonts as the packet
    html = html_path.read_text(encoding="utf-8")
    started, cpu = time.perf_counter(), time.process_time()
    document = HTML(string=html, base_url=BASE_URL).render()
    document.write_pdf(out)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "pages": len(document.pages),
        "bytes": out.stat().st_size,
    }


def profile_child(home: Path, tin: str, out: Path) -> dict[str, float]:
    """The typical packet's command, phase by phase, calling what `evidence packet` calls in its order."""
    phases: dict[str, float] = {}
    mark = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = now - mark
        mark = now

    import evidence.cli.packet  # noqa: F401 - the command module, as `evidence packet` imports it
    from evidence.packet import content, render

    phase("imports: evidence, SQLAlchemy, click")
    from evidence.packet.weasy import weasyprint

    weasyprint()  # as the packet imports it: without ctypes' library search (evidence/packet/weasy.py)
    phase("imports: WeasyPrint")
    from evidence.app import App
    from evidence.config import resolve_settings

    app = App(resolve_settings(home, None), actor="bench")
    app.engine  # noqa: B018
    phase("open the store (the start-up stamp)")
    import alembic.util  # noqa: F401 - the full path imports it before it knows whether to migrate

    from evidence.catalog.store import sync_shipped_catalog
    from evidence.db.engine import write_session
    from evidence.db.migrate import ensure_schema

    ensure_schema(app.engine)
    with write_session(app.engine) as session:
        sync_shipped_catalog(session, actor="bench")
    phase("(full path if the stamp misses: Alembic, migrate check, sync)")
    app.ensure_writable()
    store = app.blob_store
    with app.read() as session:
        gathered = content.read_packet_content(session, tin, YEAR, generated_at=content.as_utc(_now()))
    phase("gather (score, statuses, missing report, holds)")
    embedded = content.embedded_files(gathered, store)
    phase("hash the attachments (re-read and checked)")
    html = render.render_html(packet=gathered)
    phase("HTML (Jinja2)")
    document = render.layout_html(html, frozenset(file.name for file in embedded))
    phase("layout (WeasyPrint)")
    data = render.write_document(
        document,
        generated_at=gathered.generated_at,
        attachments=embedded,
        identifier=content.packet_identifier(gathered),
    )
    phase("write the PDF (fonts subset, tags, attachments)")
    out.write_bytes(data)
    with app.write() as session:  # stands in for record_packet's one event
        pass
    phase("write the file, record")
    return {"phases": phases, "pages": len(document.pages)}  # type: ignore[dict-item]


# name: (HTML.render options, write_pdf options replacing the packet's). Each is measured in a child of its own.
VARIANTS: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    "the packet as shipped": ({}, {}),
    "uncompressed_pdf": ({}, {"uncompressed_pdf": True}),
    "full_fonts (no subsetting)": ({}, {"full_fonts": True}),
    "hinting kept": ({}, {"hinting": True}),
    "optimize_images": ({}, {"optimize_images": True}),
    "presentational_hints on": ({"presentational_hints": True}, {}),
    "(no tags: not an option, tags are kept)": ({}, {"pdf_tags": False}),
    "(no PDF/A: not an option)": ({}, {"pdf_variant": None}),
}


def variant_child(home: Path, tin: str, out: Path, variant: str) -> dict[str, float]:
    """The packet's layout and write with one WeasyPrint option changed; CPU seconds (load on a shared machine inflates wall time)."""
    from weasyprint import CSS, HTML, Attachment
    from weasyprint.text.fonts import FontConfiguration

    from evidence.app import App
    from evidence.config import resolve_settings
    from evidence.packet import content, render

    render_options, write_options = VARIANTS[variant]
    app = App(resolve_settings(home, None), actor="bench")
    with app.read() as session:
        gathered = content.read_packet_content(session, tin, YEAR, generated_at=content.as_utc(_now()))
    embedded = content.embedded_files(gathered, app.blob_store)
    html = render.render_html(packet=gathered)
    fetcher = render.make_url_fetcher(frozenset(file.name for file in embedded))
    os.environ["FONTCONFIG_FILE"] = str(render.ASSETS_DIR / "fonts" / "fonts.conf")
    os.environ["SOURCE_DATE_EPOCH"] = str(int(gathered.generated_at.timestamp()))
    cpu = time.process_time()
    fonts = FontConfiguration()
    CSS(filename=str(render.TEMPLATES_DIR / "packet.css"), url_fetcher=fetcher, font_config=fonts)
    stylesheet = time.process_time() - cpu
    cpu = time.process_time()
    document = HTML(string=html, base_url=render.BASE_URL, url_fetcher=fetcher).render(**render_options)
    layout = time.process_time() - cpu
    cpu = time.process_time()
    attachments = [
        Attachment(
            string=f.data,
            url_fetcher=fetcher,
            name=f.name,
            description=f.description,
            created=f.timestamp,
            modified=f.timestamp,
        )
        for f in embedded
    ]
    options: dict[str, object] = {
        "attachments": attachments,
        "pdf_identifier": content.packet_identifier(gathered),
        "pdf_variant": render.PDF_VARIANT,
        "pdf_tags": True,
        "finisher": render._link_rows_to_attachments,
        **write_options,
    }
    data = document.write_pdf(**options)
    write = time.process_time() - cpu
    out.write_bytes(data)
    return {
        "stylesheet": stylesheet,
        "layout": layout,
        "write": write,
        "pages": len(document.pages),
        "bytes": len(data),
    }


def options_table(name: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-packet-") as tmp:
        root = Path(tmp)
        home = build_store(root, [name])
        print(f"{name} packet, CPU seconds per phase, one child per variant")
        print(f"{'variant':<42}{'stylesheet':>11}{'layout':>8}{'write':>8}{'pages':>7}{'PDF KB':>9}")
        for variant in VARIANTS:
            f = run_child("variant", str(home), PRACTICES[name][0], str(root / "variant.pdf"), variant)
            print(
                f"{variant:<42}{f['stylesheet']:>11.2f}{f['layout']:>8.2f}{f['write']:>8.2f}{int(f['pages']):>7}{f['bytes'] / 1024:>9.0f}"
            )
    print(
        "stylesheet: parsing packet.css with its @font-face fonts, what a cache across sections would save per section"
    )


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(microsecond=0)


def run_child(*args: str) -> dict[str, float]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["command_seconds"] = time.perf_counter() - started
    return figures


def best_wall(argv: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    """The fastest of `runs` whole-process runs: start-up figures are noise-bound from above only."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, env=env)
        best = min(best, time.perf_counter() - started)
    return best


def evidence_env(home: Path) -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "EVIDENCE_HOME": str(home), "EVIDENCE_ACTOR": "bench"}


def start_up_rows(home: Path) -> None:
    env = evidence_env(home)
    baseline = best_wall([sys.executable, "-c", "pass"], 5)
    console = [sys.executable, "-c", "from evidence.cli import main; main()"]  # what the console script runs
    rows = [
        # The floor of any click program's --help: importing click (and what it imports) alone.
        ("python -c 'import click'", best_wall([sys.executable, "-c", "import click"], 5, env)),
        ("evidence --help", best_wall([*console, "--help"], 5, env)),
        ("evidence --version", best_wall([*console, "--version"], 5, env)),
        ("evidence log verify", best_wall([*console, "log", "verify"], 5, env)),
    ]
    print(f"{'start-up (best of 5)':<34}{'seconds':>9}{'python -c pass':>16}{'ratio':>8}")
    for name, seconds in rows:
        print(f"{name:<34}{seconds:>9.3f}{baseline:>16.3f}{seconds / baseline:>8.1f}")


def typical_command_row(home: Path, tin: str, out: Path) -> None:
    env = evidence_env(home)
    argv = [sys.executable, "-m", "evidence", "packet", "--tin", tin, "--year", str(YEAR), "-o", str(out), "--force"]
    seconds = best_wall(argv, 3, env)
    print(f"{'typical packet, whole command':<34}{seconds:>9.2f} s (best of 3; aim < 1.5 s)")


def build_store(root: Path, names: list[str]) -> Path:
    from evidence.app import App
    from evidence.config import resolve_settings

    home, files_dir = root / "home", root / "files"
    files_dir.mkdir()
    app = App(resolve_settings(home, None), actor="bench")
    started = time.perf_counter()
    for name in names:
        build_practice(app, app.blob_store, files_dir, name)
    app.close()
    print(f"built the bench store in {time.perf_counter() - started:.1f} s")
    return home


def main(only: list[str]) -> None:
    practices = {name: PRACTICES[name] for name in only or PRACTICES}
    with tempfile.TemporaryDirectory(prefix="bench-packet-") as tmp:
        root = Path(tmp)
        home = build_store(root, list(practices))
        start_up_rows(home)
        if "typical" in practices:
            typical_command_row(home, PRACTICES["typical"][0], root / "typical-command.pdf")
        runs = {}
        for name, (tin, *_) in practices.items():
            pdf = root / f"{name}.pdf"
            runs[name] = run_child("packet", str(home), tin, str(pdf))
            runs[f"plain WeasyPrint, {name} HTML"] = run_child(
                "plain", str(pdf.with_suffix(".html")), str(root / f"plain-{name}.pdf")
            )
    # seconds: the render alone (wall); cpu s: its CPU time; command s: the whole child process, with Python start-up
    print(
        f"{'render':<34}{'seconds':>9}{'cpu s':>8}{'command s':>11}{'pages':>7}{'pages/s':>9}{'PDF MB':>8}{'peak MB':>9}{'vs plain':>10}{'CPU vs plain':>14}"
    )
    for name, f in runs.items():
        plain = runs.get(f"plain WeasyPrint, {name} HTML")
        ratio = f"{plain['seconds'] / f['seconds']:.2f}x" if plain else ""
        cpu_ratio = f"{plain['cpu_seconds'] / f['cpu_seconds']:.2f}x" if plain else ""
        print(
            f"{name:<34}{f['seconds']:>9.2f}{f['cpu_seconds']:>8.2f}{f['command_seconds']:>11.2f}{int(f['pages']):>7}"
            f"{f['pages'] / f['seconds']:>9.1f}{f['bytes'] / 1e6:>8.1f}{f['peak_kb'] * 1024 / 1e6:>9.0f}{ratio:>10}{cpu_ratio:>14}"
        )
    print("vs plain: plain WeasyPrint's seconds on the same HTML / the packet's (aim for the large packet: >= 2.5x);")
    print("CPU vs plain: the same with CPU seconds, the figure that compares on a shared, loaded machine")


def profile() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-packet-") as tmp:
        root = Path(tmp)
        home = build_store(root, ["typical"])
        baseline = best_wall([sys.executable, "-c", "pass"], 5)
        result = run_child("profile", str(home), PRACTICES["typical"][0], str(root / "typical.pdf"))
    phases: dict[str, float] = result["phases"]  # type: ignore[assignment]
    whole = result["command_seconds"]
    measured = sum(v for k, v in phases.items() if not k.startswith("("))
    print(f"typical packet ({int(result['pages'])} pages), one child process, {whole:.2f} s in all:")
    print(f"  {'Python start-up (python -c pass)':<66}{baseline:>7.2f} s")
    for name, seconds in phases.items():
        print(f"  {name:<66}{seconds:>7.2f} s")
    print(
        f"  {'the rest (interpreter exit, unattributed)':<66}{whole - baseline - measured - phases.get('(full path if the stamp misses: Alembic, migrate check, sync)', 0):>7.2f} s"
    )


def child(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="kind", required=True)
    for kind in ("packet", "profile"):
        command = sub.add_parser(kind)
        command.add_argument("home", type=Path)
        command.add_argument("tin")
        command.add_argument("out", type=Path)
    variant = sub.add_parser("variant")
    variant.add_argument("home", type=Path)
    variant.add_argument("tin")
    variant.add_argument("out", type=Path)
    variant.add_argument("variant", choices=sorted(VARIANTS))
    plain = sub.add_parser("plain")
    plain.add_argument("html", type=Path)
    plain.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    # The collector as `evidence packet` and the server set it; plain WeasyPrint keeps Python's.
    if args.kind != "plain":
        from evidence.support.collection import collect_in_batches

        collect_in_batches()
    if args.kind == "packet":
        figures = render_packet_child(args.home, args.tin, args.out)
    elif args.kind == "variant":
        figures = variant_child(args.home, args.tin, args.out, args.variant)
    elif args.kind == "profile":
        figures = profile_child(args.home, args.tin, args.out)
    else:
        figures = render_plain_child(args.html, args.out)
    # Peak over all processes: this one's own, plus the largest of the processes it waited for (kilobytes on Linux).
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures["peak_kb"] = own + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps(figures))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("packet", "plain", "profile", "variant"):
        child(sys.argv[1:])
    elif "--profile" in sys.argv[1:]:
        profile()
    elif "--options" in sys.argv[1:]:
        options_table("large" if "large" in sys.argv[1:] else "typical")
    else:  # optional practice names: `bench_packet.py typical` renders the typical practice only
        main([name for name in sys.argv[1:] if name in PRACTICES])
