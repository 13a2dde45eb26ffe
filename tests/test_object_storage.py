"""A client on object storage (design §5): deliveries arrive in an s3:// landing zone and recordings are kept in an
s3:// store, reached through Airflow's ObjectStoragePath and the `kcm_storage` connection. A real S3-compatible
server (moto's standalone server) runs for the session; what is in the buckets is read back with boto3."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from include import config, recordings_store, settings, storage
from include.ingest import landing
from include.sample_data import generate_delivery
from tests.factories import write_client

CLIENT = "havenstad"
DELIVERED_ON = dt.date(2026, 11, 20)
# a1 completed 2026-08-25 with a 3-month term: anonymised, its recordings deleted, on the night of 2026-11-25.
ASSIGNMENTS = [
    {"id": "a1", "title": "Klantcontact zomer", "completed_on": "2026-08-25", "destruction_requested_on": None},
    {"id": "a2", "title": "Lopend onderzoek", "completed_on": None, "destruction_requested_on": None},
]
NIGHT_AFTER_TERM = dt.date(2026, 11, 25)
ACCESS_KEY, SECRET_KEY, REGION = "kcm-test-key", "kcm-test-secret", "eu-west-1"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """moto's S3-compatible server as its own process on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"moto server did not start on {endpoint}: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
    yield endpoint
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    """A fresh bucket, the `kcm_storage` connection pointing at the server, and a boto3 client to look inside."""
    import boto3

    name = f"kcm-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    connection = {"conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
                  "extra": {"endpoint_url": s3_endpoint, "region_name": REGION}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_KCM_STORAGE", json.dumps(connection))
    client.bucket = name
    return client


