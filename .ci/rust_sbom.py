"""Write a CycloneDX 1.5 JSON SBOM of the Rust crates from `cargo metadata` (no extra tools)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path


def main(out: Path) -> None:
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    workspace = set(metadata["workspace_members"])
    refs = {p["id"]: f"pkg:cargo/{p['name']}@{p['version']}" for p in metadata["packages"]}
    components, dependencies = [], []
    root_ref = None
    for package in sorted(metadata["packages"], key=lambda p: (p["name"], p["version"])):
        ref = refs[package["id"]]
        component = {
            "type": "library",
            "bom-ref": ref,
            "name": package["name"],
            "version": package["version"],
            "purl": ref,
        }
        if package.get("license"):
            component["licenses"] = [{"expression": package["license"]}]
        if package["id"] in workspace:
            root_ref = ref
        components.append(component)
    for node in metadata["resolve"]["nodes"]:
        depends_on = sorted({refs[dep["pkg"]] for dep in node["deps"]})
        dependencies.append({"ref": refs[node["id"]], "dependsOn": depends_on})
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "component": {"type": "library", "bom-ref": root_ref, "name": "rust_exec"},
        },
        "components": [c for c in components if c["bom-ref"] != root_ref],
        "dependencies": dependencies,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(bom, indent=2) + "\n")
    print(f"wrote {out} ({len(bom['components'])} crates)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
