"""Event snapshots in an S3-compatible object store (AWS S3, MinIO, Aliyun OSS, ...).

Every replica reads what any replica stored, and the JPEGs stay out of the database. Objects
are `<prefix><node>/<event>.jpg`; retention lists the prefix and deletes by the store's own
LastModified. Failures of the store become `UnavailableError` (503 at the API), a missing
object is None (404), as with the other storages.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from station.duty.alerting.snapshots import StoreLocation, check_snapshot
from station.duty.clock import Clock, SystemClock
from station.duty.errors import UnavailableError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

logger = logging.getLogger(__name__)

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


def make_s3_client(
    endpoint_url: str | None,
    region: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    addressing_style: Literal["auto", "path", "virtual"] = "auto",
    timeout_s: float = 10,
) -> S3Client:
    """An S3 client; keys left None fall back to boto3's usual chain (environment, role)."""
    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        # Ingest waits on a save: fail over to the error path rather than retry for long.
        retries={"total_max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": addressing_style},
    )
    # A session of its own: boto3's default session is shared and not thread-safe.
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


def _code(err: ClientError) -> str:
    """The store's error code (NoSuchKey, SignatureDoesNotMatch, ...)."""
    return str(err.response.get("Error", {}).get("Code", "unknown"))


@contextmanager
def _store_errors(action: str) -> Iterator[None]:
    """Turn the store's failures into UnavailableError, naming what failed and why."""
    try:
        yield
    except ClientError as err:
        raise UnavailableError(f"snapshot store refused to {action}: {_code(err)}") from err
    except BotoCoreError as err:
        raise UnavailableError(f"snapshot store unreachable ({action}): {err}") from err


class S3SnapshotStorage:
    """Snapshots as objects in one bucket under one prefix, shared by every replica."""

    def __init__(
        self, client: S3Client, location: StoreLocation, clock: Clock | None = None
    ) -> None:
        self._client = client
        self.location = location
        self._clock = clock or SystemClock()

    def save(self, node_id: str, event_id: str, data: bytes) -> None:
        """Check the bytes are a JPEG of sane size and store them (a re-send replaces)."""
        check_snapshot(node_id, event_id, data)
        key = self.location.key(node_id, event_id)
        with _store_errors("store a snapshot"):
            self._client.put_object(
                Bucket=self.location.bucket, Key=key, Body=data, ContentType="image/jpeg"
            )

    def load(self, node_id: str, event_id: str) -> bytes | None:
        """Return the snapshot of an event, or None if there is none."""
        key = self.location.key(node_id, event_id)
        with _store_errors("read a snapshot"):
            try:
                answer = self._client.get_object(Bucket=self.location.bucket, Key=key)
            except ClientError as err:
                if _code(err) in _MISSING:
                    return None
                raise
            return answer["Body"].read()

    def purge(self, older_than: timedelta) -> int:
        """Delete snapshots older than the retention; return how many went."""
        cutoff = self._clock.now() - older_than
        removed = 0
        with _store_errors("expire snapshots"):
            old = list(self._older_than(cutoff))
            for start in range(0, len(old), _DELETE_BATCH):
                removed += self._delete(old[start : start + _DELETE_BATCH])
        if removed:
            logger.info("retention: deleted %d snapshot(s) from the object store", removed)
        return removed

    def _older_than(self, cutoff: datetime) -> Iterator[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=self.location.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"].endswith(".jpg") and item["LastModified"] < cutoff:
                    yield item["Key"]

    def _delete(self, keys: list[str]) -> int:
        objects: list[ObjectIdentifierTypeDef] = [{"Key": key} for key in keys]
        answer = self._client.delete_objects(
            Bucket=self.location.bucket, Delete={"Objects": objects, "Quiet": True}
        )
        failed = answer.get("Errors", [])
        for error in failed[:5]:
            logger.warning("retention: %s not deleted: %s", error.get("Key"), error.get("Code"))
        return len(keys) - len(failed)
