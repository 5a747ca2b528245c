"""TLS for the HTTP API: the certificate and key files Serve's proxy serves HTTPS with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trading.security.permissions import InsecureFileError, check_owner_only


@dataclass(frozen=True)
class Tls:
    """The API's certificate chain and private key (PEM files): Serve's proxy speaks HTTPS."""

    certfile: str
    keyfile: str

    def http_options(self) -> dict[str, str]:
        return {"ssl_certfile": self.certfile, "ssl_keyfile": self.keyfile}

    @classmethod
    def from_files(cls, certfile: Path | None, keyfile: Path | None) -> Tls | None:
        """``--tls-cert``/``--tls-key``: both or neither; the key readable by its owner only."""
        if certfile is None and keyfile is None:
            return None
        if certfile is None or keyfile is None:
            raise TlsFileError("--tls-cert and --tls-key go together")
        if not certfile.is_file():
            raise TlsFileError(f"--tls-cert {certfile}: no such file")
        try:
            check_owner_only(keyfile)
        except (OSError, InsecureFileError) as exc:
            raise TlsFileError(f"--tls-key {keyfile}: {exc}") from None
        return cls(str(certfile.resolve()), str(keyfile.resolve()))


class TlsFileError(ValueError):
    """A TLS certificate or key file that cannot be served with."""
