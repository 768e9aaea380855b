"""Typed settings with development, test and production profiles.

Nothing else in Tandem reads ``os.environ``: the app factory, the CLI and the
scheduler all receive a :class:`Settings` built by :func:`load_settings`.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values

PROFILES = ("development", "test", "production")
SMS_BACKENDS = ("twilio", "log")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_INSTANCE_PATH = Path("instance")


class ConfigError(RuntimeError):
    """The environment does not describe a runnable Tandem."""


# Fields never shown by repr() (and so never in a log line that prints the settings).
SECRET_FIELDS = frozenset(
    {"secret_key", "jwt_secret_key", "twilio_auth_token", "twilio_api_key_secret", "metrics_token"}
)


@dataclass(frozen=True, slots=True, repr=False)
class Settings:
    """Everything Tandem reads from its environment."""

    env: str = "development"
    instance_path: Path = DEFAULT_INSTANCE_PATH
    database_url: str = ""
    secret_key: str = ""
    jwt_secret_key: str = ""
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    max_body_bytes: int = 64 * 1024
    sms_backend: str = "log"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str | None = None
    twilio_timeout_seconds: float = 10.0
    public_base_url: str | None = None
    scheduler_enabled: bool = True
    outbox_sweep_seconds: int = 15
    login_max_failures: int = 5
    login_window_seconds: int = 900
    log_level: str = "INFO"
    # Twilio API keys, beside the auth token (which still signs the webhooks).
    twilio_api_key_sid: str | None = None
    twilio_api_key_secret: str | None = None
    # How many reverse proxies' X-Forwarded-For / X-Forwarded-Proto to believe.
    trusted_proxy_count: int = 0
    # /metrics is readable with this bearer token, and absent (404) without one.
    metrics_token: str | None = None
    # prometheus-client's multiprocess folder (gunicorn.conf.py sets it), or None.
    prometheus_multiproc_dir: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = []
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name in SECRET_FIELDS and value:
                value = "***"
            elif name == "database_url":
                value = _hide_password(value)
            shown.append(f"{name}={value!r}")
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and the CLI use it)."""
        return replace(self, **changes)


