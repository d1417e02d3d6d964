"""The credit verdict (evidence.rules.credit), one row per check, on plain facts: no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from evidence.rules import cms
from evidence.rules.credit import CreditFacts, ItemFacts, ParticipantFacts, verdict

COVERED = ItemFacts(1, covered=True)
NPIS = ["1234567893", "1245319599", "1003000126", "1000000004"]


def member(i: int, start: date = date(2020, 1, 1), end: date = date(2020, 12, 31), *, bills: bool = True):
    return ParticipantFacts(NPIS[i], start, end, bills_under_tin=bills)


def facts(**changes: object) -> CreditFacts:
    """An individual PY2020 attestation over the whole year, its one item covered: creditable."""
    base = CreditFacts(
        year=2020,
        activity_id="IA_EPA_2",
        start=date(2020, 1, 1),
        end=date(2020, 12, 31),
        group=False,
        rule="single",
        items=(COVERED,),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def group(year: int = 2020, participants: tuple[ParticipantFacts, ...] = (), **changes: object) -> CreditFacts:
    """A group attestation of a 4-clinician TIN."""
    return facts(year=year, group=True, participants=participants, clinicians=4, start=date(year, 1, 1),
                 end=date(year, 12, 31), **changes)  # fmt: skip


TWO_OF_FOUR = (member(0), member(1))

# (case, facts, creditable, claimable, the failed checks, a reason that must be given)
ROWS = [
    ("all: every item covered", facts(rule="all", items=(COVERED, ItemFacts(2, True))), True, True, [], None),
    ("all: an item missing", facts(rule="all", items=(COVERED, ItemFacts(2, False))), False, True,
     ["documentation"], "documentation incomplete: missing item 2"),
    ("all: an item only outside the period", facts(rule="all", items=(COVERED, ItemFacts(2, False, True))),
     False, True, ["documentation"],
     "documentation incomplete: missing item 2 (item 2: evidence only outside the attested period)"),
    ("any: one item of three is enough", facts(rule="any", items=(ItemFacts(1, False), ItemFacts(2, True),
                                                                  ItemFacts(3, False))), True, True, [], None),
    ("any: none covered", facts(rule="any", items=(ItemFacts(1, False, True), ItemFacts(2, False))), False, True,
     ["documentation"], "documentation incomplete: needs one of items 1, 2 (item 1: evidence only outside"),
    ("period: 61 days", facts(start=date(2020, 11, 1)), False, False, ["period"],
     "the period 2020-11-01 to 2020-12-31 is 61 days; an activity needs at least 90 consecutive days"),
    ("period: outside the year", facts(end=date(2021, 1, 31)), False, False, ["period"],
     "the period 2020-01-01 to 2021-01-31 is not inside performance year 2020"),
    ("participant's own period: 30 days, the others reach 50%",
     group(participants=(*TWO_OF_FOUR, member(2, date(2020, 12, 2)))), False, True, ["participants"],
     f"participation not counted: NPI {NPIS[2]}: the period 2020-12-02 to 2020-12-31 is 30 days"),
    ("participant does not bill under the TIN", group(participants=(*TWO_OF_FOUR, member(2, bills=False))),
     False, True, ["participants"], f"participation not counted: NPI {NPIS[2]} does not bill under the TIN in PY2020"),
    ("participant's own period short, below 50% without them", group(participants=(member(0), member(1, date(2020, 12, 2)))),
     False, False, ["group participation", "participants"], "group requirement not met: 1 of 4 clinicians (25%)"),
    ("50% rule met from 2020: 2 of 4", group(participants=TWO_OF_FOUR), True, True, [], None),
    ("50% rule not met from 2020: 1 of 4", group(participants=(member(0),)), False, False, ["group participation"],
     "group requirement not met: 1 of 4 clinicians (25%) have their own period of 90+ days; at least 50% needed"),
    ("no 50% rule before 2020: 1 of 4", group(2019, (member(0, date(2019, 1, 1), date(2019, 12, 31)),)),
     True, True, [], None),
    ("no 50% rule before 2020: nobody listed", group(2019), True, True, [], None),
    ("PCMH: site-based, no clinician participation", group(activity_id="IA_PCMH"), True, True, [], None),
    ("PCMH: still needs its documentation", group(activity_id="IA_PCMH", items=(ItemFacts(1, False),)), False, True,
     ["documentation"], "documentation incomplete: missing item 1"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "facts", "creditable", "claimable", "failed", "reason"), ROWS, ids=[row[0] for row in ROWS]
)
def test_verdict(
    case: str, facts: CreditFacts, creditable: bool, claimable: bool, failed: list[str], reason: str | None
) -> None:
    result = verdict(facts)
    assert (result.creditable, result.claimable) == (creditable, claimable)
    assert sorted(c.name for c in result.failed) == sorted(failed)
    if reason is None:
        assert result.reasons == [] and result.summary == "creditable"
    else:
        assert any(r.startswith(reason) for r in result.reasons), result.reasons
        assert result.summary.startswith("not creditable: ")
    # Claim problems and documentation risks split the reasons between them, nothing lost.
    assert sorted(result.problems + result.risks) == sorted(result.reasons)


def test_an_individual_attestation_has_no_group_checks() -> None:
    assert [c.name for c in verdict(facts()).checks] == ["period", "documentation"]
    assert [c.name for c in verdict(group(participants=TWO_OF_FOUR)).checks] == [
        "period",
        "group participation",
        "participants",
        "documentation",
    ]


def test_a_passed_check_still_says_why() -> None:
    reasons = [r for c in verdict(group(participants=TWO_OF_FOUR)).checks for r in c.reasons]
    assert "period 2020-01-01 to 2020-12-31 (366 days) is inside PY2020 and at least 90 days" in reasons
    assert any(r.startswith("group requirement met: 2 of 4 clinicians (50%)") for r in reasons)
    assert "documented: item 1 covered inside the attested period (rule 'single')" in reasons


def test_more_than_five_rejected_participations_are_counted_not_listed() -> None:
    many = tuple(ParticipantFacts(f"10000000{i:02d}", date(2020, 12, 1), date(2020, 12, 31), True) for i in range(8))
    result = verdict(replace(group(participants=many), clinicians=8))
    listed = [r for r in result.reasons if r.startswith("participation not counted: NPI")]
    assert [r.split(":")[1] for r in listed] == [f" NPI 10000000{i:02d}" for i in range(5)]
    assert "3 more participations not counted" in result.reasons
    assert any(r.startswith("group requirement not met: 0 of 8") for r in result.reasons)


@given(start=st.dates(date(2020, 1, 1), date(2020, 12, 31)), length=st.integers(1, 366))
@example(start=date(2020, 10, 3), length=90)  # the latest start: Oct 3 - Dec 31 is 90 days
@example(start=date(2020, 10, 4), length=89)
@example(start=date(2020, 1, 1), length=89)
@example(start=date(2020, 12, 31), length=1)
def test_an_attested_period_is_creditable_exactly_when_it_has_90_days_inside_the_year(start: date, length: int) -> None:
    end = start + timedelta(days=length - 1)
    inside = end <= date(2020, 12, 31)
    result = verdict(facts(start=start, end=end))
    assert result.creditable is (inside and length >= cms.minimum_days(2020))
    assert result.claimable is result.creditable  # the documentation holds, so only the period decides


@given(start=st.dates(date(2020, 1, 1), date(2020, 12, 31)), length=st.integers(1, 366))
@example(start=date(2020, 10, 3), length=90)
@example(start=date(2020, 10, 4), length=88)
def test_a_participant_counts_exactly_when_their_own_period_has_90_days_inside_the_year(
    start: date, length: int
) -> None:
    end = start + timedelta(days=length - 1)
    valid = end <= date(2020, 12, 31) and length >= 90
    # Two of four: the group rule holds only if the second participant's own period counts.
    result = verdict(group(participants=(member(0), member(1, start, end))))
    assert result.creditable is valid
    assert result.claimable is valid
