"""``raytrader token create/list/revoke`` and the admin token of a first ``raytrader run``."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from actors.cli import ADMIN_TOKEN_ENV, _admin_token, main
from trading.config import load_settings
from trading.security.tokens import Role, TokenStore, token_id_of


def _create(capsys: pytest.CaptureFixture[str], data_dir: Path, role: str) -> str:
    assert main(["token", "create", "--role", role, "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # stdout holds the token and nothing else
    return out.strip()


def test_create_prints_a_token_once_that_authenticates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _create(capsys, tmp_path, "trader")
    store_file = tmp_path / "tokens.json"
    assert stat.S_IMODE(store_file.stat().st_mode) == 0o600
    assert token not in store_file.read_text()
    principal = TokenStore(store_file).authenticate(token)
    assert principal is not None
    assert principal.role is Role.TRADER


def test_list_shows_ids_roles_and_revocation_never_hashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _create(capsys, tmp_path, "viewer")
    token_id = token_id_of(token)
    assert token_id is not None
    assert main(["token", "revoke", token_id, "--data-dir", str(tmp_path)]) == 0
    assert token_id in capsys.readouterr().out
    assert main(["token", "list", "--data-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    row = next(line for line in listing.splitlines() if line.startswith(token_id))
    assert (row.split()[1], row.split()[-1]) == ("viewer", "True")
    assert "argon2" not in listing
    assert TokenStore(tmp_path / "tokens.json").authenticate(token) is None


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["token", "create", "--role", "root"], "viewer, trader, admin"),
        (["token", "revoke", "0123456789abcdef"], "0123456789abcdef"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    assert main([*argv, "--data-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert named in captured.err


def test_a_readable_store_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _create(capsys, tmp_path, "admin")
    (tmp_path / "tokens.json").chmod(0o644)
    assert main(["token", "list", "--data-dir", str(tmp_path)]) == 2
    assert "0600" in capsys.readouterr().err


def test_first_run_prints_an_admin_token_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
    _admin_token(load_settings(), tmp_path)
    token = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    principal = TokenStore(tmp_path / "tokens.json").authenticate(token)
    assert principal is not None
    assert principal.role is Role.ADMIN
    _admin_token(load_settings(), tmp_path)
    assert capsys.readouterr().out == ""


def test_a_provided_admin_token_is_registered_not_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    given = "rt_00112233aabbccdd_" + "k" * 43
    monkeypatch.setenv(ADMIN_TOKEN_ENV, given)
    _admin_token(load_settings(), tmp_path)
    _admin_token(load_settings(), tmp_path)  # a restart registers it again without error
    assert capsys.readouterr().out == ""
    principal = TokenStore(tmp_path / "tokens.json").authenticate(given)
    assert principal is not None
    assert principal.role is Role.ADMIN
