"""Packets and QPP exports that are true about themselves (issue #13, case 6): no packet dated before
the records it shows, every packet and export an audit event, and still the same bytes for the same request."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from hypothesis import example, given
from hypothesis import strategies as st
from pypdf import PdfReader

from evidence.errors import InputError
from evidence.packet.content import AuditAnchor, check_generated_at
from tests.conftest import GENERATED_AT, SAMPLE
from tests.stores import use_sample_practice

pytestmark = pytest.mark.filterwarnings("ignore:HarfBuzz-Subset will be required:DeprecationWarning")

TIN = "000123456"
PACKET = ("packet", "--tin", TIN, "--year", "2020")

Run = Callable[..., Result]


@pytest.fixture
def sample(app) -> None:
    use_sample_practice(app)  # tests/stores.py: a copy of one built once


def events(run: Run) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(run("log", "--format", "json").output)
    for row in rows:
        row["details"] = json.loads(row["details"])
    return rows


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cover(path: Path) -> str:
    return " ".join(PdfReader(path).pages[0].extract_text().split())


def test_a_packet_cannot_be_dated_before_the_records_it_shows(run: Run, sample: None, tmp_path: Path) -> None:
    newest = events(run)[-1]
    before = len(events(run))
    output = tmp_path / "old.pdf"
    result = run(*PACKET, "-o", output, "--generated-at", "2021-03-01T12:00:00Z", expect=1)
    message = result.output.strip()
    assert message.count("\n") == 0 and message.startswith("Error: --generated-at 2021-03-01 12:00:00 UTC is before ")
    assert f"{newest['at'][:10]} {newest['at'][11:19]} UTC, the time of audit event #{newest['seq']}" in message
    assert not output.exists() and len(events(run)) == before  # nothing written, nothing recorded
    run(*PACKET, "-o", output, "--no-attachments", "--generated-at", newest["at"])  # the very second is fine


def test_each_packet_is_an_event_with_its_outputs_hashes(run: Run, sample: None, tmp_path: Path) -> None:
    pdf, archive = tmp_path / "p.pdf", tmp_path / "p.zip"
    run(*PACKET, "-o", pdf, "--zip", archive, "--generated-at", GENERATED_AT)
    event = events(run)[-1]
    assert (event["action"], event["actor"], event["tin"], event["year"]) == ("packet.generate", "tester", TIN, 2020)
    details = event["details"]
    assert details["pdf_sha256"] == sha256(pdf) and details["npi"] is None
    assert details["outputs"] == [
        {"kind": "pdf", "target": str(pdf), "sha256": sha256(pdf), "size": pdf.stat().st_size},
        {"kind": "zip", "target": str(archive), "sha256": sha256(archive), "size": archive.stat().st_size},
    ]
    assert re.sub(r"\s", "", details["manifest_sha256"]) in cover(pdf).replace(" ", "")
    assert details["generated_at"] == GENERATED_AT.replace("Z", "+00:00")
    assert f"event {details['audit_event']}," in cover(pdf)  # the chain the cover names


def test_a_packet_to_standard_output_is_recorded_with_the_bytes_sent(run: Run, sample: None) -> None:
    result = run("packet", "--tin", TIN, "--year", "2024", "--npi", "1234567893", "--no-attachments", "-o", "-")
    assert result.stdout_bytes.startswith(b"%PDF-")
    event = events(run)[-1]
    assert event["action"] == "packet.generate" and event["details"]["npi"] == "1234567893"
    assert event["details"]["outputs"] == [{"kind": "pdf", "target": "standard output",
                                            "sha256": hashlib.sha256(result.stdout_bytes).hexdigest(),
                                            "size": len(result.stdout_bytes)}]  # fmt: skip


def test_the_packets_own_event_does_not_change_the_next_packet(run: Run, sample: None, tmp_path: Path) -> None:
    first, second = tmp_path / "1.pdf", tmp_path / "2.pdf"
    run(*PACKET, "-o", first, "--no-attachments", "--generated-at", GENERATED_AT)
    run("export-qpp", "--tin", TIN, "--year", "2020", "-o", tmp_path / "qpp.json")
    run(*PACKET, "-o", second, "--no-attachments", "--generated-at", GENERATED_AT)
    assert first.read_bytes() == second.read_bytes()
    rows = events(run)
    assert [row["action"] for row in rows[-3:]] == ["packet.generate", "qpp.export", "packet.generate"]
    reported = rows[-4]["seq"]  # the newest change to the records
    assert rows[-1]["details"]["audit_event"] == rows[-3]["details"]["audit_event"] == reported
    run("hold", "add", "--tin", TIN, "--year", "2020", "--reason", "CMS data validation")
    run(*PACKET, "-o", tmp_path / "3.pdf", "--no-attachments", "--generated-at", GENERATED_AT)
    assert (tmp_path / "3.pdf").read_bytes() != first.read_bytes()  # a change to the records does show
    assert events(run)[-1]["details"]["audit_event"] == reported + 4


def test_a_signed_store_packet_carries_the_checkpoint_of_the_event_it_reports(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "signing.pem"
    run("log", "keygen", key)
    monkeypatch.setenv("EVIDENCE_SIGNING_KEY", str(key))
    run("import", SAMPLE / "practice.csv")
    run("register", "--manifest", SAMPLE / "manifest.yaml")
    first, second = tmp_path / "1.pdf", tmp_path / "2.pdf"
    run(*PACKET, "-o", first, "--no-attachments", "--generated-at", GENERATED_AT)
    run(*PACKET, "-o", second, "--no-attachments", "--generated-at", GENERATED_AT)
    assert first.read_bytes() == second.read_bytes()
    rows = events(run)
    assert "signed by key ed25519:" in cover(first)
    assert rows[-1]["details"]["audit_key_id"].startswith("ed25519:")
    assert f"event {rows[-3]['seq']}, head" in cover(first)
    run("log", "verify")


def test_each_qpp_export_is_an_event_with_its_hash(run: Run, sample: None, tmp_path: Path) -> None:
    output = tmp_path / "qpp.json"
    run("export-qpp", "--tin", TIN, "--year", "2020", "-o", output)
    event = events(run)[-1]
    assert (event["action"], event["actor"], event["tin"], event["year"]) == ("qpp.export", "tester", TIN, 2020)
    assert event["details"]["sha256"] == sha256(output) and event["details"]["target"] == str(output)
    assert event["details"]["submitted"] == ["IA_CC_9", "IA_PM_7"] and event["details"]["left_out"] == ["IA_BE_6"]
    sent = run("export-qpp", "--tin", TIN, "--year", "2024", "--npi", "1234567893").stdout_bytes
    event = events(run)[-1]
    assert event["details"]["sha256"] == hashlib.sha256(sent).hexdigest()
    assert (event["details"]["target"], event["details"]["npi"]) == ("standard output", "1234567893")


def test_refused_outputs_record_nothing(run: Run, sample: None, tmp_path: Path) -> None:
    before = events(run)
    run("packet", "--tin", "000999999", "--year", "2020", "-o", tmp_path / "x.pdf", expect=1)
    run("export-qpp", "--tin", TIN, "--year", "2021", expect=1)
    (tmp_path / "taken.json").write_text("{}")
    run("export-qpp", "--tin", TIN, "--year", "2020", "-o", tmp_path / "taken.json", expect=1)
    assert events(run) == before


@example(event=datetime(2026, 12, 1, 13, 26, 1, 999000, tzinfo=UTC), offset_ms=-999)  # same second: accepted
@example(event=datetime(2026, 12, 1, 13, 26, 1, 0, tzinfo=UTC), offset_ms=0)  # the very moment: accepted
@example(event=datetime(2026, 12, 1, 13, 26, 1, 0, tzinfo=UTC), offset_ms=-1000)  # a second early: refused
@example(event=datetime(2026, 12, 31, 23, 59, 59, 500000, tzinfo=UTC), offset_ms=-1500)  # across midnight: refused
@given(
    event=st.datetimes(min_value=datetime(2017, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    offset_ms=st.integers(min_value=-(10**9), max_value=10**9),
)
def test_generated_at_may_not_predate_the_second_of_the_reported_event(event: datetime, offset_ms: int) -> None:
    event = event.replace(microsecond=event.microsecond // 1000 * 1000)  # events are kept to the millisecond
    generated = (event + timedelta(milliseconds=offset_ms)).replace(microsecond=0)  # whole seconds, as given
    anchor = AuditAnchor(7, "0" * 64, at=event)
    if generated < event.replace(microsecond=0):
        with pytest.raises(InputError, match=r"^--generated-at .* is before .*, the time of audit event #7,"):
            check_generated_at(generated, anchor)
    else:
        check_generated_at(generated, anchor)
    check_generated_at(generated.replace(tzinfo=None), AuditAnchor(0, "0" * 64))  # no event yet: anything goes


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00"])
def test_a_generation_time_past_the_calendar_in_utc_is_a_usage_error(
    run: Run, sample: None, tmp_path: Path, moment: str
) -> None:
    before = len(events(run))
    result = run(*PACKET, "-o", tmp_path / "p.pdf", "--no-attachments", "--generated-at", moment, expect=2)
    assert "outside the years 1 to 9999 once converted to UTC" in result.output
    assert "database" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "p.pdf").exists() and len(events(run)) == before
