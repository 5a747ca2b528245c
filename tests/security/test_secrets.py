"""Secrets providers: env, 0600 file, and Vault KV v2 against a real OpenBao server; rotation
through ``refresh``; values hidden in repr and blanked in logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest

from tests.security.conftest import Bao
from trading.security.permissions import InsecureFileError
from trading.security.secrets import (
    EnvSecrets,
    FileSecrets,
    RedactingFilter,
    SecretBackendError,
    SecretNotFoundError,
    SecretsProvider,
    VaultSecrets,
    env_name,
)

V1, V2 = "binance-secret-v1-7f3a9c", "binance-secret-v2-41d8e2"


def test_a_secret_value_prints_as_stars_and_reveals_only_when_asked() -> None:
    value = EnvSecrets(environ={"RAYTRADER_VENUE_API_SECRET": V1}).get("venue/api_secret")
    assert V1 not in repr(value)
    assert V1 not in str(value)
    assert V1 not in f"{value}"
    assert value.reveal() == V1


def test_env_names_follow_the_secret_name_under_the_prefix() -> None:
    assert env_name("venue/binance/api_key", "RAYTRADER_") == "RAYTRADER_VENUE_BINANCE_API_KEY"
    assert env_name("llm.anthropic-key", "") == "LLM_ANTHROPIC_KEY"


def test_env_secrets_are_cached_until_refreshed_and_a_missing_one_names_its_variable() -> None:
    environ = {"RAYTRADER_LLM_OPENAI": V1}
    provider = EnvSecrets(environ=environ)
    assert provider.get("llm/openai").reveal() == V1
    environ["RAYTRADER_LLM_OPENAI"] = V2
    assert provider.get("llm/openai").reveal() == V1
    assert provider.refresh("llm/openai").reveal() == V2
    assert provider.get("llm/openai").reveal() == V2
    with pytest.raises(SecretNotFoundError, match=r"\$RAYTRADER_LLM_MISTRAL"):
        provider.get("llm/mistral")


def _secret_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o400, 0o700])
def test_a_secret_file_whose_mode_is_not_0600_is_refused_naming_path_and_mode(
    tmp_path: Path, mode: int
) -> None:
    path = _secret_file(tmp_path, f"venue/api_secret: {V1}\n", mode)
    with pytest.raises(InsecureFileError) as refused:
        FileSecrets(path)
    assert str(path) in str(refused.value)
    assert f"{mode:04o}" in str(refused.value)


def test_file_secrets_read_a_0600_mapping_and_pick_up_a_rewritten_file_on_refresh(
    tmp_path: Path,
) -> None:
    path = _secret_file(tmp_path, f"venue/api_secret: {V1}\njournal/hmac_key: k\n")
    provider = FileSecrets(path)
    assert provider.get("venue/api_secret").reveal() == V1
    path.write_text(f"venue/api_secret: {V2}\n")
    assert provider.refresh("venue/api_secret").reveal() == V2
    with pytest.raises(SecretNotFoundError, match="journal/hmac_key"):
        provider.refresh("journal/hmac_key")
    path.chmod(0o644)
    with pytest.raises(InsecureFileError):
        provider.refresh("venue/api_secret")


def test_a_secret_file_value_that_is_not_text_is_refused_without_echoing_it(
    tmp_path: Path,
) -> None:
    provider = FileSecrets(_secret_file(tmp_path, "venue/api_secret: 123456789\n"))
    with pytest.raises(SecretBackendError, match="must be a string") as refused:
        provider.get("venue/api_secret")
    assert "123456789" not in str(refused.value)


# --------------------------------------------------------------------------- Vault (OpenBao)


@pytest.fixture
def vault_admin(bao: Bao) -> Iterator[hvac.Client]:
    client = hvac.Client(url=bao.url, token=bao.root_token)
    yield client
    client.adapter.close()


def test_vault_secrets_read_kv2_and_pick_up_a_rotation_on_refresh(
    bao: Bao, vault_admin: hvac.Client
) -> None:
    kv = vault_admin.secrets.kv.v2
    kv.create_or_update_secret(path="raytrader/venue/api_secret", secret={"value": V1})
    provider = VaultSecrets(bao.url, bao.root_token)
    first = provider.get("venue/api_secret")
    assert (first.reveal(), first.version) == (V1, 1)

    kv.create_or_update_secret(path="raytrader/venue/api_secret", secret={"value": V2})
    assert provider.get("venue/api_secret").reveal() == V1, "cached until a refusal says rotate"
    rotated = provider.refresh("venue/api_secret")
    assert (rotated.reveal(), rotated.version) == (V2, 2)
    assert provider.get("venue/api_secret") == rotated


def test_a_venue_refusal_refetches_once_and_the_retry_signs_with_the_rotated_secret(
    bao: Bao, vault_admin: hvac.Client
) -> None:
    """The shape of the -1022 rule a venue adapter follows: refused -> refresh -> retry once."""
    kv = vault_admin.secrets.kv.v2
    kv.create_or_update_secret(path="raytrader/venue/hmac", secret={"value": V1})
    provider = VaultSecrets(bao.url, bao.root_token)
    provider.get("venue/hmac")
    kv.create_or_update_secret(path="raytrader/venue/hmac", secret={"value": V2})
    accepted_by_venue = V2
    tries = []
    for attempt in range(2):
        secret = provider.get("venue/hmac") if attempt == 0 else provider.refresh("venue/hmac")
        tries.append(secret.reveal() == accepted_by_venue)
        if tries[-1]:
            break
    assert tries == [False, True]


def test_vault_names_a_missing_secret_and_a_missing_field(
    bao: Bao, vault_admin: hvac.Client
) -> None:
    vault_admin.secrets.kv.v2.create_or_update_secret(
        path="raytrader/llm/anthropic", secret={"api_key": V1}
    )
    provider = VaultSecrets(bao.url, bao.root_token)
    with pytest.raises(SecretNotFoundError, match="llm/absent"):
        provider.get("llm/absent")
    with pytest.raises(SecretNotFoundError, match="no text field 'value'"):
        provider.get("llm/anthropic")
    assert (
        VaultSecrets(bao.url, bao.root_token, field="api_key").get("llm/anthropic").reveal() == V1
    )


def test_a_bad_vault_token_or_an_unreachable_vault_is_a_backend_error_without_the_token(
    bao: Bao,
) -> None:
    bad_token = "hvs.not-a-real-token-5f0e"  # noqa: S105 - a made-up token
    with pytest.raises(SecretBackendError, match="refused") as refused:
        VaultSecrets(bao.url, bad_token).get("venue/api_secret")
    assert bad_token not in str(refused.value)
    with pytest.raises(SecretBackendError, match="unreachable"):
        VaultSecrets("http://127.0.0.1:9", bao.root_token, timeout_s=2).get("venue/api_secret")


# --------------------------------------------------------------------------- redaction


def _logger(provider: SecretsProvider) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter(provider))
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(f"raytrader.test.redact.{id(out)}")
    logger.propagate = False
    logger.addHandler(handler)
    return logger, out


def test_every_value_handed_out_is_blanked_in_messages_args_and_tracebacks() -> None:
    environ = {"RAYTRADER_VENUE_API_SECRET": V1, "RAYTRADER_LLM_KEY": "sk-live-0a1b2c3d4e"}
    provider = EnvSecrets(environ=environ)
    venue, llm = provider.get("venue/api_secret"), provider.get("llm/key")
    environ["RAYTRADER_VENUE_API_SECRET"] = V2
    provider.refresh("venue/api_secret")
    logger, out = _logger(provider)

    logger.warning("signing with %s then %s", venue.reveal(), V2)
    logger.info(f"llm key={llm.reveal()}")
    try:
        raise RuntimeError(f"venue said -1022 for signature made with {V1}")
    except RuntimeError:
        logger.exception("order refused (key %r)", llm)

    text = out.getvalue()
    for value in (V1, V2, "sk-live-0a1b2c3d4e"):
        assert value not in text
    assert text.count("***") >= 4
    assert "-1022" in text
    assert "Traceback" in text


def test_a_value_never_handed_out_is_left_alone() -> None:
    provider = EnvSecrets(environ={"RAYTRADER_A": V1})
    logger, out = _logger(provider)
    logger.warning("nothing secret: %s", V1)
    assert V1 in out.getvalue()
