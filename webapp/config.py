"""Settings: the only place that reads the environment."""
from __future__ import annotations

import enum
import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

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


def runs_on_local_default(environ: Mapping[str, str] | None = None) -> bool:
    """A `flask …` command without DATABASE_URL (the flask CLI sets FLASK_RUN_FROM_CLI before it loads the app): it
    uses `make run`'s local default (wsgi.py builds the app with local.launcher.command_config). gunicorn, and every
    command of a deployment, read only the environment."""
    env = os.environ if environ is None else environ
    return env.get("FLASK_RUN_FROM_CLI") == "true" and not env.get("DATABASE_URL")


def check_database_tls(url: str) -> None:
    """libpq reads `sslmode`/`sslrootcert`/`sslcert`/`sslkey` from the URL; a certificate file that is not there
    would otherwise surface as a confusing TLS error on the first request."""
    for name, value in parse_qsl(urlsplit(url).query):
        if name in ("sslrootcert", "sslcert", "sslkey") and value != "system" and not Path(value).is_file():
            raise ConfigError(f"DATABASE_URL names {name}={value}, but there is no such file.")


# Where provider tokens, client secrets and app-specific passwords are sent.
PROVIDER_URL_SETTINGS = ("GOOGLE_AUTH_URL", "GOOGLE_TOKEN_URL", "GOOGLE_REVOKE_URL", "GOOGLE_CALENDAR_API_URL",
                         "GOOGLE_USERINFO_URL", "MICROSOFT_AUTHORITY", "MICROSOFT_GRAPH_URL", "APPLE_CALDAV_URL")


def check_provider_urls(env: Mapping[str, str]) -> None:
    """Provider endpoints must be https. oauthlib refuses plain http unless OAUTHLIB_INSECURE_TRANSPORT is set,
    so "Connect" could only fail; with it set, we still allow plain http only to a stand-in on this machine (the
    sandbox's emulators), never across a network."""
    from webapp.providers.oauth import is_loopback

    for name in PROVIDER_URL_SETTINGS:
        parts = urlsplit(env.get(name, ""))
        if not env.get(name) or (parts.scheme == "https" and parts.hostname):
            continue
        shown = f"{parts.scheme}://{parts.hostname or ''}"
        if parts.scheme != "http" or not is_loopback(parts.hostname):
            raise ConfigError(f"{name} must be an https:// address (tokens and secrets are sent there), not {shown}.")
        if not env.get("OAUTHLIB_INSECURE_TRANSPORT"):
            raise ConfigError(f"{name} is plain http ({shown}): allowed only for a stand-in on this machine, "
                              "with OAUTHLIB_INSECURE_TRANSPORT=1.")


