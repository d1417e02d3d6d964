"""Practices, clinicians, attestations and participation: what is accepted and what is refused."""

from __future__ import annotations

import json

import pytest

TIN = "000123456"
NPI = "1234567893"
NPI2 = "1000000004"


@pytest.fixture
def practice(run):
    run("practice", "add", TIN, "--name", "Riverbend Family Medicine")
    run("clinician", "add", NPI, "--tin", TIN, "--name", "Dr. Avery Chen", "--year", "2020")
    run("clinician", "add", NPI2, "--tin", TIN, "--name", "Dr. Blake Osei", "--year", "2020")
    return TIN


def test_add_and_show(run, practice) -> None:
    run(
        "attest",
        "--tin",
        TIN,
        "--activity",
        "IA_PM_7",
        "--year",
        "2020",
        "--start",
        "2020-01-01",
        "--end",
        "2020-12-31",
    )
    run("participate", "--tin", TIN, "--npi", NPI, "--activity", "IA_PM_7", "--year", "2020",
        "--start", "2020-02-01", "--end", "2020-07-31")  # fmt: skip
    shown = run("practice", "show", TIN).output
    assert "Riverbend Family Medicine" in shown and "PY2020: 2 clinicians" in shown
    assert "IA_PM_7" in shown and "group, 1 participating" in shown
    listed = json.loads(run("practice", "list", "--format", "json").output)
    assert listed == [{"tin": TIN, "name": "Riverbend Family Medicine", "clinicians": 2, "attestations": 1,
                       "reporting_years": 0}]  # fmt: skip
    clinicians = json.loads(run("clinician", "list", "--tin", TIN, "--format", "json").output)
    assert [c["npi"] for c in clinicians] == [NPI2, NPI]


def test_tin_leading_zeros_are_kept(run, practice) -> None:
    assert json.loads(run("practice", "list", "--format", "json").output)[0]["tin"] == "000123456"


def test_individual_attestation(run, practice) -> None:
    run("attest", "--tin", TIN, "--npi", NPI, "--activity", "IA_BE_4", "--year", "2020",
        "--start", "2020-02-01", "--end", "2020-07-31")  # fmt: skip
    assert f"individual {NPI}" in run("practice", "show", TIN, "--year", "2020").output


# Each row: arguments to `evidence ...`, and the words the one-line error must contain.
REFUSED = {
    "npi fails luhn": (["clinician", "add", "1234567890", "--tin", TIN, "--name", "X", "--year", "2020"],
                       "fails the NPI check digit"),
    "npi not 10 digits": (["clinician", "add", "123456789", "--tin", TIN, "--name", "X", "--year", "2020"],
                          "is not 10 digits"),
    "tin not 9 digits": (["practice", "add", "12345678", "--name", "X"], "is not 9 digits"),
    "tin with dash": (["practice", "add", "12-3456789", "--name", "X"], "is not 9 digits"),
    "activity not in year": (["attest", "--tin", TIN, "--activity", "IA_ERP_3", "--year", "2019",
                              "--start", "2019-01-01", "--end", "2019-12-31"], "IA_ERP_3 is not in the PY2019 inventory"),
    "period too short": (["attest", "--tin", TIN, "--activity", "IA_PM_7", "--year", "2020",
                          "--start", "2020-10-04", "--end", "2020-12-31"], "89 days; an activity needs at least 90"),
    "period outside year": (["attest", "--tin", TIN, "--activity", "IA_PM_7", "--year", "2020",
                             "--start", "2019-12-01", "--end", "2020-03-31"], "not inside performance year 2020"),
    "period ends before start": (["attest", "--tin", TIN, "--activity", "IA_PM_7", "--year", "2020",
                                  "--start", "2020-09-01", "--end", "2020-03-31"], "ends (2020-03-31) before it starts"),
    "us date format": (["attest", "--tin", TIN, "--activity", "IA_PM_7", "--year", "2020",
                        "--start", "01/02/2020", "--end", "2020-12-31"], "is not an ISO date (YYYY-MM-DD)"),
    "impossible date": (["attest", "--tin", TIN, "--activity", "IA_PM_7", "--year", "2020",
                         "--start", "2020-02-30", "--end", "2020-12-31"], "is not a real calendar date"),
    "bad activity id": (["attest", "--tin", TIN, "--activity", "PM7", "--year", "2020",
                         "--start", "2020-01-01", "--end", "2020-12-31"], "is not an IA activity id"),
    "unknown practice": (["attest", "--tin", "999999999", "--activity", "IA_PM_7", "--year", "2020",
                          "--start", "2020-01-01", "--end", "2020-12-31"], "no practice with TIN 999999999"),
    "participation of a non-member": (["participate", "--tin", TIN, "--npi", "1000000012", "--activity", "IA_PM_7",
                                       "--year", "2020", "--start", "2020-01-01", "--end", "2020-12-31"],
                                      "does not bill under TIN 000123456 in 2020"),
    "participation without group attestation": (["participate", "--tin", TIN, "--npi", NPI, "--activity", "IA_CC_9",
                                                 "--year", "2020", "--start", "2020-01-01", "--end", "2020-12-31"],
                                                "has no group attestation of IA_CC_9"),
    "individual attestation of a non-member": (["attest", "--tin", TIN, "--npi", "1000000012", "--activity", "IA_PM_7",
                                                "--year", "2020", "--start", "2020-01-01", "--end", "2020-12-31"],
                                               "does not bill under TIN"),
    "negative encounters": (["clinician", "add", "1000000012", "--tin", TIN, "--name", "X", "--year", "2020",
                             "--patient-facing-encounters", "-1"], "-1"),
    "percentage over 100": (["clinician", "add", "1000000012", "--tin", TIN, "--name", "X", "--year", "2020",
                             "--hospital-pos-pct", "101"], "101"),
    "duplicate practice": (["practice", "add", TIN, "--name", "Again"], "practice 000123456 already exists"),
    "duplicate membership": (["clinician", "add", NPI, "--tin", TIN, "--name", "Dr. Avery Chen", "--year", "2020"],
                             "already recorded under TIN 000123456 for 2020"),
    "npi with another name": (["clinician", "add", NPI, "--tin", TIN, "--name", "Someone Else", "--year", "2021"],
                              "already recorded as 'Dr. Avery Chen'"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_input_is_refused_and_nothing_is_written(run, dump, practice, case: str) -> None:
    args, expected = REFUSED[case]
    before = dump()
    result = run(*args, expect=None)
    assert result.exit_code != 0
    assert expected in result.output, result.output
    assert "Error" in result.output
    assert dump() == before


def test_duplicate_attestation_is_refused(run, dump, practice) -> None:
    args = [
        "attest",
        "--tin",
        TIN,
        "--activity",
        "IA_PM_7",
        "--year",
        "2020",
        "--start",
        "2020-01-01",
        "--end",
        "2020-12-31",
    ]
    run(*args)
    before = dump()
    assert "already attested IA_PM_7 for 2020" in run(*args, expect=1).output
    assert dump() == before


def test_october_3_is_the_last_start(run, practice) -> None:
    run(
        "attest",
        "--tin",
        TIN,
        "--activity",
        "IA_PM_7",
        "--year",
        "2020",
        "--start",
        "2020-10-03",
        "--end",
        "2020-12-31",
    )
