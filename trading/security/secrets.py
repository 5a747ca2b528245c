"""One way to credentials: a ``SecretsProvider`` backed by the environment, a 0600 file, or
HashiCorp Vault's KV v2 engine (``hvac``, token auth).

``get`` answers from a cache; ``refresh`` refetches, for a caller whose credential was refused
after a rotation (a venue's -1022, an LLM's 401). Values travel as ``SecretValue`` (a pydantic
``SecretStr`` inside, so repr and str print stars), and every value a provider ever handed out
is known to its ``RedactingFilter``, which blanks it in log records.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hvac
import yaml
from hvac.exceptions import Forbidden, InvalidPath, Unauthorized, VaultError
from pydantic import SecretStr

from trading.security.permissions import check_owner_only

if TYPE_CHECKING:
    from trading.config import SecuritySettings

REDACTED = "***"


class SecretError(Exception):
    """Base of the secrets layer's errors; never carries a secret value."""


class SecretNotFoundError(SecretError, KeyError):
    def __init__(self, name: str, where: str) -> None:
        super().__init__(f"secret {name!r} not found in {where}")
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


class SecretBackendError(SecretError):
    """The backend could not be read (unreachable, refused, or not the expected shape)."""


@dataclass(frozen=True)
class SecretValue:
    """A named secret; ``value`` prints as stars, ``reveal()`` is the one way to the text.
    ``version`` is the backend's version where it keeps one (Vault KV v2)."""

    name: str
    value: SecretStr
    version: int | None = None

    def reveal(self) -> str:
        return self.value.get_secret_value()


class SecretsProvider(ABC):
    """Cached reads by name; ``refresh`` rereads. Remembers every value handed out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, SecretValue] = {}
        self._handed_out: set[str] = set()

    @abstractmethod
    def _fetch(self, name: str) -> SecretValue:
        """Read ``name`` from the backend now."""

    def get(self, name: str) -> SecretValue:
        with self._lock:
            cached = self._cache.get(name)
        return cached if cached is not None else self.refresh(name)

    def refresh(self, name: str) -> SecretValue:
        """Read ``name`` again (after a rotation) and cache it; old values stay redacted."""
        value = self._fetch(name)
        with self._lock:
            self._cache[name] = value
            if value.reveal():
                self._handed_out.add(value.reveal())
        return value

    def handed_out(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._handed_out)

    def redact(self, text: str) -> str:
        """``text`` with every value this provider handed out replaced by ``***``."""
        for value in sorted(self.handed_out(), key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return text


def env_name(name: str, prefix: str) -> str:
    """The variable of a secret: ``venue/binance/api_key`` under ``RAYTRADER_`` is
    ``RAYTRADER_VENUE_BINANCE_API_KEY``."""
    return prefix + re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()


class EnvSecrets(SecretsProvider):
    """Secrets from environment variables named by ``env_name``."""

    def __init__(
        self, prefix: str = "RAYTRADER_", environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__()
        self.prefix = prefix
        self._environ = os.environ if environ is None else environ

    def _fetch(self, name: str) -> SecretValue:
        variable = env_name(name, self.prefix)
        value = self._environ.get(variable)
        if value is None:
            raise SecretNotFoundError(name, f"the environment (${variable})")
        return SecretValue(name, SecretStr(value))


class FileSecrets(SecretsProvider):
    """Secrets from one YAML/JSON mapping ``name: value``; the file must have mode 0600."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        check_owner_only(path)

    def _fetch(self, name: str) -> SecretValue:
        check_owner_only(self.path)
        try:
            document = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise SecretBackendError(f"{self.path}: not YAML/JSON ({type(exc).__name__})") from None
        if not isinstance(document, dict):
            raise SecretBackendError(f"{self.path}: must map secret names to values")
        if name not in document:
            raise SecretNotFoundError(name, str(self.path))
        value = document[name]
        if not isinstance(value, str):
            raise SecretBackendError(f"{self.path}: secret {name!r} must be a string")
        return SecretValue(name, SecretStr(value))


