"""Fixtures for the self-report tests: the patient's headers and submitters.

The helpers live in tests.support.selfreport (imported here too for older imports).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.selfreport import (
    COUNTED,  # noqa: F401
    PHQ9_URL,
    REPORT_URL,
    add_session,  # noqa: F401
    add_task,  # noqa: F401
    answers_for,  # noqa: F401
    counts,  # noqa: F401
    report_body,
    set_profile,  # noqa: F401
    task_status,  # noqa: F401
)
from tests.support.suite import Auth
from tests.support.world import World


@pytest.fixture
def patient_headers(auth: Auth, world: World) -> dict[str, str]:
    return auth.headers(World.pa_phone)


@pytest.fixture
def submit_phq9(client: FlaskClient, patient_headers: dict[str, str]) -> Callable[..., Any]:
    """POST a PHQ-9 as patient A; returns the test response."""

    def submit(
        answers: list[Any] | None = None,
        *,
        expect: int | None = 201,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Any:
        body: dict[str, Any] = {"answers": answers, **extra} if answers is not None else extra
        response = client.post(PHQ9_URL, json=body, headers=headers or patient_headers)
        if expect is not None:
            assert response.status_code == expect, response.get_json()
        return response

    return submit


@pytest.fixture
def submit_report(client: FlaskClient, patient_headers: dict[str, str]) -> Callable[..., Any]:
    """POST a symptom report as patient A; returns the test response."""

    def submit(
        *, expect: int | None = 201, headers: dict[str, str] | None = None, **overrides: Any
    ) -> Any:
        response = client.post(
            REPORT_URL, json=report_body(**overrides), headers=headers or patient_headers
        )
        if expect is not None:
            assert response.status_code == expect, response.get_json()
        return response

    return submit
