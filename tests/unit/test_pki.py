"""TLS material: CA and serving certificate creation, reuse, renewal and concurrent starts."""

from __future__ import annotations

import datetime as dt
import ipaddress
import multiprocessing
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from idpbuilder.platform import pki
from idpbuilder.platform.pki import ensure_tls


def cert_of(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_creates_ca_and_serving_cert(tmp_path: Path) -> None:
    tls = ensure_tls(tmp_path)
    pki_dir = tmp_path / "pki"
    assert sorted(p.name for p in pki_dir.iterdir() if not p.name.startswith(".")) == [
        "apiserver.crt", "apiserver.key", "ca.crt", "ca.key"]
    assert (tls.ca_path, tls.cert_path, tls.key_path) == (
        pki_dir / "ca.crt", pki_dir / "apiserver.crt", pki_dir / "apiserver.key")
    assert mode(pki_dir) == 0o700
    assert mode(pki_dir / "ca.key") == 0o600
    assert mode(pki_dir / "apiserver.key") == 0o600
    assert tls.ca_cert_pem == (pki_dir / "ca.crt").read_bytes()
    assert tls.key_pem == (pki_dir / "apiserver.key").read_bytes()

    ca = cert_of(tls.ca_cert_pem)
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "idpbuilder-ca"
    assert ca.issuer == ca.subject
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    ca_key = ca.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey) and ca_key.curve.name == "secp256r1"
    lifetime = ca.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=3640) < lifetime <= dt.timedelta(days=3650)
    ca_private = serialization.load_pem_private_key(tls.ca_key_pem, None)
    assert ca_private.public_key() == ca_key

    cert = cert_of(tls.cert_pem)
    cert.verify_directly_issued_by(ca)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    dns, ips = sans(cert)
    assert {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local", socket.gethostname().lower()} <= dns
    assert {"127.0.0.1", "::1"} <= ips
    lifetime = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=360) < lifetime <= dt.timedelta(days=365)
    assert serialization.load_pem_private_key(tls.key_pem, None).public_key() == cert.public_key()


def test_extra_hosts_are_in_the_certificate(tmp_path: Path) -> None:
    tls = ensure_tls(tmp_path, hosts=["idp.example.com", "10.1.2.3", "[fd00::5]"])
    dns, ips = sans(cert_of(tls.cert_pem))
    assert "idp.example.com" in dns
    assert {"10.1.2.3", "fd00::5"} <= ips
    assert "10.1.2.3" not in dns


def test_later_starts_reuse_everything(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path, hosts=["idp.example.com"])
    again = ensure_tls(tmp_path, hosts=["idp.example.com"])
    defaults = ensure_tls(tmp_path)
    empty = ensure_tls(tmp_path, hosts=[])
    for later in (again, defaults, empty):
        assert later.ca_cert_pem == first.ca_cert_pem
        assert later.cert_pem == first.cert_pem
        assert later.key_pem == first.key_pem


def test_new_host_reissues_serving_cert_but_keeps_ca(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path, hosts=["a.example.com"])
    second = ensure_tls(tmp_path, hosts=["192.168.7.9"])
    assert second.ca_cert_pem == first.ca_cert_pem and second.ca_key_pem == first.ca_key_pem
    assert second.cert_pem != first.cert_pem and second.key_pem != first.key_pem
    dns, ips = sans(cert_of(second.cert_pem))
    assert "a.example.com" in dns  # names the old certificate covered are kept
    assert "192.168.7.9" in ips
    cert_of(second.cert_pem).verify_directly_issued_by(cert_of(first.ca_cert_pem))
    assert ensure_tls(tmp_path, hosts=["a.example.com"]).cert_pem == second.cert_pem


def test_serving_cert_expiring_within_30_days_is_renewed(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path)
    ca = cert_of(first.ca_cert_pem)
    ca_key = serialization.load_pem_private_key(first.ca_key_pem, None)
    now = dt.datetime.now(dt.UTC)
    old, old_key = pki._new_serving(ca, ca_key, pki.required_hosts(pki.DEFAULT_HOSTS), now - dt.timedelta(days=340))
    (tmp_path / "pki" / "apiserver.crt").write_bytes(old.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "pki" / "apiserver.key").write_bytes(pki._key_pem(old_key))

    renewed = ensure_tls(tmp_path)
    assert renewed.ca_cert_pem == first.ca_cert_pem
    cert = cert_of(renewed.cert_pem)
    assert cert.not_valid_after_utc - now > dt.timedelta(days=300)
    cert.verify_directly_issued_by(ca)


