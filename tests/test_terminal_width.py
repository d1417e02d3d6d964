"""Output for people (issue #13, case 9): tables and reports fit the terminal, one year check, one weight word.

Tables wrap cell text inside their columns to $COLUMNS (else the terminal's width, 80 when piped):
nothing is cut off, user text is escaped before it is measured, wide CJK characters count 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from evidence.cli import cli
from evidence.cli.output import printable, render_table, terminal_width
from evidence.support.text import display_width, wrap_to_width, wrap_words

TIN = "000123456"
NPI = "1234567893"
# Long, hostile and wide: a bidi override, an escape sequence, a newline, CJK (2 columns each).
HOSTILE_NAME = (
    "Riverbend \u202eexe.pdf Family \x1b[2J Medicine\nforged 河畔医疗中心 Associates of the Greater "
    "Tri-County Region and Surrounding Rural Communities Incorporated Professional Corporation"
)
LINK = ("--tin", TIN, "--year", "2020", "--activity", "IA_PM_7")


@pytest.fixture
def hostile_store(run, tmp_path: Path) -> None:
    run("practice", "add", TIN, "--name", HOSTILE_NAME)
    run("clinician", "add", NPI, "--tin", TIN, "--year", "2020", "--name", HOSTILE_NAME)
    run("attest", *LINK, "--start", "2020-01-01", "--end", "2020-12-31")
    run("attest", *LINK[:4], "--activity", "IA_PSPA_20", "--start", "2020-02-01", "--end", "2020-06-30")
    evidence = tmp_path / "quarterly-feedback-report-from-the-qualified-clinical-data-registry-河畔.txt"
    evidence.write_text("QCDR feedback", encoding="utf-8")
    run("register", evidence, *LINK, "--effective-date", "2020-03-01", "--description", HOSTILE_NAME)


WIDE_OUTPUTS = {
    "status": ["status", "--tin", TIN, "--year", "2020", "--npi", NPI],
    "log": ["log"],
    "missing": ["missing", "--tin", TIN, "--year", "2020"],
    "list": ["list"],
    "catalog list": ["catalog", "list", "--year", "2020"],
    "score": ["score", "--tin", TIN, "--year", "2020"],
    "practice list": ["practice", "list"],
    "clinician list": ["clinician", "list", "--tin", TIN],
}


@pytest.mark.usefixtures("hostile_store")
@pytest.mark.parametrize("name", sorted(WIDE_OUTPUTS))
def test_output_fits_80_columns_and_keeps_every_word(run, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    output = run(*WIDE_OUTPUTS[name]).output
    too_long = [line for line in output.splitlines() if display_width(line) > 80]
    assert not too_long, too_long
    assert "\x1b" not in output and "\u202e" not in output  # escaped first (then measured)
    if name in ("practice list", "clinician list", "missing"):
        words = printable(" ".join(HOSTILE_NAME.split())).split()
        flat = output.replace("\n", " ")
        lost = [w for w in words if w not in flat and len(w) <= 25]  # longer words may be split over lines
        assert not lost, lost


def test_a_row_that_fits_stays_one_line_and_max_width_wraps_instead_of_cutting() -> None:
    row = {"long_name": "x" * 60 + " tail", "n": 1}
    assert render_table([row], ["long_name", "n"], width=400).splitlines()[2] == "x" * 60 + " tail  1"
    capped = render_table([row], ["long_name", "n"], width=400, max_width=30).splitlines()
    assert capped[0].startswith("long name") and capped[2:] == ["x" * 30 + "  1", "x" * 30, "tail"]


@pytest.mark.usefixtures("hostile_store")
def test_json_and_csv_are_not_wrapped(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    rows = json.loads(run("practice", "list", "--format", "json").output)
    assert rows[0]["name"] == " ".join(HOSTILE_NAME.split())  # as stored (whitespace collapsed), not wrapped
    csv_lines = run("practice", "list", "--format", "csv").output.splitlines()
    assert len(csv_lines[1]) > 40


def test_width_comes_from_columns_else_80_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "123")
    assert terminal_width() == 123
    for bad in ("", "0", "-5", "wide", "１２０"):
        monkeypatch.setenv("COLUMNS", bad)
        assert terminal_width() == 80  # pytest's stdout is no terminal


def test_wide_characters_count_two_columns() -> None:
    table = render_table([{"name": "河畔医疗中心 " * 6, "n": 1}], ["name", "n"], width=30)
    assert all(display_width(line) <= 30 for line in table.splitlines())
    assert "".join(table.split()).count("河畔医疗中心") == 6


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=200), st.integers(1, 90))
@example("word " * 40, 12)
@example("a" * 200, 7)
@example("河畔医疗中心河畔医疗中心", 3)
@example("e\u0301tude de cas", 4)  # a combining accent takes no column
@example("x 河", 1)  # a wide character wider than the column still goes out whole, on its own line
def test_wrapping_loses_nothing_and_fits(text: str, width: int) -> None:
    lines = wrap_to_width(text, width)
    assert "".join("".join(lines).split(" ")) == "".join(text.split(" "))
    assert all(display_width(line) <= width or len(line) == 1 for line in lines)


@given(st.text(st.sampled_from("ab ."), max_size=80) | st.text(st.characters(max_codepoint=127), max_size=120),
       st.integers(1, 30))  # fmt: skip
@example("a  b", 3)  # the doubled space stays on the first line: "a "
@example("abc  ", 4)  # trailing spaces that fit stay; the rest start no line
@example("   ", 2)  # only spaces, wider than the column: one empty line
@example("  abcdefgh ij", 3)  # leading spaces, then a word split by characters, then the rest
@example("abcdef", 3)  # a word exactly twice the column
def test_ascii_text_wraps_line_by_line_as_word_by_word(text: str, width: int) -> None:
    """The fast path for ASCII text gives exactly the lines of the word-by-word definition."""
    assert wrap_to_width(text, width) == wrap_words(text, width, len)


# --- one year parameter (case 9) ------------------------------------------------------------------


def _commands_taking_a_year() -> list[tuple[str, ...]]:
    from evidence.cli.params import YEAR

    found: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...], ctx: click.Context) -> None:
        if any(isinstance(p, click.Option) and "--year" in p.opts for p in command.params):
            assert all(p.type is YEAR for p in command.params if "--year" in p.opts), path
            found.append(path)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, (*path, name), click.Context(sub, parent=ctx, info_name=name))

    walk(cli, (), click.Context(cli, info_name="evidence"))
    return found


def test_every_year_option_gives_the_same_one_line_error(run) -> None:
    commands = _commands_taking_a_year()
    assert len(commands) >= 15, commands
    errors = {}
    for path in commands:
        extra = ["x.json"] if path == ("catalog", "import-qpp") else []
        result = run(*path, "--year", "20", *extra, expect=2)
        errors[path] = result.output.splitlines()[-1]
    assert set(errors.values()) == {"Error: Invalid value for '--year': year '20' is not a four-digit performance year"}


# --- one word for weights (case 9) ----------------------------------------------------------------


@pytest.mark.usefixtures("wide")
def test_unweighted_is_the_one_word_in_table_json_and_csv(run) -> None:
    import csv
    import io

    run("practice", "add", TIN, "--name", "Riverbend")
    run(
        "attest",
        "--tin",
        TIN,
        "--year",
        "2025",
        "--activity",
        "IA_BE_4",
        "--start",
        "2025-01-01",
        "--end",
        "2025-12-31",
    )
    listed = json.loads(run("catalog", "list", "--year", "2025", "--weight", "unweighted", "--format", "json").output)
    assert {row["weight"] for row in listed} == {"unweighted"}
    scored = json.loads(run("score", "--tin", TIN, "--year", "2025", "--format", "json").output)
    assert [a["weight"] for a in scored["activities"]] == ["unweighted"]
    rows = list(csv.DictReader(io.StringIO(run("score", "--tin", TIN, "--year", "2025", "--format", "csv").output)))
    assert [r["weight"] for r in rows] == ["unweighted"]
    assert "IA_BE_4 (unweighted)" in run("score", "--tin", TIN, "--year", "2025").output
    refused = run("catalog", "list", "--year", "2025", "--weight", "none", expect=1).output
    assert refused.strip() == "Error: PY2025 scores activities without weights: every activity is unweighted"


def test_an_empty_listing_does_not_read_like_the_weight_none(run) -> None:
    assert run("catalog", "list", "--year", "2020", "--subcategory", "noSuchThing").output.strip() == "(no rows)"
