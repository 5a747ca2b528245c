"""Ed25519 signatures for config files and journal checkpoints (``cryptography``).

A signed file ``f`` has a detached ``f.sig``: JSON with the key id and the base64 signature over
the file's bytes. Verifiers hold public keys by key id, so a key can be rotated by adding the new
id before signing with it. Journal checkpoints sign ``(seq, chain hash)`` every N records: the
hash chain makes one signed hash vouch for every record before it, so whoever rewrites the whole
chain with the journal's HMAC key still cannot make the checkpoints verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from trading.journal.chain import GENESIS, canonical, record_hash
from trading.security.permissions import check_owner_only, write_atomically

SIGNATURE_SUFFIX = ".sig"
PublicKeys = Mapping[str, Ed25519PublicKey]
ALGORITHM = "ed25519"


class SignatureError(Exception):
    """A signature does not vouch for what it should; ``reason`` says why in one word."""

    reason = "invalid"

    def __init__(self, subject: str, detail: str) -> None:
        super().__init__(f"{subject}: {self.reason}: {detail}")
        self.subject = subject


class UnsignedError(SignatureError):
    reason = "unsigned"


class UnknownKeyIdError(SignatureError):
    reason = "unknown key id"


class MalformedSignatureError(SignatureError):
    reason = "malformed signature"


class TamperedError(SignatureError):
    reason = "tampered"


class KeyFileError(ValueError):
    """A PEM file is not an ed25519 key of the expected kind."""


# --------------------------------------------------------------------------- keys


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A default key id: the first 16 hex digits of SHA-256 over the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_keypair(private_path: Path, public_path: Path) -> Ed25519PrivateKey:
    """A new key: the private half as PKCS#8 PEM with mode 0600, the public half as PEM."""
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_atomically(private_path, private_pem)
    write_atomically(public_path, public_pem, mode=0o644)
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An ed25519 private key from a PEM file that only its owner can read."""
    check_owner_only(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an ed25519 private key ({type(key).__name__})")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: not an ed25519 public key ({type(key).__name__})")
    return key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _check(
    subject: str,
    message: bytes,
    key_id: object,
    signature: object,
    public_keys: PublicKeys,
) -> str:
    """The key id that verifies ``signature`` over ``message``, or the error naming why not."""
    if not isinstance(key_id, str) or not isinstance(signature, str):
        raise MalformedSignatureError(subject, "key_id and signature must be strings")
    key = public_keys.get(key_id)
    if key is None:
        known = ", ".join(sorted(public_keys)) or "none"
        raise UnknownKeyIdError(subject, f"key id {key_id!r} (known: {known})")
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (binascii.Error, ValueError) as exc:
        raise MalformedSignatureError(subject, f"signature is not base64 ({exc})") from None
    except InvalidSignature:
        raise TamperedError(subject, f"the signature by {key_id!r} does not match") from None
    return key_id


# --------------------------------------------------------------------------- files


def signature_path(path: Path) -> Path:
    return path.with_name(path.name + SIGNATURE_SUFFIX)


def sign_file(path: Path, private_key: Ed25519PrivateKey, key_id: str) -> Path:
    """Write ``path.sig``: the key id and the signature over ``path``'s bytes."""
    document = {
        "algorithm": ALGORITHM,
        "key_id": key_id,
        "signature": _b64(private_key.sign(path.read_bytes())),
    }
    return write_atomically(
        signature_path(path), json.dumps(document, indent=2).encode(), mode=0o644
    )


