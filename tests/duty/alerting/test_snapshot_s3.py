"""Snapshot storage in an S3-compatible store (moto's real HTTP server): stored, replaced,
refused, expired by retention, and a store that refuses or is away is UnavailableError."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from devkit.localbroker import free_port
from station.contracts import ContractError, utcnow
from station.duty.alerting.snapshot_s3 import S3SnapshotStorage, make_s3_client
from station.duty.alerting.snapshots import StoreLocation, parse_store_url
from station.duty.db import make_engine, migrate
from station.duty.errors import UnavailableError
from station.duty.reports.retention import RetentionPolicy, run_retention
from station.duty.settings import DutySettings
from tests.duty.conftest import ManualClock
from tests.support.s3_server import BUCKET, REGION, S3Server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 32
POLICY = RetentionPolicy(snapshot_days=30, visit_days=90, record_days=180, audit_days=1000)


def _storage(s3: S3Server, secret: str | None = None, **kwargs: Any) -> S3SnapshotStorage:
    client = make_s3_client(
        kwargs.pop("endpoint_url", s3.endpoint_url),
        REGION,
        s3.access_key_id,
        secret or s3.secret_access_key,
        "path",
        timeout_s=2,
    )
    return S3SnapshotStorage(client, StoreLocation(BUCKET, "snaps/"), **kwargs)


def _client(s3: S3Server) -> S3Client:
    return make_s3_client(s3.endpoint_url, REGION, s3.access_key_id, s3.secret_access_key)


def _keys(s3: S3Server) -> list[str]:
    listed = _client(s3).list_objects_v2(Bucket=BUCKET)
    return sorted(item["Key"] for item in listed.get("Contents", []))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("s3://", "names no bucket"),
        ("s3:///snaps", "names no bucket"),
        ("https://bucket/snaps", "must start with s3://"),
        ("s3://AKID:secret@bucket/snaps", "must not carry credentials"),
        ("s3://Not_A_Bucket/snaps", "not a valid bucket name"),
        ("s3://bucket/a/../b", "not a plain path"),
    ],
)
def test_a_store_url_without_a_proper_bucket_is_refused_at_start(url: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        DutySettings(snapshot_store_url=url)


def test_store_settings_choose_the_store_and_keep_the_secret_out_of_sight() -> None:
    assert parse_store_url("s3://bucket/a/b/") == StoreLocation("bucket", "a/b/")
    assert parse_store_url("s3://bucket") == StoreLocation("bucket", "")
    with pytest.raises(ValidationError, match="needs UWS_SNAPSHOT_STORE_URL"):
        DutySettings(snapshot_storage="s3")
    with pytest.raises(ValidationError, match="unset one"):
        DutySettings(snapshot_storage="folder", snapshot_store_url="s3://bucket/x")
    with pytest.raises(ValidationError, match="go together"):
        DutySettings(snapshot_store_url="s3://bucket/x", snapshot_store_access_key_id="AKID")
    with pytest.raises(ValidationError, match="STORE_SECRET_ACCESS_KEY is a placeholder"):
        DutySettings(
            environment="production",
            database_url="postgresql+psycopg://u@db/uws",
            api_token="a-real-service-token-0123456789",
            admin_password="a-real-admin-password",
            snapshot_store_url="s3://bucket/x",
            snapshot_store_access_key_id="AKID",
            snapshot_store_secret_access_key="change-me",
        )
    settings = DutySettings(
        snapshot_store_url="s3://bucket/x",
        snapshot_store_access_key_id="AKID",
        snapshot_store_secret_access_key="s3cr3t-value",
    )
    assert "s3cr3t-value" not in f"{settings!r} {settings} {settings.model_dump_json()}"


def test_s3_snapshots_store_replace_refuse_and_expire(s3: S3Server) -> None:
    store = _storage(s3)
    assert store.load("node-1", "ev-1") is None  # a missing object is no snapshot, not an error
    store.save("node-1", "ev-1", JPEG)
    store.save("node-1", "ev-1", JPEG + b"\x02")  # a re-sent snapshot replaces, never adds
    assert store.load("node-1", "ev-1") == JPEG + b"\x02"
    assert _keys(s3) == ["snaps/node-1/ev-1.jpg"]
    with pytest.raises(ContractError):
        store.save("node-1", "ev-2", b"GIF89a")
    with pytest.raises(ContractError):
        store.save("../etc", "ev-3", JPEG)
    with pytest.raises(ContractError):
        store.load("node-1", "../ev-1")
    assert store.purge(timedelta(days=1)) == 0
    assert store.purge(timedelta(seconds=-1)) == 1
    assert store.load("node-1", "ev-1") is None
    assert _keys(s3) == []


def test_retention_deletes_only_the_snapshots_past_their_days(s3: S3Server, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'duty.sqlite'}")
    migrate(engine)
    _client(s3).put_object(Bucket=BUCKET, Key="elsewhere/node-1/ev-x.jpg", Body=JPEG)
    clock = ManualClock()
    store = _storage(s3, clock=clock)
    store.save("node-1", "ev-old", JPEG)
    # The store stamps objects to the second: let one tick so the two differ.
    stamped = utcnow().replace(microsecond=0)
    while utcnow().replace(microsecond=0) <= stamped:
        time.sleep(0.05)
    store.save("node-1", "ev-new", JPEG)
    newest = _client(s3).head_object(Bucket=BUCKET, Key="snaps/node-1/ev-new.jpg")["LastModified"]
    # Thirty days after the newer one was stored: the older one is past its time.
    clock.current = newest + timedelta(days=POLICY.snapshot_days)
    report = run_retention(engine, store, clock.now(), POLICY)
    assert report.snapshots == 1
    assert store.load("node-1", "ev-old") is None
    assert store.load("node-1", "ev-new") == JPEG
    # What is outside the prefix is not cloud-duty's to delete.
    assert "elsewhere/node-1/ev-x.jpg" in _keys(s3)
    engine.dispose()


def test_a_store_that_refuses_or_is_away_is_unavailable(s3: S3Server) -> None:
    wrong = _storage(s3, secret="not-the-secret")
    with pytest.raises(UnavailableError, match="refused to read a snapshot: SignatureDoesNotMatch"):
        wrong.load("node-1", "ev-1")
    with pytest.raises(UnavailableError, match="refused to store a snapshot"):
        wrong.save("node-1", "ev-1", JPEG)
    with pytest.raises(UnavailableError, match="refused to expire snapshots"):
        wrong.purge(timedelta(days=1))
    away = _storage(s3, endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UnavailableError, match="unreachable"):
        away.load("node-1", "ev-1")
    no_bucket = S3SnapshotStorage(_client(s3), StoreLocation("no-such-bucket", ""))
    with pytest.raises(UnavailableError, match="NoSuchBucket"):
        no_bucket.save("node-1", "ev-1", JPEG)
