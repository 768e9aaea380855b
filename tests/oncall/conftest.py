"""Fixtures for issue 13: the escalation suite's Twilio stand-in and text guard, reused."""

from __future__ import annotations

from tests.escalations.conftest import (  # noqa: F401 (fixtures)
    _every_sms_is_clean,
    rt,
    standin,
    twilio_app,
    twilio_client,
    twilio_rt,
    twilio_settings,
)