def verify_file(path: Path, public_keys: PublicKeys, data: bytes | None = None) -> str:
    """The key id that signed ``path`` (or ``data``, its bytes as already read); raises
    ``UnsignedError``, ``UnknownKeyIdError``, ``MalformedSignatureError`` or ``TamperedError``
    naming the file."""
    subject = str(path)
    sig_path = signature_path(path)
    if not sig_path.exists():
        raise UnsignedError(subject, f"no signature file {sig_path.name}")
    try:
        document = json.loads(sig_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedSignatureError(subject, f"{sig_path.name} is not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("algorithm") != ALGORITHM:
        raise MalformedSignatureError(subject, f"{sig_path.name} is not an {ALGORITHM} signature")
    message = path.read_bytes() if data is None else data
    return _check(subject, message, document.get("key_id"), document.get("signature"), public_keys)


def load_public_keys(paths: Mapping[str, str], base: Path) -> dict[str, Ed25519PublicKey]:
    """Public keys by key id from PEM files (a relative path is relative to ``base``)."""
    keys: dict[str, Ed25519PublicKey] = {}
    for key_id, name in paths.items():
        path = base / Path(name).expanduser()
        try:
            keys[key_id] = load_public_key(path)
        except (OSError, ValueError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise KeyFileError(f"public key {key_id!r} ({path}): {detail}") from None
    return keys


# --------------------------------------------------------------------------- journal checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """A signature over the chain's head after record ``seq``."""

    seq: int
    chain_hash: str
    key_id: str
    signature: str

    def message(self) -> bytes:
        return checkpoint_message(self.seq, self.chain_hash, self.key_id)


def checkpoint_message(seq: int, chain_hash: str, key_id: str) -> bytes:
    return canonical({"seq": seq, "hash": chain_hash, "key_id": key_id, "alg": ALGORITHM})


class BrokenChainError(ValueError):
    """A record handed to the checkpoint signer does not continue the chain."""


class CheckpointSigner:
    """Follows the journal record by record and signs a checkpoint after every ``every`` records
    (a live journal calls ``observe`` after each append)."""

    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        key_id: str,
        every: int,
        resume: tuple[int, str] = (0, GENESIS),
    ) -> None:
        """``resume``: the record count and last hash of a reopened journal, to continue at."""
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self._key = private_key
        self.key_id = key_id
        self.every = every
        self._seq, self._prev = resume

    def observe(self, record: Mapping[str, Any]) -> Checkpoint | None:
        digest = record_hash(record)
        if record.get("seq") != self._seq or record.get("prev") != self._prev:
            raise BrokenChainError(f"record seq={record.get('seq')!r} does not follow the chain")
        if not hmac.compare_digest(str(record.get("hash", "")), digest):
            raise BrokenChainError(f"record seq={self._seq}: hash does not match its content")
        self._seq, self._prev = self._seq + 1, digest
        if self._seq % self.every:
            return None
        seq = self._seq - 1
        signature = self._key.sign(checkpoint_message(seq, digest, self.key_id))
        return Checkpoint(seq, digest, self.key_id, _b64(signature))


def sign_checkpoints(
    records: Iterable[Mapping[str, Any]], private_key: Ed25519PrivateKey, key_id: str, every: int
) -> list[Checkpoint]:
    """Checkpoints after records every-1, 2*every-1, ... of a whole journal."""
    signer = CheckpointSigner(private_key, key_id, every)
    return [c for c in map(signer.observe, records) if c is not None]


def write_checkpoints(path: Path, checkpoints: Iterable[Checkpoint]) -> Path:
    lines = "".join(canonical(asdict(c)).decode() + "\n" for c in checkpoints)
    return write_atomically(path, lines.encode(), mode=0o644)


def append_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(canonical(asdict(checkpoint)).decode() + "\n")


def checkpoints_path(journal: Path) -> Path:
    """Where a journal's signed checkpoints live: ``journal.jsonl.checkpoints`` beside it."""
    return journal.with_name(journal.name + ".checkpoints")


class CheckpointLog:
    """A live journal's checkpoint file: ``observe`` each appended record, and every
    ``every``-th one is signed and appended. Reopened, it continues at the journal's tail and
    drops checkpoints past it (left by a batch a crash cut short and the journal truncated)."""

    def __init__(self, signer: CheckpointSigner, path: Path, records: int) -> None:
        self.signer = signer
        self.path = path
        if path.exists():
            kept = [c for c in read_checkpoints(path) if c.seq < records]
            write_checkpoints(path, kept)

    @classmethod
    def open(
        cls, journal: Path, key_file: Path, key_id: str | None, every: int, tail: tuple[int, str]
    ) -> CheckpointLog:
        """Signing with the 0600 PEM ``key_file`` (key id default: derived from the key) after
        a journal at ``tail`` (its record count and last hash)."""
        key = load_private_key(key_file)
        signer = CheckpointSigner(key, key_id or key_id_of(key.public_key()), every, tail)
        return cls(signer, checkpoints_path(journal), tail[0])

    def observe(self, record: Mapping[str, Any]) -> None:
        checkpoint = self.signer.observe(record)
        if checkpoint is not None:
            append_checkpoint(self.path, checkpoint)


def read_checkpoints(path: Path) -> Iterator[Checkpoint]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                yield Checkpoint(**json.loads(line))
            except (json.JSONDecodeError, TypeError) as exc:
                raise MalformedSignatureError(f"{path}:{number}", str(exc)) from None


@dataclass(frozen=True)
class CheckpointReport:
    """``checkpoints`` verified; records up to ``covered`` are vouched for, ``records`` read."""

    checkpoints: int
    covered: int
    records: int


def verify_checkpoints(
    records: Iterable[Mapping[str, Any]],
    checkpoints: Iterable[Checkpoint],
    public_keys: PublicKeys,
) -> CheckpointReport:
    """Walk the chain (seq, prev, content hash) and check each checkpoint's signature and that
    the chain's hash after its record is the signed one. Raises ``TamperedError`` naming the
    first record or checkpoint where they part, ``UnsignedError`` when there is no checkpoint or
    the journal ends before one."""
    pending = sorted(checkpoints, key=lambda c: c.seq)
    if not pending:
        raise UnsignedError("journal", "no checkpoints")
    verified = count = 0
    prev = GENESIS
    for record in records:
        if record.get("seq") != count or record.get("prev") != prev:
            raise TamperedError(f"journal record seq {count}", "does not continue the chain")
        prev = record_hash(record)
        while verified < len(pending) and pending[verified].seq == count:
            checkpoint = pending[verified]
            subject = f"journal checkpoint at seq {checkpoint.seq}"
            _check(
                subject, checkpoint.message(), checkpoint.key_id, checkpoint.signature, public_keys
            )
            if not hmac.compare_digest(checkpoint.chain_hash, prev):
                raise TamperedError(subject, "the journal's chain hash is not the signed one")
            verified += 1
        count += 1
    if verified < len(pending):
        raise UnsignedError(
            f"journal checkpoint at seq {pending[verified].seq}",
            f"the journal ends after {count} records (truncated)",
        )
    return CheckpointReport(verified, pending[-1].seq + 1, count)
