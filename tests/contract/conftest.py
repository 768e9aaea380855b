"""Fixtures for the Twilio contract tests: one Prism mock server for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.prism import ensure_prism_tools, prism_server, write_patched_spec


@pytest.fixture(scope="session")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of Prism serving Twilio's v2010 spec, plus the error responses tests select."""
    tools = ensure_prism_tools()
    spec = write_patched_spec(
        source=tools.spec, dest=tmp_path_factory.mktemp("prism") / "twilio_api_v2010.json"
    )
    with prism_server(spec=spec, tools=tools) as url:
        yield url
