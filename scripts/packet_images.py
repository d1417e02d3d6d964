"""Refresh docs/images/packet-*.png from a real packet of the bundled sample practice.

    python3 scripts/packet_images.py     # needs pdftoppm (poppler-utils) on the PATH

Loads sample_evidence/ into a temporary home through the CLI, writes the PY2020 group packet and
rasterises its cover and the IA_PM_7 section at 80 dpi (680 x 880 pixels, US Letter).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

IMAGES = REPO / "docs" / "images"
SECTION = "IA_PM_7"


def main() -> None:
    from click.testing import CliRunner
    from pypdf import PdfReader

    from evidence.cli import cli

    if shutil.which("pdftoppm") is None:
        sys.exit("pdftoppm not found: install poppler-utils")
    with tempfile.TemporaryDirectory(prefix="packet-images-") as tmp:
        root = Path(tmp)
        sample = REPO / "sample_evidence"
        pdf = root / "packet.pdf"
        for args in (
            ["import", str(sample / "practice.csv")],
            ["register", "--manifest", str(sample / "manifest.yaml")],
            ["packet", "--tin", "000123456", "--year", "2020", "-o", str(pdf)],
        ):
            result = CliRunner().invoke(cli, ["--home", str(root / "home"), "--actor", "demo", *args])
            if result.exit_code != 0:
                sys.exit(result.output)
        reader = PdfReader(pdf)
        top_level = [entry for entry in reader.outline if not isinstance(entry, list)]
        bookmark = next(entry for entry in top_level if entry.title.startswith(SECTION))
        section = reader.get_destination_page_number(bookmark) + 1
        for name, page in (("packet-cover", 1), ("packet-activity", section)):
            out = root / name
            subprocess.run(
                ["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile", str(pdf), str(out)],
                check=True,
            )
            shutil.copyfile(out.with_suffix(".png"), IMAGES / f"{name}.png")
            print(f"wrote {IMAGES / name}.png (page {page})")


if __name__ == "__main__":
    main()
