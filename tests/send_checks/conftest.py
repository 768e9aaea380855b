"""The send-time check tests share the escalation tests' fixtures (Twilio stand-in, SMS guard)."""

from tests.escalations.conftest import (  # noqa: F401
    _every_sms_is_clean,
    rt,
    standin,
    twilio_app,
    twilio_client,
    twilio_rt,
    twilio_settings,
)
