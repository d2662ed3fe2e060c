"""The SDK function of `fixtures/fn_sdk` as a separate process, and certificates for mTLS, for the tests."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAIN = Path(__file__).parent / "fixtures" / "fn_sdk" / "main.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FunctionProcess:
    target: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def run_function(tls_dir: Path | None = None, *, client_creds: grpc.ChannelCredentials | None = None,
                 port: int | None = None) -> Iterator[FunctionProcess]:
    """Start the SDK function on 127.0.0.1 and wait until it accepts connections."""
    target = f"127.0.0.1:{port or free_port()}"
    args = [sys.executable, str(MAIN), "--address", target]
    args += ["--tls-certs-dir", str(tls_dir)] if tls_dir else ["--insecure"]
    proc = FunctionProcess(target, subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    try:
        channel = (grpc.secure_channel(target, client_creds) if client_creds is not None
                   else grpc.insecure_channel(target))
        deadline = time.monotonic() + 20
        while True:
            try:
                grpc.channel_ready_future(channel).result(timeout=0.5)
                break
            except grpc.FutureTimeoutError:
                if proc.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the SDK function did not start: {proc.process.stderr.read()!r}"
                                       if proc.process.stderr else "the SDK function did not start") from None
        channel.close()
        yield proc
    finally:
        proc.stop()


@dataclass
class Certs:
    ca: bytes
    server_cert: bytes
    server_key: bytes
    client_cert: bytes
    client_key: bytes

    def server_dir(self, path: Path) -> Path:
        """A directory as `--tls-certs-dir` wants it: tls.crt, tls.key and the CA that signs clients."""
        path.mkdir(parents=True, exist_ok=True)
        (path / "tls.crt").write_bytes(self.server_cert)
        (path / "tls.key").write_bytes(self.server_key)
        (path / "ca.crt").write_bytes(self.ca)
        return path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_certs() -> Certs:
    """A CA, a serving certificate for 127.0.0.1/localhost and a client certificate, all signed by the CA."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))

    def leaf(cn: str, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                   .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)

    server = leaf("function", ExtendedKeyUsageOID.SERVER_AUTH,
                  [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client = leaf("crossplane", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    return Certs(ca.public_bytes(serialization.Encoding.PEM), *server, *client)