def test_serving_cert_from_another_ca_or_mismatched_key_is_replaced(tmp_path: Path) -> None:
    mine = ensure_tls(tmp_path / "one")
    other = ensure_tls(tmp_path / "two")
    (tmp_path / "one" / "pki" / "apiserver.crt").write_bytes(other.cert_pem)
    (tmp_path / "one" / "pki" / "apiserver.key").write_bytes(other.key_pem)
    fixed = ensure_tls(tmp_path / "one")
    assert fixed.ca_cert_pem == mine.ca_cert_pem
    cert_of(fixed.cert_pem).verify_directly_issued_by(cert_of(mine.ca_cert_pem))

    (tmp_path / "one" / "pki" / "apiserver.key").write_bytes(other.key_pem)
    again = ensure_tls(tmp_path / "one")
    key = serialization.load_pem_private_key(again.key_pem, None)
    assert key.public_key() == cert_of(again.cert_pem).public_key()


def test_missing_or_corrupt_ca_regenerates_everything(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path)
    (tmp_path / "pki" / "ca.key").write_bytes(b"garbage")
    second = ensure_tls(tmp_path)
    assert second.ca_cert_pem != first.ca_cert_pem
    cert_of(second.cert_pem).verify_directly_issued_by(cert_of(second.ca_cert_pem))
    assert mode(tmp_path / "pki" / "ca.key") == 0o600


def test_loose_key_permissions_are_tightened(tmp_path: Path) -> None:
    ensure_tls(tmp_path)
    (tmp_path / "pki" / "apiserver.key").chmod(0o644)
    (tmp_path / "pki").chmod(0o755)
    ensure_tls(tmp_path)
    assert mode(tmp_path / "pki" / "apiserver.key") == 0o600
    assert mode(tmp_path / "pki") == 0o700


def _ensure_in_child(data_dir: str) -> tuple[bytes, bytes]:
    tls = ensure_tls(Path(data_dir))
    return tls.ca_cert_pem, tls.cert_pem


def test_concurrent_first_starts_agree_on_one_ca(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.map(_ensure_in_child, [str(tmp_path)] * 4)
    assert len({ca for ca, _ in results}) == 1
    assert len({cert for _, cert in results}) == 1
    final = ensure_tls(tmp_path)
    assert final.ca_cert_pem == results[0][0]
    ca_key = serialization.load_pem_private_key(final.ca_key_pem, None)
    assert ca_key.public_key() == cert_of(final.ca_cert_pem).public_key()
    assert not [p for p in (tmp_path / "pki").iterdir() if p.name.startswith(".") and p.name != ".lock"]


@pytest.mark.parametrize("server_name", ["localhost", "kubernetes.default.svc", "127.0.0.1"])
def test_tls_handshake_verifies_against_the_ca(tmp_path: Path, server_name: str) -> None:
    tls = ensure_tls(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tls.cert_path, tls.key_path)
    client_ctx = ssl.create_default_context(cafile=str(tls.ca_path))
    a, b = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(a, server_side=True) as s:
                s.sendall(s.recv(5))
        except BaseException as e:  # surfaced by the assertion below
            errors.append(e)

    t = threading.Thread(target=serve)
    t.start()
    with client_ctx.wrap_socket(b, server_hostname=server_name) as c:
        c.sendall(b"hello")
        assert c.recv(5) == b"hello"
    t.join(5)
    assert not errors


def test_handshake_fails_for_a_host_not_in_the_certificate(tmp_path: Path) -> None:
    tls = ensure_tls(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tls.cert_path, tls.key_path)
    client_ctx = ssl.create_default_context(cafile=str(tls.ca_path))
    a, b = socket.socketpair()

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(a, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass

    t = threading.Thread(target=serve)
    t.start()
    with pytest.raises(ssl.SSLCertVerificationError):
        client_ctx.wrap_socket(b, server_hostname="evil.example.com")
    b.close()
    t.join(5)
    a.close()


def test_required_hosts_normalises() -> None:
    hosts = pki.required_hosts(["Idp.Example.COM.", " 10.0.0.1 ", ""])
    assert "idp.example.com" in hosts
    assert ipaddress.ip_address("10.0.0.1") in hosts
    assert "" not in hosts
