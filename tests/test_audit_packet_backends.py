"""`audit packet` on the test's own store, so it runs on SQLite and on PostgreSQL (the other audit packet
tests share SQLite homes between tests): a light response, and the refusals that leave everything as it was."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import delete, select

from evidence.app import App
from evidence.cli import cli
from evidence.db.models import Activity, Attestation, Participation
from evidence.records.audits import open_audit
from evidence.support import clock
from tests import factories
from tests.test_packet import pdf_text

pytestmark = pytest.mark.filterwarnings("ignore:HarfBuzz-Subset will be required:DeprecationWarning")


def audit_run(*args: object, expect: int = 0) -> Result:
    """`evidence audit ARGS` on the test's home ($EVIDENCE_HOME), through the real `evidence` group."""
    result = CliRunner().invoke(cli, ["audit", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output and result.exit_code == expect, result.output
    return result


@pytest.fixture
def audit_id(app: App, run: Callable[..., Result], tmp_path: Path) -> int:
    """PY2023 group: IA_PSPA_8 documented, IA_BE_4 attested but not; the audit asks for IA_PSPA_8 and IA_BE_4."""
    with app.write() as session:
        practice = factories.practice(session)
        clinicians = factories.clinicians(session, practice, 2023, 2)
        for activity in ("IA_PSPA_8", "IA_BE_4", "IA_EPA_1"):
            factories.participations(session, factories.attestation(session, practice, activity, 2023), clinicians)
    minutes = tmp_path / "minutes.txt"
    minutes.write_text("patient safety huddle\n")
    run("register", minutes, "--tin", factories.TIN, "--year", 2023, "--activity", "IA_PSPA_8", "--item", 1,
        "--effective-date", "2023-05-02")  # fmt: skip
    with app.write() as session:
        view = open_audit(session, factories.TIN, 2023, clock.today() - timedelta(days=3),
                          activities=["IA_PSPA_8", "IA_BE_4"], actor="tester")  # fmt: skip
    return view.id


def test_a_light_incomplete_response(audit_id: int, tmp_path: Path) -> None:
    pdf = tmp_path / "r.pdf"
    result = audit_run("packet", audit_id, "-o", pdf, "--no-attachments", "--allow-incomplete")
    assert result.output.startswith(f"wrote INCOMPLETE response {pdf} (")
    text = pdf_text(pdf)
    assert "IA_PSPA_8" in text and "IA_BE_4" in text and "IA_EPA_1" not in text
    assert "INCOMPLETE: documentation missing for 1 of 2 requested activities" in " ".join(text.split())


def test_refusals_change_nothing(audit_id: int, app: App, dump: Callable[[], list[str]], tmp_path: Path) -> None:
    pdf = tmp_path / "r.pdf"
    before = dump()
    result = audit_run("packet", audit_id, "-o", pdf, expect=1)
    assert result.output.startswith(f"Error: audit #{audit_id}: 1 of 2 requested activities are not creditable")
    assert "  IA_BE_4 (group, TIN 000123456): " in result.output
    assert not pdf.exists() and dump() == before
    # The unsupported attestation goes as `attestation delete` would take it (rows removed directly: whether an
    # open audit may block that correction is the audit group's to decide, not this test's).
    with app.write() as session:
        be4 = select(Activity.id).where(Activity.activity_id == "IA_BE_4", Activity.performance_year == 2023)
        attestation = session.scalar(select(Attestation.id).where(Attestation.activity_pk == be4.scalar_subquery()))
        session.execute(delete(Participation).where(Participation.attestation_id == attestation))
        session.execute(delete(Attestation).where(Attestation.id == attestation))
    before = dump()
    result = audit_run("packet", audit_id, "-o", pdf, "--allow-incomplete", expect=1)
    assert result.output.splitlines()[1:] == ["  IA_BE_4 (group, TIN 000123456): not attested any more"]
    assert not pdf.exists() and dump() == before
