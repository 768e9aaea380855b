"""Fixtures for the schedule tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from services.runtime import Runtime
from store.clock import FrozenClock
from tests.support.world import World, build_world


@pytest.fixture
def world_at(rt: Runtime, clock: FrozenClock) -> Callable[[datetime], World]:
    """Build the test world with the clock first set to ``start`` (e.g. before a DST change)."""

    def build(start: datetime) -> World:
        clock.set(start)
        return build_world(rt)

    return build