class VaultSecrets(SecretsProvider):
    """Secrets from Vault KV v2: ``name`` is the path under ``prefix`` in ``mount``, its value
    the ``field`` of that secret's data; ``version`` is KV's version number."""

    def __init__(
        self,
        url: str,
        token: SecretValue | str,
        mount: str = "secret",
        prefix: str = "raytrader",
        field: str = "value",
        timeout_s: int = 10,
        client: hvac.Client | None = None,
    ) -> None:
        super().__init__()
        self.url = url
        self.mount = mount
        self.prefix = prefix.strip("/")
        self.field = field
        plain = token.reveal() if isinstance(token, SecretValue) else token
        self._client = client or hvac.Client(url=url, token=plain, timeout=timeout_s)

    def path_of(self, name: str) -> str:
        return f"{self.prefix}/{name.strip('/')}" if self.prefix else name.strip("/")

    def _fetch(self, name: str) -> SecretValue:
        path = self.path_of(name)
        where = f"Vault {self.url} {self.mount}/{path}"
        try:
            answer: dict[str, Any] = self._client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self.mount, raise_on_deleted_version=True
            )
        except InvalidPath:
            raise SecretNotFoundError(name, where) from None
        except (Forbidden, Unauthorized) as exc:
            raise SecretBackendError(f"{where}: refused ({type(exc).__name__})") from None
        except (VaultError, OSError) as exc:
            raise SecretBackendError(f"{where}: unreachable ({type(exc).__name__})") from None
        data = answer.get("data", {})
        value = data.get("data", {}).get(self.field)
        if not isinstance(value, str):
            raise SecretNotFoundError(name, f"{where} (it has no text field {self.field!r})")
        version = data.get("metadata", {}).get("version")
        return SecretValue(name, SecretStr(value), int(version) if version is not None else None)


class RedactingFilter(logging.Filter):
    """Blanks every value the providers handed out in a record's message, arguments, exception
    and stack text. Attach it to handlers (a logger's filters miss its children's records)."""

    def __init__(self, *providers: SecretsProvider) -> None:
        super().__init__()
        self.providers = providers

    def redact(self, text: str) -> str:
        for provider in self.providers:
            text = provider.redact(text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


# --------------------------------------------------------------------------- the keys by name

VENUE_API_KEY = "venue/api_key"  # pragma: allowlist secret
VENUE_API_SECRET = "venue/api_secret"  # noqa: S105 - a secret's name  # pragma: allowlist secret
JOURNAL_KEY = "journal/key"


def llm_key_name(model: str) -> str:
    return f"llm/{model}"


def open_secrets(security: SecuritySettings) -> SecretsProvider:
    """The provider ``security.secrets_provider`` names (environment variables ``RAYTRADER_*``
    by default: ``venue/api_key`` is ``$RAYTRADER_VENUE_API_KEY``)."""
    if security.secrets_provider == "file":  # pragma: allowlist secret
        return FileSecrets(Path(security.secrets_file or ""))
    if security.secrets_provider == "vault":  # pragma: allowlist secret
        token = os.environ.get(security.vault_token_env)
        if not token:
            raise SecretBackendError(f"Vault: ${security.vault_token_env} holds no token")
        return VaultSecrets(
            security.vault_url or "",
            token,
            mount=security.vault_mount,
            prefix=security.vault_prefix,
        )
    return EnvSecrets()


def optional(secrets: SecretsProvider, name: str, *, refresh: bool = False) -> str | None:
    """The secret's text, or None where the provider has none by that name."""
    try:
        value = secrets.refresh(name) if refresh else secrets.get(name)
    except SecretNotFoundError:
        return None
    return value.reveal()


def venue_credentials(secrets: SecretsProvider) -> Callable[[bool], tuple[str, str] | None]:
    """The venue adapter's credentials source: ``(key, secret)`` (reread when asked to, after a
    venue refused a signature), None when neither is set, an error naming a half-set pair."""

    def credentials(refresh: bool) -> tuple[str, str] | None:
        key = optional(secrets, VENUE_API_KEY, refresh=refresh)
        secret = optional(secrets, VENUE_API_SECRET, refresh=refresh)
        if key is None and secret is None:
            return None
        if key is None or secret is None:
            missing = VENUE_API_KEY if key is None else VENUE_API_SECRET
            raise SecretNotFoundError(missing, "the secrets provider (the venue needs both)")
        return key, secret

    return credentials
