#!/usr/bin/env python3
"""Write the synthetic sample practice that the demo loads, into sample_evidence/.

Everything here is invented: the practice, the clinicians, the registry, the survey vendor
and the "Patient A" placeholders. No real person and no real patient data.

Outputs (all overwritten on every run):

    sample_evidence/practice.csv     bulk import: practice, clinicians, attestations, participation
    sample_evidence/manifest.yaml    evidence manifest (paths relative to the manifest)
    sample_evidence/README.md        what the sample is and what each file documents
    sample_evidence/files/<year>/*   12 evidence files (PDF, TXT, CSV, PNG)

The contents are fixed, so a second run writes the same bytes (PDFs too, with the pinned
WeasyPrint; a different WeasyPrint or font set may change PDF bytes, never the text).
Standard library plus WeasyPrint only.

    python scripts/make_sample_evidence.py [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import html
import io
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "sample_evidence"
MAX_BYTES = 100_000
SOURCE_DATE_EPOCH = 1704067200  # 2024-01-01T00:00:00Z, any fixed value will do

TIN = "000123456"
PRACTICE = "Riverbend Family Medicine (synthetic)"
NOTICE = "SYNTHETIC SAMPLE - NOT REAL PATIENT DATA"
QCDR = "Prairie Outcomes Registry (synthetic QCDR)"
SURVEY_VENDOR = "Northgate Survey Partners (synthetic vendor)"

CLINICIANS = {
    "1234567893": "Dr. Avery Chen",
    "1000000004": "Dr. Blake Osei",
    "1000000012": "Dr. Casey Romero",
    "1000000020": "Dr. Devon Park",
}
STAFF = {
    "manager": "Jordan Ellis, Practice Manager",
    "nurse": "Morgan Reyes, RN, Nurse Manager",
    "ma": "Sam Okafor, CMA, Medical Assistant Lead",
    "compliance": "Riley Hart, Compliance Coordinator",
}

# (npi, year, patient-facing encounters, hospital POS %, ASC POS %)
CLINICIAN_YEARS = [
    ("1234567893", 2019, 2140, 10, 0),
    ("1000000004", 2019, 1875, 8, 0),
    ("1000000012", 2019, 1530, 12, 0),
    ("1000000020", 2019, 980, 5, 0),
    ("1234567893", 2020, 1810, 9, 0),
    ("1000000004", 2020, 1620, 7, 0),
    ("1000000012", 2020, 1290, 11, 0),
    ("1000000020", 2020, 860, 6, 0),
    ("1234567893", 2024, 2365, 10, 0),
    ("1000000004", 2024, 2010, 8, 0),
]

D = dt.date.fromisoformat

# (year, npi or None for the group, activity, start, end)
ATTESTATIONS = [
    (2019, None, "IA_PM_7", D("2019-01-01"), D("2019-12-31")),
    (2019, None, "IA_PSPA_20", D("2019-03-01"), D("2019-08-31")),
    (2020, None, "IA_PM_7", D("2020-01-01"), D("2020-12-31")),
    (2020, None, "IA_CC_9", D("2020-04-01"), D("2020-09-30")),
    (2020, None, "IA_BE_6", D("2020-07-01"), D("2020-12-31")),
    (2024, "1234567893", "IA_BE_4", D("2024-02-01"), D("2024-07-31")),
    (2024, "1234567893", "IA_PSPA_21", D("2024-05-01"), D("2024-10-31")),
]

# PY2020 group attestations: who did the activity, and when (each >= 90 consecutive days).
# IA_PM_7: 3 of 4 clinicians; IA_CC_9: 2 of 4 (exactly 50%); IA_BE_6: 1 of 4 (under 50%).
PARTICIPATION = [
    (2020, "IA_PM_7", "1234567893", D("2020-02-01"), D("2020-07-31")),
    (2020, "IA_PM_7", "1000000004", D("2020-03-02"), D("2020-08-14")),
    (2020, "IA_PM_7", "1000000012", D("2020-06-01"), D("2020-10-30")),
    (2020, "IA_CC_9", "1234567893", D("2020-04-01"), D("2020-08-31")),
    (2020, "IA_CC_9", "1000000004", D("2020-05-04"), D("2020-09-30")),
    (2020, "IA_BE_6", "1234567893", D("2020-07-01"), D("2020-11-30")),
]

CSV_HEADER = [
    "record", "tin", "npi", "name", "year", "activity", "start", "end", "pcmh", "apm",
    "rural", "hpsa", "patient_facing_encounters", "hospital_pos_pct", "asc_pos_pct",
]  # fmt: skip


# --------------------------------------------------------------------------- identifiers


def npi_is_valid(npi: str) -> bool:
    """Luhn check digit over the prefix 80840 plus the first 9 digits (CMS NPI rule)."""
    if len(npi) != 10 or not npi.isdigit() or npi[0] not in "12":
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + npi[:9])):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def days(start: dt.date, end: dt.date) -> int:
    return (end - start).days + 1


def fmt_long(d: dt.date) -> str:
    return f"{d:%B} {d.day}, {d.year}"


# --------------------------------------------------------------------------- PDF (WeasyPrint)

PDF_CSS = f"""
@page {{
  size: Letter;
  margin: 18mm 18mm 20mm 18mm;
  @bottom-left {{ content: "{NOTICE}"; font-size: 7.5pt; color: #9b1c1c; }}
  @bottom-right {{ content: "Page " counter(page) " of " counter(pages); font-size: 7.5pt;
                   color: #555; }}
}}
body {{ font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 9.5pt;
        line-height: 1.35; color: #1d1d1d; }}
.letterhead {{ border-bottom: 2px solid #1f4e79; padding-bottom: 4pt; margin-bottom: 10pt; }}
.letterhead .org {{ font-size: 13pt; font-weight: bold; color: #1f4e79; }}
.letterhead .sub {{ font-size: 8.5pt; color: #555; }}
h1 {{ font-size: 14pt; margin: 0 0 4pt 0; }}
h2 {{ font-size: 11pt; margin: 12pt 0 4pt 0; color: #1f4e79; }}
table {{ border-collapse: collapse; width: 100%; margin: 4pt 0 8pt 0; }}
th, td {{ border: 0.6pt solid #9aa7b4; padding: 3pt 5pt; text-align: left;
          vertical-align: top; }}
th {{ background: #e8eef5; }}
td.num, th.num {{ text-align: right; }}
.meta td {{ border: none; padding: 1pt 6pt 1pt 0; }}
.meta td:first-child {{ color: #555; width: 32%; }}
.box {{ border: 0.8pt solid #9aa7b4; padding: 6pt; margin: 6pt 0; }}
.sign {{ margin-top: 14pt; }}
.sign td {{ border: none; padding-top: 16pt; }}
.line {{ border-top: 0.6pt solid #333 !important; }}
.small {{ font-size: 8pt; color: #555; }}
.notice {{ margin-top: 12pt; font-size: 8pt; color: #9b1c1c; font-weight: bold; }}
"""


def make_pdf(*, title: str, author: str, created: dt.date, issuer: str, issuer_sub: str, body: str) -> bytes:
    import weasyprint  # imported here so the non-PDF parts run without it

    # fontTools stamps the current time into each embedded font subset (head.modified) unless
    # SOURCE_DATE_EPOCH is set; pin it so a rerun writes the same PDF bytes.
    os.environ.setdefault("SOURCE_DATE_EPOCH", str(SOURCE_DATE_EPOCH))

    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<meta name="author" content="{html.escape(author)}">
<meta name="description" content="{NOTICE}">
<meta name="dcterms.created" content="{created.isoformat()}">
<meta name="dcterms.modified" content="{created.isoformat()}">
<style>{PDF_CSS}</style></head>
<body>
<div class="letterhead"><div class="org">{html.escape(issuer)}</div>
<div class="sub">{html.escape(issuer_sub)}</div></div>
{body}
<p class="notice">{NOTICE}. All names, identifiers and figures are invented for demonstration.</p>
</body></html>"""
    return weasyprint.HTML(string=page).write_pdf()


def table(header: list[str], rows: list[list[object]], num_cols: tuple[int, ...] = ()) -> str:
    def cell(tag: str, i: int, v: object) -> str:
        cls = ' class="num"' if i in num_cols else ""
        return f"<{tag}{cls}>{html.escape(str(v))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def meta(pairs: list[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in pairs)
    return f'<table class="meta">{rows}</table>'


PRACTICE_SUB = f"TIN {TIN} - 400 Riverbend Parkway, Suite 2, Springfield (fictional address)"
QCDR_SUB = "Qualified Clinical Data Registry - practice feedback services (fictional)"


def qcdr_report(quarter: str, start: dt.date, end: dt.date, issued: dt.date,
                measures: list[list[object]], clinicians: list[list[object]],
                vulnerable: list[list[object]], notes: list[str]) -> bytes:  # fmt: skip
    measures_table = table(
        ["Measure", "Eligible patients", "Practice rate", "Registry median", "Trend"],
        measures,
        num_cols=(1, 2, 3),
    )
    vulnerable_table = table(
        ["Group", "Patients", "BP controlled", "HbA1c > 9% (inverse)", "Screened for SDOH"],
        vulnerable,
        num_cols=(1, 2, 3, 4),
    )
    clinicians_table = table(
        ["Clinician", "NPI", "Patients attributed", "Months submitted"],
        clinicians,
        num_cols=(2, 3),
    )
    comments = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    info = meta(
        [
            ("Practice", PRACTICE),
            ("TIN", TIN),
            ("Reporting period", f"{fmt_long(start)} - {fmt_long(end)}"),
            ("Report issued", issued.isoformat()),
            ("Registry", QCDR),
            ("Data source", "EHR extract submitted monthly by the practice"),
        ]
    )
    body = f"""
<h1>Quarterly Practice Feedback Report - {quarter}</h1>
{info}
<h2>1. Practice patterns and outcomes compared with the registry</h2>
{measures_table}
<p class="small">Rates for inverse measures (lower is better) are marked "(inverse)".
Registry median: all primary-care practices submitting in the period.</p>
<h2>2. Population health: vulnerable populations</h2>
{vulnerable_table}
<h2>3. Clinicians included in this report</h2>
{clinicians_table}
<h2>4. Registry comments</h2>
<ul>{comments}</ul>
<p class="small">This report is provided to the practice for quality-improvement use. Review it
at the monthly quality-improvement meeting and keep it with the MIPS Improvement Activities
documentation (IA_PM_7).</p>
"""
    return make_pdf(
        title=f"QCDR quarterly feedback report {quarter} - {PRACTICE}",
        author=QCDR, created=issued, issuer=QCDR, issuer_sub=QCDR_SUB, body=body,
    )  # fmt: skip


def qcdr_2019_q2() -> bytes:
    return qcdr_report(
        "Q2 2019", D("2019-04-01"), D("2019-06-30"), D("2019-07-15"),
        measures=[
            ["Diabetes: HbA1c poor control > 9% (inverse)", 412, "17.2%", "19.8%", "improving"],
            ["Controlling high blood pressure", 1038, "68.4%", "66.0%", "stable"],
            ["Depression screening and follow-up plan", 2215, "61.9%", "58.3%", "improving"],
            ["Tobacco use: screening and cessation", 2960, "88.1%", "85.5%", "stable"],
            ["Colorectal cancer screening", 1487, "63.0%", "67.2%", "below median"],
        ],
        clinicians=[
            ["Dr. Avery Chen", "1234567893", 1420, 3],
            ["Dr. Blake Osei", "1000000004", 1215, 3],
            ["Dr. Casey Romero", "1000000012", 990, 3],
            ["Dr. Devon Park", "1000000020", 640, 3],
        ],
        vulnerable=[
            ["Medicaid / dual eligible", 612, "61.5%", "24.0%", "71.0%"],
            ["Age 75 and over", 538, "70.2%", "12.4%", "64.5%"],
            ["Limited English proficiency", 204, "59.8%", "26.1%", "69.6%"],
        ],
        notes=[
            "Colorectal screening is 4.2 points below the registry median; the largest gap is "
            "among patients aged 50-59 without a visit in the last 12 months.",
            "HbA1c poor control among Medicaid / dual-eligible patients (24.0%) remains above "
            "the practice overall rate (17.2%); consider targeted outreach.",
            "Data completeness for the quarter: 98.6% of encounters matched to a clinician.",
        ],
    )  # fmt: skip


def qcdr_2020_q3() -> bytes:
    return qcdr_report(
        "Q3 2020", D("2020-07-01"), D("2020-09-30"), D("2020-10-05"),
        measures=[
            ["Diabetes: HbA1c poor control > 9% (inverse)", 398, "19.6%", "22.4%", "worse"],
            ["Controlling high blood pressure", 1002, "63.1%", "61.7%", "worse"],
            ["Depression screening and follow-up plan", 1684, "66.8%", "60.2%", "improving"],
            ["Tobacco use: screening and cessation", 2311, "86.4%", "84.9%", "stable"],
            ["Colorectal cancer screening", 1455, "65.9%", "66.1%", "improving"],
        ],
        clinicians=[
            ["Dr. Avery Chen", "1234567893", 1388, 3],
            ["Dr. Blake Osei", "1000000004", 1190, 2],
            ["Dr. Casey Romero", "1000000012", 951, 3],
        ],
        vulnerable=[
            ["Medicaid / dual eligible", 640, "57.3%", "27.5%", "74.8%"],
            ["Age 75 and over", 551, "66.9%", "14.2%", "70.1%"],
            ["Limited English proficiency", 211, "55.0%", "29.4%", "72.5%"],
        ],
        notes=[
            "Telehealth visits were 31% of encounters this quarter; blood pressure readings "
            "were missing for 18% of telehealth visits, which lowers the control rate.",
            "Dr. Devon Park did not submit data this quarter and is not included.",
            "Colorectal screening is now at the registry median (65.9% vs 66.1%).",
        ],
    )  # fmt: skip


def qcdr_participation_chen() -> bytes:
    rows = [
        ["2020-02", "2020-03-06", "2020-03-13", "received, reviewed 2020-03-16"],
        ["2020-03", "2020-04-07", "2020-04-14", "received, reviewed 2020-04-20"],
        ["2020-04", "2020-05-06", "2020-05-13", "received, reviewed 2020-05-18"],
        ["2020-05", "2020-06-05", "2020-06-12", "received, reviewed 2020-06-15"],
    ]
    info = meta(
        [
            ("Clinician", "Dr. Avery Chen"),
            ("NPI", "1234567893"),
            ("Practice / TIN", f"{PRACTICE} / {TIN}"),
            ("Registry", QCDR),
            ("Enrolled for feedback reporting", "2020-02-01"),
            ("Statement date", "2020-06-15"),
        ]
    )
    body = f"""
<h1>Clinician Participation Statement</h1>
{info}
<p>This statement confirms that the clinician named above participates in the registry's
population-health feedback program. The practice submits EHR data monthly; the registry
returns a clinician-level feedback report that summarizes local practice patterns and
treatment outcomes, including for vulnerable populations (Medicaid / dual-eligible patients,
patients aged 75 and over, and patients with limited English proficiency).</p>
<h2>Submission and feedback log</h2>
{table(["Data month", "Data submitted", "Feedback report issued", "Status"], rows)}
<h2>Measures in the clinician feedback report</h2>
<ul>
<li>Diabetes: HbA1c poor control &gt; 9% (inverse), with the vulnerable-population breakdown</li>
<li>Controlling high blood pressure</li>
<li>Depression screening and follow-up plan</li>
<li>Colorectal cancer screening</li>
</ul>
<p>Participation continues month to month; the clinician may withdraw with 30 days' notice.</p>
<table class="sign"><tr>
<td class="line" style="width:45%">Registry participation coordinator, {html.escape(QCDR)}</td>
<td style="width:10%"></td>
<td class="line" style="width:45%">Dr. Avery Chen, NPI 1234567893</td></tr></table>
"""
    return make_pdf(
        title="QCDR clinician participation statement - Dr. Avery Chen",
        author=QCDR, created=D("2020-06-15"), issuer=QCDR, issuer_sub=QCDR_SUB, body=body,
    )  # fmt: skip


def leadership_roles() -> bytes:
    roles = [
        ["Medical Director and QI Lead", "Dr. Avery Chen",
         "Guides practice change; chairs the monthly QI team meeting; reviews QCDR feedback "
         "reports with each clinician; approves improvement plans.", "4 h / month"],
        ["Practice Manager", "Jordan Ellis",
         "Administrative lead for practice improvement; schedules QI meetings; tracks action "
         "items; prepares the quarterly performance dashboard.", "6 h / month"],
        ["Nurse Manager", "Morgan Reyes, RN",
         "Leads workflow changes for clinical staff; trains medical assistants on new "
         "screening and outreach protocols.", "4 h / month"],
        ["Staff physicians", "Dr. Blake Osei, Dr. Casey Romero, Dr. Devon Park",
         "Attend QI meetings; review own feedback reports; lead one improvement project "
         "per year.", "2 h / month"],
    ]  # fmt: skip
    info = meta(
        [
            ("Document", "Policy ADM-07, revision 2"),
            ("Effective", "2019-03-04"),
            ("Approved by", "Dr. Avery Chen, Medical Director; Jordan Ellis, Practice Manager"),
            ("Next review", "2020-03-01"),
        ]
    )
    body = f"""
<h1>Clinical and Administrative Leadership: Role Descriptions for Practice Improvement</h1>
{info}
<h2>Purpose</h2>
<p>Make responsibility for guiding practice change part of every clinical and administrative
leadership role, and set aside protected time for improvement work, including regular team
meetings.</p>
<h2>Roles, responsibilities and protected time</h2>
{table(["Role", "Held by", "Practice-improvement responsibilities", "Protected time"], roles)}
<h2>Regular reviews</h2>
<p>The QI team meets on the third Monday of each month. Each meeting reviews population health,
quality and patient-experience metrics (QCDR feedback reports, the practice dashboard and
survey results) and records decisions and owners in written minutes kept by the Practice
Manager.</p>
<table class="sign"><tr>
<td class="line" style="width:45%">Dr. Avery Chen, Medical Director - 2019-03-04</td>
<td style="width:10%"></td>
<td class="line" style="width:45%">Jordan Ellis, Practice Manager - 2019-03-04</td></tr></table>
"""
    return make_pdf(
        title="Leadership role descriptions for practice improvement",
        author=PRACTICE, created=D("2019-03-04"), issuer=PRACTICE, issuer_sub=PRACTICE_SUB,
        body=body,
    )  # fmt: skip


def care_plan_template() -> bytes:
    sections = [
        ["1. Patient", "Name / MRN placeholder (e.g. Patient A); date of birth; preferred name; "
         "caregiver or proxy and contact."],
        ["2. Why this patient is at risk", "Risk score from the EHR registry; two or more "
         "chronic conditions; hospital or ED visit in the last 6 months; polypharmacy "
         "(10 or more medications)."],
        ["3. Goals and priorities", "What matters most to the patient, in his or her own words."],
        ["4. Social risk factors", "Housing, food, transportation, cost of medications, "
         "social isolation (from the SDOH screening)."],
        ["5. Language and communication", "Preferred language; interpreter needed; health "
         "literacy; preferred contact method."],
        ["6. Physical or cognitive limitations", "Mobility, vision, hearing, memory; "
         "adaptations needed."],
        ["7. Problems, actions and owners", "For each problem: action, who does it, by when."],
        ["8. Desired outcomes of care", "Measurable targets agreed with the patient "
         "(e.g. BP below 140/90, no ED visits in 90 days)."],
        ["9. Sharing and review", "Copy given to the patient / caregiver (paper or portal) "
         "on the date below; reviewed at least every 90 days and after any hospitalization."],
    ]  # fmt: skip
    info = meta(
        [
            ("Document", "Clinical procedure CC-03"),
            ("Adopted", "2020-04-06"),
            ("Owner", "Morgan Reyes, RN, Nurse Manager"),
            ("Applies to", "All clinicians billing under TIN " + TIN),
        ]
    )
    body = f"""
<h1>Individual Care Plan for At-Risk Patients: Template and Process</h1>
{info}
<h2>Process</h2>
<ol>
<li>Each week the care coordinator runs the at-risk registry report and flags patients who
meet the criteria in section 2.</li>
<li>At the next visit (in person or telehealth) the clinician and patient complete the plan
together, starting with the patient's goals and priorities.</li>
<li>The plan is shared with the patient or caregiver the same day and filed in the EHR under
"Care plan".</li>
<li>The care coordinator schedules a review within 90 days.</li>
</ol>
<h2>Template sections</h2>
{table(["Section", "What to record"], sections)}
<div class="box">Shared with: [ ] patient [ ] caregiver &nbsp; Method: [ ] paper [ ] portal
&nbsp; Date shared: __________ &nbsp; Next review: __________</div>
"""
    return make_pdf(
        title="Individual care plan template and process (CC-03)",
        author=PRACTICE, created=D("2020-04-06"), issuer=PRACTICE, issuer_sub=PRACTICE_SUB,
        body=body,
    )  # fmt: skip


# Patient-experience survey, by month (third-party vendor). The improvement plan quotes it.
SURVEY_ROWS = [
    # month, period start, period end, sent, received, overall 9-10 %, communication %,
    # timely appointments %, office staff %, would recommend %
    ("2020-07", "2020-07-01", "2020-07-31", 420, 109, 78, 89, 58, 84, 86),
    ("2020-08", "2020-08-01", "2020-08-31", 415, 112, 79, 90, 60, 85, 87),
    ("2020-09", "2020-09-01", "2020-09-30", 430, 121, 80, 90, 61, 86, 88),
    ("2020-10", "2020-10-01", "2020-10-31", 425, 117, 79, 91, 63, 85, 87),
    ("2020-11", "2020-11-01", "2020-11-27", 380, 98, 81, 91, 64, 87, 89),
]
SURVEY_BENCHMARK_TIMELY = 74


def survey_csv() -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([
        "month", "period_start", "period_end", "practice_tin", "vendor", "instrument",
        "surveys_sent", "responses_received", "response_rate_pct", "overall_rating_9_10_pct",
        "provider_communication_pct", "timely_appointments_pct", "office_staff_pct",
        "would_recommend_pct", "data_notice",
    ])  # fmt: skip
    for m, s, e, sent, got, overall, comm, timely, staff, rec in SURVEY_ROWS:
        w.writerow([
            m, s, e, TIN, SURVEY_VENDOR, "12-item visit survey (CAHPS-style)", sent, got,
            f"{100 * got / sent:.1f}", overall, comm, timely, staff, rec, NOTICE,
        ])  # fmt: skip
    return out.getvalue().encode("utf-8")


def improvement_plan() -> bytes:
    timely = [r[7] for r in SURVEY_ROWS]
    avg_timely = sum(timely) / len(timely)
    actions = [
        ["Open 12 same-day slots per day (3 per physician) held until 10:00",
         "Jordan Ellis", "2021-03-01", "Timely appointments"],
        ["Add Tuesday evening clinic (17:00-19:00), rotating physicians",
         "Dr. Avery Chen", "2021-04-06", "Timely appointments"],
        ["Call-back within 2 business hours for portal appointment requests",
         "Sam Okafor, CMA", "2021-03-01", "Timely appointments, office staff"],
        ["Share monthly survey results at the QI team meeting and in the staff huddle",
         "Morgan Reyes, RN", "2021-02-15", "All domains"],
    ]  # fmt: skip
    info = meta(
        [
            ("Plan date", "2021-02-10"),
            (
                "Based on",
                "Monthly patient-experience survey, July - November 2020, administered by " + SURVEY_VENDOR,
            ),
            ("Prepared by", "Jordan Ellis, Practice Manager, with the QI team"),
            ("Approved by", "Dr. Avery Chen, Medical Director"),
        ]
    )
    body = f"""
<h1>Patient Experience and Satisfaction Improvement Plan</h1>
{info}
<h2>What the survey showed</h2>
<p>Provider communication and office staff scores stayed high (89-91% and 84-87%).
Timely access to appointments was the lowest domain in every month: {min(timely)}% to
{max(timely)}% (average {avg_timely:.0f}%), against the vendor's benchmark of
{SURVEY_BENCHMARK_TIMELY}%. Free-text comments most often mentioned waiting more than a week
for a sick visit and phone hold times.</p>
<h2>Goal</h2>
<p>Raise "got an appointment as soon as needed" to at least {SURVEY_BENCHMARK_TIMELY}% by the
September 2021 survey month, without lowering any other domain.</p>
<h2>Actions</h2>
{table(["Action", "Owner", "Start", "Domain addressed"], actions)}
<h2>Follow-up</h2>
<p>The Practice Manager reports the timely-appointments score monthly at the QI team meeting;
the plan is reviewed in full in July 2021.</p>
"""
    return make_pdf(
        title="Patient experience and satisfaction improvement plan",
        author=PRACTICE, created=D("2021-02-10"), issuer=PRACTICE, issuer_sub=PRACTICE_SUB,
        body=body,
    )  # fmt: skip


def falls_policy() -> bytes:
    steps = [
        ["Screen", "All patients 65 and over, once a year and after any fall: STEADI "
         "Stay Independent questionnaire (12 items; score 4 or more = at risk) and the three "
         "key questions (fallen in past year? unsteady? worried about falling?).",
         "Medical assistant at rooming"],
        ["Assess", "Patients screened at risk: Timed Up and Go (12 seconds or more = at risk), "
         "30-second chair stand, 4-stage balance test; orthostatic blood pressure; vision.",
         "Clinician / nurse"],
        ["Review medications", "EHR clinical decision support prompt lists fall-risk "
         "medications (benzodiazepines, sedative hypnotics, opioids, anticholinergics); the "
         "clinician documents stop, reduce or continue with reason.", "Clinician"],
        ["Intervene", "Physical therapy referral for gait and strength; home-safety "
         "checklist; vitamin D review; footwear and vision referral as needed.", "Clinician"],
        ["Follow up", "Phone or visit follow-up within 30 days; rescreen at 12 months.",
         "Care coordinator"],
    ]  # fmt: skip
    info = meta(
        [
            ("Effective", "2024-05-01"),
            ("Approved", "2024-05-02"),
            ("Applies to", "Dr. Avery Chen (NPI 1234567893) and supporting staff"),
            ("Owner", "Morgan Reyes, RN, Nurse Manager"),
            ("Review", "Annually, next by 2025-05-01"),
        ]
    )
    body = f"""
<h1>Policy PS-21: Falls Screening and Assessment Program</h1>
{info}
<h2>Purpose</h2>
<p>Identify patients at risk for falls with valid and reliable tools (the CDC STEADI
approach) and address modifiable risk factors, including medications that increase fall
risk.</p>
<h2>Procedure</h2>
{table(["Step", "What is done", "Who"], steps)}
<h2>Documentation</h2>
<p>Screening answers, test results and interventions are recorded in the structured
"Falls risk" EHR form so that they appear in the monthly STEADI screening export. The
Nurse Manager reviews the export monthly and reports progress at the QI team meeting.</p>
<table class="sign"><tr>
<td class="line" style="width:45%">Dr. Avery Chen, Medical Director - 2024-05-02</td>
<td style="width:10%"></td>
<td class="line" style="width:45%">Morgan Reyes, RN, Nurse Manager - 2024-05-02</td></tr></table>
"""
    return make_pdf(
        title="Policy PS-21: Falls screening and assessment program",
        author=PRACTICE, created=D("2024-05-02"), issuer=PRACTICE, issuer_sub=PRACTICE_SUB,
        body=body,
    )  # fmt: skip


# --------------------------------------------------------------------------- text and CSV


def qi_minutes_2019() -> bytes:
    text = f"""{PRACTICE} - TIN {TIN}
QUALITY IMPROVEMENT TEAM MEETING - MINUTES

Date:      2019-05-20, 12:15-13:05
Location:  Conference room B
Chair:     Dr. Avery Chen, Medical Director and QI Lead
Recorder:  Jordan Ellis, Practice Manager

Present:   Dr. Avery Chen, Dr. Blake Osei, Dr. Casey Romero, Dr. Devon Park,
           Jordan Ellis (Practice Manager), Morgan Reyes, RN (Nurse Manager),
           Sam Okafor, CMA (Medical Assistant Lead)
Absent:    none

1. Previous action items
   - Colorectal screening outreach letters: 214 mailed in April (Jordan Ellis). Done.
   - MA standing order for depression screening at annual visits (Morgan Reyes). Live 2019-05-06.

2. QCDR feedback report, Q1 2019 ({QCDR})
   - Depression screening and follow-up: 57.4%, registry median 58.3%.
   - HbA1c poor control > 9%: 18.9% overall, 25.2% among Medicaid / dual-eligible patients.
   - Colorectal cancer screening: 61.8%, registry median 67.0% - largest gap.
   Discussion: each physician reviewed his or her own clinician-level page before the meeting.
   Dr. Osei noted most unscreened patients had no visit in 12 months.

3. Practice dashboard and patient experience
   - Same-day slots filled by 10:00 on 18 of 20 weekdays in April.
   - Comment cards (April): 41 received, 6 mention phone wait times.

4. Decisions
   - Protected QI time confirmed as set in policy ADM-07 (effective 2019-03-04).
   - Diabetes outreach to Medicaid / dual-eligible patients with HbA1c > 9%: nurse call
     within 14 days of result.

5. Action items
   Owner              Action                                            Due
   Morgan Reyes, RN   Start HbA1c > 9% nurse outreach calls             2019-06-03
   Jordan Ellis       Second colorectal outreach mailing (age 50-59)    2019-06-14
   Dr. Casey Romero   Draft FIT kit workflow for annual visits          2019-06-17
   Sam Okafor, CMA    Report same-day slot use for May                  2019-06-17

Next meeting: 2019-06-17 (third Monday), 12:15.

Minutes approved: Dr. Avery Chen, 2019-05-24

---
{NOTICE}. All names and figures are invented for demonstration.
"""
    return text.encode("utf-8")


# STEADI screening export (Dr. Chen's patients, May-Aug 2024). The progress minutes quote it.
# patient, age band, visit, SI score, key questions yes, TUG seconds ("" if not assessed),
# fall-risk medication reviewed, intervention, follow-up date ("" if none needed)
STEADI_ROWS = [
    ("Patient A", "65-69", "2024-05-06", 2, 0, "", "n/a", "education handout", ""),
    ("Patient B", "75-79", "2024-05-09", 6, 2, 14.2,
     "yes", "PT referral; home-safety checklist", "2024-06-05"),
    ("Patient C", "70-74", "2024-05-14", 1, 0, "", "n/a", "education handout", ""),
    ("Patient D", "80-84", "2024-05-21", 8, 3, 17.5,
     "yes", "benzodiazepine taper; PT referral", "2024-06-18"),
    ("Patient E", "65-69", "2024-05-30", 3, 1, 10.8, "yes", "vision referral", "2024-06-27"),
    ("Patient F", "70-74", "2024-06-04", 0, 0, "", "n/a", "education handout", ""),
    ("Patient G", "85+", "2024-06-11", 9, 3, 19.1,
     "yes", "PT referral; vitamin D review", "2024-07-09"),
    ("Patient H", "75-79", "2024-06-18", 2, 0, "", "n/a", "education handout", ""),
    ("Patient I", "70-74", "2024-06-27", 5, 1, 12.6,
     "yes", "home-safety checklist; footwear", "2024-07-25"),
    ("Patient J", "65-69", "2024-07-02", 1, 0, "", "n/a", "education handout", ""),
    ("Patient K", "80-84", "2024-07-11", 7, 2, 15.3,
     "yes", "sedative hypnotic stopped; PT referral", "2024-08-08"),
    ("Patient L", "75-79", "2024-07-18", 2, 0, "", "n/a", "education handout", ""),
    ("Patient M", "70-74", "2024-07-25", 4, 1, 11.4,
     "yes", "orthostatic BP follow-up", "2024-08-22"),
    ("Patient N", "65-69", "2024-08-06", 0, 0, "", "n/a", "education handout", ""),
    ("Patient O", "85+", "2024-08-15", 10, 3, 21.0,
     "yes", "PT referral; home health safety visit", "2024-09-12"),
    ("Patient P", "70-74", "2024-08-27", 3, 0, "", "n/a", "education handout", ""),
]  # fmt: skip
STEADI_ELIGIBLE = 19  # patients 65+ with a visit with Dr. Chen, 2024-05-01 to 2024-08-28


def steadi_at_risk(row: tuple) -> bool:
    return row[3] >= 4 or row[4] >= 1


def steadi_csv() -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([
        "patient", "age_band", "visit_date", "rendering_npi", "stay_independent_score",
        "key_questions_yes", "screen_result", "tug_seconds", "fall_risk_meds_reviewed",
        "intervention", "follow_up_date", "data_notice",
    ])  # fmt: skip
    for p, age, visit, si, kq, tug, meds, action, follow in STEADI_ROWS:
        result = "at risk" if steadi_at_risk((p, age, visit, si, kq)) else "not at risk"
        w.writerow([p, age, visit, "1234567893", si, kq, result, tug, meds, action, follow,
                    NOTICE])  # fmt: skip
    return out.getvalue().encode("utf-8")


def falls_minutes_2024() -> bytes:
    screened = len(STEADI_ROWS)
    at_risk = [r for r in STEADI_ROWS if steadi_at_risk(r)]
    assessed = [r for r in at_risk if r[5] != ""]
    meds = [r for r in at_risk if r[6] == "yes"]
    pt = [r for r in at_risk if "PT referral" in r[7]]
    by_month: dict[str, int] = {}
    for r in STEADI_ROWS:
        by_month[r[2][:7]] = by_month.get(r[2][:7], 0) + 1
    month_line = ", ".join(f"{m}: {n}" for m, n in sorted(by_month.items()))
    text = f"""{PRACTICE} - TIN {TIN}
FALLS SCREENING PROGRAM (IA_PSPA_21) - PROGRESS REVIEW MINUTES

Date:      2024-09-18, 12:30-13:00
Present:   Dr. Avery Chen (NPI 1234567893), Morgan Reyes, RN (Nurse Manager),
           Sam Okafor, CMA (Medical Assistant Lead), Riley Hart (Compliance Coordinator)

1. Program status
   Policy PS-21 (STEADI falls screening and assessment) effective 2024-05-01, approved
   2024-05-02. Screening at rooming started 2024-05-06 for all patients 65 and over seen
   by Dr. Chen.

2. Progress since implementation (STEADI screening export of 2024-08-30)
   - Eligible patients 65+ with a visit, 2024-05-01 to 2024-08-28: {STEADI_ELIGIBLE}
   - Screened: {screened} ({100 * screened / STEADI_ELIGIBLE:.0f}%)
     by month: {month_line}
   - Screened at risk: {len(at_risk)}
   - At-risk patients with Timed Up and Go documented: {len(assessed)} of {len(at_risk)}
   - Fall-risk medication review documented: {len(meds)} of {len(at_risk)}
   - Physical therapy referrals: {len(pt)}
   - Two fall-risk medications stopped or tapered (one benzodiazepine, one sedative
     hypnotic) after the EHR decision-support prompt.

3. Issues
   - Three eligible patients were seen by telehealth only and not screened. Decision: MA
     sends the Stay Independent questionnaire through the portal before telehealth visits.
   - Follow-up calls are due for Patient O by 2024-09-12: completed 2024-09-11.

4. Action items
   Owner              Action                                              Due
   Sam Okafor, CMA    Portal questionnaire before telehealth visits       2024-10-01
   Morgan Reyes, RN   Next export and progress review                     2024-10-16
   Riley Hart         File export, policy and minutes for MIPS evidence   2024-09-30

Next review: 2024-10-16.

Minutes approved: Dr. Avery Chen, 2024-09-19

---
{NOTICE}. Patients are placeholders (Patient A, B, ...); all figures are invented.
"""
    return text.encode("utf-8")


# --------------------------------------------------------------------------- PNG

# 5x7 bitmap font for the few characters the screenshot needs.
FONT = {
    "A": "01110 10001 10001 11111 10001 10001 10001",
    "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110",
    "D": "11110 10001 10001 10001 10001 10001 11110",
    "E": "11111 10000 10000 11110 10000 10000 11111",
    "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111",
    "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110",
    "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001",
    "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001",
    "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110",
    "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101",
    "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110",
    "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110",
    "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010",
    "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 10001 01010 00100 00100 00100",
    "Z": "11111 00001 00010 00100 01000 10000 11111",
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    "/": "00000 00001 00010 00100 01000 10000 00000",
    ":": "00000 01100 01100 00000 01100 01100 00000",
    ".": "00000 00000 00000 00000 00000 01100 01100",
    " ": "00000 00000 00000 00000 00000 00000 00000",
}

RGB = tuple[int, int, int]


class Canvas:
    def __init__(self, width: int, height: int, background: RGB):
        self.w, self.h = width, height
        self.px = [bytearray(bytes(background) * width) for _ in range(height)]

    def rect(self, x: int, y: int, w: int, h: int, color: RGB) -> None:
        for yy in range(max(0, y), min(self.h, y + h)):
            row = self.px[yy]
            for xx in range(max(0, x), min(self.w, x + w)):
                row[3 * xx : 3 * xx + 3] = bytes(color)

    def text(self, x: int, y: int, s: str, color: RGB, scale: int = 1) -> int:
        for ch in s.upper():
            for r, bits in enumerate(FONT[ch].split()):
                for c, bit in enumerate(bits):
                    if bit == "1":
                        self.rect(x + c * scale, y + r * scale, scale, scale, color)
            x += 6 * scale
        return x

    def png(self, text_chunks: dict[str, str]) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        raw = b"".join(b"\x00" + bytes(row) for row in self.px)  # filter type 0 per row
        ihdr = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)  # 8-bit RGB
        texts = b"".join(
            chunk(b"tEXt", k.encode("latin-1") + b"\x00" + v.encode("latin-1")) for k, v in text_chunks.items()
        )
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", ihdr)
            + texts
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def portal_screenshot() -> bytes:
    navy, white, grey = (31, 78, 121), (255, 255, 255), (90, 98, 108)
    light, side, line = (244, 246, 249), (226, 234, 243), (205, 213, 222)
    green, amber, teal, red = (46, 139, 87), (214, 150, 30), (0, 128, 128), (170, 30, 30)
    c = Canvas(480, 300, light)
    # title bar
    c.rect(0, 0, 480, 28, navy)
    c.rect(8, 6, 16, 16, white)
    c.rect(12, 10, 8, 8, green)
    c.text(32, 11, "RIVERBEND FAMILY MEDICINE - MY HEALTH PORTAL", white)
    c.text(410, 11, "2024-03-12", (200, 215, 230))
    # sidebar
    c.rect(0, 28, 112, 252, side)
    for i, item in enumerate(["HOME", "BLOOD PRESSURE", "MEDICATIONS", "MESSAGES", "VISITS"]):
        y = 40 + i * 22
        if i == 1:
            c.rect(0, y - 5, 112, 18, navy)
        c.text(10, y, item, white if i == 1 else grey)
    # blood-pressure card
    c.rect(122, 38, 348, 128, white)
    c.rect(122, 38, 348, 1, line)
    c.text(132, 46, "BLOOD PRESSURE LOG - PATIENT A", navy)
    c.rect(132, 146, 240, 1, grey)  # axis
    c.rect(132, 90, 240, 1, (235, 200, 200))  # 140 mmHg target line
    systolic = [152, 149, 147, 150, 144, 141, 139, 138, 136, 137, 134, 132]
    for i, s in enumerate(systolic):
        h = (s - 100) * 56 // 40  # axis = 100 mmHg, target line = 140 mmHg
        colour = amber if s >= 140 else green
        c.rect(136 + i * 20, 146 - h, 12, h, colour)
    c.text(382, 66, "LATEST", grey)
    c.text(382, 80, "132/82", navy, 2)
    c.rect(382, 118, 80, 20, teal)
    c.text(387, 125, "ADD READING", white)
    # medications card
    c.rect(122, 174, 230, 96, white)
    c.text(132, 182, "MEDICATION CHANGES", navy)
    meds = [("LISINOPRIL 20 MG DAILY", green), ("AMLODIPINE 5 MG - NEW", amber),
            ("TAKEN 6 OF 7 DAYS", grey)]  # fmt: skip
    for i, (m, col) in enumerate(meds):
        c.rect(132, 199 + i * 20, 6, 7, col)
        c.text(144, 199 + i * 20, m, grey)
    # messages card
    c.rect(360, 174, 110, 96, white)
    c.text(370, 182, "MESSAGES", navy)
    c.rect(370, 200, 90, 8, line)
    c.rect(370, 214, 70, 8, line)
    c.rect(370, 240, 90, 20, teal)
    c.text(376, 247, "ASK CARE TEAM", white)
    # footer notice
    c.rect(0, 280, 480, 20, (250, 232, 232))
    c.text(120, 287, NOTICE, red)
    return c.png({
        "Title": "Patient portal screenshot (synthetic)",
        "Description": "Enhanced patient portal: blood pressure log, patient-entered "
                       "readings, medication changes, secure messaging. " + PRACTICE,
        "Comment": NOTICE,
    })  # fmt: skip


# --------------------------------------------------------------------------- evidence list


@dataclass(frozen=True)
class Evidence:
    path: str
    year: int
    activity: str
    items: tuple[int, ...]
    effective: dt.date
    description: str
    render: Callable[[], bytes]
    npi: str | None = None
    in_period: bool = True  # False: dated outside the attested period on purpose


EVIDENCE = [
    Evidence("files/2019/qcdr-feedback-report-2019-q2.pdf", 2019, "IA_PM_7", (1,),
             D("2019-07-15"), "QCDR quarterly feedback report, Q2 2019", qcdr_2019_q2),
    Evidence("files/2019/leadership-role-descriptions.pdf", 2019, "IA_PSPA_20", (1,),
             D("2019-03-04"), "Leadership role descriptions with practice-improvement "
             "responsibilities and protected time (policy ADM-07)", leadership_roles),
    Evidence("files/2019/qi-team-meeting-minutes-2019-05.txt", 2019, "IA_PSPA_20", (2,),
             D("2019-05-20"), "QI team meeting minutes, May 2019 (agenda, QCDR review, "
             "action items)", qi_minutes_2019),
    Evidence("files/2020/qcdr-feedback-report-2020-q3.pdf", 2020, "IA_PM_7", (1,),
             D("2020-10-05"), "QCDR quarterly feedback report, Q3 2020", qcdr_2020_q3),
    Evidence("files/2020/qcdr-participation-chen.pdf", 2020, "IA_PM_7", (1,),
             D("2020-06-15"), "QCDR participation statement and feedback log for "
             "Dr. Avery Chen", qcdr_participation_chen, npi="1234567893"),
    Evidence("files/2020/care-plan-template.pdf", 2020, "IA_CC_9", (1,),
             D("2020-04-06"), "Individual care plan template and process for at-risk "
             "patients (CC-03)", care_plan_template),
    Evidence("files/2020/patient-experience-survey-2020.csv", 2020, "IA_BE_6", (1,),
             D("2020-11-30"), "Patient-experience survey results by month, July-November "
             "2020 (third-party vendor export)", survey_csv),
    Evidence("files/2020/patient-experience-improvement-plan.pdf", 2020, "IA_BE_6", (2,),
             D("2021-02-10"), "Patient experience and satisfaction improvement plan",
             improvement_plan, in_period=False),
    Evidence("files/2024/patient-portal-screenshot.png", 2024, "IA_BE_4", (1,),
             D("2024-03-12"), "Screenshot of the enhanced patient portal (blood pressure "
             "log, medication changes, messaging)", portal_screenshot, npi="1234567893"),
    Evidence("files/2024/falls-screening-policy.pdf", 2024, "IA_PSPA_21", (1,),
             D("2024-05-02"), "Falls screening and assessment policy PS-21 (STEADI)",
             falls_policy, npi="1234567893"),
    Evidence("files/2024/falls-program-progress-minutes.txt", 2024, "IA_PSPA_21", (2,),
             D("2024-09-18"), "Falls program progress review minutes, September 2024",
             falls_minutes_2024, npi="1234567893"),
    Evidence("files/2024/steadi-screening-export.csv", 2024, "IA_PSPA_21", (2,),
             D("2024-08-30"), "STEADI falls screening export, May-August 2024", steadi_csv,
             npi="1234567893"),
]  # fmt: skip


# --------------------------------------------------------------------------- consistency


def check() -> None:
    """Fail loudly if the fixed data contradicts itself (bad NPI, short period, ...)."""
    problems = [f"NPI {n} fails the Luhn check" for n in CLINICIANS if not npi_is_valid(n)]
    attested = {(y, n, a): (s, e) for y, n, a, s, e in ATTESTATIONS}
    billing = {(n, y) for n, y, *_ in CLINICIAN_YEARS}
    for y, n, a, s, e in ATTESTATIONS:
        if days(s, e) < 90 or s.year != y or e.year != y:
            problems.append(f"{y} {a}: period {s}..{e} not 90+ days inside the year")
        if n is not None and (n, y) not in billing:
            problems.append(f"{y} {a}: NPI {n} does not bill under the TIN in {y}")
    for y, a, n, s, e in PARTICIPATION:
        period = attested.get((y, None, a))
        if period is None:
            problems.append(f"participation {y} {a} {n}: no group attestation")
        elif not (period[0] <= s <= e <= period[1]) or days(s, e) < 90:
            problems.append(f"participation {y} {a} {n}: {s}..{e} not 90+ days in {period}")
        if (n, y) not in billing:
            problems.append(f"participation {y} {a} {n}: not billing under the TIN in {y}")
    for ev in EVIDENCE:
        period = attested.get((ev.year, ev.npi, ev.activity)) or attested.get((ev.year, None, ev.activity))
        if period is None:
            problems.append(f"{ev.path}: no attestation {ev.year} {ev.activity}")
        elif (period[0] <= ev.effective <= period[1]) != ev.in_period:
            problems.append(f"{ev.path}: effective {ev.effective} vs period {period}")
        if not ev.path.startswith(f"files/{ev.year}/"):
            problems.append(f"{ev.path}: not under files/{ev.year}/")
    if len(EVIDENCE) != 12 or len({ev.path for ev in EVIDENCE}) != 12:
        problems.append("expected 12 distinct evidence files")
    if problems:
        raise SystemExit("inconsistent sample data:\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------- outputs


def practice_csv() -> bytes:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=CSV_HEADER, lineterminator="\n", restval="")
    w.writeheader()
    w.writerow({"record": "practice", "tin": TIN, "name": PRACTICE, "pcmh": "no",
                "apm": "none"})  # fmt: skip
    for npi, year, encounters, hosp, asc in CLINICIAN_YEARS:
        w.writerow({
            "record": "clinician", "tin": TIN, "npi": npi, "name": CLINICIANS[npi],
            "year": year, "rural": "no", "hpsa": "no", "patient_facing_encounters": encounters,
            "hospital_pos_pct": hosp, "asc_pos_pct": asc,
        })  # fmt: skip
    for year, npi, activity, start, end in ATTESTATIONS:
        w.writerow({
            "record": "attestation", "tin": TIN, "npi": npi or "", "year": year,
            "activity": activity, "start": start.isoformat(), "end": end.isoformat(),
        })  # fmt: skip
    for year, activity, npi, start, end in PARTICIPATION:
        w.writerow({
            "record": "participation", "tin": TIN, "npi": npi, "year": year,
            "activity": activity, "start": start.isoformat(), "end": end.isoformat(),
        })  # fmt: skip
    return out.getvalue().encode("utf-8")


def yaml_scalar(s: str) -> str:
    """A plain YAML scalar when that is unambiguous, else a double-quoted one."""
    plain_ok = (
        s
        and s == s.strip()
        and s[0] not in "-?:,[]{}#&*!|>'\"%@`"
        and ": " not in s
        and " #" not in s
        and s.lower() not in {"yes", "no", "true", "false", "on", "off", "null", "~"}
        and not s.replace(".", "", 1).isdigit()
    )
    if plain_ok:
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def manifest_yaml() -> bytes:
    lines = [
        "# Evidence manifest for the synthetic sample practice. Paths are relative to this file.",
        "# Generated by scripts/make_sample_evidence.py; edit the script, not this file.",
        "evidence:",
    ]
    for ev in EVIDENCE:
        lines += [
            f"  - path: {ev.path}",
            f'    tin: "{TIN}"',
            f"    year: {ev.year}",
            f"    activity: {ev.activity}",
            f"    items: [{', '.join(str(i) for i in ev.items)}]",
        ]
        if ev.npi:
            lines.append(f'    npi: "{ev.npi}"')
        lines += [
            f"    effective_date: {ev.effective.isoformat()}",
            f"    description: {yaml_scalar(ev.description)}",
        ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def readme_md() -> bytes:
    rows = []
    for ev in EVIDENCE:
        who = f"NPI {ev.npi}" if ev.npi else "group"
        items = ", ".join(str(i) for i in ev.items)
        rows.append(
            f"| `{ev.path}` | {ev.year} {ev.activity} item {items} ({who}) | "
            f"{ev.effective.isoformat()} | {ev.description} |"
        )
    attest = "\n".join(
        f"| {y} | {a} | {'individual, NPI ' + n if n else 'group'} | {s} | {e} |" for y, n, a, s, e in ATTESTATIONS
    )
    part = "\n".join(f"| {a} | {CLINICIANS[n]} ({n}) | {s} | {e} | {days(s, e)} |" for _, a, n, s, e in PARTICIPATION)
    clinicians = "\n".join(f"| {n} | {name} |" for n, name in CLINICIANS.items())
    evidence_rows = "\n".join(rows)
    clinician_columns = (
        "| clinician | tin, npi, name, year (one row per year billed under the TIN), rural, hpsa, "
        "patient_facing_encounters, hospital_pos_pct, asc_pos_pct |"
    )
    text = f"""# Sample evidence: {PRACTICE}

**Fully synthetic.** The practice, clinicians, registry, survey vendor and every figure are
invented; patients appear only as placeholders ("Patient A"). Nothing here is real patient
data. The demo loads this folder; `scripts/make_sample_evidence.py` regenerates all of it
(edit the script, not the files).

- Practice: TIN `{TIN}`, {PRACTICE}; not a PCMH, no APM.
- Clinicians (NPIs pass the Luhn check): all four bill under the TIN in 2019 and 2020; only
  Dr. Chen and Dr. Osei in 2024.

| NPI | Name |
|---|---|
{clinicians}

## Attestations

| Year | Activity | Reported as | Start | End |
|---|---|---|---|---|
{attest}

PY2020 participation (group reporting from 2020 on needs at least 50% of the TIN's clinicians,
each for 90 consecutive days of their own):

| Activity | Clinician | Start | End | Days |
|---|---|---|---|---|
{part}

IA_PM_7: 3 of 4 clinicians (75%); IA_CC_9: 2 of 4 (exactly 50%); IA_BE_6: 1 of 4 (25%).

## Evidence files

| File | Documents | Effective | Description |
|---|---|---|---|
{evidence_rows}

## Deliberate gaps (the demo's reports should show them)

- **IA_CC_9 item 2** (care plans shared with patients, from the medical record) has no
  evidence: the missing-documentation report must list it.
- **IA_BE_6 item 2**, the improvement plan, is dated 2021-02-10, after the attested period
  (2020-07-01 to 2020-12-31): it must be flagged as outside the period.
- **IA_BE_6 participation** is 1 of 4 clinicians, under the 50% that PY2020 group
  reporting requires.

## practice.csv (bulk import)

UTF-8, one header row:
`{",".join(CSV_HEADER)}`.
Each row's `record` is `practice`, `clinician`, `attestation` or `participation`; cells that
do not apply are empty. Booleans are `yes`/`no` (empty = no), dates are ISO `YYYY-MM-DD`.

| record | columns used |
|---|---|
| practice | tin, name; pcmh, apm (`none` or the APM) with the `year` they are facts of |
{clinician_columns}
| attestation | tin, npi (empty for a group attestation), year, activity, start, end |
| participation | tin, npi, year, activity, start, end: one clinician's own period |

## manifest.yaml (evidence manifest)

A list under `evidence:`; each entry has `path` (relative to the manifest), `tin` (quoted
string, leading zeros kept), `year`, `activity`, `items` (list of the activity's numbered
suggested-documentation items the file supports), `npi` (quoted; only for an individual's
evidence), `effective_date` (the date the document shows) and `description`.
"""
    return text.encode("utf-8")


def write(path: Path, data: bytes) -> None:
    if len(data) > MAX_BYTES:
        raise SystemExit(f"{path}: {len(data)} bytes, over the {MAX_BYTES} limit")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_bytes() == data:
        return  # unchanged: keep the file (and its mtime) as it is
    path.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT})")  # fmt: skip
    args = parser.parse_args(argv)
    check()
    out: Path = args.out
    write(out / "practice.csv", practice_csv())
    for ev in EVIDENCE:
        write(out / ev.path, ev.render())
    write(out / "manifest.yaml", manifest_yaml())
    write(out / "README.md", readme_md())
    print(f"wrote {len(EVIDENCE)} evidence files, practice.csv, manifest.yaml, README.md to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
