"""Practice records in the browser: practices, clinicians, attestations and participation, listed,
added, corrected and imported from CSV; the CLI's `practice`, `clinician`, `attest`,
`participate`, `attestation`, `participation` and `import` commands, through access.guarded_records.

Every change is a POST answered 303 back to the records page, which shows what was done once.
A refusal of the library (a bad TIN, a period under 90 days, a hold) re-shows the page with its
one line and a 4xx status; nothing was written, the unit of work being rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi import Path as InPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from evidence.access import guarded, guarded_records
from evidence.access.policy import Permission, Principal
from evidence.errors import ConflictError, InputError
from evidence.records.corrections import PracticeChanges, StatusChanges
from evidence.records.importer import RECORD_ORDER, ImportSummary
from evidence.records.practices import StatusInputs
from evidence.rules.cms import APM_KINDS, Program
from evidence.rules.identifiers import parse_iso_date, parse_whole_number
from evidence.support.text import plural
from evidence.web.errors import status_of
from evidence.web.sessions import app_of, page_principal
from evidence.web.templating import page

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Principal, Depends(page_principal)]
# A NUL no database can store (PostgreSQL refuses it): refused with 400 before the library runs.
Field = Annotated[str, Form(pattern="^[^\x00]*$")]
RowId = Annotated[int, InPath(ge=1, le=2**63 - 1)]  # what a database id can be: larger ones are 400, not a crash
NOTICE = "records_notice"  # in the session: what the last change did, shown once
MAX_CSV_BYTES = 5 * 1024 * 1024  # an attestation CSV of thousands of rows is well under this
_T = TypeVar("_T")


# --- Reading the forms (strings in, the library's types out; the library judges the values) --------


def _text(value: str) -> str | None:
    return value.strip() or None


def _date(value: str, what: str) -> date:
    return parse_iso_date(value.strip(), field=what)


def _optional_date(value: str, what: str) -> date | None:
    return _date(value, what) if value.strip() else None


def _whole(value: str, what: str) -> int | None:
    return parse_whole_number(value.strip(), field=what, low=0) if value.strip() else None


def _percent(value: str, what: str) -> float | None:
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"{what} {text[:20]!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError(f"{what} {text[:20]!r} is not a number")
    return number


def _choice(value: str, what: str) -> bool | None:
    """A yes / no / leave-as-is select."""
    text = value.strip().lower()
    if text in ("", "keep"):
        return None
    if text in ("yes", "no"):
        return text == "yes"
    raise InputError(f"{what} must be yes, no or left as it is")


def _records_url(tin: str | None, year: str | None = None) -> str:
    query = {"tin": tin} if tin else {}
    if year and year.strip().isascii() and year.strip().isdigit():
        query["year"] = year.strip()
    return "/records" + (f"?{urlencode(query)}" if query else "")


def _done(request: Request, notice: str, tin: str | None, year: str | None = None) -> Response:
    request.session[NOTICE] = notice
    return RedirectResponse(_records_url(tin, year), status_code=303)


# --- The pages --------------------------------------------------------------------------------


def _context(principal: Principal) -> dict[str, Any]:
    return {
        "may_add": principal.may(Permission.RECORDS),
        "may_add_practice": principal.may(Permission.RECORDS) and principal.tins is None,
        "may_correct": principal.may(Permission.CORRECT),
        "apm_kinds": APM_KINDS,
        "programs": [p.value for p in Program],
    }


def _show(
    request: Request, principal: Principal, tin: str | None, year: str | None, status: int = 200, **extra: Any
) -> Response:
    notice = request.session.pop(NOTICE, None)
    extra.setdefault("import_tin", tin or "")
    with app_of(request).read() as db:
        if tin is None:
            rows = guarded.practices(db, principal)
            return page(request, "records_index.html", principal, status, practices=rows, notice=notice,
                        **_context(principal), **extra)  # fmt: skip
        facts = guarded_records.records(db, principal, tin, _text(year or ""))
    return page(request, "records.html", principal, status, r=facts, notice=notice, **_context(principal), **extra)


@router.get("/records", response_class=HTMLResponse)
def records(request: Request, principal: SignedIn, tin: str | None = None, year: str | None = None) -> Response:
    return _show(request, principal, _text(tin or ""), year)


def _change(
    request: Request,
    principal: Principal,
    tin: str | None,
    year: str | None,
    change: Callable[[Any], _T],
    notice: Callable[[_T], tuple[str | None, str]],
) -> Response:
    """Run one change in a writer session; 303 with its notice, or the page again with the refusal."""
    try:
        with app_of(request).write() as db:
            result = change(db)
    except (InputError, ConflictError) as exc:
        return _show(request, principal, tin, year, status_of(exc), error=exc.message, problems=exc.details)
    back_to, text = notice(result)
    return _done(request, text, back_to, year)


# --- Adding -----------------------------------------------------------------------------------


@router.post("/records/practices")
def add_practice(
    request: Request,
    principal: SignedIn,
    tin: Field = "",
    name: Field = "",
    year: Field = "",
    pcmh: Field = "",
    apm: Field = "none",
) -> Response:
    def change(db: Any) -> str:
        return guarded_records.add_practice(db, principal, tin, name, pcmh=pcmh == "yes", apm=apm.strip() or "none",
                                            year=_text(year))  # fmt: skip

    return _change(request, principal, None, None, change, lambda added: (added, f"practice {added} added"))


@router.post("/records/clinicians")
def add_clinician(
    request: Request,
    principal: SignedIn,
    tin: Field = "",
    npi: Field = "",
    name: Field = "",
    year: Field = "",
    rural: Field = "",
    hpsa: Field = "",
    patient_facing_encounters: Field = "",
    hospital_pos_pct: Field = "",
    asc_pos_pct: Field = "",
) -> Response:
    def change(db: Any) -> None:
        inputs = StatusInputs(
            rural == "yes",
            hpsa == "yes",
            _whole(patient_facing_encounters, "patient-facing encounters"),
            _percent(hospital_pos_pct, "hospital POS percentage"),
            _percent(asc_pos_pct, "ASC POS percentage"),
        )
        guarded_records.add_clinician(db, principal, tin, npi, name, year, inputs)

    notice = f"clinician {npi.strip()} bills under {tin.strip()} in {year.strip()}"
    return _change(request, principal, tin, year, change, lambda _: (tin, notice))


@router.post("/records/attestations")
def add_attestation(
    request: Request,
    principal: SignedIn,
    tin: Field = "",
    activity: Field = "",
    year: Field = "",
    npi: Field = "",
    start: Field = "",
    end: Field = "",
) -> Response:
    def change(db: Any) -> str:
        row = guarded_records.attest(db, principal, tin, activity, year, _date(start, "start"), _date(end, "end"),
                                     npi=_text(npi))  # fmt: skip
        who = f"NPI {npi.strip()}" if _text(npi) else "the group"
        return f"attestation {row.id}: {who} attested {activity.strip()} for {row.performance_year}"

    return _change(request, principal, tin, year, change, lambda text: (tin, text))


@router.post("/records/participations")
def add_participation(
    request: Request,
    principal: SignedIn,
    tin: Field = "",
    npi: Field = "",
    activity: Field = "",
    year: Field = "",
    start: Field = "",
    end: Field = "",
) -> Response:
    def change(db: Any) -> None:
        guarded_records.participate(db, principal, tin, npi, activity, year, _date(start, "start"), _date(end, "end"))

    notice = f"NPI {npi.strip()} participates in {activity.strip()} ({year.strip()})"
    return _change(request, principal, tin, year, change, lambda _: (tin, notice))


# --- Corrections ------------------------------------------------------------------------------


@router.post("/records/attestations/{attestation_id}/edit")
def edit_attestation(
    request: Request,
    principal: SignedIn,
    attestation_id: RowId,
    tin: Field = "",
    year: Field = "",
    start: Field = "",
    end: Field = "",
    reason: Field = "",
) -> Response:
    def change(db: Any) -> tuple[str, str]:
        return guarded_records.edit_attestation(db, principal, attestation_id, start=_optional_date(start, "start"),
                                                end=_optional_date(end, "end"), reason=reason)  # fmt: skip

    return _change(request, principal, tin, year, change, lambda done: done)


@router.post("/records/attestations/{attestation_id}/delete")
def delete_attestation(
    request: Request,
    principal: SignedIn,
    attestation_id: RowId,
    tin: Field = "",
    year: Field = "",
    reason: Field = "",
    unlink: Field = "",
) -> Response:
    def change(db: Any) -> tuple[str, str]:
        owner, done = guarded_records.delete_attestation(db, principal, attestation_id, reason=reason,
                                                         unlink=unlink == "yes")  # fmt: skip
        text = (
            f"{done.description} deleted, with {plural(done.participations, 'participation')} "
            f"and {plural(done.links, 'evidence link')}"
        )
        return owner, text

    return _change(request, principal, tin, year, change, lambda done: done)


@router.post("/records/participations/{participation_id}/edit")
def edit_participation(
    request: Request,
    principal: SignedIn,
    participation_id: RowId,
    tin: Field = "",
    year: Field = "",
    start: Field = "",
    end: Field = "",
    reason: Field = "",
) -> Response:
    def change(db: Any) -> tuple[str, str]:
        return guarded_records.edit_participation(db, principal, participation_id,
                                                  start=_optional_date(start, "start"),
                                                  end=_optional_date(end, "end"), reason=reason)  # fmt: skip

    return _change(request, principal, tin, year, change, lambda done: done)


@router.post("/records/participations/{participation_id}/delete")
def delete_participation(
    request: Request,
    principal: SignedIn,
    participation_id: RowId,
    tin: Field = "",
    year: Field = "",
    reason: Field = "",
) -> Response:
    def change(db: Any) -> tuple[str, str]:
        owner, name = guarded_records.delete_participation(db, principal, participation_id, reason=reason)
        return owner, f"{name} deleted"

    return _change(request, principal, tin, year, change, lambda done: done)


@router.post("/records/clinicians/update")
def update_clinician(
    request: Request,
    principal: SignedIn,
    tin: Field = "",
    npi: Field = "",
    year: Field = "",
    rural: Field = "",
    hpsa: Field = "",
    patient_facing_encounters: Field = "",
    hospital_pos_pct: Field = "",
    asc_pos_pct: Field = "",
    reason: Field = "",
) -> Response:
    def change(db: Any) -> str:
        changes = StatusChanges(
            _choice(rural, "rural"),
            _choice(hpsa, "HPSA"),
            _whole(patient_facing_encounters, "patient-facing encounters"),
            _percent(hospital_pos_pct, "hospital POS percentage"),
            _percent(asc_pos_pct, "ASC POS percentage"),
        )
        described = guarded_records.update_clinician(db, principal, tin, npi, year, changes, reason=reason)
        return f"clinician {npi.strip()} under {tin.strip()} in {year.strip()}: {described}"

    return _change(request, principal, tin, year, change, lambda text: (tin, text))


@router.post("/records/practice/set")
def set_practice(
    request: Request,
    principal: SignedIn,
    tin: Field = "",
    name: Field = "",
    year: Field = "",
    npi: Field = "",
    program: Field = "",
    mvp_id: Field = "",
    pcmh: Field = "",
    pcmh_sites: Field = "",
    recognized_sites: Field = "",
    apm: Field = "",
    reason: Field = "",
) -> Response:
    def change(db: Any) -> str:
        changes = PracticeChanges(
            name=_text(name),
            year=_whole(year, "year"),
            npi=_text(npi),
            program=_text(program),
            mvp_id=_text(mvp_id),
            pcmh=_choice(pcmh, "PCMH"),
            pcmh_sites=_whole(pcmh_sites, "practice sites"),
            recognized_sites=_whole(recognized_sites, "recognised sites"),
            apm=_text(apm),
        )
        return f"practice {tin.strip()}: {guarded_records.set_practice(db, principal, tin, changes, reason=reason)}"

    return _change(request, principal, tin, year, change, lambda text: (tin, text))


# --- CSV import -------------------------------------------------------------------------------


def _read_capped(upload: UploadFile) -> bytes:
    """The uploaded CSV, refused with 413 past MAX_CSV_BYTES (read in pieces, never more than the cap)."""
    chunks, size = [], 0
    while piece := upload.file.read(64 * 1024):
        size += len(piece)
        if size > MAX_CSV_BYTES:
            raise HTTPException(413, f"the CSV file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB")
        chunks.append(piece)
    return b"".join(chunks)


def _upload_name(upload: UploadFile) -> str:
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:100] or "upload.csv"


def _summary(summary: ImportSummary, *, would: bool) -> str:
    parts = [plural(summary.created[k], k) for k in RECORD_ORDER]
    present = plural(sum(summary.unchanged.values()), "row")
    return f"{'would add' if would else 'added'} {', '.join(parts)}; {present} already present"


@router.post("/records/import", response_class=HTMLResponse)
def import_csv(
    request: Request,
    principal: SignedIn,
    file: Annotated[UploadFile, File()],
    mode: Annotated[str, Form()] = "import",
    tin: Annotated[str, Form()] = "",
) -> Response:
    """`evidence import FILE` of an uploaded CSV; mode=preview checks every row and writes nothing."""
    raw = _read_capped(file)
    name = _upload_name(file)
    preview = mode == "preview"
    back = _text(tin)
    try:
        with app_of(request).write() as db:
            summary, tins = guarded_records.import_csv(db, principal, raw, name, dry_run=preview)
    except (InputError, ConflictError) as exc:
        return _show(request, principal, back, None, status_of(exc), error=exc.message, problems=exc.details,
                     imported=name)  # fmt: skip
    if preview:
        text = f"{name}: {_summary(summary, would=True)}. Nothing was written: choose the file again and import it."
        return _show(request, principal, back, None, preview=text)
    target = tins[0] if len(tins) == 1 else back
    return _done(request, f"{name}: {_summary(summary, would=False)}", target)
