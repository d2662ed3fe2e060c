"""A real moto server (`moto_server`) in a subprocess, for provider tests that talk AWS over HTTP.

`run_moto()` starts it on a free port of 127.0.0.1 and waits until it answers; `MotoServer.reset()` wipes
its state between tests; `enable_auth()` switches on moto's IAM authentication so that wrong keys and
missing permissions fail as on AWS. Without the `moto_server` executable the tests skip, except in CI
(`CI` set), where a missing server is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import free_port

# Any key works while authentication is off (moto's default).
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
START_TIMEOUT = 30.0


def _executable() -> str | None:
    beside = Path(sys.executable).parent / "moto_server"
    return str(beside) if beside.exists() else shutil.which("moto_server")


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen[bytes]

    def _post(self, path: str, body: bytes = b"") -> dict[str, Any]:
        request = urllib.request.Request(self.url + path, data=body, method="POST",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def reset(self) -> None:
        """Forgets every resource and turns authentication off again."""
        self._post("/moto-api/reset")
        self.disable_auth()

    def enable_auth(self, unauthenticated_requests: int = 0) -> None:
        """From now on (after `unauthenticated_requests` more requests) every request needs valid IAM keys."""
        self._post("/moto-api/reset-auth", str(unauthenticated_requests).encode())

    def disable_auth(self) -> None:
        self._post("/moto-api/reset-auth", b"inf")

    def client(self, service: str, region: str = "us-east-1", access_key: str = ACCESS_KEY,
               secret_key: str = SECRET_KEY) -> Any:
        session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                        region_name=region)
        config = Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"})
        return session.client(service, endpoint_url=self.url, config=config)

    def iam_user(self, name: str, actions: list[str]) -> tuple[str, str]:
        """An IAM user allowed `actions` on every resource: (access key id, secret key). Three requests."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]


def _wait_ready(server: MotoServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {server.process.returncode}")
        try:
            with urllib.request.urlopen(server.url + "/moto-api/data.json", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {server.url} within {START_TIMEOUT}s")


@contextmanager
def run_moto() -> Iterator[MotoServer]:
    executable = _executable()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but moto_server (pip moto[server]) is not installed")
        pytest.skip("moto_server (pip moto[server]) is not installed")
    port = free_port()
    process = subprocess.Popen([executable, "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = MotoServer(f"http://127.0.0.1:{port}", process)
    try:
        _wait_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
