"""FHIR -> Aidbox conversion through a real load, and to_fhir back."""
import json

from conftest import FIXTURE, FIXTURE_COUNTS, fixture_lines, load, upload_fixture, wait_done


def without_version_meta(resource):
    r = dict(resource)
    meta = {k: v for k, v in r.pop("meta", {}).items() if k not in ("versionId", "lastUpdated")}
    if meta:
        r["meta"] = meta
    return r


def test_fhir_format_converts_references_and_to_fhir_restores_every_resource(db, s3, bucket):
    upload_fixture(s3, bucket)
    load(db, bucket)
    assert wait_done(db, bucket)["loaded"] == 7160

    condition = json.loads(fixture_lines("Condition.000.ndjson.gz")[0])
    patient_id = condition["subject"]["reference"].split("/")[1]
    subject = db.execute("SELECT resource->'subject' FROM condition WHERE id = %s", [condition["id"]]).fetchone()[0]
    assert subject == {"resourceType": "Patient", "id": patient_id}
    # choice types: onsetDateTime -> onset.dateTime
    onset = db.execute("SELECT resource->'onset' FROM condition WHERE id = %s", [condition["id"]]).fetchone()[0]
    assert onset == {"dateTime": condition["onsetDateTime"]}

    for path in sorted(FIXTURE.iterdir()):
        rt = path.name.split(".")[0]
        if rt not in FIXTURE_COUNTS:
            continue
        stored = dict(
            db.execute(
                f"SELECT id, aidbox_bulk.to_fhir(resource_type, resource, id) FROM {rt.lower()}"
            ).fetchall()
        )
        originals = [json.loads(line) for line in fixture_lines(path.name)]
        assert len(stored) == len(originals) == FIXTURE_COUNTS[rt]
        for original in originals:
            assert stored[original["id"]] == without_version_meta(original), original["id"]


def test_aidbox_format_is_stored_untouched(db, s3, bucket):
    s3.upload_file(str(FIXTURE / "Condition.000.ndjson.gz"), bucket, "Condition.000.ndjson.gz")
    load(db, bucket, format="aidbox")
    wait_done(db, bucket)
    condition = json.loads(fixture_lines("Condition.000.ndjson.gz")[0])
    stored = db.execute("SELECT resource FROM condition WHERE id = %s", [condition["id"]]).fetchone()[0]
    expected = without_version_meta({k: v for k, v in condition.items() if k not in ("id", "resourceType")})
    assert stored == expected
    assert stored["subject"] == condition["subject"]


def test_to_fhir_adds_back_the_row_columns(db):
    row = db.execute(
        """SELECT aidbox_bulk.to_fhir('Observation',
                  '{"value": {"Quantity": {"value": 1}}, "subject": {"resourceType": "Patient", "id": "p"}}',
                  'o1', 42, '2026-01-02 03:04:05.678+00')"""
    ).fetchone()[0]
    assert row == {
        "resourceType": "Observation",
        "id": "o1",
        "valueQuantity": {"value": 1},
        "subject": {"reference": "Patient/p"},
        "meta": {"versionId": "42", "lastUpdated": "2026-01-02T03:04:05.678Z"},
    }
