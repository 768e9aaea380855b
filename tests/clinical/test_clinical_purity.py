"""The clinical core imports only the standard library and itself, and never reads the clock."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import clinical

PACKAGE = Path(clinical.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_stdlib_and_clinical_imports() -> None:
    assert SOURCES
    allowed = set(sys.stdlib_module_names) | {"clinical", "__future__"}
    for path in SOURCES:
        assert imported_roots(path) <= allowed, path.name


def test_no_clock_reads() -> None:
    forbidden = ("datetime.now", ".now(", "utcnow", "date.today", "time.time(", "time.monotonic")
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        assert not any(word in text for word in forbidden), path.name
