"""The secret scanner in the pre-commit gates blocks a committed key and passes clean files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _scan(path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("detect-secrets-hook")
    assert exe, "detect-secrets is a dev dependency"
    return subprocess.run(
        [exe, "--baseline", str(REPO / ".secrets.baseline"), str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


@pytest.mark.parametrize(
    "leak",
    [
        "aws_access_key_id = " + "AKIA" + "Z7QXJ4WB2MNV5K3P",
        "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow\n",
        'ANTHROPIC_API_KEY = "sk-ant-api03-'
        + "k9Xq2Lm7Pz4Rt8Wv1Yb6Nc3Hd5Jf0Gs"  # pragma: allowlist secret
        + '"',
    ],
)
def test_secret_scanner_blocks_a_key(tmp_path: Path, leak: str) -> None:
    leaked = tmp_path / "settings.py"
    leaked.write_text(leak + "\n")
    result = _scan(leaked)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Potential secrets" in result.stdout


def test_secret_scanner_passes_the_config_and_contracts() -> None:
    for path in (REPO / "configs" / "default.yaml", REPO / "trading" / "contracts.py"):
        result = _scan(path)
        assert result.returncode == 0, result.stdout
