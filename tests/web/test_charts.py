"""The trajectory chart draws a response line only from an honest, elevated baseline."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from web import charts

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("baseline", "response_line"),
    [(None, None), (9, None), (10, "Response (50 %) 5"), (20, "Response (50 %) 10")],
)
def test_response_line_only_from_a_baseline_of_ten_or_more(
    baseline: int | None, response_line: str | None
) -> None:
    svg = str(
        charts.phq9_chart(
            checkins=[],
            sessions=[],
            baseline=baseline,
            tz=ZoneInfo("America/New_York"),
            nonce=charts.new_nonce(),
            now=NOW,
        )
    )
    assert "Remission (&lt; 5)" in svg or "Remission (< 5)" in svg
    if response_line is None:
        assert "Response (50 %)" not in svg
    else:
        assert response_line in svg
    if baseline is not None:
        assert f"Baseline {baseline}" in svg
