"""SQL injection strings and oversized strings in every string field are harmless.

For each operation with a JSON body (or string query parameters) in the served OpenAPI
document, a plausible body is built from its schema, then each string field in turn is
replaced by each hostile payload. Every answer must be a problem document or a success,
never a 5xx; afterwards every table is still there and the world's users still work.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from store.models import Base, User
from tests.fuzz.harness import LiveApi, operations, served_openapi
from tests.support.world import World

SQLI = [
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    '" OR 1=1 --',
    "1); DELETE FROM patients; --",
    "x' UNION SELECT password_hash FROM users --",
    "1; SELECT pg_sleep(5); --",
    "\\'; TRUNCATE sms_outbox; --",
    "nul\x00byte",
]
OVERSIZED = ["A" * 10_000, "\u00e9" * 10_000]
PAYLOADS = SQLI + OVERSIZED
SPEC = served_openapi()
_phones = itertools.cycle(f"+120255501{n:02d}" for n in range(50, 100))
_serial = itertools.count()


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = SPEC["components"]["schemas"][name]
    for key in ("allOf", "oneOf", "anyOf"):
        if schema.get(key):
            return _resolve(schema[key][0])
    return schema


def _string(name: str, schema: dict[str, Any], live: LiveApi) -> str:
    lowered = name.lower()
    if schema.get("enum"):
        return str(schema["enum"][0])
    if schema.get("format") == "date-time" or lowered.endswith("_at"):
        return (live.clock.now() - timedelta(minutes=10)).isoformat()
    if "phone" in lowered or lowered in {"to", "from"}:
        return next(_phones)
    if "timezone" in lowered:
        return "America/New_York"
    if "email" in lowered:
        return f"inj{next(_serial)}@tandem.test"
    if "password" in lowered:
        return World.PASSWORD
    if lowered == "instrument":
        return "PHQ-9"
    if lowered in {"start", "end"}:
        return "21:00" if lowered == "start" else "08:00"
    return "text " + "x" * max(0, int(schema.get("minLength", 0)) - 5)


def example(schema: dict[str, Any], live: LiveApi, name: str = "", depth: int = 0) -> Any:
    """A plausible value for ``schema`` (required and optional fields, first enum values)."""
    schema = _resolve(schema)
    kind = schema.get("type")
    if schema.get("enum"):
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        return {
            key: example(sub, live, key, depth + 1)
            for key, sub in schema.get("properties", {}).items()
            if not sub.get("readOnly")
        }
    if kind == "array":
        count = max(int(schema.get("minItems", 0)), 1)
        return [example(schema.get("items", {}), live, name, depth + 1) for _ in range(count)]
    if kind == "integer":
        if name.endswith("_id") or name == "id":
            return _known_id(name, live)
        low = schema.get("minimum", 0)
        return int(low) + (1 if schema.get("exclusiveMinimum") is True else 0)
    if kind == "number":
        low = schema.get("minimum", 1)
        return float(low) + 1.0
    if kind == "boolean":
        return False
    return _string(name, schema, live)


def _known_id(name: str, live: LiveApi) -> int:
    world = live.world
    return {
        "clinic_id": world.clinic_x,
        "patient_id": world.patient_a,
        "clinician_id": world.clinician_x2,
    }.get(name, 1)


def string_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths to every string inside ``value``."""
    if isinstance(value, str):
        yield prefix
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield from string_paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from string_paths(sub, (*prefix, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = replaced(copy[head], rest, new)
    return copy


def _url(path: str, live: LiveApi) -> str:
    world = live.world
    ids = {"patient_id": world.patient_a, "clinic_id": world.clinic_x, "escalation_id": 1}
    for name, value in ids.items():
        path = path.replace("{" + name + "}", str(value))
    return path


def _callers(operation: dict[str, Any]) -> list[str | None]:
    return ["clinician_x", "admin", "patient_a"] if operation.get("security") else [None]


def has_strings(schema: dict[str, Any], depth: int = 0) -> bool:
    """Whether a (resolved) schema holds a string anywhere."""
    schema = _resolve(schema)
    if depth > 5:
        return False
    if schema.get("type") == "string":
        return True
    if schema.get("type") == "array":
        return has_strings(schema.get("items", {}), depth + 1)
    return any(has_strings(sub, depth + 1) for sub in schema.get("properties", {}).values())


def _targets() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for method, path, operation in operations(SPEC):
        if "{" in path and not any(k in path for k in ("patient_id", "clinic_id", "escalation_id")):
            continue
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        queries = [
            p
            for p in operation.get("parameters", [])
            if isinstance(p, dict) and p.get("in") == "query"
        ]
        string_query = any(_resolve(p.get("schema", {})).get("type") == "string" for p in queries)
        if (body and has_strings(body.get("schema", {}))) or string_query:
            found.append((method, path, operation))
    return found


TARGETS = _targets()


@pytest.mark.parametrize(
    ("method", "path", "operation"), TARGETS, ids=[f"{m} {p}" for m, p, _ in TARGETS]
)
def test_hostile_strings_are_harmless(
    method: str, path: str, operation: dict[str, Any], live_api: LiveApi
) -> None:
    client = live_api.app.test_client()
    url = _url(path, live_api)
    body_schema = (
        operation.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema")
    )
    # The caller whose plain request gets past authorization.
    caller = None
    for candidate in _callers(operation):
        headers = live_api.mint(candidate) if candidate else {}
        base = example(body_schema, live_api) if body_schema else None
        status = client.open(url, method=method, json=base, headers=headers).status_code
        assert status < 500, f"{method} {url} base body gave {status}"
        if status not in (401, 403):
            caller = candidate
            break
    failures = []
    sent = 0
    queries = [
        p
        for p in operation.get("parameters", [])
        if isinstance(p, dict)
        and p.get("in") == "query"
        and _resolve(p.get("schema", {})).get("type") == "string"
    ]
    for payload in PAYLOADS:
        for query in queries:
            headers = live_api.mint(caller) if caller else {}
            response = client.open(
                url, method=method, headers=headers, query_string={query["name"]: payload}
            )
            sent += 1
            if response.status_code >= 500:
                failures.append(f"?{query['name']}={payload[:30]!r}: {response.status_code}")
        if body_schema is None:
            continue
        base = example(body_schema, live_api)
        for field_path in string_paths(base):
            headers = live_api.mint(caller) if caller else {}
            response = client.open(
                url, method=method, json=replaced(base, field_path, payload), headers=headers
            )
            sent += 1
            if response.status_code >= 500:
                failures.append(
                    f"{'.'.join(map(str, field_path))}={payload[:30]!r}: "
                    f"{response.status_code} {response.get_data(as_text=True)[:150]}"
                )
            elif response.status_code >= 400:
                assert response.mimetype == "application/problem+json"
    assert sent > 0
    assert not failures, f"{method} {path}:\n" + "\n".join(failures)


def int_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths to every integer (not boolean) inside ``value``."""
    if isinstance(value, int) and not isinstance(value, bool):
        yield prefix
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield from int_paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from int_paths(sub, (*prefix, index))


HUGE = [2**31, -(2**31) - 1, 2**63, 10**30]
BODY_TARGETS = [
    (m, p, o)
    for m, p, o in operations(SPEC)
    if "application/json" in o.get("requestBody", {}).get("content", {})
]


@pytest.mark.parametrize(
    ("method", "path", "operation"), BODY_TARGETS, ids=[f"{m} {p}" for m, p, _ in BODY_TARGETS]
)
def test_out_of_range_integers_are_harmless(
    method: str, path: str, operation: dict[str, Any], live_api: LiveApi
) -> None:
    client = live_api.app.test_client()
    url = _url(path, live_api)
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    failures = []
    for caller in _callers(operation):
        base = example(schema, live_api)
        for field_path, number in itertools.product(list(int_paths(base)), HUGE):
            headers = live_api.mint(caller) if caller else {}
            response = client.open(
                url, method=method, json=replaced(base, field_path, number), headers=headers
            )
            if response.status_code >= 500:
                failures.append(
                    f"{caller} {'.'.join(map(str, field_path))}={number}: {response.status_code}"
                )
    assert not failures, f"{method} {path}:\n" + "\n".join(failures)


def test_database_is_intact_afterwards(live_api: LiveApi) -> None:
    tables = set(inspect(live_api.rt.database.engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    with live_api.rt.database.unit_of_work() as session:
        assert (session.scalar(select(func.count(User.id))) or 0) >= 10
    client = live_api.app.test_client()
    for username in (World.admin, World.cx1):
        response = client.post(
            "/api/v1/auth/login", json={"username": username, "password": World.PASSWORD}
        )
        assert response.status_code in (200, 429), response.get_json()
    assert client.get("/api/v1/me", headers=live_api.mint("patient_a")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "operation"), BODY_TARGETS, ids=[f"{m} {p}" for m, p, _ in BODY_TARGETS]
)
def test_deeply_nested_json_is_a_client_error(
    method: str, path: str, operation: dict[str, Any], live_api: LiveApi
) -> None:
    client = live_api.app.test_client()
    caller = _callers(operation)[0]
    for document in ("[" * 20_000 + "]" * 20_000, '{"a":' * 10_000 + "1" + "}" * 10_000):
        headers = live_api.mint(caller) if caller else {}
        response = client.open(
            _url(path, live_api),
            method=method,
            data=document,
            content_type="application/json",
            headers=headers,
        )
        assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:200]
        assert response.mimetype == "application/problem+json"
