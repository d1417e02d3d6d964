"""The words shown to people: counts that agree with their noun, URLs that never show a password."""

from __future__ import annotations

import pytest

from evidence.support.text import plural, redact_url


@pytest.mark.parametrize(
    ("count", "word", "many", "expected"),
    [
        (0, "file", None, "0 files"),
        (1, "file", None, "1 file"),
        (2, "file", None, "2 files"),
        (1, "activity", None, "1 activity"),
        (3, "activity", None, "3 activities"),
        (2, "attested activity", None, "2 attested activities"),
        (2, "day", None, "2 days"),  # a vowel before the y
        (1, "clinician-year", None, "1 clinician-year"),
        (4, "clinician-year", None, "4 clinician-years"),
        (2, "activity entry", "activity entries", "2 activity entries"),
        (1, "analysis", "analyses", "1 analysis"),
        (-1, "file", None, "-1 files"),
    ],
)
def test_plural(count: int, word: str, many: str | None, expected: str) -> None:
    assert plural(count, word, many) == expected


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////srv/evidence/evidence.sqlite3", "sqlite:////srv/evidence/evidence.sqlite3"),
        ("postgresql+psycopg://clerk@db.example/evidence", "postgresql+psycopg://clerk@db.example/evidence"),
        (
            "postgresql+psycopg://clerk:s3cret@db.example:5432/evidence",
            "postgresql+psycopg://clerk:***@db.example:5432/evidence",
        ),
        (
            "postgresql://clerk:p@ss@db.example/evidence",
            "postgresql://clerk:***@db.example/evidence",
        ),  # @ in the password
        ("postgresql://clerk:@db.example/evidence", "postgresql://clerk:***@db.example/evidence"),
        ("s3://KEY:SECRET@bucket/prefix", "s3://KEY:***@bucket/prefix"),
        ("s3://bucket/prefix", "s3://bucket/prefix"),
        ("postgresql://clerk:pw@[::1/evidence", "(unparseable URL)"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "s3cret" not in redact_url(url) and "SECRET" not in redact_url(url)


def test_database_errors_never_show_the_password() -> None:
    from evidence.db.engine import make_engine
    from evidence.errors import StoreError

    with pytest.raises(StoreError) as caught:
        make_engine("nosuchdialect://clerk:s3cret@db.example/evidence")
    assert "s3cret" not in caught.value.message and "clerk:***@db.example" in caught.value.message
