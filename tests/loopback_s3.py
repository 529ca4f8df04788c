"""A real S3-compatible server on loopback for the image-store tests: moto's server mode, in a thread of the test
process, on a free port of 127.0.0.1 (no internet, nothing to install beyond the `test` extra). Each test gets a
bucket of its own, so tests never see each other's objects."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3  # comes with moto: used here only to make buckets and read raw objects
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

ACCESS_KEY_ID = "loopback-test-key"
SECRET_ACCESS_KEY = "loopback-test-secret"  # moto accepts any pair; the client still signs every request
REGION = "us-east-1"


@dataclass(frozen=True)
class LoopbackS3:
    endpoint_url: str

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY)

    def new_bucket(self) -> str:
        name = f"registro-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object in the bucket, name → bytes exactly as stored."""
        client = self.client()
        listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}

    def settings_update(self, bucket: str) -> dict[str, Any]:
        """What to put into Settings (model_copy(update=...)) for the app to keep its images in `bucket`."""
        return {"image_store": "s3", "s3_endpoint_url": self.endpoint_url, "s3_bucket": bucket,
                "s3_region": REGION, "s3_access_key_id": SecretStr(ACCESS_KEY_ID),
                "s3_secret_access_key": SecretStr(SECRET_ACCESS_KEY)}


@contextmanager
def loopback_s3() -> Iterator[LoopbackS3]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield LoopbackS3(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()


def closed_port_url() -> str:
    """An address on loopback where nothing listens: a store pointed there is down (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
