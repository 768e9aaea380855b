"""The boundary tests share the escalation tests' fixtures (Twilio settings, SMS guard)."""

from tests.escalations.conftest import (  # noqa: F401
    _every_sms_is_clean,
    rt,
    twilio_settings,
)
