"""The normal packet is not changed by the audit response that re-uses its templates (issue #16, part C).

The HTML of the sample practice's packets, with what varies between stores (registration times
and actor, the audit chain's head, the tool version) set to fixed values, hashed: the values below
were computed with the templates as they were before the response packet (commit abceaf5). The
PDF is byte-identical when its HTML is (test_packet.py renders the same bytes twice). A change
to the packet that is meant to change it updates these hashes on purpose.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evidence.app import App
from evidence.config import resolve_settings
from evidence.packet.archive import manifest_rows
from evidence.packet.content import AuditAnchor, PacketContent, read_packet_content
from evidence.packet.render import render_html
from evidence.records.missing import EvidenceDetails, EvidenceRef
from tests.conftest import sqlite_only
from tests.test_packet import TIN, sample_home  # noqa: F401 - a fixture

pytestmark = sqlite_only

FIXED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
BEFORE = {
    (2020, None): "f7e3df96902c3a268c69eedd576ba33e0bd8e01c46b05b03138423df5682dec1",
    (2024, "1234567893"): "90eaf3890919b4678808822d324314610de8e7e55b663e8ebb823f6445719f9c",
}


def _fixed_registration(ref: EvidenceRef) -> EvidenceDetails:
    assert ref.details is not None  # the packet asks for the details
    return ref.details._replace(registered_at=FIXED, registered_by="someone")


def normalised(content: PacketContent) -> PacketContent:
    activities = [
        dataclasses.replace(
            activity,
            items=[
                dataclasses.replace(
                    item,
                    evidence=[dataclasses.replace(e, details=_fixed_registration(e)) for e in item.evidence],
                )
                for item in activity.items
            ],
        )
        for activity in content.activities
    ]
    return dataclasses.replace(
        content, activities=activities, manifest=manifest_rows(activities), audit=AuditAnchor(7, "ab" * 32),
        tool_version="0",
    )  # fmt: skip


@pytest.mark.parametrize(("year", "npi"), list(BEFORE))
def test_the_packet_html_is_what_it_was_before_the_response_packet(
    sample_home: Path,  # noqa: F811
    year: int,
    npi: str | None,
) -> None:
    app = App(resolve_settings(sample_home, None), actor="tester")
    try:
        with app.read() as session:
            content = read_packet_content(session, TIN, year, npi, generated_at=datetime(2099, 1, 1, tzinfo=UTC))
    finally:
        app.close()
    html = render_html(packet=normalised(content))
    assert 'id="summary"' in html and 'id="group-' not in html  # a part's prefixed anchors stay out of it
    assert hashlib.sha256(html.encode()).hexdigest() == BEFORE[(year, npi)]
