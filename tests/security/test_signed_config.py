"""Signed configs with ed25519: ``raytrader config sign --key``, and a config that requires a
signature refused unsigned, tampered or by an unknown key, at start (CLI: one line, exit 2) and at
a hot reload, where the running settings decide whether and by whom it must be signed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from actors.cli import main
from trading.config import DEFAULT_CONFIG, ConfigError, Settings, load_settings
from trading.reload import ConfigFileWatch
from trading.security.signing import (
    generate_keypair,
    key_id_of,
    load_public_key,
    sign_file,
    signature_path,
)

REQUIRING = (
    "security:\n  require_signed_config: true\n  config_public_keys:\n    k1: signer.pub.pem\n"
)


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("RAYTRADER__") or name == "RAYTRADER_CONFIG_KEY":
            monkeypatch.delenv(name)


@pytest.fixture
def signer(tmp_path: Path) -> Ed25519PrivateKey:
    return generate_keypair(tmp_path / "signer.pem", tmp_path / "signer.pub.pem")


def _config(tmp_path: Path, extra: str = REQUIRING, name: str = "config.yaml") -> Path:
    """The bundled config with ``extra`` replacing its security section."""
    lines = DEFAULT_CONFIG.read_text().splitlines(keepends=True)
    kept: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith("security:"):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        skipping = False
        kept.append(line)
    path = tmp_path / name
    path.write_text("".join(kept) + extra)
    return path


def _tamper(path: Path) -> None:
    path.write_text(
        path.read_text().replace("max_gross_exposure_pct: 20", "max_gross_exposure_pct: 90")
    )


def test_a_signed_config_that_requires_a_signature_loads(
    tmp_path: Path, signer: Ed25519PrivateKey
) -> None:
    path = _config(tmp_path)
    sign_file(path, signer, "k1")
    settings = load_settings(path)
    assert settings.security.require_signed_config is True
    assert settings.security.config_public_keys == {"k1": str(tmp_path / "signer.pub.pem")}


def test_an_unsigned_config_that_requires_a_signature_is_refused(tmp_path: Path) -> None:
    generate_keypair(tmp_path / "signer.pem", tmp_path / "signer.pub.pem")
    path = _config(tmp_path)
    with pytest.raises(ConfigError, match=r"signature: .*config\.yaml: unsigned: no signature"):
        load_settings(path)


def test_a_tampered_config_is_refused_naming_the_key_id(
    tmp_path: Path, signer: Ed25519PrivateKey
) -> None:
    path = _config(tmp_path)
    assert "max_gross_exposure_pct: 20" in path.read_text()
    sign_file(path, signer, "k1")
    _tamper(path)
    with pytest.raises(ConfigError, match=r"tampered: the signature by 'k1' does not match"):
        load_settings(path)


def test_a_config_signed_by_an_unknown_key_is_refused(tmp_path: Path) -> None:
    generate_keypair(tmp_path / "signer.pem", tmp_path / "signer.pub.pem")
    path = _config(tmp_path)
    sign_file(path, Ed25519PrivateKey.generate(), "intruder")
    with pytest.raises(ConfigError, match=r"unknown key id: key id 'intruder' \(known: k1\)"):
        load_settings(path)


def test_a_missing_public_key_file_is_named(tmp_path: Path, signer: Ed25519PrivateKey) -> None:
    path = _config(tmp_path, REQUIRING.replace("signer.pub.pem", "gone.pem"))
    sign_file(path, signer, "k1")
    with pytest.raises(ConfigError, match=r"public key 'k1' \(.*gone\.pem\)"):
        load_settings(path)


def test_the_environment_can_require_signatures_the_file_does_not_ask_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_keypair(tmp_path / "signer.pem", tmp_path / "signer.pub.pem")
    path = _config(tmp_path, "")
    assert load_settings(path).security.require_signed_config is False
    monkeypatch.setenv("RAYTRADER__SECURITY__REQUIRE_SIGNED_CONFIG", "true")
    keys = json.dumps({"k1": str(tmp_path / "signer.pub.pem")})
    monkeypatch.setenv("RAYTRADER__SECURITY__CONFIG_PUBLIC_KEYS", keys)
    with pytest.raises(ConfigError, match="unsigned"):
        load_settings(path)


# --------------------------------------------------------------------------- hot reload


def _running(tmp_path: Path, signer: Ed25519PrivateKey) -> Settings:
    path = _config(tmp_path, name="running.yaml")
    sign_file(path, signer, "k1")
    return load_settings(path)


def test_a_reload_cannot_switch_the_requirement_off(
    tmp_path: Path, signer: Ed25519PrivateKey
) -> None:
    running = _running(tmp_path, signer)
    lax = _config(tmp_path, "security:\n  require_signed_config: false\n", name="lax.yaml")
    with pytest.raises(ConfigError, match="unsigned"):
        load_settings(lax, trust=running)
    sign_file(lax, signer, "k1")
    assert load_settings(lax, trust=running).security.require_signed_config is False


def test_a_reload_trusts_the_running_keys_not_the_new_files(
    tmp_path: Path, signer: Ed25519PrivateKey
) -> None:
    running = _running(tmp_path, signer)
    intruder = Ed25519PrivateKey.generate()
    generate_keypair(tmp_path / "intruder.pem", tmp_path / "intruder.pub.pem")
    swapped = _config(tmp_path, REQUIRING.replace("signer.pub", "intruder.pub"), name="new.yaml")
    sign_file(swapped, intruder, "k1")
    with pytest.raises(ConfigError, match="tampered"):
        load_settings(swapped, trust=running)


def test_the_file_watch_refuses_an_unsigned_or_tampered_edit(
    tmp_path: Path, signer: Ed25519PrivateKey
) -> None:
    path = _config(tmp_path)
    sign_file(path, signer, "k1")
    running = load_settings(path)
    watch = ConfigFileWatch(path, trust=lambda: running)
    _tamper(path)
    tampered = watch.poll()
    assert tampered is not None
    assert tampered.settings is None
    assert tampered.error is not None
    assert "tampered" in tampered.error
    signature_path(path).unlink()
    unsigned = watch.poll()
    assert unsigned is not None
    assert unsigned.error is not None
    assert "unsigned" in unsigned.error
    sign_file(path, signer, "k1")
    signed = watch.poll()
    assert signed is not None
    assert signed.settings is not None
    assert signed.settings.risk.max_gross_exposure_pct == 90.0


# --------------------------------------------------------------------------- the CLI


def test_config_sign_with_a_key_writes_an_ed25519_signature(
    tmp_path: Path, signer: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, "")
    assert main(["config", "sign", str(path), "--key", str(tmp_path / "signer.pem")]) == 0
    key_id = key_id_of(load_public_key(tmp_path / "signer.pub.pem"))
    assert f"(key id {key_id})" in capsys.readouterr().out
    document = json.loads(signature_path(path).read_text())
    assert document["algorithm"] == "ed25519"
    assert document["key_id"] == key_id


def test_config_sign_refuses_a_key_others_can_read(
    tmp_path: Path, signer: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "signer.pem").chmod(0o644)
    path = _config(tmp_path, "")
    assert main(["config", "sign", str(path), "--key", str(tmp_path / "signer.pem")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "signer.pem" in err
    assert not signature_path(path).exists()


@pytest.mark.parametrize("defect", ["unsigned", "tampered"])
def test_run_refuses_an_unsigned_or_tampered_config_in_one_line(
    tmp_path: Path,
    signer: Ed25519PrivateKey,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    defect: str,
) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    path = _config(tmp_path)
    if defect == "tampered":
        sign_file(path, signer, "k1")
        _tamper(path)
    code = main(["run", "--config", str(path), "--data-dir", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert err.startswith(f"config error: {path}: signature: ")
    assert defect in err
    assert "Traceback" not in err


def test_a_reload_checks_the_signature_before_it_reads_the_content(
    tmp_path: Path, signer: Ed25519PrivateKey
) -> None:
    running = _running(tmp_path, signer)
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text("risk: {max_gross_exposure_pct: -1}\nnot_a_key: [\n")
    with pytest.raises(ConfigError, match=r"signature: .*unsigned") as refused:
        load_settings(hostile, trust=running)
    assert len(refused.value.problems) == 1, "nothing of the content is reported"
