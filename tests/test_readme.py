"""The README keeps its two set-up commands, and CI runs the test one."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAIN_JOB = "pip install -e . && raytrader run"
TESTS = 'pip install -e ".[dev]" && pytest'


def test_readme_shows_exactly_the_two_setup_commands() -> None:
    blocks = REPO.joinpath("README.md").read_text().split("```bash\n")[1:]
    commands = [block.split("```")[0].strip() for block in blocks]
    assert commands[:2] == [MAIN_JOB, TESTS]


def test_ci_runs_the_readme_test_command() -> None:
    assert f"TEST_COMMAND='{TESTS}'" in REPO.joinpath(".ci", "run").read_text()
