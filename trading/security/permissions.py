"""Files only their owner may read: written atomically with mode 0600, refused otherwise."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

OWNER_ONLY = 0o600


class InsecureFileError(PermissionError):
    """A file holding secrets can be read by others than its owner (its mode is not 0600)."""

    def __init__(self, path: Path, mode: int) -> None:
        super().__init__(f"{path} has mode {mode:04o}; it must be 0600 (chmod 600 {path})")
        self.path = path
        self.mode = mode


def check_owner_only(path: Path) -> None:
    """Raise ``InsecureFileError`` unless ``path`` has exactly mode 0600."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != OWNER_ONLY:
        raise InsecureFileError(path, mode)


def write_atomically(path: Path, data: bytes, mode: int = OWNER_ONLY) -> Path:
    """Write ``data`` to a temporary file beside ``path`` (created with ``mode``), fsync it and
    rename it over ``path``: a reader sees the old file or the new one, never a half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
