"""The grid driver's run files: ``OUT/runs/<run_id>.json`` written as each run finishes, so a
failed batch loses only its own runs and a re-run resumes by skipping the ids already there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RUNS_DIR = "runs"


def _plain(value: object) -> object:
    """JSON for what ``json`` does not know: numpy arrays as lists, anything else as text."""
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else str(value)


class RunStore:
    """One file per finished run (written whole, then renamed), one per failed run."""

    def __init__(self, out: Path) -> None:
        self.path = out / RUNS_DIR
        self.path.mkdir(parents=True, exist_ok=True)

    def done(self) -> dict[str, dict[str, Any]]:
        """Runs already written, by id (failed runs are not done: a re-run retries them)."""
        return {
            path.stem: json.loads(path.read_text())
            for path in sorted(self.path.glob("*.json"))
            if not path.name.endswith(".error.json")
        }

    def write(self, run_id: str, payload: dict[str, Any]) -> None:
        path = self.path / f"{run_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, default=_plain))
        tmp.replace(path)

    def write_error(self, run_id: str, error: str) -> dict[str, str]:
        """``<run_id>.error.json`` naming the run and its error; returns that record."""
        failure = {"run_id": run_id, "error": error}
        (self.path / f"{run_id}.error.json").write_text(json.dumps(failure))
        return failure
