"""The folders are the layers (docs/architecture.md): every import, also one inside a
function, goes to the same layer or one below it; strategies/ imports nothing of
deployer."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

LAYER = {
    "core": 0, "plan": 0, "aws": 0, "errors": 0, "logs": 0,
    "targets": 1, "checks": 1, "hooks": 1, "store": 1, "notify": 1, "display": 1,
    "importers": 1,
    "engine": 2, "stepfunctions": 2, "runs": 3, "demo": 4, "dashboard": 4, "cli": 5, "__main__": 6,
}
ADAPTERS = {"targets", "checks", "hooks", "store", "notify", "display"}


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "deployer" and len(parts) > 1 else None


def test_every_import_goes_down_or_sideways() -> None:
    upward = []
    for path in (ROOT / "deployer").rglob("*.py"):
        mine = path.relative_to(ROOT / "deployer").parts[0].removesuffix(".py")
        if mine == "__init__":
            continue
        for module in imports(path):
            theirs = package(module)
            if theirs is None or theirs in (mine, "__init__"):
                continue
            if LAYER[theirs] > LAYER[mine] or (mine in ADAPTERS and theirs in ADAPTERS):
                upward.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not upward, "\n".join(upward)


def test_strategies_are_pure() -> None:
    for path in (ROOT / "strategies").rglob("*.py"):
        assert not [m for m in imports(path) if m.startswith("deployer")], path
