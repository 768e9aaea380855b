"""Who is on call: a pure, table-driven check of rotations, hand-offs across DST, overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from clinical.oncall import (
    OnCall,
    Override,
    Rotation,
    Schedule,
    handoff_instant,
    on_call,
    on_call_now,
    overlapping_overrides,
)

A, B, C, D = 11, 12, 13, 14
NY = "America/New_York"


def utc(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


# Two people, weekly, hand-off Monday 08:00 New York time. 2026: clocks go forward on
# Sunday 8 March (EST -5 -> EDT -4) and back on Sunday 1 November (EDT -4 -> EST -5).
SPRING = Schedule(NY, {1: Rotation((A, B), time(8, 0), 7, date(2026, 3, 2))})
AUTUMN = Schedule(NY, {1: Rotation((A, B), time(8, 0), 7, date(2026, 10, 26))})


@pytest.mark.parametrize(
    ("schedule", "at", "expected"),
    [
        # Spring: the first week starts at 08:00 EST = 13:00 UTC ...
        (SPRING, utc(2026, 3, 2, 12, 59), None),
        (SPRING, utc(2026, 3, 2, 13, 0), OnCall(A, utc(2026, 3, 9, 12))),
        (SPRING, utc(2026, 3, 8, 12, 0), OnCall(A, utc(2026, 3, 9, 12))),
        # ... and hands off at 08:00 EDT = 12:00 UTC, not 13:00 UTC (7 x 24 h later).
        (SPRING, utc(2026, 3, 9, 11, 59), OnCall(A, utc(2026, 3, 9, 12))),
        (SPRING, utc(2026, 3, 9, 12, 0), OnCall(B, utc(2026, 3, 16, 12))),
        (SPRING, utc(2026, 3, 9, 12, 30), OnCall(B, utc(2026, 3, 16, 12))),
        (SPRING, utc(2026, 3, 16, 12, 0), OnCall(A, utc(2026, 3, 23, 12))),
        # Autumn: the week spanning the change is an hour longer; hand-off at 08:00 EST.
        (AUTUMN, utc(2026, 10, 26, 12, 0), OnCall(A, utc(2026, 11, 2, 13))),
        (AUTUMN, utc(2026, 11, 2, 12, 0), OnCall(A, utc(2026, 11, 2, 13))),
        (AUTUMN, utc(2026, 11, 2, 12, 59), OnCall(A, utc(2026, 11, 2, 13))),
        (AUTUMN, utc(2026, 11, 2, 13, 0), OnCall(B, utc(2026, 11, 9, 13))),
        (AUTUMN, utc(2026, 11, 9, 13, 0), OnCall(A, utc(2026, 11, 16, 13))),
    ],
)
def test_weekly_handoff_stays_at_eight_local_across_both_dst_changes(
    schedule: Schedule, at: datetime, expected: OnCall | None
) -> None:
    assert on_call(schedule, tier=1, at=at) == expected


DAILY = Schedule(NY, {2: Rotation((A, B, C), time(8, 0), 1, date(2026, 3, 7))})


@pytest.mark.parametrize(
    ("at", "who", "until"),
    [
        (utc(2026, 3, 7, 13, 0), A, utc(2026, 3, 8, 12)),  # Saturday 08:00 EST
        (utc(2026, 3, 8, 11, 59), A, utc(2026, 3, 8, 12)),  # a 23-hour shift
        (utc(2026, 3, 8, 12, 0), B, utc(2026, 3, 9, 12)),  # Sunday 08:00 EDT
        (utc(2026, 3, 9, 12, 0), C, utc(2026, 3, 10, 12)),
        (utc(2026, 3, 10, 12, 0), A, utc(2026, 3, 11, 12)),  # wraps round
    ],
)
def test_daily_rotation_of_three_wraps_and_keeps_local_time(
    at: datetime, who: int, until: datetime
) -> None:
    assert on_call(DAILY, tier=2, at=at) == OnCall(who, until)


def test_a_handoff_in_the_skipped_hour_happens_an_hour_later_on_the_clock() -> None:
    # 02:30 does not exist in New York on 8 March 2026; read with the EST offset it is 07:30 UTC.
    assert handoff_instant(date(2026, 3, 8), time(2, 30), ZoneInfo(NY)) == utc(2026, 3, 8, 7, 30)


def test_london_handoff_at_eight_across_the_march_change() -> None:
    london = Schedule("Europe/London", {1: Rotation((A, B), time(8, 0), 7, date(2026, 3, 23))})
    # 29 March 2026 BST starts: 08:00 local is 07:00 UTC from then on.
    assert on_call(london, tier=1, at=utc(2026, 3, 30, 6, 59)) == OnCall(A, utc(2026, 3, 30, 7))
    assert on_call(london, tier=1, at=utc(2026, 3, 30, 7, 0)) == OnCall(B, utc(2026, 4, 6, 7))


OVERRIDDEN = Schedule(
    NY,
    {1: Rotation((A, B), time(8, 0), 7, date(2026, 3, 2))},
    (
        Override(1, C, utc(2026, 3, 4, 0), utc(2026, 3, 5, 0)),
        Override(2, D, utc(2026, 3, 4, 0), utc(2026, 3, 6, 0)),
    ),
)


@pytest.mark.parametrize(
    ("tier", "at", "expected"),
    [
        (1, utc(2026, 3, 3, 12), OnCall(A, utc(2026, 3, 4, 0))),  # A's turn ends early
        (1, utc(2026, 3, 4, 0), OnCall(C, utc(2026, 3, 5, 0))),  # the override wins
        (1, utc(2026, 3, 4, 23, 59), OnCall(C, utc(2026, 3, 5, 0))),
        (1, utc(2026, 3, 5, 0), OnCall(A, utc(2026, 3, 9, 12))),  # end is exclusive
        (2, utc(2026, 3, 3, 12), None),  # tier 2 has no rotation: only its override
        (2, utc(2026, 3, 5, 12), OnCall(D, utc(2026, 3, 6, 0))),
    ],
)
def test_overrides_win_for_their_tier_and_period(
    tier: int, at: datetime, expected: OnCall | None
) -> None:
    assert on_call(OVERRIDDEN, tier=tier, at=at) == expected


def test_on_call_now_lists_every_tier_with_someone() -> None:
    assert on_call_now(OVERRIDDEN, at=utc(2026, 3, 4, 12)) == {
        1: OnCall(C, utc(2026, 3, 5, 0)),
        2: OnCall(D, utc(2026, 3, 6, 0)),
    }
    assert on_call_now(OVERRIDDEN, at=utc(2026, 3, 3, 12)) == {1: OnCall(A, utc(2026, 3, 4, 0))}


def test_the_answer_does_not_depend_on_the_offset_at_is_given_in() -> None:
    at = utc(2026, 3, 9, 12, 0)
    tokyo = at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert on_call(SPRING, tier=1, at=tokyo) == on_call(SPRING, tier=1, at=at)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        on_call(SPRING, tier=1, at=datetime(2026, 3, 9, 12))


@pytest.mark.parametrize(
    ("overrides", "pairs"),
    [
        ([], []),
        ([Override(1, A, utc(2026, 1, 1, 0), utc(2026, 1, 2, 0))], []),
        (  # touching is not overlapping
            [
                Override(1, A, utc(2026, 1, 1, 0), utc(2026, 1, 2, 0)),
                Override(1, B, utc(2026, 1, 2, 0), utc(2026, 1, 3, 0)),
            ],
            [],
        ),
        (
            [
                Override(1, A, utc(2026, 1, 1, 0), utc(2026, 1, 2, 0)),
                Override(1, B, utc(2026, 1, 1, 12), utc(2026, 1, 3, 0)),
            ],
            [(0, 1)],
        ),
        (  # different tiers may overlap
            [
                Override(1, A, utc(2026, 1, 1, 0), utc(2026, 1, 2, 0)),
                Override(2, B, utc(2026, 1, 1, 12), utc(2026, 1, 3, 0)),
            ],
            [],
        ),
    ],
)
def test_overlapping_overrides(overrides: list[Override], pairs: list[tuple[int, int]]) -> None:
    assert overlapping_overrides(overrides) == pairs


def test_a_rotation_needs_members_and_a_length() -> None:
    with pytest.raises(ValueError):
        Rotation((), time(8, 0), 7, date(2026, 1, 1))
    with pytest.raises(ValueError):
        Rotation((A,), time(8, 0), 0, date(2026, 1, 1))
