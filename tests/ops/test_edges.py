"""Request ids, JSON log lines, the trusted-proxy count, secrets in settings, Twilio API keys."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from api.app import create_app
from api.logs import configure_logging
from config import Settings, load_settings
from services.auth import LOGIN_MAX_FAILURES_PER_IP
from services.runtime import Runtime, build_sms_sender

# --- X-Request-ID -------------------------------------------------------------------------


def test_a_sane_request_id_is_echoed(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "req-42.abc:7"})
    assert response.headers["X-Request-ID"] == "req-42.abc:7"


def test_every_response_gets_a_request_id(client: FlaskClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/api/v1/nowhere").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.parametrize(
    "forged",
    ["x" * 129, "has space", "tab\there", "caf\u00e9", "nul\x7f", ""],
    ids=["over-long", "space", "tab", "non-ascii", "del", "empty"],
)
def test_a_bad_request_id_is_replaced_not_echoed(client: FlaskClient, forged: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": forged})
    assert response.status_code == 200
    given = response.headers["X-Request-ID"]
    assert given != forged and len(given) == 32 and given.isalnum()


# --- JSON logs ------------------------------------------------------------------------------


def test_log_lines_are_json_with_the_request_id(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO")
    root = logging.getLogger()
    try:
        app_logger = logging.getLogger("tandem.test")

        @client.application.get("/_log_probe")
        def _probe() -> str:
            app_logger.warning("probe %s", "one")
            return "ok"

        client.get("/_log_probe", headers={"X-Request-ID": "probe-1"})
        logging.getLogger("tandem.test").info("outside")
        logging.getLogger("apscheduler.scheduler").info("Running job x")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    finally:
        for handler in list(root.handlers):
            if handler.get_name() == "tandem-json":
                root.removeHandler(handler)
        root.setLevel(logging.WARNING)
    probe = next(line for line in lines if line["msg"] == "probe one")
    assert {"ts", "level", "logger", "msg", "request_id"} <= probe.keys()
    assert (probe["level"], probe["logger"], probe["request_id"]) == (
        "WARNING",
        "tandem.test",
        "probe-1",
    )
    assert probe["ts"].endswith("+00:00")
    outside = next(line for line in lines if line["msg"] == "outside")
    assert outside["request_id"] is None
    # APScheduler announces every job run at INFO: quiet.
    assert not any(line["logger"].startswith("apscheduler") for line in lines)


# --- behind a proxy ------------------------------------------------------------------------


def fail_logins(client: FlaskClient, count: int, *, forwarded_for: str | None) -> list[int]:
    statuses = []
    for n in range(count):
        headers = {"X-Forwarded-For": forwarded_for or f"198.51.100.{n % 250}"}
        response = client.post(
            "/api/v1/auth/login",
            json={"username": f"nobody{n}@tandem.test", "password": "wrong password!"},
            headers=headers,
        )
        statuses.append(response.status_code)
    return statuses


def test_a_forged_forwarded_for_changes_nothing_without_trusted_proxies(
    client: FlaskClient,
) -> None:
    # Each attempt claims a new address; with TRUSTED_PROXY_COUNT=0 they are all 127.0.0.1.
    statuses = fail_logins(client, LOGIN_MAX_FAILURES_PER_IP, forwarded_for=None)
    assert set(statuses) == {401}
    assert fail_logins(client, 1, forwarded_for="203.0.113.99") == [429]


def test_behind_one_trusted_proxy_throttling_keys_on_the_real_client(
    settings: Settings, rt: Runtime
) -> None:
    rt.settings = settings.with_overrides(trusted_proxy_count=1)
    client = create_app(rt=rt).test_client()
    statuses = fail_logins(client, LOGIN_MAX_FAILURES_PER_IP, forwarded_for="203.0.113.7")
    assert set(statuses) == {401}
    assert fail_logins(client, 1, forwarded_for="203.0.113.7") == [429]
    # Another patient behind the same proxy is not locked out with them.
    assert fail_logins(client, 1, forwarded_for="203.0.113.8") == [401]
    # Only the hop our proxy appended counts: a client cannot prepend its way out.
    assert fail_logins(client, 1, forwarded_for="10.9.9.9, 203.0.113.7") == [429]


def test_trusted_proxy_count_is_read_and_checked(tmp_path: object) -> None:
    base = {"TANDEM_ENV": "test", "DATABASE_URL": "sqlite://"}
    assert load_settings(base, dotenv_path=None).trusted_proxy_count == 0
    assert (
        load_settings({**base, "TRUSTED_PROXY_COUNT": "2"}, dotenv_path=None).trusted_proxy_count
        == 2
    )
    with pytest.raises(Exception, match="TRUSTED_PROXY_COUNT"):
        load_settings({**base, "TRUSTED_PROXY_COUNT": "-1"}, dotenv_path=None)


# --- secrets in settings -------------------------------------------------------------------


def test_repr_of_the_settings_never_shows_a_secret() -> None:
    secrets = {
        "SECRET_KEY": "s" * 40 + "SECRETKEY",
        "JWT_SECRET_KEY": "j" * 40 + "JWTKEY",
        "TWILIO_AUTH_TOKEN": "authtoken" * 4,
        "TWILIO_API_KEY_SECRET": "apisecret" * 4,
        "METRICS_TOKEN": "metricstoken" * 3,
    }
    settings = load_settings(
        {
            "TANDEM_ENV": "production",
            "DATABASE_URL": "postgresql://tandem:dbpassword123@db.example/tandem",
            "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
            "TWILIO_API_KEY_SID": "SK" + "2" * 32,
            "TWILIO_FROM_NUMBER": "+12025550100",
            **secrets,
        },
        dotenv_path=None,
    )
    for shown in (repr(settings), str(settings), f"{settings}"):
        for value in [*secrets.values(), "dbpassword123"]:
            assert value not in shown
        assert "SK" + "2" * 32 in shown  # a key's sid is not a secret
        assert "db.example" in shown


# --- Twilio API keys ------------------------------------------------------------------------


def test_twilio_api_keys_are_accepted_beside_the_auth_token() -> None:
    base = {
        "TANDEM_ENV": "test",
        "DATABASE_URL": "sqlite://",
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_FROM_NUMBER": "+12025550100",
    }
    keyed = load_settings(
        {**base, "TWILIO_API_KEY_SID": "SK" + "2" * 32, "TWILIO_API_KEY_SECRET": "x" * 32},
        dotenv_path=None,
    )
    assert keyed.sms_backend == "twilio"
    with pytest.raises(Exception, match="TWILIO_API_KEY_SECRET"):
        load_settings({**base, "TWILIO_API_KEY_SID": "SK" + "2" * 32}, dotenv_path=None)


def test_the_sdk_authenticates_with_the_api_key_on_the_accounts_messages(
    httpserver: HTTPServer,
) -> None:
    account, key, secret = "AC" + "1" * 32, "SK" + "2" * 32, "k" * 32
    seen: list[str] = []

    def messages(request: Request) -> Response:
        seen.append(request.headers.get("Authorization", ""))
        return Response(
            json.dumps({"sid": "SM" + "3" * 32, "status": "queued", "account_sid": account}),
            status=201,
            content_type="application/json",
        )

    httpserver.expect_request(
        f"/2010-04-01/Accounts/{account}/Messages.json", method="POST"
    ).respond_with_handler(messages)
    settings = load_settings(
        {
            "TANDEM_ENV": "test",
            "DATABASE_URL": "sqlite://",
            "TWILIO_ACCOUNT_SID": account,
            "TWILIO_API_KEY_SID": key,
            "TWILIO_API_KEY_SECRET": secret,
            "TWILIO_FROM_NUMBER": "+12025550100",
            "TWILIO_API_BASE_URL": httpserver.url_for("/").rstrip("/"),
        },
        dotenv_path=None,
    )
    result = build_sms_sender(settings).send(to="+12025550111", body="Tandem: hello.")
    assert result.sid == "SM" + "3" * 32
    assert seen == ["Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()]
