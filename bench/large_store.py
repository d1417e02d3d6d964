"""A large synthetic store for benchmarks: built with bulk inserts, not the CLI.

10 practices x 100 clinicians (PY2020); per practice 8 group attestations with most
clinicians participating, plus 12 individual attestations per clinician: about 20,000
attestations and participations. 100,000 evidence links over 50,000 evidence rows. The
blobs are rows only (no files): the missing report never reads file contents.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import insert, select

from evidence.app import App
from evidence.config import resolve_settings
from evidence.db.models import (
    Activity,
    Attestation,
    Blob,
    Clinician,
    DocumentationItem,
    Evidence,
    EvidenceLink,
    Membership,
    Participation,
    Practice,
)
from evidence.rules.identifiers import luhn_check_digit

YEAR = 2020
GROUP_ACTIVITIES = ["IA_PM_7", "IA_CC_9", "IA_BE_6", "IA_PSPA_20", "IA_PSPA_21", "IA_CC_1", "IA_PM_15", "IA_BE_4"]
INDIVIDUAL_ACTIVITIES = [
    "IA_EPA_1", "IA_EPA_2", "IA_PM_2", "IA_PM_4", "IA_CC_2", "IA_CC_8",
    "IA_BE_15", "IA_BE_16", "IA_PSPA_2", "IA_PSPA_6", "IA_BMH_2", "IA_BMH_4", "IA_PSPA_19",
]  # fmt: skip


def npi_for(n: int) -> str:
    body = f"1{n:08d}"
    return body + str(luhn_check_digit("80840" + body))


def build_large_store(
    home: Path, practices: int = 10, per_practice: int = 100, links: int = 100_000
) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    app = App(resolve_settings(home, None), actor="bench")
    now = datetime(2021, 1, 15, tzinfo=UTC)
    with app.write() as session:
        activity = {
            a.activity_id: a.id for a in session.scalars(select(Activity).where(Activity.performance_year == YEAR))
        }
        items: dict[str, list[int]] = {}
        for item in session.scalars(select(DocumentationItem).order_by(DocumentationItem.key)):
            items.setdefault(item.activity_id, []).append(item.id)
        session.execute(
            insert(Practice),
            [{"id": p + 1, "tin": f"{p + 1:09d}", "name": f"Practice {p + 1}", "pcmh": False, "apm": "none",
              "created_at": now} for p in range(practices)],
        )  # fmt: skip
        clinicians = practices * per_practice
        session.execute(
            insert(Clinician),
            [
                {"id": c + 1, "npi": npi_for(c + 1), "name": f"Clinician {c + 1}", "created_at": now}
                for c in range(clinicians)
            ],
        )
        session.execute(
            insert(Membership),
            [{"practice_id": c // per_practice + 1, "clinician_id": c + 1, "performance_year": YEAR, "rural": False,
              "hpsa": False, "patient_facing_encounters": 500, "created_at": now} for c in range(clinicians)],
        )  # fmt: skip
        attestations, participations = [], []
        next_id = 1
        for p in range(practices):
            for a in GROUP_ACTIVITIES:
                attestations.append({"id": next_id, "practice_id": p + 1, "clinician_id": None, "performance_year": YEAR,
                                     "activity_pk": activity[a], "start_date": date(YEAR, 1, 1),
                                     "end_date": date(YEAR, 12, 31), "created_at": now, "created_by": "bench"})  # fmt: skip
                for c in range(per_practice):
                    if c % 10 < 9:  # 90% participate
                        participations.append({"attestation_id": next_id, "clinician_id": p * per_practice + c + 1,
                                               "start_date": date(YEAR, 3, 1), "end_date": date(YEAR, 8, 31),
                                               "created_at": now, "created_by": "bench"})  # fmt: skip
                next_id += 1
            for c in range(per_practice):
                for a in INDIVIDUAL_ACTIVITIES:
                    attestations.append({"id": next_id, "practice_id": p + 1, "clinician_id": p * per_practice + c + 1,
                                         "performance_year": YEAR, "activity_pk": activity[a],
                                         "start_date": date(YEAR, 2, 1), "end_date": date(YEAR, 9, 30),
                                         "created_at": now, "created_by": "bench"})  # fmt: skip
                    next_id += 1
        session.execute(insert(Attestation), attestations)
        session.execute(insert(Participation), participations)
        evidence_rows, link_rows, blob_rows = [], [], []
        links_wanted, e = links, 0
        targets = [(row["id"], row["activity_pk"]) for row in attestations]
        activity_of = {pk: aid for aid, pk in activity.items()}
        while len(link_rows) < links_wanted:
            attestation_id, activity_pk = targets[e % len(targets)]
            e += 1
            digest = hashlib.sha256(str(e).encode()).hexdigest()
            blob_rows.append({"id": e, "hash_algorithm": "sha256", "digest": digest, "size": 65536,
                              "media_type": "application/pdf", "stored_at": now})  # fmt: skip
            evidence_rows.append({"id": e, "blob_id": e, "original_name": f"doc-{e}.pdf",
                                  "effective_date": date(YEAR, 1 + e % 12, 1), "registered_by": "bench",
                                  "registered_at": now})  # fmt: skip
            for item_id in items[activity_of[activity_pk]][:2]:
                link_rows.append({"evidence_id": e, "attestation_id": attestation_id, "item_id": item_id,
                                  "created_at": now, "created_by": "bench"})  # fmt: skip
        session.execute(insert(Blob), blob_rows)
        session.execute(insert(Evidence), evidence_rows)
        session.execute(insert(EvidenceLink), link_rows[:links_wanted])
    app.close()
    counts = {
        "clinicians": clinicians,
        "attestations": len(attestations),
        "participations": len(participations),
        "evidence": len(evidence_rows),
        "links": min(len(link_rows), links_wanted),
    }
    return time.perf_counter() - start, counts