def keys(bucket, prefix: str = "") -> list[str]:
    listed = bucket.list_objects_v2(Bucket=bucket.bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def upload_delivery(bucket, prefix: str, folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.iterdir())
    for name in names:
        bucket.upload_file(str(folder / name), bucket.bucket, f"{prefix}{name}")
    return names


def a_delivery(tmp_path: Path, seed: int = 7) -> Path:
    folder = tmp_path / "delivery"
    client = config.get_client(CLIENT)
    summary = generate_delivery(
        client, folder, as_of=DELIVERED_ON, seed=seed, respondents=24, recordings=4, broken=False
    )
    assert summary["recordings"] > 0
    return folder


@pytest.mark.airflow
def test_a_delivery_in_the_s3_landing_zone_is_ingested_and_its_recordings_kept_in_the_s3_store(
    warehouse, clients_dir, run_dag, bucket, tmp_path, monkeypatch
):
    monkeypatch.setenv("KCM_LANDING_URL", f"s3://{bucket.bucket}/landing")
    monkeypatch.setenv("KCM_RECORDINGS_URL", f"s3://{bucket.bucket}/recordings/")
    write_client(clients_dir, CLIENT, retention_months=3, assignments=ASSIGNMENTS, onboarded_on="2026-11-01")
    delivered = upload_delivery(bucket, f"landing/{CLIENT}/", a_delivery(tmp_path))

    dag_run = run_dag(f"kcm_ingest__{CLIENT}", DELIVERED_ON.isoformat())

    assert dag_run.state == "success"
    assert keys(bucket, "landing/") == [], "collected deliveries leave the bucket"
    assert not any(settings.landing_dir(CLIENT).iterdir()), "and the landing folder once handled"
    with warehouse.connect() as conn:
        respondents = conn.execute(
            sa.text("SELECT count(*) FROM respondents WHERE client_id = :c"), {"c": CLIENT}
        ).scalar()
        stored = sorted(
            conn.execute(sa.text("SELECT stored_path FROM recordings WHERE client_id = :c"), {"c": CLIENT}).scalars()
        )
        files, loaded = conn.execute(sa.text(
            "SELECT count(*), sum(rows_loaded) FROM deliveries WHERE client_id = :c AND file_kind = 'responses'"), {"c": CLIENT}).one()  # fmt: skip
    assert respondents > 0 and respondents == loaded
    assert files == sum(name.startswith("responses") for name in delivered)
    assert stored and keys(bucket, "recordings/") == [f"recordings/{path}" for path in stored]
    assert not (settings.kcm_home() / "recordings" / CLIENT).exists(), "nothing of the client's kept locally"


@pytest.mark.airflow
def test_the_night_deletes_recordings_from_the_s3_store_and_the_proof_lists_the_bucket(
    warehouse, clients_dir, run_dag, bucket, tmp_path, monkeypatch
):
    monkeypatch.setenv("KCM_RECORDINGS_URL", f"s3://{bucket.bucket}/recordings")
    write_client(clients_dir, CLIENT, retention_months=3, assignments=ASSIGNMENTS, onboarded_on="2026-11-01")
    settings.landing_dir(CLIENT).parent.mkdir(parents=True)
    a_delivery(tmp_path).rename(settings.landing_dir(CLIENT))  # a local landing zone beside an s3 store
    assert run_dag(f"kcm_ingest__{CLIENT}", DELIVERED_ON.isoformat()).state == "success"
    with warehouse.connect() as conn:
        by_assignment = dict(conn.execute(sa.text(
            "SELECT assignment_id, count(*) FROM recordings WHERE client_id = :c GROUP BY assignment_id"), {"c": CLIENT}).all())  # fmt: skip
    assert by_assignment.get("a1") and by_assignment.get("a2"), by_assignment
    assert len(keys(bucket, "recordings/")) == sum(by_assignment.values())

    night = run_dag(f"kcm_retention__{CLIENT}", NIGHT_AFTER_TERM.isoformat())

    assert night.state == "success", "the proof passed"
    assert not keys(bucket, f"recordings/{CLIENT}/a1/"), "a1 reached its term: its recordings are gone from the bucket"
    assert len(keys(bucket, f"recordings/{CLIENT}/a2/")) == by_assignment["a2"], "a2 is still running: kept"

    # A file no row knows of, put straight into the bucket: the next night's proof must see it and fail.
    bucket.put_object(Bucket=bucket.bucket, Key=f"recordings/{CLIENT}/a2/{'0' * 64}.wav", Body=b"RIFF")
    next_night = run_dag(f"kcm_retention__{CLIENT}", (NIGHT_AFTER_TERM + dt.timedelta(days=1)).isoformat())
    assert next_night.state == "failed"
    with warehouse.connect() as conn:
        proof = conn.execute(sa.text(
            "SELECT action, counts FROM audit_events WHERE client_id = :c AND rule = 'R11' ORDER BY seq DESC"), {"c": CLIENT}).first()  # fmt: skip
    assert proof.action == "proof_failed"
    assert "R10 recordings store.orphan_files" in str(proof.counts)


def test_a_client_of_its_own_bucket_is_destroyed_there_too(warehouse, clients_dir, bucket, tmp_path, monkeypatch):
    """R4 for a whole client also empties its own landing and recordings folders on object storage."""
    from include import retention, sync

    own = {"landing": f"s3://{bucket.bucket}/{CLIENT}/in", "recordings": f"s3://{bucket.bucket}/{CLIENT}/audio",
           "conn_id": "kcm_storage"}  # fmt: skip
    write_client(clients_dir, CLIENT, storage=own, destruction_requested_on="2026-11-01")
    bucket.put_object(Bucket=bucket.bucket, Key=f"{CLIENT}/in/responses_late.csv", Body=b"assignment_id\n")
    bucket.put_object(Bucket=bucket.bucket, Key=f"{CLIENT}/audio/a1/{'1' * 64}.wav", Body=b"RIFF")
    bucket.put_object(Bucket=bucket.bucket, Key="another_client/audio/a1/x.wav", Body=b"RIFF")

    client = config.get_client(CLIENT)
    sync.apply_config(warehouse, client)
    done = retention.destroy_requested(warehouse, client, as_of=DELIVERED_ON, run_id="r4-test")

    assert keys(bucket) == ["another_client/audio/a1/x.wav"]
    assert done["stray_files"] >= 2


def test_a_nested_object_is_collected_under_a_neutral_name_never_left_in_the_bucket(
    clients_dir, kcm_home, bucket, monkeypatch
):
    monkeypatch.setenv("KCM_LANDING_URL", f"s3://{bucket.bucket}/landing")
    write_client(clients_dir, CLIENT)
    bucket.put_object(Bucket=bucket.bucket, Key=f"landing/{CLIENT}/responses_1.csv", Body=b"assignment_id\n")
    bucket.put_object(Bucket=bucket.bucket, Key=f"landing/{CLIENT}/Jansen/opname.wav", Body=b"RIFF")

    counts = landing.collect(CLIENT)

    assert counts == {"objects_collected": 2, "bytes_collected": 18, "objects_renamed": 1}
    assert keys(bucket) == []
    local = sorted(p.name for p in settings.landing_dir(CLIENT).iterdir())
    assert local[0] == "responses_1.csv" and local[1].startswith("unexpected-object-")
    assert "Jansen" not in " ".join(local)
    assert landing.find(CLIENT).other == [local[1]], "the sweep quarantines it as an unknown file"


def test_storage_settings_per_client_override_the_global_ones(clients_dir, kcm_home, monkeypatch):
    monkeypatch.setenv("KCM_RECORDINGS_URL", "s3://kcm-shared/recordings")
    monkeypatch.setenv("KCM_STORAGE_CONN_ID", "aws_kcm")
    write_client(clients_dir, "eigen", storage={"recordings": "s3://eigen-bucket/kcm/", "conn_id": "aws_eigen"})
    write_client(clients_dir, "gedeeld")
    write_client(clients_dir, "lokaal")
    monkeypatch.delenv("KCM_RECORDINGS_URL")
    assert storage.recordings("lokaal") is None and storage.landing("lokaal") is None
    monkeypatch.setenv("KCM_RECORDINGS_URL", "s3://kcm-shared/recordings")

    assert storage.recordings("eigen") == storage.Location("s3://eigen-bucket/kcm/", "aws_eigen")
    assert storage.recordings("gedeeld") == storage.Location("s3://kcm-shared/recordings/gedeeld/", "aws_kcm")
    assert storage.landing("gedeeld") is None, "landing stays local unless KCM_LANDING_URL or the client says otherwise"


def test_a_storage_url_that_is_not_object_storage_is_refused_naming_file_and_field(clients_dir):
    path = write_client(clients_dir, "verkeerd", storage={"landing": "/mnt/share/landing"})
    with pytest.raises(ValueError) as refused:
        config.parse_client_file(path)
    message = str(refused.value)
    assert str(path) in message and "storage.landing" in message and "s3://" in message


def test_a_stored_path_from_the_warehouse_cannot_leave_the_client_folder_on_object_storage(
    kcm_home, clients_dir, monkeypatch
):
    monkeypatch.setenv("KCM_RECORDINGS_URL", "s3://kcm-shared/recordings")
    write_client(clients_dir, CLIENT)
    for stored in (f"{CLIENT}/a1/../../other/a1/{'2' * 64}.wav", f"{CLIENT}/a1/name-of-a-person.wav"):
        with pytest.raises(recordings_store.UnsafeStoredPath):
            recordings_store.delete(stored)


@pytest.mark.airflow
def test_subject_requests_reach_recordings_in_the_s3_store(
    warehouse, clients_dir, run_dag, bucket, kcm_home, monkeypatch
):
    """R6: an export carries the person's recording from the bucket; an erasure deletes it there, and only it."""
    from tests import test_subject_requests as requests

    monkeypatch.setenv("KCM_SUPPRESSION_SECRET", requests.SECRET)
    monkeypatch.setenv("KCM_RECORDINGS_URL", f"s3://{bucket.bucket}/recordings")
    world = requests.build_world(warehouse, clients_dir)
    person_keys = [f"recordings/{stored}" for stored in world.person.recordings]
    assert person_keys and set(person_keys) < set(keys(bucket, "recordings/"))
    bystanders = sorted(set(keys(bucket, "recordings/")) - set(person_keys))
    assert bystanders, "someone else's recording shares the person's assignment folder"

    export = run_dag(requests.DAG_ID, requests.RUN_DAY, conf=requests._conf("export", email=world.person.email))
    assert requests._succeeded(export)
    folder = kcm_home / requests._only_request(warehouse)["export_path"]
    exported = sorted(p.read_bytes() for p in (folder / "recordings").iterdir())
    in_bucket = sorted(bucket.get_object(Bucket=bucket.bucket, Key=k)["Body"].read() for k in person_keys)
    assert exported == in_bucket

    erasure = run_dag(
        requests.DAG_ID, "2026-11-21T08:00:00+00:00", conf=requests._conf("erasure", email=world.person.email)
    )
    assert requests._succeeded(erasure)
    assert keys(bucket, "recordings/") == bystanders


def test_a_delivery_that_cannot_be_collected_stays_in_the_bucket_and_the_error_names_no_file(
    clients_dir, kcm_home, bucket, monkeypatch
):
    monkeypatch.setenv("KCM_LANDING_URL", f"s3://{bucket.bucket}/landing")
    write_client(clients_dir, CLIENT)
    bucket.put_object(Bucket=bucket.bucket, Key=f"landing/{CLIENT}/responses_Jansen.csv", Body=b"assignment_id\n")
    (settings.landing_dir(CLIENT) / "responses_Jansen.csv").mkdir(parents=True)  # in the way of the copy

    with pytest.raises(storage.StorageError) as refused:
        landing.collect(CLIENT)

    assert "object 1 of 1" in str(refused.value) and "Jansen" not in str(refused.value)
    assert keys(bucket) == [f"landing/{CLIENT}/responses_Jansen.csv"], "nothing lost"
    assert [p.name for p in settings.landing_dir(CLIENT).iterdir()] == ["responses_Jansen.csv"], "no partial copy left"
