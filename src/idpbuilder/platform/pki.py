"""TLS material for the API server: a long-lived local CA and a serving certificate it signs.

The CA is created once and kept, so kubeconfigs that embed it stay valid; the serving certificate
is re-issued when it nears expiry or does not cover a host the server is asked to answer on.
Files live under `<data_dir>/pki/` and are created under an exclusive lock, so concurrent starts
agree on one CA.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import socket
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_COMMON_NAME = "idpbuilder-ca"
SERVING_COMMON_NAME = "idpbuilder-apiserver"
CA_LIFETIME = dt.timedelta(days=3650)
SERVING_LIFETIME = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
# Certificates start slightly in the past so a client whose clock lags a little still accepts them.
BACKDATE = dt.timedelta(minutes=5)

DEFAULT_HOSTS = ["localhost", "127.0.0.1", "::1"]
CLUSTER_DNS_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                     "kubernetes.default.svc.cluster.local")

Host = str | ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class TLSMaterial:
    """PEM contents and paths of the CA and the serving certificate."""

    ca_cert_pem: bytes
    ca_key_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    ca_path: Path
    cert_path: Path
    key_path: Path


def ensure_tls(data_dir: Path, hosts: list[str] | None = None) -> TLSMaterial:
    """Loads the TLS material under `data_dir/pki`, creating or renewing what is missing or stale.

    `hosts` (default: localhost and the loopback addresses) are DNS names or IP addresses the
    serving certificate must cover, on top of the in-cluster names and this machine's hostname.
    """
    pki = data_dir / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    os.chmod(pki, 0o700)
    paths = {name: pki / name for name in ("ca.crt", "ca.key", "apiserver.crt", "apiserver.key")}
    wanted = required_hosts(DEFAULT_HOSTS if hosts is None else hosts)
    now = dt.datetime.now(dt.UTC)
    with _locked(pki / ".lock"):
        ca = _load_pair(paths["ca.crt"], paths["ca.key"])
        if ca is None or not _usable_ca(*ca, now):
            ca = _new_ca(now)
            _write(paths["ca.key"], _key_pem(ca[1]), 0o600)
            _write(paths["ca.crt"], ca[0].public_bytes(serialization.Encoding.PEM), 0o644)
        ca_cert, ca_key = ca
        serving = _load_pair(paths["apiserver.crt"], paths["apiserver.key"])
        if serving is None or not _issued_by(serving[0], ca_cert):
            serving = _new_serving(ca_cert, ca_key, wanted, now)
        else:
            present = certificate_hosts(serving[0])
            if serving[0].not_valid_after_utc - now < RENEW_BEFORE or not wanted <= present:
                # Keep the names the old certificate covered, so alternating callers do not flip-flop.
                serving = _new_serving(ca_cert, ca_key, wanted | present, now)
            else:
                serving = None
        if serving is not None:
            _write(paths["apiserver.key"], _key_pem(serving[1]), 0o600)
            _write(paths["apiserver.crt"], serving[0].public_bytes(serialization.Encoding.PEM), 0o644)
        for key in ("ca.key", "apiserver.key"):
            os.chmod(paths[key], 0o600)
        return TLSMaterial(
            ca_cert_pem=paths["ca.crt"].read_bytes(), ca_key_pem=paths["ca.key"].read_bytes(),
            cert_pem=paths["apiserver.crt"].read_bytes(), key_pem=paths["apiserver.key"].read_bytes(),
            ca_path=paths["ca.crt"], cert_path=paths["apiserver.crt"], key_path=paths["apiserver.key"])


def required_hosts(hosts: Iterable[str]) -> set[Host]:
    """The SAN entries a serving certificate must carry for `hosts` (normalised: IPs parsed, DNS lowercased)."""
    out: set[Host] = {_parse_host(h) for h in CLUSTER_DNS_NAMES}
    out |= {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    hostname = socket.gethostname()
    if hostname and hostname.isascii():
        out.add(_parse_host(hostname))
    out |= {_parse_host(h) for h in hosts if h and h.strip()}
    return out


def certificate_hosts(cert: x509.Certificate) -> set[Host]:
    """The DNS names and IP addresses in a certificate's subjectAltName."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    dns: set[Host] = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    ips: set[Host] = {ip for ip in san.get_values_for_type(x509.IPAddress)
                      if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)}
    return dns | ips


def _parse_host(host: str) -> Host:
    host = host.strip()
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower().rstrip(".")


def _load_pair(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """A certificate and its private key, or None when either is missing, unreadable or they do not match."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return None
    return cert, key


def _usable_ca(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca and cert.not_valid_before_utc <= now < cert.not_valid_after_utc


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _new_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME)])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE).not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_serving(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, hosts: set[Host],
                 now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    dns = sorted(h for h in hosts if isinstance(h, str))
    ips = sorted((h for h in hosts if not isinstance(h, str)), key=lambda ip: (ip.version, int(ip)))
    san = [x509.DNSName(h) for h in dns] + [x509.IPAddress(ip) for ip in ips]
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVING_COMMON_NAME)]))
        .issuer_name(ca_cert.subject).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + SERVING_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int) -> None:
    """Replaces `path` atomically; the temporary file is created private, so keys are never exposed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
