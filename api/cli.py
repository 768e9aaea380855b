"""The ``tandem`` command: a Flask CLI group for operations."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from api.app import create_app
from api.extensions import runtime
from api.logs import configure_logging
from config import ConfigError
from services import clinics, demo
from services.errors import ServiceError
from services.passwords import password_problems
from services.phones import normalize_e164
from store import migrate
from store.models import Role


def _app(*_: Any) -> Flask:
    try:
        return create_app()
    except ConfigError as error:
        # An operator's mistake: one line saying what to fix, not a traceback.
        raise click.ClickException(f"configuration: {error}") from None


@contextmanager
def _refusals() -> Iterator[None]:
    """A refused operation (a taken e-mail, an unknown clinic) exits 1 with its reason."""
    try:
        yield
    except ServiceError as error:
        raise click.ClickException(error.detail) from None


@click.group(
    cls=FlaskGroup,
    create_app=_app,
    add_default_commands=False,
    help="Tandem: check-ins, schedules, reminders and clinician escalation.",
)
def cli() -> None:
    pass


@cli.group("db")
def db_group() -> None:
    """Database migrations."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply the database migrations."""
    migrate.upgrade(runtime().settings.database_url, revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Revert the database migrations down to REVISION."""
    migrate.downgrade(runtime().settings.database_url, revision)
    click.echo(f"database at {revision}")


def _valid_timezone(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from zoneinfo import available_timezones

    if value not in available_timezones():
        raise click.BadParameter("must be an IANA time zone such as America/New_York")
    return value


def _valid_phone(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    normalized = normalize_e164(value)
    if normalized is None:
        raise click.BadParameter("must be an E.164 phone number such as +12025550123")
    return normalized


@cli.command("create-clinic")
@click.option("--name", required=True)
@click.option("--timezone", required=True, callback=_valid_timezone)
@with_appcontext
def create_clinic(name: str, timezone: str) -> None:
    """Create a clinic; prints its id."""
    rt = runtime()
    with _refusals(), rt.database.unit_of_work() as session:
        clinic = clinics.create_clinic(
            session, actor=None, name=name, timezone=timezone, policy=None, now=rt.clock.now()
        )
        clinic_id = clinic.id
    click.echo(clinic_id)


@cli.command("create-user")
@click.option("--role", type=click.Choice([Role.ADMIN.value, Role.CLINICIAN.value]), required=True)
@click.option("--email", required=True)
@click.option("--phone", callback=_valid_phone)
@click.option("--name", default="")
@click.option("--clinic", "clinic_id", type=int)
@click.option("--tier", type=click.IntRange(1, 3))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_user(
    role: str,
    email: str,
    phone: str | None,
    name: str,
    clinic_id: int | None,
    tier: int | None,
    password_stdin: bool,
) -> None:
    """Create an admin or clinician; the password comes from stdin or a prompt."""
    if role == Role.CLINICIAN and (clinic_id is None or phone is None):
        raise click.UsageError("a clinician needs --clinic and --phone")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problems = password_problems(password)
    if problems:
        raise click.UsageError("password: " + " ".join(problems))
    rt = runtime()
    with _refusals(), rt.database.unit_of_work() as session:
        user = clinics.create_staff(
            session,
            actor=None,
            role=role,
            name=name or email,
            email=email,
            phone=phone,
            password=password,
            clinic_id=clinic_id if role == Role.CLINICIAN else None,
            on_call_tier=tier if role == Role.CLINICIAN else None,
            now=rt.clock.now(),
        )
        user_id = user.id
    click.echo(user_id)


@cli.command("demo")
@with_appcontext
def demo_command() -> None:
    """Create a demo clinic, clinicians and patients (once); prints their logins.

    Refused in production: the demo's passwords are fixed and printed in the README.
    """
    rt = runtime()
    with _refusals():
        for line in demo.seed(rt):
            click.echo(line)


@cli.group("sms")
def sms_group() -> None:
    """Try the SMS channel on this machine, without Twilio."""


@sms_group.command("inbound")
@click.option("--from", "from_number", required=True, callback=_valid_phone, help="E.164 sender")
@click.option("--body", required=True, help='The text, e.g. "ACK 12", STOP, START, HELP')
@with_appcontext
def sms_inbound_command(from_number: str, body: str) -> None:
    """Deliver a text as Twilio would: a signed POST to /webhooks/twilio/sms; prints the reply.

    The request goes through the app's own webhook (signature check, guards, the same
    service), signed with the configured TWILIO_AUTH_TOKEN or, on the embedded default
    that has none, with a token made for this one command. What it queues is sent at once.
    """
    import secrets
    import xml.etree.ElementTree as ET

    from notifications.twilio_sms import compute_twilio_signature
    from services.runtime import Runtime

    rt = runtime()
    settings = rt.settings
    if not settings.twilio_auth_token:
        settings = settings.with_overrides(twilio_auth_token=secrets.token_urlsafe(24))
    local = Runtime.from_settings(settings, database=rt.database, sms=rt.sms, clock=rt.clock)
    app = create_app(rt=local)
    url = (settings.public_base_url or "http://localhost") + "/webhooks/twilio/sms"
    form = {"From": from_number, "To": settings.twilio_from_number or "", "Body": body}
    assert settings.twilio_auth_token is not None
    signature = compute_twilio_signature(
        auth_token=settings.twilio_auth_token, url=url, params=form
    )
    response = app.test_client().post(url, data=form, headers={"X-Twilio-Signature": signature})
    if response.status_code != 200:
        raise click.ClickException(f"the webhook answered {response.status_code}")
    root = ET.fromstring(response.get_data(as_text=True))  # noqa: S314 - our own TwiML
    replies = [message.text or "" for message in root.iter("Message")]
    click.echo(f"reply: {replies[0]}" if replies else "reply: (none)")
    stats = local.dispatcher.drain()
    if stats.sent:
        click.echo(f"sent {stats.sent} queued SMS (each is a line of the log)")


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def _shut_down(background: Any) -> None:
    """Stop the background threads, ignoring a second signal meanwhile (exit code 0)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)
    started = time.monotonic()
    background.stop()
    # A log line, not an echo: every stderr line of these commands is JSON (api/logs.py).
    logging.getLogger("tandem.cli").info("stopped cleanly in %.1f s", time.monotonic() - started)


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run_command(host: str, port: int) -> None:
    """The API with the scheduler and SMS dispatcher in the same process."""
    from werkzeug.serving import run_simple

    from schedules.jobs import Background
    from schedules.leader import SCHEDULER

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    rt = runtime()
    # One process: it stands for a scheduler, so its lead is not reported as a takeover.
    background = Background(rt, role=SCHEDULER)
    background.start()
    click.echo(
        f"Tandem on http://{host}:{port} (SMS: {rt.settings.sms_backend}, "
        f"scheduler: {'on' if background.elector else 'off'}); API docs at /docs"
    )
    # SIGTERM (systemd, docker stop, kill) ends the server as Ctrl-C does, so the cleanup
    # below runs: the send in flight finishes, unsent claims and the timer lease are released.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        _shut_down(background)


