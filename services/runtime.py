"""The process's wiring: settings, database, clock and SMS sender, built once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from argon2 import PasswordHasher

from config import Settings
from notifications.outbox import Dispatcher
from notifications.sms import SmsSender
from store import Database
from store.clock import Clock, SystemClock


def build_sms_sender(settings: Settings) -> SmsSender:
    """The SMS backend the settings ask for."""
    if settings.sms_backend == "twilio":
        from notifications.twilio_sms import TwilioSmsSender

        assert settings.twilio_account_sid
        secret = settings.twilio_api_key_secret or settings.twilio_auth_token
        assert secret
        return TwilioSmsSender(
            account_sid=settings.twilio_account_sid,
            auth_token=secret,
            api_key_sid=settings.twilio_api_key_sid,
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            api_base_url=settings.twilio_api_base_url,
            timeout=settings.twilio_timeout_seconds,
        )
    from notifications.log_sms import LogSmsSender

    return LogSmsSender()


@dataclass
class Runtime:
    """What every request, job and command needs, and nothing global besides."""

    settings: Settings
    database: Database
    sms: SmsSender
    clock: Clock = field(default_factory=SystemClock)
    # The password hasher this process uses; None keeps argon2's defaults (the tests pass a
    # cheap one so thousands of logins stay fast).
    hasher: PasswordHasher | None = None
    dispatcher: Dispatcher = field(init=False)
    # When this process's runtime was built (monotonic), for readiness grace periods.
    started: float = field(default_factory=time.monotonic, init=False)

    def __post_init__(self) -> None:
        if self.hasher is not None:
            from services.passwords import use_hasher

            use_hasher(self.hasher)
        self.dispatcher = Dispatcher(
            database=self.database,
            sender=self.sms,
            clock=self.clock,
            status_callback_url=(
                f"{self.settings.public_base_url}/webhooks/twilio/status"
                if self.settings.public_base_url
                else None
            ),
        )
        # A page that fails for good moves the escalation on to the next clinician at once.
        from services.escalations import page_undeliverable
        from services.sms_inbound import unsubscribed_at_twilio

        # First: a number Twilio reports unsubscribed is marked so before the chain moves on.
        self.dispatcher.failure_listeners.append(unsubscribed_at_twilio)
        self.dispatcher.failure_listeners.append(page_undeliverable)
        # Voice calls and pager events go through the same outbox (issue 13).
        from services.oncall import build_channels, call_undeliverable

        self.dispatcher.channels.update(build_channels(self.settings, self.sms))
        self.dispatcher.failure_listeners.append(call_undeliverable)
        # A reminder is checked again as it is sent: quiet hours, opt-out, the task's state.
        from services.reminders import REMINDER_PURPOSE, reminder_pre_send

        self.dispatcher.add_pre_send_check(REMINDER_PURPOSE, reminder_pre_send)
        from services.patients import ACTIVATION_PURPOSE
        from services.send_checks import activation_pre_send

        self.dispatcher.add_pre_send_check(ACTIVATION_PURPOSE, activation_pre_send)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        database: Database | None = None,
        sms: SmsSender | None = None,
        clock: Clock | None = None,
        hasher: PasswordHasher | None = None,
    ) -> Runtime:
        """Build the runtime, letting tests substitute real parts configured differently."""
        return cls(
            settings=settings,
            database=database or Database(settings.database_url),
            sms=sms or build_sms_sender(settings),
            clock=clock or SystemClock(),
            hasher=hasher,
        )
