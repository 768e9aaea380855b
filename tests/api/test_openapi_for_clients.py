"""The OpenAPI document a mobile developer builds against: every operation and schema explained.

Walks the served /openapi.json: each operation has an operationId fit for a generated
client's method name, a description, and its errors as problem documents; each creating POST
documents Idempotency-Key; each schema has a description and an example; each closed
vocabulary (kind, priority, status, severity, role, phase, channel, ...) is an enum.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.openapi import OPERATION_IDS

HTTP_METHODS = ("get", "put", "post", "patch", "delete")
PROBLEM_JSON = "application/problem+json"
CLIENT_METHOD_NAME = re.compile(r"^[a-z][a-zA-Z0-9]+$")
# Field names whose values are a closed vocabulary wherever they appear.
CLOSED = {
    "kind",
    "priority",
    "severity",
    "role",
    "actor_role",
    "phase",
    "channel",
    "instrument",
    "baseline_source",
    "relapse_status",
    "token_type",
    "flags",
}
# `status` is closed on escalations and sessions (elsewhere it is an HTTP status or free).
CLOSED_STATUS_SCHEMAS = ("Escalation", "Session")


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = json.loads(response.get_data(as_text=True))
    return doc


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = document["components"][section][name]
    return node


def test_every_operation_has_a_client_method_name_and_a_description(
    document: dict[str, Any],
) -> None:
    seen: dict[str, tuple[str, str]] = {}
    ops = operations(document)
    assert len(ops) >= 40
    for method, path, operation in ops:
        operation_id = operation.get("operationId")
        assert operation_id, f"{method.upper()} {path} has no operationId"
        assert CLIENT_METHOD_NAME.match(operation_id), operation_id
        assert operation_id not in seen, (operation_id, seen.get(operation_id), path)
        seen[operation_id] = (method, path)
        assert operation.get("summary"), f"{method.upper()} {path} has no summary"
        assert len(operation.get("description", "")) >= 15, f"{method.upper()} {path}"
    # The table names no operation that is gone.
    assert set(OPERATION_IDS.values()) == set(seen)
    assert seen["submitPhq9Checkin"] == ("post", "/api/v1/checkins/phq9")
    assert seen["listEscalations"] == ("get", "/api/v1/escalations")
    assert seen["acknowledgeEscalation"] == (
        "post",
        "/api/v1/escalations/{escalation_id}/acknowledge",
    )


def test_every_operation_documents_its_errors_as_problem_documents(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert "default" in responses, f"{method.upper()} {path}"
        errors = {status: r for status, r in responses.items() if status[:1] in "45"}
        if path.startswith("/api/"):
            assert errors, f"{method.upper()} {path} documents no error"
        for status, response in [*errors.items(), ("default", responses["default"])]:
            content = resolve(document, response).get("content", {})
            assert PROBLEM_JSON in content, (method, path, status)
            schema = resolve(document, content[PROBLEM_JSON]["schema"])
            assert schema is document["components"]["schemas"]["Problem"], (method, path, status)
        if operation.get("security"):
            assert {"401", "403"} <= set(responses), f"{method.upper()} {path}"


def test_every_creating_post_takes_an_idempotency_key(document: dict[str, Any]) -> None:
    creating = [
        (path, operation)
        for method, path, operation in operations(document)
        if method == "post" and path.startswith("/api/") and "201" in operation["responses"]
    ]
    assert len(creating) >= 6
    for path, operation in creating:
        headers = [
            p
            for p in (resolve(document, p) for p in operation.get("parameters", []))
            if p["in"] == "header"
        ]
        assert [h["name"] for h in headers] == ["Idempotency-Key"], path
        assert headers[0]["schema"]["maxLength"] == 128 and headers[0]["description"]


def test_every_schema_has_a_description_and_an_example(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert len(schemas) >= 80
    for name, schema in schemas.items():
        assert len(schema.get("description", "")) >= 10, name
        assert "example" in schema, name
        # The example names only fields the schema has (no stale examples).
        assert set(schema["example"]) <= set(schema.get("properties", {})), name


def _strings(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The string-typed schemas a property can be (itself, its items, its anyOf branches)."""
    if prop.get("type") == "array":
        return _strings(prop.get("items", {}))
    if prop.get("type") == "string":
        return [prop]
    return [s for branch in prop.get("anyOf", []) for s in _strings(branch)]


def test_every_closed_vocabulary_is_an_enum(document: dict[str, Any]) -> None:
    checked = 0
    for name, schema in document["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            closed = field in CLOSED or (
                field == "status" and name.startswith(CLOSED_STATUS_SCHEMAS)
            )
            if not closed:
                continue
            strings = _strings(prop)
            assert strings, (name, field, prop)
            for string in strings:
                assert string.get("enum"), f"{name}.{field} is a closed vocabulary without an enum"
                checked += 1
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            parameter = resolve(document, parameter)
            if parameter["in"] == "query" and parameter["name"] in CLOSED | {"status"}:
                assert parameter["schema"].get("enum"), (method, path, parameter["name"])
                checked += 1
    assert checked >= 30


def test_crisis_resources_are_typed_in_answers_and_problem_documents(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    crisis = schemas["CrisisResources"]
    assert {"message", "resources"} <= set(crisis["required"])
    resource = resolve(document, crisis["properties"]["resources"]["items"])
    assert {"name", "call", "text", "chat", "available"} <= set(resource["properties"])
    for name in ("Phq9Out", "SymptomReportOut", "Item9Out", "Problem"):
        prop = schemas[name]["properties"]["crisis_resources"]
        branches = [prop, *prop.get("anyOf", []), *prop.get("allOf", [])]
        refs = [b.get("$ref") for b in branches]
        assert "#/components/schemas/CrisisResources" in refs, name
