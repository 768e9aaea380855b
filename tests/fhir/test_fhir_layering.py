"""The FHIR door is thin: it never queries on its own (no SQLAlchemy, no store sessions)."""

from __future__ import annotations

import pytest

from tests.test_layering import Module, by_package, imported, tops


@pytest.mark.parametrize("module", by_package("fhir_r4"), ids=lambda m: m.name)
def test_fhir_door_reads_only_through_services(module: Module) -> None:
    names = imported(module)
    assert "sqlalchemy" not in tops(names)
    # Store types appear only for annotations (the Database handle is passed to services),
    # and the Role enum names the role a view requires.
    assert {n for n in names if n.startswith("store.")} <= {
        "store.database",
        "store.database.Database",
        "store.models",
        "store.models.PatientProfile",
        "store.models.Role",
        "store.reports",
        "store.reports.Phq9Checkin",
    }
