"""`evidence audit packet`: the response to an audit request (PDF, optional ZIP and answer workbook).

A command object only: the `audit` group (evidence/cli/audit_cmds.py) adds it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from evidence.app import App
from evidence.cli.packet import IsoTimestampType, _to_stderr
from evidence.cli.params import read_only

OUTPUT_PATH = click.Path(allow_dash=True, path_type=Path)


@click.command("packet")
@click.argument("audit_id", metavar="ID", type=click.IntRange(min=1))
@click.option(
    "-o",
    "--output",
    type=OUTPUT_PATH,
    required=True,
    help="The response PDF to write (0600), or - for standard output. Never inside the home folder or store.",
)
@click.option(
    "--zip",
    "zip_path",
    type=OUTPUT_PATH,
    help="Also write a ZIP with the PDF, every evidence file and manifest.json (- for standard output).",
)
@click.option(
    "--xlsx",
    "xlsx_path",
    type=OUTPUT_PATH,
    help="Also write the answer workbook: one row per requested activity, its files, hashes and PDF pages.",
)
@click.option(
    "--allow-incomplete",
    is_flag=True,
    help="Write the response even when a requested activity is not creditable, marked INCOMPLETE on the cover.",
)
@click.option("--no-attachments", is_flag=True, help="Light copy: list the evidence files without embedding them.")
@click.option("--force", is_flag=True, help="Replace existing regular files at -o / --zip / --xlsx (never a link).")
@click.option(
    "--generated-at",
    type=IsoTimestampType(),
    help="Generation time shown and stamped in the outputs, not before the newest change they report; the same "
    "value gives the same bytes [default: now, UTC].",
)
@read_only
@click.pass_obj
def packet_command(
    app: App,
    audit_id: int,
    output: Path,
    zip_path: Path | None,
    xlsx_path: Path | None,
    allow_incomplete: bool,
    no_attachments: bool,
    force: bool,
    generated_at: datetime | None,
) -> None:
    """Write the response to audit request ID: a cover letter, then the packet limited to its scope.

    The cover letter names the request (reference, received and due dates), the practice and
    its contact, and the requested activities; each reporting entity in scope (the group, or an
    NPI audited individually) follows as a packet of the requested activities only, with its
    hashes, attachments and audit checkpoint. A scope with an activity that is not creditable
    is refused, listing what is missing, unless --allow-incomplete marks the cover INCOMPLETE.
    Recorded in the audit log as `audit.packet` with the SHA-256 of every output.

    \b
    Examples:
        evidence audit packet 3 -o dva-2020.pdf --zip dva-2020.zip --xlsx dva-2020.xlsx
        evidence audit packet 3 -o dva-2020.pdf --allow-incomplete --generated-at 2026-12-01T12:00:00Z
    """
    from evidence.packet.content import WrittenOutput
    from evidence.packet.response import build_response, record_response, write_response_zip
    from evidence.packet.workbook import write_workbook

    guard = app.output_guard()
    pdf_target = guard.target(output, force=force, what="the PDF")
    zip_target = None if zip_path is None else guard.target(zip_path, force=force, what="the ZIP")
    xlsx_target = None if xlsx_path is None else guard.target(xlsx_path, force=force, what="the workbook")
    named = [("-o", pdf_target), ("--zip", zip_target), ("--xlsx", xlsx_target)]
    given = [(flag, target) for flag, target in named if target is not None]
    for index, (flag, target) in enumerate(given):
        for other_flag, other in given[index + 1 :]:
            if target.same_as(other):
                raise click.UsageError(f"{flag} and {other_flag} name the same file (or both standard output)")
    report = _to_stderr if any(target.is_stdout for _, target in given) else click.echo
    app.ensure_writable()  # the response is recorded once written: refuse now what the record would refuse
    store = app.blob_store
    with app.read() as session:
        result = build_response(
            session,
            store,
            audit_id,
            generated_at=generated_at,
            attachments=not no_attachments,
            allow_incomplete=allow_incomplete,
        )
    written: list[WrittenOutput] = []
    try:
        pdf_target.write_bytes(result.pdf)
        written.append(WrittenOutput("pdf", str(pdf_target), result.sha256, len(result.pdf)))
        state = "INCOMPLETE response" if result.content.incomplete else "response"
        report(f"wrote {state} {pdf_target} ({result.pages} pages, {result.attachments} attachments, "
               f"SHA-256 {result.sha256})")  # fmt: skip
        if zip_target is not None:
            pdf_name = "response.pdf" if pdf_target.is_stdout else output.name
            archive = write_response_zip(result, store, zip_target, pdf_name=pdf_name)
            written.append(WrittenOutput("zip", str(zip_target), archive.sha256, archive.size))
            report(f"wrote {zip_target} ({archive.entries} entries: the PDF, manifest.json and the evidence files, "
                   f"SHA-256 {archive.sha256})")  # fmt: skip
        if xlsx_target is not None:
            workbook = write_workbook(result, xlsx_target)
            written.append(workbook)
            report(f"wrote {xlsx_target} (answer workbook, {len(result.content.lines)} requested activities, "
                   f"SHA-256 {workbook.sha256})")  # fmt: skip
    except OSError as exc:
        raise click.ClickException(f"cannot write {exc.filename or output}: {exc.strerror or exc}") from exc
    finally:
        if written:  # what did go out is recorded, even when a later output failed
            with app.write() as session:
                record_response(session, result, written, actor=app.actor)
