"""No production module over 450 lines and no function over 70: each reads as one concern.

Alembic's generated migrations are left out: they are a record of the schema, not code to read.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "api",
    "clinical",
    "config",
    "fhir_r4",
    "notifications",
    "schedules",
    "services",
    "store",
    "web",
)
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 70


def _sources() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    ]


SOURCES = _sources()


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_packages_were_found() -> None:
    assert len(SOURCES) > 100
    assert any(_name(path) == "services/escalations/flow.py" for path in SOURCES)


@pytest.mark.parametrize("path", SOURCES, ids=_name)
def test_module_is_short_enough(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_name(path)} has {lines} lines"


@pytest.mark.parametrize("path", SOURCES, ids=_name)
def test_functions_are_short_enough(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), _name(path))
    long = {
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    }
    assert not long, f"{_name(path)}: {sorted(long)}"