def _hide_password(url: str) -> str:
    """A database URL with its password replaced, for display."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _int(name: str, raw: str, *, minimum: int = 1) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive")
    return value


def _read_secret(path: Path) -> str:
    """A kept secret; waits briefly when empty, as another process may be writing it now."""
    for _ in range(20):
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept
        time.sleep(0.025)
    return ""


def _local_secret(instance_path: Path, name: str) -> str:
    """Generate once and keep a development secret in the instance folder."""
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / name
    if path.exists():
        kept = _read_secret(path)
        if kept:
            return kept
        # Left empty by an interrupted first run: it would mean an empty signing key.
        path.unlink(missing_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        # Owner-only from the start, never readable by others even for a moment; O_EXCL so
        # two processes starting together (API and scheduler) agree on one secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        kept = _read_secret(path)
        if kept:
            return kept
        raise ConfigError(f"{path} is empty; delete it to generate a new secret") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


def _url(name: str, raw: str | None) -> str | None:
    """An http(s) base URL without a trailing slash, or None when unset."""
    value = (raw or "").strip().rstrip("/")
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL such as https://tandem.example.org")
    return value


def _read_environment(
    environ: Mapping[str, str] | None, dotenv_path: str | Path | None
) -> dict[str, str]:
    """The ``.env`` file's values (when there is one), overridden by the environment's."""
    env: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    return env


def _profile(env: Mapping[str, str]) -> str:
    profile = env.get("TANDEM_ENV", "development").strip().lower()
    if profile not in PROFILES:
        raise ConfigError(f"TANDEM_ENV must be one of {', '.join(PROFILES)}, not {profile!r}")
    return profile


def _database_url(env: Mapping[str, str], profile: str, instance_path: Path) -> str:
    """DATABASE_URL, or outside production a SQLite file in the instance folder."""
    database_url = env.get("DATABASE_URL", "").strip()
    if not database_url:
        if profile == "production":
            raise ConfigError("DATABASE_URL is required in production")
        instance_path.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance_path / 'tandem.sqlite3'}"
    return database_url


def _signing_keys(env: Mapping[str, str], profile: str, instance_path: Path) -> tuple[str, str]:
    """(SECRET_KEY, JWT_SECRET_KEY): required in production, made up elsewhere when unset."""
    secret_key = env.get("SECRET_KEY", "").strip()
    jwt_secret_key = env.get("JWT_SECRET_KEY", "").strip()
    if profile == "production":
        missing = [
            n for n, v in (("SECRET_KEY", secret_key), ("JWT_SECRET_KEY", jwt_secret_key)) if not v
        ]
        if missing:
            raise ConfigError(f"production refuses to start without {' and '.join(missing)}")
        for name, value in (("SECRET_KEY", secret_key), ("JWT_SECRET_KEY", jwt_secret_key)):
            if len(value) < 32:
                raise ConfigError(f"{name} must be at least 32 characters in production")
    elif profile == "test":
        secret_key = secret_key or secrets.token_urlsafe(48)
        jwt_secret_key = jwt_secret_key or secrets.token_urlsafe(48)
    else:
        secret_key = secret_key or _local_secret(instance_path, "secret_key")
        jwt_secret_key = jwt_secret_key or _local_secret(instance_path, "jwt_secret_key")
    return secret_key, jwt_secret_key


def _sms(env: Mapping[str, str], profile: str) -> dict[str, Any]:
    """The SMS backend and its Twilio credentials, as :class:`Settings` fields."""
    account_sid = env.get("TWILIO_ACCOUNT_SID") or None
    auth_token = env.get("TWILIO_AUTH_TOKEN") or None
    from_number = env.get("TWILIO_FROM_NUMBER") or None
    messaging_service_sid = env.get("TWILIO_MESSAGING_SERVICE_SID") or None
    api_key_sid = env.get("TWILIO_API_KEY_SID") or None
    api_key_secret = env.get("TWILIO_API_KEY_SECRET") or None
    if bool(api_key_sid) != bool(api_key_secret):
        raise ConfigError("TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET go together")
    default_backend = "twilio" if account_sid and (auth_token or api_key_sid) else "log"
    sms_backend = env.get("SMS_BACKEND", default_backend).strip().lower()
    if sms_backend not in SMS_BACKENDS:
        raise ConfigError(f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}")
    if sms_backend == "twilio":
        if not (account_sid and (auth_token or api_key_sid)):
            raise ConfigError(
                "SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN "
                "(or TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET)"
            )
        if not (from_number or messaging_service_sid):
            raise ConfigError(
                "SMS_BACKEND=twilio needs TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"
            )
    if profile == "production" and sms_backend == "log":
        raise ConfigError("production refuses to send SMS to the log: configure Twilio")
    return {
        "sms_backend": sms_backend,
        "twilio_account_sid": account_sid,
        "twilio_auth_token": auth_token,
        "twilio_from_number": from_number,
        "twilio_messaging_service_sid": messaging_service_sid,
        "twilio_api_key_sid": api_key_sid,
        "twilio_api_key_secret": api_key_secret,
    }


def _log_level(env: Mapping[str, str]) -> str:
    log_level = env.get("LOG_LEVEL", "INFO").strip().upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
    return log_level


def _numeric_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """The numeric fields set in the environment (the others keep their defaults)."""
    numeric: dict[str, Any] = {}
    for var, attr in (
        ("ACCESS_TOKEN_MINUTES", "access_token_minutes"),
        ("REFRESH_TOKEN_DAYS", "refresh_token_days"),
        ("MAX_BODY_BYTES", "max_body_bytes"),
        ("OUTBOX_SWEEP_SECONDS", "outbox_sweep_seconds"),
    ):
        if var in env:
            numeric[attr] = _int(var, env[var])
    if "TRUSTED_PROXY_COUNT" in env:
        numeric["trusted_proxy_count"] = _int(
            "TRUSTED_PROXY_COUNT", env["TRUSTED_PROXY_COUNT"], minimum=0
        )
    if "TWILIO_TIMEOUT_SECONDS" in env:
        numeric["twilio_timeout_seconds"] = _float(
            "TWILIO_TIMEOUT_SECONDS", env["TWILIO_TIMEOUT_SECONDS"]
        )
    return numeric


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | Path | None = ".env"
) -> Settings:
    """Read the process environment (and an optional ``.env``) into :class:`Settings`."""
    env = _read_environment(environ, dotenv_path)
    profile = _profile(env)
    instance_path = Path(env.get("TANDEM_INSTANCE_PATH", str(DEFAULT_INSTANCE_PATH))).resolve()
    database_url = _database_url(env, profile, instance_path)
    secret_key, jwt_secret_key = _signing_keys(env, profile, instance_path)
    sms = _sms(env, profile)
    log_level = _log_level(env)
    settings = Settings(
        env=profile,
        instance_path=instance_path,
        database_url=database_url,
        secret_key=secret_key,
        jwt_secret_key=jwt_secret_key,
        **sms,
        twilio_api_base_url=_url("TWILIO_API_BASE_URL", env.get("TWILIO_API_BASE_URL")),
        public_base_url=_url("PUBLIC_BASE_URL", env.get("PUBLIC_BASE_URL")),
        scheduler_enabled=_bool("SCHEDULER_ENABLED", env.get("SCHEDULER_ENABLED", "true")),
        log_level=log_level,
        metrics_token=(env.get("METRICS_TOKEN") or "").strip() or None,
        prometheus_multiproc_dir=(env.get("PROMETHEUS_MULTIPROC_DIR") or "").strip() or None,
    )
    numeric = _numeric_overrides(env)
    return settings.with_overrides(**numeric) if numeric else settings