@cli.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """The timers and SMS dispatcher alone (deployments running the API under gunicorn).

    Several may run: one leads the timers, the others stand by; all drain the outbox.
    """
    from schedules.jobs import Background
    from schedules.leader import SCHEDULER

    rt = runtime()
    # A dedicated scheduler always stands for the lead (SCHEDULER_ENABLED is for the others).
    background = Background(rt, role=SCHEDULER, elect=True)
    stop = threading.Event()

    def _shutdown(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _shutdown)
    signal.signal(signal.SIGINT, _shutdown)
    background.start()
    click.echo("Tandem scheduler running")
    try:
        while not stop.wait(1.0):
            pass
    finally:
        _shut_down(background)


@cli.command("status")
@with_appcontext
def status_command() -> None:
    """The readiness checks of /readyz; exits 1 when one fails, 2 on a takeover."""
    import json

    from services.operations import readiness

    state = readiness(runtime(), grace=False)
    click.echo(
        json.dumps(
            {
                "status": "ready" if state.ready else "not ready",
                "checks": state.checks,
                "failing": state.failing,
            }
        )
    )
    if not state.ready:
        sys.exit(1)
    if state.takeover:
        click.echo("the scheduler is down: an API process leads the timers", err=True)
        sys.exit(2)


def main() -> None:
    """Console-script entry point."""
    # JSON lines on stderr, at INFO so the log SMS backend is visible (see api/logs.py).
    configure_logging("INFO")
    cli(prog_name="tandem")