class SignupPolicy(enum.StrEnum):
    """Who may create an account from the web. Operators can always create accounts from the console."""

    OPEN = "open"  # anyone, through a mailed link
    INVITE = "invite"  # only through an invitation link an admin made
    CLOSED = "closed"  # nobody

    @property
    def accepts_registrations(self) -> bool:
        return self is SignupPolicy.OPEN

    @property
    def accepts_invitations(self) -> bool:
        return self is not SignupPolicy.CLOSED


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
    # "development" under `make run`: the local outbox is shown at /dev/outbox. Anything else is production.
    ENVIRONMENT: str = "production"
    # Served behind TLS: HSTS, `__Host-` cookies, `Secure` everywhere, https in every URL we build.
    FORCE_HTTPS: bool = False
    # How many reverse proxies in front of us set X-Forwarded-For / X-Forwarded-Proto (0: trust none).
    TRUSTED_PROXY_HOPS: int = 0
    # Where links in emails point, e.g. https://almanac.example.org (never taken from a request's Host), and the
    # base of the addresses Google and Microsoft send change notifications to (<PUBLIC_URL>/webhooks/google, …).
    PUBLIC_URL: str = "http://127.0.0.1:5000"
    # Ask Google (watch channels) and Microsoft (Graph subscriptions) to notify us of changes; off: the 5-minute
    # sweep (and syncs while a calendar page is open) keep calendars current.
    PUSH_NOTIFICATIONS: bool = True
    # How often an open calendar tab asks whether anything changed (webapp.live): seconds, while it is visible.
    LIVE_POLL_SECONDS: float = 2.0
    # smtp://user:password@host:587 (STARTTLS) or smtps://…:465; unset: mail lands in the local outbox.
    SMTP_URL: str = ""
    MAIL_FROM: str = "Almanac <almanac@localhost>"
    PREFERRED_URL_SCHEME: str = "http"
    SESSION_COOKIE_SECURE: bool = False
    LOG_FORMAT: str = "text"
    LOG_LEVEL: str = "INFO"
    TESTING: bool = False
    # The cost of password hashes (argon2id), by the name of an argon2.profiles profile. The test suite uses
    # CHEAPEST (it signs in thousands of times); only TESTING may.
    ARGON2_PROFILE: str = "RFC_9106_LOW_MEMORY"
    RATELIMIT_ENABLED: bool = True
    # Failed sign-ins: tight per (account, address); broad per address; per account only a high ceiling, and
    # past LOGIN_ACCOUNT_DELAY_AFTER failures a delay that doubles with each one. A browser that signed in to
    # the account before (device cookie) is counted apart, per account only (never per address, so strangers,
    # even behind its own NAT, cannot lock it out): LOGIN_FAILURES_PER_ACCOUNT_ON_KNOWN_BROWSERS.
    LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS: str = "5 per 15 minutes"
    LOGIN_FAILURES_PER_ADDRESS: str = "50 per 15 minutes"
    LOGIN_FAILURES_PER_ACCOUNT: str = "100 per hour"
    LOGIN_FAILURES_PER_ACCOUNT_ON_KNOWN_BROWSERS: str = "5 per 15 minutes"
    LOGIN_ACCOUNT_DELAY_AFTER: int = 10
    LOGIN_ACCOUNT_DELAY_MAX_SECONDS: int = 300
    # Registrations and password-reset requests (each sends a mail): per address, and per email address.
    ACCOUNT_MAIL_PER_ADDRESS: str = "10 per hour"
    ACCOUNT_MAIL_PER_EMAIL: str = "3 per hour"
    RESET_LINK_MINUTES: int = 30
    # open | invite | closed (SignupPolicy); empty: the default for ENVIRONMENT. A deployment defaults to invite: a
    # server anyone can reach must not hand accounts (and, to the first, admin rights) to whoever finds it first.
    # The local default (`make run`, ENVIRONMENT=development) is open, so one can register and try it at once.
    SIGNUP: str = ""
    SESSION_ABSOLUTE_DAYS: int = 30
    SESSION_IDLE_DAYS: int = 14
    STATEMENT_TIMEOUT_MS: int = 30_000
    # CPU one request may spend in Python (webapp.budget); past it the visitor gets a 503 and the thread is free.
    REQUEST_CPU_SECONDS: float = 5
    IDLE_IN_TRANSACTION_TIMEOUT_MS: int = 60_000
    # Outage bounds: a request waits at most this long on Redis (per call) and on a database connect, then the
    # visitor gets the 503 page. Jobs override REDIS_TIMEOUT_SECONDS: they may wait out a short stall.
    REDIS_TIMEOUT_SECONDS: float = 1.0
    # A failed sync is tried again after these many seconds (1st, 2nd, 3rd failure in a row); after the last,
    # a failure that is not transient stops until someone presses Retry.
    SYNC_RETRY_SECONDS: tuple[int, ...] = (30, 120, 600)
    DATABASE_CONNECT_TIMEOUT_SECONDS: int = 2  # libpq's minimum
    PROVIDERS: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.ARGON2_PROFILE not in ("RFC_9106_LOW_MEMORY", "RFC_9106_HIGH_MEMORY") and not (
                self.TESTING and self.ARGON2_PROFILE == "CHEAPEST"):
            raise ConfigError(f"ARGON2_PROFILE {self.ARGON2_PROFILE!r} is not an argon2 profile for "
                              "real passwords: use RFC_9106_LOW_MEMORY or RFC_9106_HIGH_MEMORY.")
        self.SIGNUP = (self.SIGNUP or "").strip().lower() or (
            SignupPolicy.OPEN if self.ENVIRONMENT == "development" else SignupPolicy.INVITE).value
        if self.SIGNUP not in set(SignupPolicy):
            raise ConfigError(f"SIGNUP must be open, invite or closed, got {self.SIGNUP!r}.")
        if self.REQUEST_CPU_SECONDS <= 0:
            raise ConfigError("REQUEST_CPU_SECONDS must be at least 1: every page needs some CPU.")
        if self.FORCE_HTTPS:
            self.PREFERRED_URL_SCHEME = "https"
            self.SESSION_COOKIE_SECURE = True

    @property
    def cookie_prefix(self) -> str:
        # `__Host-`: the browser keeps such a cookie only if it is Secure, has Path=/ and no Domain.
        return "__Host-" if self.FORCE_HTTPS else ""

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
        check_database_tls(database_url)
        check_provider_urls(env)
        smtp_url = env.get("SMTP_URL", "")
        if smtp_url and urlsplit(smtp_url).scheme not in ("smtp", "smtps"):
            raise ConfigError("SMTP_URL must start with smtp:// (STARTTLS) or smtps:// (TLS).")
        force_https = _bool(env.get("FORCE_HTTPS"))
        port = _int(env, "PORT", 5000)
        environment = env.get("ALMANAC_ENV", "production")
        return cls(
            SECRET_KEY=secret_key,
            SQLALCHEMY_DATABASE_URI=normalise_database_url(database_url),
            REDIS_URL=env["REDIS_URL"],
            TOKEN_ENCRYPTION_KEYS=token_keys,
            PORT=port,
            ENVIRONMENT=environment,
            FORCE_HTTPS=force_https,
            TRUSTED_PROXY_HOPS=_int(env, "TRUSTED_PROXY_HOPS", 0),
            PUBLIC_URL=(env.get("PUBLIC_URL") or f"{'https' if force_https else 'http'}://127.0.0.1:{port}").rstrip("/"),
            SMTP_URL=smtp_url,
            MAIL_FROM=env.get("MAIL_FROM", "Almanac <almanac@localhost>"),
            LOG_FORMAT=env.get("LOG_FORMAT", "text"),
            LOG_LEVEL=env.get("LOG_LEVEL", "INFO"),
            SYNC_RETRY_SECONDS=_seconds_list(env, "SYNC_RETRY_SECONDS", cls.SYNC_RETRY_SECONDS),
            REQUEST_CPU_SECONDS=_int(env, "REQUEST_CPU_SECONDS", cls.REQUEST_CPU_SECONDS),
            SIGNUP=env.get("SIGNUP", ""),
            PUSH_NOTIFICATIONS=_bool(env.get("PUSH_NOTIFICATIONS"), default=True),
            LIVE_POLL_SECONDS=_seconds(env, "LIVE_POLL_SECONDS", cls.LIVE_POLL_SECONDS),
            PROVIDERS=provider_settings(env),
        )

    def as_flask_config(self) -> dict:
        values = asdict(self)
        values["COOKIE_PREFIX"] = self.cookie_prefix
        values["SESSION_COOKIE_NAME"] = self.cookie_prefix + "session"
        values["SQLALCHEMY_ENGINE_OPTIONS"] = {
            # Pooled connections are renewed every half hour, and one the server closed (a PostgreSQL restart)
            # is replaced at checkout without a round trip (webapp.extensions.replace_closed_connections).
            "pool_recycle": 1800,
            # One stuck query or forgotten transaction must not hold the app (or its locks) for long.
            "connect_args": {
                "connect_timeout": self.DATABASE_CONNECT_TIMEOUT_SECONDS,
                "options": f"-c statement_timeout={self.STATEMENT_TIMEOUT_MS} "
                f"-c idle_in_transaction_session_timeout={self.IDLE_IN_TRANSACTION_TIMEOUT_MS}"
            },
        }
        return values


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "")
    if not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}.") from None
    if number < 0:
        raise ConfigError(f"{name} cannot be negative, got {number}.")
    return number


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name, "")
    if not value.strip():
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}.") from None
    if not 0.5 <= seconds <= 60:
        raise ConfigError(f"{name} must be between 0.5 and 60 seconds, got {value!r}.")
    return seconds


def _seconds_list(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    value = env.get(name, "")
    if not value.strip():
        return default
    try:
        seconds = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise ConfigError(f"{name} must be whole seconds separated by commas (30,120,600), got {value!r}.") from None
    if any(number < 1 for number in seconds):
        raise ConfigError(f"{name} must be at least 1 second each, got {value!r}.")
    return seconds


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
        # Addresses users give (CalDAV servers, ICS feeds) may be inside the operator's network: loopback, RFC 1918,
        # CGNAT, unique-local. Off by default (webapp.providers.guard); link-local and multicast stay refused.
        "allow_private_sources": _bool(env.get("ALLOW_PRIVATE_SOURCES")),
        # Shown on the iCloud form in sandbox mode, so a newcomer can try the CalDAV flow.
        "sandbox_apple_login": (env.get("APPLE_SANDBOX_USER", ""), env.get("APPLE_SANDBOX_PASSWORD", "")),
        # Shown on the Subscribe by URL form in sandbox mode: a sample feed served beside the app.
        "sandbox_feed_url": env.get("SANDBOX_FEED_URL", ""),
    }
