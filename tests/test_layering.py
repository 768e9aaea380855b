"""Dependencies point inward: each package imports only what its layer may use."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "config",
    "clinical",
    "store",
    "services",
    "api",
    "notifications",
    "schedules",
    "web",
    "fhir_r4",
)
OURS = set(PACKAGES)


@dataclass(frozen=True)
class Module:
    path: Path
    name: str
    package: str
    tree: ast.Module


def _modules() -> list[Module]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            name = ".".join(relative.with_suffix("").parts)
            found.append(
                Module(path, name, package, ast.parse(path.read_text(encoding="utf-8"), str(path)))
            )
    return found


MODULES = _modules()


def imported(module: Module) -> set[str]:
    """Every module name ``module`` imports, anywhere in the file (also inside functions)."""
    names: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.name.split(".")[: -node.level]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
    return names


def tops(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names if n}


def by_package(package: str) -> list[Module]:
    return [m for m in MODULES if m.package == package]


def test_every_package_was_found() -> None:
    assert {m.package for m in MODULES} == OURS
    assert any(m.name == "notifications.twilio_sms" for m in MODULES)


@pytest.mark.parametrize("module", by_package("clinical"), ids=lambda m: m.name)
def test_clinical_is_pure(module: Module) -> None:
    forbidden = {
        "flask",
        "flask_smorest",
        "flask_jwt_extended",
        "sqlalchemy",
        "alembic",
        "twilio",
        "apscheduler",
        "requests",
        "marshmallow",
    } | (OURS - {"clinical"})
    assert tops(imported(module)) & forbidden == set()


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_only_the_twilio_adapter_imports_twilio(module: Module) -> None:
    if module.name == "notifications.twilio_sms":
        assert "twilio" in tops(imported(module))
    else:
        assert "twilio" not in tops(imported(module))


@pytest.mark.parametrize("module", by_package("store"), ids=lambda m: m.name)
def test_store_imports_no_outer_layer(module: Module) -> None:
    assert tops(imported(module)) & {"api", "services", "schedules", "notifications"} == set()


@pytest.mark.parametrize("module", by_package("services"), ids=lambda m: m.name)
def test_services_do_not_import_the_edges(module: Module) -> None:
    assert tops(imported(module)) & {"api", "schedules", "web", "flask", "flask_smorest"} == set()


@pytest.mark.parametrize(
    "module",
    [m for m in MODULES if m.package in ("notifications", "config")],
    ids=lambda m: m.name,
)
def test_notifications_and_config_do_not_import_the_edges(module: Module) -> None:
    outer = {"api", "schedules"} | (
        {"services", "store", "notifications"} if module.package == "config" else set()
    )
    assert tops(imported(module)) & outer == set()


def environment_reads(tree: ast.AST) -> list[int]:
    """Lines that read the process environment: os.environ, os.getenv, and their imports."""
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in {"environ", "getenv", "environb", "getenvb", "putenv", "unsetenv"}
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            lines.append(node.lineno)
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(
                alias.name in {"environ", "getenv", "environb", "getenvb"} for alias in node.names
            )
        ):
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "dotenv":
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize(
    "module", [m for m in MODULES if m.package != "config"], ids=lambda m: m.name
)
def test_only_config_reads_the_environment(module: Module) -> None:
    assert environment_reads(module.tree) == [], f"{module.path} reads the environment"


def test_config_does_read_the_environment() -> None:
    assert any(environment_reads(m.tree) for m in by_package("config"))


def test_the_detector_sees_every_spelling() -> None:
    source = (
        "import os\nfrom os import getenv\nos.environ['A']\nos.getenv('B')\n"
        "x = os.environ.get('C')\n"
    )
    assert sorted(set(environment_reads(ast.parse(source)))) == [2, 3, 4, 5]
    module = Module(
        Path("x.py"),
        "services.x",
        "services",
        ast.parse("from ..api import views\nfrom . import errors\n"),
    )
    assert tops(imported(module)) == {"api", "services"}


@pytest.mark.parametrize("module", by_package("web"), ids=lambda m: m.name)
def test_web_pages_never_query_on_their_own(module: Module) -> None:
    # A thin door like api/: every read and write goes through services.
    assert tops(imported(module)) & {"sqlalchemy", "schedules"} == set()


# --- issue 14: the scheduler process is an edge, like api/ ------------------------------------


@pytest.mark.parametrize("module", by_package("schedules"), ids=lambda m: m.name)
def test_schedules_use_only_services_store_and_notifications(module: Module) -> None:
    # Jobs are thin: parse the clock, open the unit of work, call services.
    allowed = {"schedules", "services", "store", "notifications"}
    assert tops(imported(module)) & OURS <= allowed


@pytest.mark.parametrize(
    "module", [m for m in MODULES if m.package != "schedules"], ids=lambda m: m.name
)
def test_only_the_process_entry_points_import_schedules(module: Module) -> None:
    if module.name in ("api.cli", "api.wsgi"):
        return
    assert "schedules" not in tops(imported(module)), f"{module.name} imports schedules"


def test_the_entry_points_do_start_the_scheduler() -> None:
    entry = [m for m in MODULES if m.name in ("api.cli", "api.wsgi")]
    assert len(entry) == 2 and all("schedules" in tops(imported(m)) for m in entry)


@pytest.mark.parametrize("module", by_package("notifications"), ids=lambda m: m.name)
def test_notifications_do_not_import_services(module: Module) -> None:
    # Channels and the pure paging policy: the escalation flow that uses them is a service.
    assert "services" not in tops(imported(module))


def test_the_paging_policy_writes_nothing() -> None:
    # notifications.paging decides; services.escalations.flow changes escalations.
    paging = next(m for m in MODULES if m.name == "notifications.paging")
    assert "sqlalchemy" not in tops(imported(paging))
