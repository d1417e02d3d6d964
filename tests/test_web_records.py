"""Practice records in the browser (/records): listing, adding, correcting, deleting and the CSV
import, for every role that matters, with the library's refusals shown and nothing written."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence.app import App
from evidence.db.models import Event
from tests.access_helpers import cheap_argon2  # noqa: F401 - fixture
from tests.web_helpers import HOSTILE, OTHER, TIN, Web, csrf_of, open_web, sign_in

# backend_neutral: the PostgreSQL pass runs only the tests marked postgresql here, each a flow through the
# library; the refusals stay in the SQLite pass (the rule: tests/conftest.py).
pytestmark = [pytest.mark.usefixtures("cheap_argon2"), pytest.mark.backend_neutral]

PAGE = f"/records?tin={TIN}"
MISSING_TIN = "000999888"  # valid, never added


@pytest.fixture
def web(run, app: App) -> Iterator[Web]:
    yield from open_web(run, app)


def _as(web: Web, name: str) -> tuple[TestClient, str]:
    """A client signed in as `name`, and the CSRF token its pages carry."""
    client = web.fresh_client()
    assert sign_in(client, name).status_code == 303
    return client, csrf_of(client.get("/records").text)


def _post(client: TestClient, csrf: str, path: str, **fields: str) -> object:
    return client.post(path, data={"csrf_token": csrf, **fields})


def _events(app: App, action: str) -> list[Event]:
    with app.read() as db:
        return list(db.scalars(select(Event).where(Event.action == action).order_by(Event.seq)))


def _attestation_id(html: str, activity: str, year: int) -> int:
    match = re.search(rf"<td>(\d+)</td><td>{year}</td>\s*<td><a href=\"/activity\?[^\"]*activity={activity}", html)
    assert match, f"no {activity} {year} row"
    return int(match[1])


def _participation_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'action="/records/participations/(\d+)/edit"', html)]


ATTEST_2020 = {"tin": TIN, "activity": "IA_EPA_1", "year": "2020", "start": "2020-01-01", "end": "2020-06-30"}


# --- Reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/records", PAGE, f"{PAGE}&year=2020"])
def test_anonymous_is_sent_to_sign_in(web: Web, path: str) -> None:
    response = web.client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=/records")


def test_a_viewer_sees_clinicians_attestations_participation_and_no_forms(web: Web) -> None:
    client, _ = _as(web, "vic")
    html = client.get(f"{PAGE}&year=2020").text
    assert "Riverbend Family Medicine (synthetic)" in html
    assert "Dr. Blake Osei" in html and "1000000004" in html
    assert "/activity?tin=000123456&amp;year=2020&amp;activity=IA_PM_7" in html  # the group's activity page
    assert "group, 3 participating" in html
    assert "2020-03-02 to 2020-08-14" in html  # Dr. Osei's own IA_PM_7 period
    assert "2019-01-01" not in html  # the year selector limits every table
    assert 'action="/records/' not in html  # a viewer gets no form that changes anything
    individual = client.get(f"{PAGE}&year=2024").text
    assert "activity=IA_BE_4&amp;npi=1234567893" in individual  # an individual attestation links with its NPI
    assert '<option value="2019">2019</option>' in individual


@pytest.mark.postgresql
def test_the_index_lists_granted_practices_only(web: Web) -> None:
    client, _ = _as(web, "olga")
    html = client.get("/records").text
    assert f"/records?tin={TIN}" in html and OTHER not in html
    assert "an admin adds a practice and grants it" in html  # no add-practice form for a limited officer
    assert 'action="/records/import"' in html


@pytest.mark.parametrize("name", ["nog", "ogre"])
def test_a_practice_not_granted_answers_like_one_that_does_not_exist(web: Web, name: str) -> None:
    client, _ = _as(web, name)
    hidden, absent = client.get(PAGE), client.get(f"/records?tin={MISSING_TIN}")
    assert (hidden.status_code, absent.status_code) == (404, 404)
    assert f"no practice with TIN {TIN}" in hidden.text
    assert hidden.text.replace(TIN, "X") == absent.text.replace(MISSING_TIN, "X")


def test_a_bad_year_or_tin_is_one_line_400(web: Web) -> None:
    client, _ = _as(web, "vic")
    assert client.get(f"{PAGE}&year=20x0").status_code == 400
    response = client.get("/records?tin=12345")
    assert response.status_code == 400 and "Traceback" not in response.text


def test_hostile_names_are_shown_escaped(web: Web) -> None:
    client, _ = _as(web, "ada")
    for html in (client.get("/records").text, client.get(f"/records?tin={OTHER}").text):
        assert "<script>" not in html and "\u202e" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;Sons&#34;" in html
        assert "[U+202E]" in html


# --- Adding -------------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_an_admin_adds_a_practice_with_a_year_and_sees_it(web: Web, app: App) -> None:
    client, csrf = _as(web, "ada")
    fields = {"tin": MISSING_TIN, "name": "Lakeside <b>Clinic</b>", "year": "2024", "pcmh": "yes", "apm": "none"}
    response = _post(client, csrf, "/records/practices", **fields)
    assert response.status_code == 303
    assert response.headers["location"] == f"/records?tin={MISSING_TIN}"
    html = client.get(response.headers["location"]).text
    assert f"practice {MISSING_TIN} added" in html and "Lakeside &lt;b&gt;Clinic&lt;/b&gt;" in html
    assert "<td>2024</td><td>the TIN</td><td>mips</td>\n        <td>yes</td>" in html
    assert "added" not in client.get(f"/records?tin={MISSING_TIN}").text  # the notice is shown once
    (event,) = _events(app, "practice.add")[-1:]
    assert (event.actor, event.tin) == ("ada", MISSING_TIN)


def test_a_limited_officer_and_a_viewer_may_not_add_a_practice(web: Web, dump) -> None:
    before = dump()
    for name, wording in [("olga", "an admin adds the practice and grants it"), ("vic", "may not add")]:
        client, csrf = _as(web, name)
        response = _post(client, csrf, "/records/practices", tin=MISSING_TIN, name="New")
        assert response.status_code == 403 and wording in response.text
    assert dump() == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tin": "12345678", "name": "Short"}, "is not 9 digits"),
        ({"tin": MISSING_TIN, "name": "  "}, "practice name is empty"),
        ({"tin": TIN, "name": "Again"}, f"practice {TIN} already exists"),
        ({"tin": MISSING_TIN, "name": "N", "pcmh": "yes"}, "give its year"),
    ],
)
def test_a_refused_practice_re_shows_the_page_and_writes_nothing(web: Web, dump, fields, message) -> None:
    client, csrf = _as(web, "ada")
    before = dump()
    response = _post(client, csrf, "/records/practices", **fields)
    assert response.status_code in (400, 409)
    assert message in response.text and 'action="/records/practices"' in response.text
    assert dump() == before


@pytest.mark.postgresql
def test_an_officer_adds_a_clinician_and_the_viewer_sees_it(web: Web, app: App) -> None:
    client, csrf = _as(web, "olga")
    fields = {"tin": TIN, "npi": "1245319599", "name": "Dr. Eden Ruiz", "year": "2020", "rural": "yes"}
    response = _post(client, csrf, "/records/clinicians", **fields, patient_facing_encounters="120")
    assert response.status_code == 303 and response.headers["location"] == f"{PAGE}&year=2020"
    assert "clinician 1245319599 bills under 000123456 in 2020" in client.get(response.headers["location"]).text
    viewer, _ = _as(web, "vic")
    assert "Dr. Eden Ruiz" in viewer.get(f"{PAGE}&year=2020").text
    assert _events(app, "clinician.add")[-1].actor == "olga"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"npi": "1245319598"}, "check digit"),
        ({"npi": "1245319599", "hospital_pos_pct": "120"}, "not between 0 and 100"),
        ({"npi": "1245319599", "patient_facing_encounters": "-4"}, "patient-facing encounters"),
        ({"npi": "1000000004", "name": "Dr. Someone Else"}, "already recorded as"),
    ],
)
def test_a_refused_clinician_is_one_line_and_nothing_is_written(web: Web, dump, fields, message) -> None:
    client, csrf = _as(web, "olga")
    before = dump()
    response = _post(
        client, csrf, "/records/clinicians", **{"tin": TIN, "name": "Dr. Eden Ruiz", "year": "2020", **fields}
    )
    assert response.status_code in (400, 409), response.text
    assert message in response.text and "Dr. Blake Osei" in response.text  # the page again, with the line
    assert dump() == before


@pytest.mark.postgresql
def test_an_attestation_is_added_and_links_to_its_activity_page(web: Web, app: App) -> None:
    client, csrf = _as(web, "olga")
    response = _post(client, csrf, "/records/attestations", **ATTEST_2020)
    assert response.status_code == 303
    html = client.get(response.headers["location"]).text
    assert "the group attested IA_EPA_1 for 2020" in html
    assert "/activity?tin=000123456&amp;year=2020&amp;activity=IA_EPA_1" in html
    assert _events(app, "attest")[-1].actor == "olga"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"end": "2020-02-15"}, "90"),
        ({"activity": "IA_NOPE_1"}, "IA_NOPE_1"),
        ({"start": "2020-13-01"}, "start"),
        ({"npi": "1245319599"}, "does not bill under TIN"),
        ({"activity": "IA_PM_7", "start": "2020-01-01", "end": "2020-12-31"}, "already attested"),
    ],
)
def test_a_refused_attestation_shows_the_library_line(web: Web, dump, changes, message) -> None:
    client, csrf = _as(web, "olga")
    before = dump()
    response = _post(client, csrf, "/records/attestations", **{**ATTEST_2020, **changes})
    assert response.status_code in (400, 404, 409)
    assert message in response.text and "<h1>" in response.text
    assert dump() == before


@pytest.mark.postgresql
def test_a_participation_is_added_to_a_group_attestation(web: Web, app: App) -> None:
    client, csrf = _as(web, "olga")
    fields = {"tin": TIN, "npi": "1000000020", "activity": "IA_PM_7", "year": "2020"}
    short = _post(client, csrf, "/records/participations", **fields, start="2020-01-01", end="2020-01-31")
    assert short.status_code == 400 and "90" in short.text
    response = _post(client, csrf, "/records/participations", **fields, start="2020-02-01", end="2020-06-30")
    assert response.status_code == 303
    assert "group, 4 participating" in client.get(f"{PAGE}&year=2020").text
    assert _events(app, "participate")[-1].actor == "olga"


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/records/clinicians", {"tin": TIN, "npi": "1245319599", "name": "Dr. E", "year": "2020"}),
        ("/records/attestations", ATTEST_2020),
        ("/records/participations", {**ATTEST_2020, "npi": "1000000020", "activity": "IA_PM_7"}),
    ],
)
def test_adding_is_refused_to_a_viewer_and_hidden_from_another_practice(web: Web, dump, path, fields) -> None:
    before = dump()
    viewer, csrf = _as(web, "vic")
    assert _post(viewer, csrf, path, **fields).status_code == 403
    outsider, csrf = _as(web, "ogre")
    response = _post(outsider, csrf, path, **fields)
    assert response.status_code == 404 and f"no practice with TIN {TIN}" in response.text
    officer, _ = _as(web, "olga")
    assert officer.post(path, data=fields).status_code == 403  # no CSRF token
    assert dump() == before


# --- Corrections ----------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_an_attestation_period_is_corrected_with_a_reason(web: Web, app: App, dump) -> None:
    client, csrf = _as(web, "olga")
    html = client.get(f"{PAGE}&year=2020").text
    attestation = _attestation_id(html, "IA_CC_9", 2020)
    path = f"/records/attestations/{attestation}/edit"
    before = dump()
    no_reason = _post(client, csrf, path, tin=TIN, year="2020", end="2020-10-31", reason=" ")
    assert no_reason.status_code == 400 and "needs a --reason" in no_reason.text
    assert dump() == before
    response = _post(client, csrf, path, tin=TIN, year="2020", end="2020-10-31", reason="QCDR contract <ended>")
    assert response.status_code == 303
    assert "now covers 2020-04-01 to 2020-10-31" in client.get(response.headers["location"]).text
    event = _events(app, "attestation.edit")[-1]
    assert event.actor == "olga" and json.loads(event.details)["reason"] == "QCDR contract <ended>"


def test_an_attestation_id_of_another_practice_reads_as_no_such_id(web: Web, dump) -> None:
    admin, _ = _as(web, "ada")
    attestation = _attestation_id(admin.get(f"{PAGE}&year=2020").text, "IA_CC_9", 2020)
    outsider, csrf = _as(web, "ogre")
    before = dump()
    for action in ("edit", "delete"):
        hidden = _post(outsider, csrf, f"/records/attestations/{attestation}/{action}", end="2020-10-31", reason="r")
        absent = _post(outsider, csrf, f"/records/attestations/99999/{action}", end="2020-10-31", reason="r")
        assert (hidden.status_code, absent.status_code) == (404, 404)
        assert hidden.text.replace(f"id {attestation}", "id N") == absent.text.replace("id 99999", "id N")
    viewer, csrf = _as(web, "vic")
    assert (
        _post(viewer, csrf, f"/records/attestations/{attestation}/edit", end="2020-10-31", reason="r").status_code
        == 403
    )
    assert dump() == before


@pytest.mark.postgresql
def test_deleting_an_attestation_needs_unlink_and_is_refused_under_a_hold(web: Web, app: App, run, dump) -> None:
    client, csrf = _as(web, "olga")
    attestation = _attestation_id(client.get(f"{PAGE}&year=2020").text, "IA_BE_6", 2020)
    path = f"/records/attestations/{attestation}/delete"
    before = dump()
    linked = _post(client, csrf, path, tin=TIN, year="2020", reason="wrong activity")
    assert linked.status_code == 409 and "evidence link" in linked.text
    run("hold", "add", "--tin", TIN, "--year", "2020", "--reason", "CMS audit letter")
    held_before = dump()
    held = _post(client, csrf, path, tin=TIN, year="2020", reason="wrong activity", unlink="yes")
    assert held.status_code == 409 and "legal hold" in held.text
    assert dump() == held_before != before
    run("hold", "release", "1", "--reason", "letter withdrawn")
    response = _post(client, csrf, path, tin=TIN, year="2020", reason="wrong activity", unlink="yes")
    assert response.status_code == 303
    html = client.get(response.headers["location"]).text
    assert f"attestation {attestation} (000123456 PY2020 IA_BE_6, group) deleted" in html
    assert "activity=IA_BE_6" not in html
    assert _events(app, "attestation.delete")[-1].actor == "olga"


def _participation_of(html: str, activity: str, npi: str) -> int:
    match = re.search(rf'<td>(\d+)</td><td>2020</td><td class="id">{activity}</td><td class="id">{npi}', html)
    assert match, f"no {activity} participation of {npi}"
    return int(match[1])


@pytest.mark.postgresql
def test_a_participation_is_corrected_then_deleted(web: Web, app: App, dump) -> None:
    client, csrf = _as(web, "olga")
    html = client.get(f"{PAGE}&year=2020").text
    osei, chen = _participation_of(html, "IA_PM_7", "1000000004"), _participation_of(html, "IA_PM_7", "1234567893")
    edit = f"/records/participations/{osei}/edit"
    before = dump()
    short = _post(client, csrf, edit, tin=TIN, year="2020", start="2020-07-01", reason="r")
    assert short.status_code == 400 and "90" in short.text
    assert dump() == before
    response = _post(client, csrf, edit, tin=TIN, year="2020", start="2020-03-01", reason="joined in March")
    assert response.status_code == 303
    shown = client.get(f"{PAGE}&year=2020").text
    assert f"participation {osei} (NPI 1000000004) now covers 2020-03-01 to 2020-08-14" in shown
    assert _events(app, "participation.edit")[-1].actor == "olga"
    # Dr. Chen's own QCDR statement is linked to his participation: the library names the link first.
    linked = _post(client, csrf, f"/records/participations/{chen}/delete", tin=TIN, year="2020", reason="r")
    assert linked.status_code == 409 and "remove them with" in linked.text
    delete = f"/records/participations/{osei}/delete"
    assert _post(client, csrf, delete, tin=TIN, year="2020", reason=" ").status_code == 400
    response = _post(client, csrf, delete, tin=TIN, year="2020", reason="did not take part")
    assert response.status_code == 303
    html = client.get(f"{PAGE}&year=2020").text
    assert f"participation {osei} (NPI 1000000004 in 000123456 PY2020 IA_PM_7) deleted" in html
    assert osei not in _participation_ids(html) and chen in _participation_ids(html)
    assert _events(app, "participation.delete")[-1].actor == "olga"


def test_participation_corrections_are_refused_to_viewers_and_outsiders(web: Web, dump) -> None:
    admin, _ = _as(web, "ada")
    some = _participation_ids(admin.get(f"{PAGE}&year=2020").text)[0]
    before = dump()
    viewer, csrf = _as(web, "vic")
    assert _post(viewer, csrf, f"/records/participations/{some}/delete", reason="r").status_code == 403
    outsider, csrf = _as(web, "ogre")
    response = _post(outsider, csrf, f"/records/participations/{some}/delete", reason="r")
    assert response.status_code == 404 and f"no participation with id {some}" in response.text
    assert dump() == before


@pytest.mark.postgresql
def test_a_clinician_update_and_practice_facts_are_corrected(web: Web, app: App, dump) -> None:
    client, csrf = _as(web, "olga")
    before = dump()
    nothing = _post(client, csrf, "/records/clinicians/update", tin=TIN, npi="1000000004", year="2020", reason="r")
    assert nothing.status_code == 400 and "give at least one input" in nothing.text
    bad = _post(
        client, csrf, "/records/clinicians/update", tin=TIN, npi="1000000004", year="2020", rural="maybe", reason="r"
    )
    assert bad.status_code == 400 and "rural must be yes, no" in bad.text
    assert dump() == before
    fields = {"tin": TIN, "npi": "1000000004", "year": "2020", "rural": "yes", "reason": "ZIP is rural"}
    response = _post(client, csrf, "/records/clinicians/update", **fields)
    assert response.status_code == 303
    assert "rural=False -&gt; rural=True" in client.get(response.headers["location"]).text
    renamed = _post(client, csrf, "/records/practice/set", tin=TIN, name="Riverbend <Clinic>", reason="new sign")
    assert renamed.status_code == 303
    assert "Riverbend &lt;Clinic&gt;" in client.get(PAGE).text
    year = _post(client, csrf, "/records/practice/set", tin=TIN, year="2020", apm="app", reason="APP")
    assert year.status_code == 400 and "APP" in year.text  # not allowed before PY2021: the rule's line
    year = _post(client, csrf, "/records/practice/set", tin=TIN, year="2020", pcmh="yes", reason="NCQA letter")
    assert year.status_code == 303
    assert "<td>2020</td><td>the TIN</td><td>mips</td>\n        <td>yes</td>" in client.get(PAGE).text
    assert [e.actor for e in _events(app, "clinician.update") + _events(app, "practice.set")] == ["olga", "olga"]
    assert _events(app, "practice.year")[-1].actor == "olga"


def test_practice_corrections_are_refused_to_viewers_and_outsiders(web: Web, dump) -> None:
    before = dump()
    viewer, csrf = _as(web, "vic")
    assert _post(viewer, csrf, "/records/practice/set", tin=TIN, name="X", reason="r").status_code == 403
    outsider, csrf = _as(web, "ogre")
    assert _post(outsider, csrf, "/records/practice/set", tin=TIN, name="X", reason="r").status_code == 404
    assert _post(outsider, csrf, "/records/clinicians/update", tin=TIN, npi="1000000004", year="2020", rural="yes",
                 reason="r").status_code == 404  # fmt: skip
    assert dump() == before


# --- CSV import -----------------------------------------------------------------------------------

HEADER = "record,tin,npi,name,year,activity,start,end\n"
GOOD = (
    HEADER
    + f"clinician,{TIN},1245319599,Dr. Eden Ruiz,2020,,,\n"
    + f"attestation,{TIN},,,2020,IA_EPA_1,2020-01-01,2020-06-30\n"
    + f"participation,{TIN},1245319599,,2020,IA_EPA_1,2020-02-01,2020-06-30\n"
)
BAD = (
    HEADER
    + f"clinician,{TIN},1245319599,Dr. Eden Ruiz,2020,,,\n"
    + f"attestation,{TIN},,,2020,IA_EPA_1,2020-01-01,2020-01-20\n"
    + f"clinician,{TIN},1245319598,<b>Dr. Bad</b>,2020,,,\n"
)


def _import(client: TestClient, csrf: str, text: str | bytes, mode: str = "import", name: str = "rows.csv") -> object:
    # csrf_token is the first part of the form (the streaming multipart check reads it there) and
    # the header too, which the CSRF check of today accepts for a multipart body.
    return client.post(
        "/records/import",
        data={"csrf_token": csrf, "mode": mode, "tin": TIN},
        files={"file": (name, text.encode("utf-8") if isinstance(text, str) else text, "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )


@pytest.mark.postgresql
def test_a_csv_import_adds_its_rows_and_says_what_it_added(web: Web, app: App) -> None:
    client, csrf = _as(web, "olga")
    response = _import(client, csrf, GOOD)
    assert response.status_code == 303 and response.headers["location"] == PAGE
    html = client.get(PAGE + "&year=2020").text
    assert "rows.csv: added 0 practices, 1 clinician, 1 attestation, 1 participation; 0 rows already present" in html
    assert "Dr. Eden Ruiz" in html and "activity=IA_EPA_1" in html
    (event,) = _events(app, "import")[-1:]
    assert event.actor == "olga" and json.loads(event.details)["file"] == "rows.csv"
    again = _import(client, csrf, GOOD)
    assert again.status_code == 303
    assert (
        "added 0 practices, 0 clinicians, 0 attestations, 0 participations; 3 rows already present"
        in client.get(PAGE).text
    )


def test_a_csv_with_bad_rows_lists_each_and_imports_nothing(web: Web, dump) -> None:
    client, csrf = _as(web, "olga")
    before = dump()
    response = _import(client, csrf, BAD, name="../../etc/<x>.csv")
    assert response.status_code == 400
    html = response.text
    assert "&lt;x&gt;.csv: 2 problems" in html and "etc/" not in html
    assert re.search(r"<li>line 3 \(attestation\): [^<]*90", html)
    assert re.search(r"<li>line 4 \(clinician\): [^<]*check digit", html)
    assert "no row of &lt;x&gt;.csv was imported" in html and "<b>Dr. Bad" not in html
    assert dump() == before


def test_a_csv_preview_checks_every_row_and_writes_nothing(web: Web, dump) -> None:
    client, csrf = _as(web, "olga")
    before = dump()
    response = _import(client, csrf, GOOD, mode="preview")
    assert response.status_code == 200
    assert "would add 0 practices, 1 clinician, 1 attestation, 1 participation" in response.text
    assert "Nothing was written" in response.text
    bad = _import(client, csrf, BAD, mode="preview")
    assert bad.status_code == 400 and "2 problems" in bad.text
    assert dump() == before


@pytest.mark.postgresql
def test_a_csv_naming_a_practice_not_granted_is_refused_row_by_row(web: Web, dump) -> None:
    client, csrf = _as(web, "olga")
    before = dump()
    text = (
        HEADER
        + f"practice,{OTHER},,Renamed,,,,\n"
        + f"practice,{MISSING_TIN},,New,,,,\n"
        + f"clinician,{TIN},1245319599,Dr. E,2020,,,\n"
    )
    response = _import(client, csrf, text)
    assert response.status_code == 400
    assert f"line 2, column tin: TIN {OTHER} is not a practice granted to olga" in response.text
    assert f"line 3, column tin: TIN {MISSING_TIN} is not a practice granted to olga" in response.text
    assert HOSTILE[:8] not in response.text  # nothing of the hidden practice shows
    assert dump() == before


def test_a_csv_import_is_refused_to_a_viewer_without_csrf_and_past_the_cap(web: Web, dump) -> None:
    from evidence.web.routes.records import MAX_CSV_BYTES

    before = dump()
    viewer, csrf = _as(web, "vic")
    assert _import(viewer, csrf, GOOD).status_code == 403
    officer, csrf = _as(web, "olga")
    no_token = officer.post("/records/import", files={"file": ("rows.csv", GOOD.encode(), "text/csv")})
    assert no_token.status_code == 403
    huge = HEADER + "x" * (MAX_CSV_BYTES + 1)
    assert _import(officer, csrf, huge).status_code == 413
    not_csv = _import(officer, csrf, b"record,tin\n\xff\xfe,1\n")
    assert not_csv.status_code == 400 and "line 2: not UTF-8 text" in not_csv.text
    assert dump() == before


def test_the_upload_cap_is_the_route_s_own(web: Web) -> None:
    """Past MAX_CSV_BYTES the route refuses (413) whatever the CSRF check in front of it reads."""
    import io

    from fastapi import UploadFile
    from starlette.exceptions import HTTPException

    from evidence.web.routes.records import MAX_CSV_BYTES, _read_capped

    assert _read_capped(UploadFile(io.BytesIO(b"a" * MAX_CSV_BYTES))) == b"a" * MAX_CSV_BYTES
    with pytest.raises(HTTPException) as refused:
        _read_capped(UploadFile(io.BytesIO(b"a" * (MAX_CSV_BYTES + 1))))
    assert refused.value.status_code == 413


def test_every_form_control_is_labelled_and_no_style_is_inline(web: Web) -> None:
    from html.parser import HTMLParser

    class Controls(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.ids: list[str] = []
            self.labelled: set[str] = set()
            self.styled = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            self.styled |= "style" in values or tag == "script"
            if tag == "label" and values.get("for"):
                self.labelled.add(str(values["for"]))
            if tag in ("input", "select", "textarea") and values.get("type") != "hidden":
                self.ids.append(str(values.get("id")))

    client, _ = _as(web, "ada")
    for path in ("/records", f"{PAGE}&year=2020"):
        parsed = Controls()
        parsed.feed(client.get(path).text)
        assert len(parsed.ids) > 5 and len(set(parsed.ids)) == len(parsed.ids), path  # ids are unique
        assert [i for i in parsed.ids if i not in parsed.labelled] == [], path
        assert not parsed.styled


@pytest.mark.parametrize("row_id", ["0", "-1", "abc", str(2**64), "1.5"])
@pytest.mark.parametrize("kind", ["attestations", "participations"])
def test_a_malformed_id_is_one_line_400(web: Web, dump, kind: str, row_id: str) -> None:
    client, csrf = _as(web, "olga")
    before = dump()
    for action in ("edit", "delete"):
        response = _post(client, csrf, f"/records/{kind}/{row_id}/{action}", end="2020-10-31", reason="r")
        assert response.status_code == 400 and "Traceback" not in response.text
    assert dump() == before


def test_a_nul_in_a_form_field_is_refused_before_anything_is_written(web: Web, dump) -> None:
    client, csrf = _as(web, "ada")
    before = dump()
    response = _post(client, csrf, "/records/practices", tin=MISSING_TIN, name="Null\x00Clinic")
    assert response.status_code == 400 and "name" in response.text
    response = _post(client, csrf, "/records/practice/set", tin=TIN, name="Renamed", reason="why\x00")
    assert response.status_code == 400
    assert dump() == before


def test_hostile_text_in_a_refused_form_comes_back_escaped(web: Web, dump) -> None:
    client, csrf = _as(web, "olga")
    before = dump()
    response = _post(client, csrf, "/records/attestations", **{**ATTEST_2020, "activity": '<img src=x onerror="1">'})
    assert response.status_code == 400
    assert "<img src=x" not in response.text and "&lt;img src=x" in response.text
    response = _post(
        client, csrf, "/records/clinicians", tin=TIN, npi="1000000004", name="\u202eDr. <i>Osei</i>", year="2020"
    )
    assert response.status_code == 409
    assert "\u202e" not in response.text and "<i>Osei" not in response.text and "&lt;i&gt;Osei" in response.text
    assert dump() == before
