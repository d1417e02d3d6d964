"""The README's first command: the demo runs the main job on the bundled sample."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:HarfBuzz-Subset will be required:DeprecationWarning")


@pytest.mark.usefixtures("wide")
def test_demo_loads_sample_and_reports(tmp_path: Path, run) -> None:
    out = run("demo", "--out", tmp_path / "demo").output
    assert "Imported" in out and "1 practice, 10 clinicians, 7 attestations, 6 participations" in out
    assert "Registered 12 evidence files, 0 failed" in out
    assert "IA_CC_9" in out and "INCOMPLETE: missing item 2" in out
    assert (tmp_path / "demo" / "home" / "evidence.sqlite3").exists()
    from pypdf import PdfReader

    packets = sorted(p.name for p in (tmp_path / "demo").glob("*.pdf"))
    assert packets == ["packet-000123456-2019.pdf", "packet-000123456-2020.pdf", "packet-000123456-2024-1234567893.pdf"]
    reader = PdfReader(tmp_path / "demo" / "packet-000123456-2020.pdf")
    assert len(reader.attachments) == 5 and "IA_CC_9" in "".join(p.extract_text() for p in reader.pages)
    again = run("demo", "--out", tmp_path / "demo").output  # a second run starts afresh
    assert "Registered 12 evidence files" in again


def test_demo_refuses_to_clear_a_folder_that_is_not_a_demo_store(tmp_path: Path, run) -> None:
    (tmp_path / "demo" / "home").mkdir(parents=True)
    (tmp_path / "demo" / "home" / "precious.txt").write_text("keep me", encoding="utf-8")
    assert "is not a demo store" in run("demo", "--out", tmp_path / "demo", expect=1).output
    assert (tmp_path / "demo" / "home" / "precious.txt").exists()
