"""Settings: profiles, secrets, the SMS backend, validation, and the .env file."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, Settings, load_settings

SECRET = "s" * 48
JWT_SECRET = "j" * 48
TWILIO = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "fake-token",
    "TWILIO_FROM_NUMBER": "+12025550100",
}


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    return tmp_path / "instance"


def load(instance: Path, **env: str) -> Settings:
    return load_settings({"TANDEM_INSTANCE_PATH": str(instance), **env}, dotenv_path=None)


def production(instance: Path, **env: str) -> Settings:
    base = {
        "TANDEM_ENV": "production",
        "DATABASE_URL": "postgresql://db/tandem",
        "SECRET_KEY": SECRET,
        "JWT_SECRET_KEY": JWT_SECRET,
        **TWILIO,
    }
    base.update(env)
    return load(instance, **{k: v for k, v in base.items() if v is not None})


def test_development_is_the_default_profile(instance: Path) -> None:
    settings = load(instance)
    assert settings.env == "development" and not settings.is_production
    assert settings.database_url == f"sqlite:///{instance.resolve() / 'tandem.sqlite3'}"
    assert settings.sms_backend == "log" and settings.scheduler_enabled is True
    assert settings.access_token_minutes == 15 and settings.max_body_bytes == 64 * 1024


def test_the_three_profiles(instance: Path) -> None:
    assert load(instance, TANDEM_ENV="test").env == "test"
    assert load(instance, TANDEM_ENV=" Development ").env == "development"
    prod = production(instance)
    assert prod.env == "production" and prod.is_production
    assert prod.secret_key == SECRET and prod.jwt_secret_key == JWT_SECRET
    assert prod.sms_backend == "twilio" and prod.database_url == "postgresql://db/tandem"


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        (("SECRET_KEY",), "SECRET_KEY"),
        (("JWT_SECRET_KEY",), "JWT_SECRET_KEY"),
        (("SECRET_KEY", "JWT_SECRET_KEY"), "SECRET_KEY and JWT_SECRET_KEY"),
    ],
)
def test_production_refuses_to_start_without_secrets(
    instance: Path, missing: tuple[str, ...], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        production(instance, **dict.fromkeys(missing, ""))
    with pytest.raises(ConfigError, match=named):
        production(instance, **dict.fromkeys(missing, "   "))
    assert not (instance / "secret_key").exists()


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SECRET_KEY"])
def test_production_refuses_short_secrets(instance: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} must be at least 32"):
        production(instance, **{name: "x" * 31})
    assert production(instance, **{name: "x" * 32}).env == "production"


def test_production_needs_a_database_and_twilio(instance: Path) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        production(instance, DATABASE_URL="")
    with pytest.raises(ConfigError, match="Twilio"):
        production(instance, TWILIO_ACCOUNT_SID="", TWILIO_AUTH_TOKEN="")
    with pytest.raises(ConfigError, match="log"):
        production(instance, SMS_BACKEND="log")


def test_development_generates_and_keeps_its_secrets(instance: Path) -> None:
    first = load(instance)
    assert len(first.secret_key) >= 32 and len(first.jwt_secret_key) >= 32
    assert first.secret_key != first.jwt_secret_key
    for name, value in (("secret_key", first.secret_key), ("jwt_secret_key", first.jwt_secret_key)):
        path = instance / name
        assert path.read_text(encoding="utf-8") == value
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load(instance)
    assert (second.secret_key, second.jwt_secret_key) == (first.secret_key, first.jwt_secret_key)
    # Given secrets win over the kept ones.
    given = load(instance, SECRET_KEY=SECRET, JWT_SECRET_KEY=JWT_SECRET)
    assert (given.secret_key, given.jwt_secret_key) == (SECRET, JWT_SECRET)


def test_an_empty_kept_secret_is_replaced(instance: Path) -> None:
    instance.mkdir(parents=True)
    (instance / "secret_key").write_text("\n", encoding="utf-8")
    settings = load(instance)
    assert len(settings.secret_key) >= 32
    assert load(instance).secret_key == settings.secret_key


def test_test_profile_keeps_nothing_on_disk(instance: Path) -> None:
    settings = load(instance, TANDEM_ENV="test", DATABASE_URL="sqlite://")
    assert settings.secret_key and settings.jwt_secret_key
    assert not (instance / "secret_key").exists()


def test_sms_backend_defaults_to_log_without_twilio_credentials(instance: Path) -> None:
    assert load(instance).sms_backend == "log"
    assert load(instance, TWILIO_ACCOUNT_SID=TWILIO["TWILIO_ACCOUNT_SID"]).sms_backend == "log"


def test_sms_backend_defaults_to_twilio_with_credentials(instance: Path) -> None:
    settings = load(instance, **TWILIO)
    assert settings.sms_backend == "twilio"
    assert settings.twilio_account_sid == TWILIO["TWILIO_ACCOUNT_SID"]
    assert settings.twilio_from_number == "+12025550100"
    service = load(
        instance,
        TWILIO_ACCOUNT_SID=TWILIO["TWILIO_ACCOUNT_SID"],
        TWILIO_AUTH_TOKEN="t",
        TWILIO_MESSAGING_SERVICE_SID="MG" + "1" * 32,
    )
    assert service.sms_backend == "twilio" and service.twilio_from_number is None
    # Credentials present, but the log asked for explicitly.
    assert load(instance, SMS_BACKEND="log", **TWILIO).sms_backend == "log"


def test_urls_are_normalised(instance: Path) -> None:
    settings = load(
        instance,
        TWILIO_API_BASE_URL="http://127.0.0.1:4010/",
        PUBLIC_BASE_URL="https://tandem.example.org/",
    )
    assert settings.twilio_api_base_url == "http://127.0.0.1:4010"
    assert settings.public_base_url == "https://tandem.example.org"
    assert load(instance, PUBLIC_BASE_URL="").public_base_url is None


def test_numbers_and_flags_are_read(instance: Path) -> None:
    settings = load(
        instance,
        ACCESS_TOKEN_MINUTES="5",
        REFRESH_TOKEN_DAYS="7",
        MAX_BODY_BYTES="1024",
        OUTBOX_SWEEP_SECONDS="3",
        TWILIO_TIMEOUT_SECONDS="2.5",
        SCHEDULER_ENABLED="off",
        LOG_LEVEL="debug",
    )
    assert (
        settings.access_token_minutes,
        settings.refresh_token_days,
        settings.max_body_bytes,
        settings.outbox_sweep_seconds,
    ) == (5, 7, 1024, 3)
    assert settings.twilio_timeout_seconds == 2.5
    assert settings.scheduler_enabled is False and settings.log_level == "DEBUG"


INVALID: dict[str, dict[str, str]] = {
    "profile": {"TANDEM_ENV": "staging"},
    "sms backend": {"SMS_BACKEND": "pigeon"},
    "twilio without credentials": {"SMS_BACKEND": "twilio"},
    "twilio without a sender": {
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "t",
        "SMS_BACKEND": "twilio",
    },
    "scheduler flag": {"SCHEDULER_ENABLED": "maybe"},
    "token minutes": {"ACCESS_TOKEN_MINUTES": "fifteen"},
    "zero body size": {"MAX_BODY_BYTES": "0"},
    "negative sweep": {"OUTBOX_SWEEP_SECONDS": "-5"},
    "timeout": {"TWILIO_TIMEOUT_SECONDS": "soon"},
    "zero timeout": {"TWILIO_TIMEOUT_SECONDS": "0"},
    "log level": {"LOG_LEVEL": "LOUD"},
    "public url": {"PUBLIC_BASE_URL": "tandem.example.org"},
    "twilio url": {"TWILIO_API_BASE_URL": "ftp://twilio.example"},
}


@pytest.mark.parametrize("case", list(INVALID), ids=list(INVALID))
def test_invalid_values_are_config_errors(instance: Path, case: str) -> None:
    with pytest.raises(ConfigError):
        load(instance, **INVALID[case])


def test_the_dotenv_file_is_read_and_the_environment_wins(tmp_path: Path, instance: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# local settings\n"
        "DATABASE_URL=sqlite:///from-dotenv.sqlite3\n"
        "SMS_BACKEND=log\n"
        "ACCESS_TOKEN_MINUTES=9\n"
        "PUBLIC_BASE_URL=https://dotenv.example.org\n",
        encoding="utf-8",
    )
    environ: dict[str, Any] = {"TANDEM_INSTANCE_PATH": str(instance), "ACCESS_TOKEN_MINUTES": "20"}
    settings = load_settings(environ, dotenv_path=dotenv)
    assert settings.database_url == "sqlite:///from-dotenv.sqlite3"
    assert settings.public_base_url == "https://dotenv.example.org"
    assert settings.access_token_minutes == 20
    # Without the file, its values are gone; a missing file is not an error.
    assert load_settings(environ, dotenv_path=None).access_token_minutes == 20
    assert load_settings(environ, dotenv_path=tmp_path / "absent.env").public_base_url is None


def test_settings_are_immutable_and_overridable(instance: Path) -> None:
    settings = load(instance)
    with pytest.raises(AttributeError):
        settings.env = "production"  # type: ignore[misc]
    assert settings.with_overrides(max_body_bytes=10).max_body_bytes == 10
    assert settings.max_body_bytes == 64 * 1024


def test_processes_starting_together_agree_on_one_secret(instance: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        loaded = list(pool.map(lambda _: load(instance), range(16)))
    assert len({s.secret_key for s in loaded}) == 1
    assert len({s.jwt_secret_key for s in loaded}) == 1
    assert (instance / "secret_key").read_text(encoding="utf-8") == loaded[0].secret_key
