"""The HTTP API over TLS (``raytrader run --tls-cert --tls-key``): Serve's proxy speaks HTTPS with
a self-signed certificate generated here (``cryptography``); a client that trusts it reads with a
token, one that does not is refused at the handshake, and plain HTTP gets no API."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from actors.cli import main
from tests.serve.live_api import LiveApi, live_api
from trading.security.tls import Tls
from trading.security.tokens import Role


def self_signed(directory: Path) -> Tls:
    """A P-256 key (0600) and a one-day certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "raytrader test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "api.crt", directory / "api.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return Tls(str(cert_path), str(key_path))


# --------------------------------------------------------------------------- the CLI's checks


def test_a_cert_without_its_key_is_one_line_and_exit_2_before_ray_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    tls = self_signed(tmp_path)
    argv = ["run", "--data-dir", str(tmp_path / "data"), "--tls-cert", tls.certfile]
    assert main(argv) == 2
    assert capsys.readouterr().err == "error: --tls-cert and --tls-key go together\n"


def test_a_key_others_can_read_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    tls = self_signed(tmp_path)
    Path(tls.keyfile).chmod(0o644)
    argv = ["run", "--data-dir", str(tmp_path / "data"), "--tls-cert", tls.certfile]
    assert main([*argv, "--tls-key", tls.keyfile]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --tls-key {tls.keyfile}: ")
    assert err.count("\n") == 1


# --------------------------------------------------------------------------- on Ray


@pytest.fixture(scope="module")
def served(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    directory = tmp_path_factory.mktemp("tls")
    with live_api(directory, steps=1, tls=self_signed(directory)) as session:
        yield session


@pytest.mark.ray
def test_the_api_answers_https_to_a_client_that_trusts_its_certificate(served: LiveApi) -> None:
    assert served.url.startswith("https://127.0.0.1:")
    trusted = ssl.create_default_context(cafile=str(served.data_dir / "api.crt"))
    with httpx2.Client(base_url=served.url, verify=trusted, trust_env=False) as client:
        assert client.get("/healthz").status_code == 200
        answer = client.get("/v1/risk", headers=served.headers(Role.VIEWER))
        assert answer.status_code == 200, answer.text
        assert client.get("/v1/risk").status_code == 401


@pytest.mark.ray
def test_a_client_that_does_not_trust_the_certificate_is_refused(served: LiveApi) -> None:
    with (
        httpx2.Client(base_url=served.url, trust_env=False) as client,
        pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get("/healthz")


@pytest.mark.ray
def test_plain_http_gets_no_api(served: LiveApi) -> None:
    plain = served.url.replace("https://", "http://")
    with httpx2.Client(base_url=plain, trust_env=False) as client:
        try:
            answer = client.get("/healthz")
        except httpx2.TransportError:
            return
        assert answer.status_code == 400, answer.text
