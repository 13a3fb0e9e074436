"""Settings: the only place that reads the environment."""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"


class ConfigError(SystemExit):
    """Raised at start-up with a one-line explanation; exits the process without a traceback."""


def normalise_database_url(url: str) -> str:
    """Accept the URL spellings hosts hand out and always use psycopg 3."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith("postgresql+psycopg://"):
        return url
    scheme = url.split(":")[0]
    raise ConfigError(f"DATABASE_URL must be a PostgreSQL URL (postgres://, postgresql://), got scheme {scheme!r}")


def instance_secret(name: str, nbytes: int = 32, directory: Path = INSTANCE_DIR) -> str:
    """A random secret generated once for the local default and kept under instance/."""
    path = directory / name
    if path.exists():
        return path.read_text().strip()
    directory.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Config:
    SECRET_KEY: str
    SQLALCHEMY_DATABASE_URI: str
    REDIS_URL: str
    TOKEN_ENCRYPTION_KEYS: str
    PORT: int = 5000
    PREFERRED_URL_SCHEME: str = "http"
    SESSION_COOKIE_SECURE: bool = False
    LOG_FORMAT: str = "text"
    LOG_LEVEL: str = "INFO"
    TESTING: bool = False
    RATELIMIT_ENABLED: bool = True
    LOGIN_FAILURES_PER_ACCOUNT: str = "5 per 15 minutes"
    LOGIN_FAILURES_PER_IP: str = "20 per 15 minutes"
    SESSION_ABSOLUTE_DAYS: int = 30
    SESSION_IDLE_DAYS: int = 14
    STATEMENT_TIMEOUT_MS: int = 30_000
    IDLE_IN_TRANSACTION_TIMEOUT_MS: int = 60_000
    # Outage bounds: a request waits at most this long on Redis (per call) and on a database connect, then the
    # visitor gets the 503 page. Jobs override REDIS_TIMEOUT_SECONDS: they may wait out a short stall.
    REDIS_TIMEOUT_SECONDS: float = 1.0
    DATABASE_CONNECT_TIMEOUT_SECONDS: int = 2  # libpq's minimum
    PROVIDERS: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        database_url = env.get("DATABASE_URL")
        secret_key = env.get("SECRET_KEY")
        token_keys = env.get("TOKEN_ENCRYPTION_KEYS")
        if database_url:
            if not secret_key:
                raise ConfigError("SECRET_KEY is not set: a deployment with DATABASE_URL must set its own SECRET_KEY.")
            if not token_keys:
                raise ConfigError(
                    "TOKEN_ENCRYPTION_KEYS is not set: a deployment with DATABASE_URL must set its own token keys."
                )
        else:
            raise ConfigError("DATABASE_URL is not set: run `make run` for the local default, or set DATABASE_URL.")
        if not env.get("REDIS_URL"):
            raise ConfigError("REDIS_URL is not set: run `make run` for the local default, or set REDIS_URL.")
        return cls(
            SECRET_KEY=secret_key,
            SQLALCHEMY_DATABASE_URI=normalise_database_url(database_url),
            REDIS_URL=env["REDIS_URL"],
            TOKEN_ENCRYPTION_KEYS=token_keys,
            PORT=int(env.get("PORT", "5000")),
            PREFERRED_URL_SCHEME="https" if _bool(env.get("FORCE_HTTPS")) else "http",
            SESSION_COOKIE_SECURE=_bool(env.get("FORCE_HTTPS")),
            LOG_FORMAT=env.get("LOG_FORMAT", "text"),
            LOG_LEVEL=env.get("LOG_LEVEL", "INFO"),
            PROVIDERS=provider_settings(env),
        )

    def as_flask_config(self) -> dict:
        values = asdict(self)
        values["SQLALCHEMY_ENGINE_OPTIONS"] = {
            # After a PostgreSQL restart the pool's connections are dead: each is tested at checkout and replaced,
            # so no request fails on one.
            "pool_pre_ping": True,
            # One stuck query or forgotten transaction must not hold the app (or its locks) for long.
            "connect_args": {
                "connect_timeout": self.DATABASE_CONNECT_TIMEOUT_SECONDS,
                "options": f"-c statement_timeout={self.STATEMENT_TIMEOUT_MS} "
                f"-c idle_in_transaction_session_timeout={self.IDLE_IN_TRANSACTION_TIMEOUT_MS}"
            },
        }
        return values


def provider_settings(env: Mapping[str, str]) -> dict:
    """Provider endpoints; defaults are the real services, tests and the sandbox point them at emulators."""
    return {
        "google": {
            "client_id": env.get("GOOGLE_CLIENT_ID", ""),
            "client_secret": env.get("GOOGLE_CLIENT_SECRET", ""),
            "auth_url": env.get("GOOGLE_AUTH_URL", "https://accounts.google.com/o/oauth2/v2/auth"),
            "token_url": env.get("GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token"),
            "revoke_url": env.get("GOOGLE_REVOKE_URL", "https://oauth2.googleapis.com/revoke"),
            "api_url": env.get("GOOGLE_CALENDAR_API_URL", "https://www.googleapis.com/calendar/v3"),
            "userinfo_url": env.get("GOOGLE_USERINFO_URL", "https://openidconnect.googleapis.com/v1/userinfo"),
        },
        "microsoft": {
            "client_id": env.get("MICROSOFT_CLIENT_ID", ""),
            "client_secret": env.get("MICROSOFT_CLIENT_SECRET", ""),
            "authority": env.get("MICROSOFT_AUTHORITY", "https://login.microsoftonline.com/common"),
            "graph_url": env.get("MICROSOFT_GRAPH_URL", "https://graph.microsoft.com/v1.0"),
        },
        "apple": {"base_url": env.get("APPLE_CALDAV_URL", "https://caldav.icloud.com/")},
        # Seconds a provider may stay silent before a call fails; unset: each provider's own default.
        "timeout": float(env["PROVIDER_TIMEOUT_SECONDS"]) if env.get("PROVIDER_TIMEOUT_SECONDS") else None,
        "sandbox": _bool(env.get("ALMANAC_SANDBOX")),
        # Shown on the iCloud form in sandbox mode, so a newcomer can try the CalDAV flow.
        "sandbox_apple_login": (env.get("APPLE_SANDBOX_USER", ""), env.get("APPLE_SANDBOX_PASSWORD", "")),
    }
