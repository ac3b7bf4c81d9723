"""A real S3-compatible HTTP server (moto's) on a free port, with a bucket and a signing key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
from moto.server import ThreadedMotoServer

from devkit.localbroker import free_port
from station.duty.alerting.snapshot_s3 import make_s3_client

BUCKET = "uws-snapshots"
REGION = "us-east-1"
_ALLOW_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@dataclass(frozen=True)
class S3Server:
    """Where the server listens and the key that signs for the bucket's owner."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str

    def settings(self, prefix: str = "snaps", **changes: Any) -> dict[str, Any]:
        """cloud-duty settings that keep snapshots in the bucket under `prefix`."""
        values: dict[str, Any] = {
            "snapshot_store_url": f"s3://{BUCKET}/{prefix}",
            "snapshot_store_endpoint_url": self.endpoint_url,
            "snapshot_store_region": REGION,
            "snapshot_store_access_key_id": self.access_key_id,
            "snapshot_store_secret_access_key": self.secret_access_key,
            "snapshot_store_addressing_style": "path",
        }
        return values | changes


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """Serve moto's S3 with signature checks on: a wrong secret key is refused as on AWS."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        # moto keeps its state per process: start from nothing, whatever ran before.
        httpx.post(f"{endpoint}/moto-api/reset").raise_for_status()
        # Set-up goes in before checks are on: an IAM user allowed S3, its key, the bucket.
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        iam.create_user(UserName="cloud-duty")
        iam.put_user_policy(
            UserName="cloud-duty", PolicyName="s3", PolicyDocument=json.dumps(_ALLOW_S3)
        )
        key = iam.create_access_key(UserName="cloud-duty")["AccessKey"]
        make_s3_client(endpoint, REGION, "setup", "setup").create_bucket(Bucket=BUCKET)
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
        yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        # The checks are process-wide in moto: leave them off for whoever runs next.
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"inf")
        httpx.post(f"{endpoint}/moto-api/reset")
        server.stop()
