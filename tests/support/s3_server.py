"""moto's S3 server on 127.0.0.1 for tests: the real S3 HTTP API (and IAM, to issue keys).

`moto_s3()` starts `ThreadedMotoServer` on a free port. Setup runs while moto accepts any key;
`enforce_auth()` then makes it check every request's signature and the IAM policy of its
key, so wrong or unauthorised keys are refused as S3 refuses them. `aws_env()` gives the
code under test only the standard AWS variables: nothing from ~/.aws, and no instance
metadata lookup (which would leave the machine).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from support.tls import write_ca_and_server_cert

SETUP_KEY = ("setup-key", "setup-secret")
"""Any key works before `enforce_auth()`."""
READ_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}
    ],
}


@dataclass(frozen=True)
class AccessKey:
    id: str
    secret: str


@dataclass
class S3Server:
    url: str

    def client(
        self, service: str = "s3", key: AccessKey | None = None, ca_bundle: Path | None = None
    ) -> Any:
        key_id, secret = (key.id, key.secret) if key else SETUP_KEY
        return boto3.client(
            service,
            endpoint_url=self.url,
            verify=str(ca_bundle) if ca_bundle else None,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )

    def access_key(self, user: str, policy: dict[str, Any] | None = None) -> AccessKey:
        """A new IAM user's access key, allowed what `policy` allows (nothing without one)."""
        iam = self.client("iam")
        iam.create_user(UserName=user)
        if policy is not None:
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
        created = iam.create_access_key(UserName=user)["AccessKey"]
        return AccessKey(created["AccessKeyId"], created["SecretAccessKey"])

    def upload_dir(
        self, bucket: str, prefix: str, directory: Path, ca_bundle: Path | None = None
    ) -> None:
        s3 = self.client(ca_bundle=ca_bundle)
        for path in sorted(directory.iterdir()):
            s3.upload_file(str(path), bucket, f"{prefix}{path.name}")

    def enforce_auth(self) -> None:
        self._moto_api("reset-auth", b"0")

    def _moto_api(self, route: str, body: bytes = b"") -> None:
        request = urllib.request.Request(
            f"{self.url}/moto-api/{route}",
            data=body,
            method="POST",
            headers={"Content-Type": "application/octet-stream"},  # not a form: the raw number
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()


@contextlib.contextmanager
def moto_s3() -> Iterator[S3Server]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3Server(f"http://{host}:{port}")
    try:
        yield s3
    finally:
        s3._moto_api("reset-auth", b"inf")  # moto's state is per process: leave it as found
        s3._moto_api("reset")
        server.stop()


@contextlib.contextmanager
def moto_s3_over_tls(work: Path, port: int) -> Iterator[tuple[S3Server, Path]]:
    """moto's S3 over HTTPS in a process of its own (ThreadedMotoServer has no TLS), with a
    certificate from a throwaway CA: (server, CA bundle). Authentication stays off."""
    ca, cert, key = write_ca_and_server_cert(work, "127.0.0.1")
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        [*command, "-c", str(cert), "-k", str(key)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto's TLS server did not start (exit {process.poll()})")
            time.sleep(0.1)
        yield S3Server(f"https://127.0.0.1:{port}"), ca
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def aws_env(endpoint: str | None, key: AccessKey | None, **extra: str) -> Iterator[None]:
    """The process environment of a fetching container: these AWS variables and no others."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            patch.delenv(name)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        if endpoint:
            patch.setenv("AWS_ENDPOINT_URL", endpoint)
        if key:
            patch.setenv("AWS_ACCESS_KEY_ID", key.id)
            patch.setenv("AWS_SECRET_ACCESS_KEY", key.secret)
        for name, value in extra.items():
            patch.setenv(name, value)
        yield
