"""Rebuild the packet's fallback fonts: a CJK subset of Noto Sans CJK SC and an emoji subset of Symbola.

The packet never uses system fonts (its URL fetcher serves only evidence/packet/assets), so text in
Chinese, Japanese, Korean or with emoji needs faces shipped in the package. The full fonts are 20 MB
(CJK) and 3 MB; the subsets keep the characters people write names and descriptions with:

- CJK: GB 2312 level 1 (the 3,755 common hanzi of simplified Chinese), JIS X 0208 (6,355 kanji:
  Japanese), Big5 level 1 (5,401 common hanzi of traditional Chinese), KS X 1001 (2,350 hangul
  syllables: Korean), kana, CJK symbols and punctuation, full-width forms, ASCII.
  A character outside the subset shows as a box: rare, and visible.
- Emoji: the emoji and pictograph blocks of Symbola (monochrome outlines; no bitmap colour font).

Reproducible: the inputs are named Debian packages at pinned versions, checked by SHA-256, and the
character sets come from Python's own codec tables. Run (needs apt-get and dpkg-deb, not root):

    python scripts/build_fonts.py            # downloads the two .deb files into a temporary folder
    python scripts/build_fonts.py --debs DIR # or uses .deb files already downloaded there
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

FONTS = Path(__file__).resolve().parent.parent / "evidence" / "packet" / "assets" / "fonts"

CJK_PACKAGE = ("fonts-noto-cjk", "1:20220127+repack1-1")
CJK_DEB_SHA256 = "4a2515eb6db3978b897fef9709ed0d2b1f4c6c4df4d83d6c4ef65f71f1b1f502"
CJK_SOURCE = "usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
CJK_FACE = 2  # Noto Sans CJK SC in the collection (JP, KR, SC, TC, HK, then the Mono faces)
CJK_OUTPUT = "NotoSansCJKsc-Subset.otf"

EMOJI_PACKAGE = ("fonts-symbola", "2.60-1.1")
EMOJI_DEB_SHA256 = "408244997437d4103e9cdc9dd75db29d0e5fbee6e6874536173995204033a6df"
EMOJI_SOURCE = "usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf"
EMOJI_OUTPUT = "Symbola-Emoji.ttf"


def _double_byte(codec: str, leads: range, trails: range) -> set[str]:
    chars = set()
    for lead in leads:
        for trail in trails:
            try:
                chars.update(bytes((lead, trail)).decode(codec))
            except UnicodeDecodeError:
                continue
    return chars


def cjk_characters() -> set[int]:
    chars = _double_byte("gb2312", range(0xA1, 0xD8), range(0xA1, 0xFF))  # GB 2312 symbols and level 1
    chars |= _double_byte("euc_jp", range(0xA1, 0xF5), range(0xA1, 0xFF))  # JIS X 0208
    chars |= _double_byte("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)])  # level 1
    chars |= _double_byte("euc_kr", range(0xB0, 0xC9), range(0xA1, 0xFF))  # KS X 1001 hangul
    points = {ord(c) for c in chars}
    for start, end in ((0x3000, 0x303F), (0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF00, 0xFFEF)):
        points.update(range(start, end + 1))
    return points | set(range(0x20, 0x7F))  # ASCII too: spaces and digits between CJK words stay in the face


def emoji_characters() -> set[int]:
    points: set[int] = set(range(0x20, 0x7F))  # the spaces between emoji stay in the face
    for start, end in (
        (0x2600, 0x27BF),  # miscellaneous symbols, dingbats
        (0x2B00, 0x2BFF),  # arrows, stars
        (0x1F000, 0x1F2FF),  # mahjong, dominoes, cards, enclosed
        (0x1F300, 0x1F6FF),  # pictographs, emoticons, transport
        (0x1F900, 0x1F9FF),  # supplemental symbols and pictographs (Symbola stops at Unicode 9)
    ):
        points.update(range(start, end + 1))
    return points


def _options() -> subset.Options:
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False  # PDF viewers do not use it; halves the size
    options.desubroutinize = False
    return options


def _subset(font: TTFont, points: set[int], output: Path) -> None:
    font.recalcTimestamp = False  # keep the source's dates: the same inputs give the same bytes
    subsetter = subset.Subsetter(_options())
    subsetter.populate(unicodes=points)
    subsetter.subset(font)
    font.save(output)


def _check(path: Path, digest: str) -> None:
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != digest:
        raise SystemExit(f"{path.name}: SHA-256 {actual}, expected {digest}")


def _extract(debs: Path, package: tuple[str, str], digest: str, into: Path) -> Path:
    name, version = package
    found = sorted(debs.glob(f"{name}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", f"{name}={version}"], cwd=debs, check=True)
        found = sorted(debs.glob(f"{name}_*.deb"))
    _check(found[0], digest)
    subprocess.run(["dpkg-deb", "-x", str(found[0]), str(into)], check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debs", type=Path, help="folder with (or for) the two .deb files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        debs = args.debs or Path(scratch) / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        root = Path(scratch) / "root"
        _extract(debs, CJK_PACKAGE, CJK_DEB_SHA256, root)
        _extract(debs, EMOJI_PACKAGE, EMOJI_DEB_SHA256, root)
        cjk = TTCollection(root / CJK_SOURCE).fonts[CJK_FACE]
        _subset(cjk, cjk_characters(), FONTS / CJK_OUTPUT)
        _subset(TTFont(root / EMOJI_SOURCE), emoji_characters(), FONTS / EMOJI_OUTPUT)
        shutil.copyfile(root / "usr/share/doc/fonts-noto-cjk/copyright", FONTS / "LICENSE-NotoSansCJK")
        shutil.copyfile(root / "usr/share/doc/fonts-symbola/copyright", FONTS / "LICENSE-Symbola")
    for name in (CJK_OUTPUT, EMOJI_OUTPUT):
        path = FONTS / name
        print(f"{name}: {path.stat().st_size:,} bytes, SHA-256 {hashlib.sha256(path.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
