"""`evidence packet`: the audit-ready PDF (and optional ZIP) for a TIN and performance year."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from evidence.app import App
from evidence.cli.params import NPI, TIN, YEAR, ParamType, read_only


class IsoTimestampType(ParamType):
    name = "ISO_TIMESTAMP"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 timestamp such as 2021-03-01T12:00:00Z", param, ctx)
        if moment.tzinfo is not None:
            try:
                moment.astimezone(UTC)  # the packet is stamped in UTC: that time must exist too
            except OverflowError:
                self.fail(f"{value!r} is outside the years 1 to 9999 once converted to UTC", param, ctx)
        return moment


@click.command()
@click.option("--tin", type=TIN, required=True, help="The practice's TIN: 9 digits, leading zeros kept.")
@click.option("--year", type=YEAR, required=True, help="Performance year, e.g. 2020.")
@click.option("--npi", type=NPI, help="An individual packet for this NPI's own attestations [default: the group's].")
@click.option(
    "-o",
    "--output",
    type=click.Path(allow_dash=True, path_type=Path),
    required=True,
    help="The PDF to write (0600), or - for standard output. Never inside the home folder or store.",
)
@click.option("--no-attachments", is_flag=True, help="Light copy: list the evidence files without embedding them.")
@click.option(
    "--zip",
    "zip_path",
    type=click.Path(allow_dash=True, path_type=Path),
    help="Also write a ZIP with the PDF, every evidence file and manifest.json (- for standard output).",
)
@click.option("--force", is_flag=True, help="Replace an existing regular file at -o / --zip (never a link or device).")
@click.option(
    "--generated-at",
    type=IsoTimestampType(),
    help="Generation time shown and stamped in the PDF, not before the newest change it reports; the same value "
    "gives the same bytes [default: now, UTC].",
)
@read_only
@click.pass_obj
def packet(
    app: App,
    tin: str,
    year: int,
    npi: str | None,
    output: Path,
    no_attachments: bool,
    zip_path: Path | None,
    generated_at: datetime | None,
    force: bool,
) -> None:
    """Render the audit-ready PDF packet for a TIN (or one NPI) and performance year.

    Cover, contents, summary (special statuses, score, documentation status), one section
    per attested activity with the evidence for each suggested-documentation item, the
    evidence manifest and the retention statement. The evidence files are embedded as PDF
    attachments unless --no-attachments is given. Times without a zone are UTC.

    Each packet is recorded in the audit log (`packet.generate`, with the SHA-256 of the
    PDF, the ZIP and the manifest); --generated-at may not be earlier than the newest change
    the packet reports.

    \b
    Examples:
        evidence packet --tin 000123456 --year 2020 -o riverbend-py2020.pdf
        evidence packet --tin 000123456 --year 2024 --npi 1234567893 -o chen-py2024.pdf --no-attachments
        evidence packet --tin 000123456 --year 2020 -o py2020.pdf --zip py2020.zip --generated-at 2026-12-01T12:00:00Z
        evidence packet --tin 000123456 --year 2020 -o - --no-attachments > py2020.pdf
    """
    from evidence.packet.content import WrittenOutput, build_packet, record_packet, write_packet, write_packet_zip

    guard = app.output_guard()
    pdf_target = guard.target(output, force=force, what="the PDF")
    zip_target = None if zip_path is None else guard.target(zip_path, force=force, what="the ZIP")
    if zip_target is not None and zip_target.same_as(pdf_target):
        raise click.UsageError("--zip and -o name the same file (or both standard output)")
    report = click.echo if not (pdf_target.is_stdout or (zip_target and zip_target.is_stdout)) else _to_stderr
    app.ensure_writable()  # the packet is recorded once written: refuse now what the record would refuse
    store = app.blob_store
    with app.read() as session:
        result = build_packet(session, store, tin, year, npi, generated_at=generated_at, attachments=not no_attachments)
    written: list[WrittenOutput] = []
    try:
        write_packet(result, pdf_target)
        written.append(WrittenOutput("pdf", str(pdf_target), result.sha256, len(result.pdf)))
        report(f"wrote {pdf_target} ({result.pages} pages, {result.attachments} attachments, SHA-256 {result.sha256})")
        if zip_target is not None:
            pdf_name = "packet.pdf" if pdf_target.is_stdout else output.name
            archive = write_packet_zip(result, store, zip_target, pdf_name=pdf_name)
            written.append(WrittenOutput("zip", str(zip_target), archive.sha256, archive.size))
            report(
                f"wrote {zip_target} ({archive.entries} entries: the PDF, manifest.json and the evidence files, "
                f"SHA-256 {archive.sha256})"
            )
    except OSError as exc:
        raise click.ClickException(f"cannot write {exc.filename or output}: {exc.strerror or exc}") from exc
    finally:
        if written:  # what did go out is recorded, even when a later output failed
            with app.write() as session:
                record_packet(session, result, written, actor=app.actor)


def _to_stderr(message: str) -> None:
    click.echo(message, err=True)
