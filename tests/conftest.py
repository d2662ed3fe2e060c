from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Platform:
    """A running `idp up` in its own data dir, driven through its admin kubeconfig."""

    data_dir: Path
    port: int
    proc: subprocess.Popen
    home: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def ca(self) -> Path:
        return self.data_dir / "pki" / "ca.crt"

    @property
    def admin_token(self) -> str:
        return (self.data_dir / "auth" / "admin.token").read_text().strip()

    def client(self, token: str | None = "admin") -> httpx.Client:
        headers = {}
        if token == "admin":
            headers["Authorization"] = f"Bearer {self.admin_token}"
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, verify=ssl.create_default_context(cafile=str(self.ca)),
                            headers=headers, timeout=10)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, env: dict | None = None,
                kubeconfig: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "KUBECONFIG": str(kubeconfig or self.kubeconfig), "HOME": str(self.home),
                    **(env or {})}
        result = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, env=full_env,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n"
                                 f"{result.stderr}")
        return result


def start_platform(data_dir: Path, home: Path, port: int | None = None) -> Platform:
    port = port or free_port()
    log = open(data_dir.parent / f"idp-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "idpbuilder.cli.main", "up", "--data-dir", str(data_dir),
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    platform = Platform(data_dir, port, proc, home)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"idp up exited with {proc.returncode}: "
                               f"{(data_dir.parent / f'idp-{port}.log').read_text()[-3000:]}")
        try:
            if (data_dir / "pki" / "ca.crt").exists() and (data_dir / "auth" / "admin.token").exists():
                with platform.client() as c:
                    if c.get("/readyz").status_code == 200:
                        return platform
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("idp up did not become ready in 30 s")


def stop_platform(platform: Platform, sig: int = signal.SIGTERM) -> None:
    if platform.proc.poll() is None:
        platform.proc.send_signal(sig)
        try:
            platform.proc.wait(15)
        except subprocess.TimeoutExpired:
            platform.proc.kill()
            platform.proc.wait()


@pytest.fixture(scope="session")
def platform(tmp_path_factory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("platform")
    home = base / "home"
    home.mkdir()
    p = start_platform(base / "data", home)
    yield p
    stop_platform(p)


@pytest.fixture(scope="session")
def kubectl_available() -> None:
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is not on PATH: ./dev test installs it; run the suite through ./dev test")
