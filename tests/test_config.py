import base64
import os
import subprocess
import sys
from dataclasses import asdict

import pytest

from webapp import create_app
from webapp.auth.accounts import hash_password
from webapp.config import (
    PROJECT_ROOT,
    Config,
    ConfigError,
    instance_secret,
    normalise_database_url,
    runs_on_local_default,
)


@pytest.mark.parametrize("url", [
    "postgres://u:p@db:5432/almanac", "postgresql://u:p@db:5432/almanac", "postgresql+psycopg://u:p@db:5432/almanac",
])
def test_database_urls_always_use_psycopg3(url):
    assert normalise_database_url(url) == "postgresql+psycopg://u:p@db:5432/almanac"


def test_non_postgres_url_is_refused():
    with pytest.raises(ConfigError, match="must be a PostgreSQL URL"):
        normalise_database_url("mysql://u@db/x")


def test_deployment_without_secret_key_refuses_to_start():
    with pytest.raises(ConfigError) as error:
        Config.from_env({"DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r", "TOKEN_ENCRYPTION_KEYS": "k:x"})
    assert "SECRET_KEY is not set" in str(error.value) and "\\n" not in str(error.value)


def test_deployment_without_token_keys_refuses_to_start():
    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEYS is not set"):
        Config.from_env({"DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r", "SECRET_KEY": "s"})


def test_full_environment_is_read_once():
    config = Config.from_env({
        "DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r", "SECRET_KEY": "s",
        "TOKEN_ENCRYPTION_KEYS": "k:x", "PORT": "8080", "GOOGLE_CLIENT_ID": "gid",
    })
    assert config.PORT == 8080 and config.PROVIDERS["google"]["client_id"] == "gid"
    assert config.PROVIDERS["google"]["token_url"] == "https://oauth2.googleapis.com/token"
    assert "statement_timeout" in config.as_flask_config()["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["options"]


# What a deployment must set, with a token key the app accepts.
DEPLOYMENT = {"DATABASE_URL": "postgres://db/x", "REDIS_URL": "redis://r", "SECRET_KEY": "s",
              "TOKEN_ENCRYPTION_KEYS": "k:" + base64.urlsafe_b64encode(bytes(32)).decode()}


def test_deployments_hash_passwords_at_the_rfc_9106_cost_and_refuse_the_test_profile():
    config = Config.from_env(DEPLOYMENT)
    assert config.ARGON2_PROFILE == "RFC_9106_LOW_MEMORY"
    with create_app({"CONFIG": config}).app_context():
        assert hash_password("correct horse").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    for refused in ("CHEAPEST", "NO_SUCH_PROFILE"):
        with pytest.raises(ConfigError, match="is not an argon2 profile for real passwords"):
            Config(**{**asdict(config), "ARGON2_PROFILE": refused})


def test_the_cpu_budget_of_a_page_is_a_positive_number_of_seconds():
    assert Config.from_env(DEPLOYMENT).REQUEST_CPU_SECONDS == 5
    assert Config.from_env({**DEPLOYMENT, "REQUEST_CPU_SECONDS": "2"}).REQUEST_CPU_SECONDS == 2
    with pytest.raises(ConfigError, match="REQUEST_CPU_SECONDS must be at least 1"):
        Config.from_env({**DEPLOYMENT, "REQUEST_CPU_SECONDS": "0"})


def test_sync_retry_intervals_are_read_as_whole_seconds():
    assert Config.from_env(DEPLOYMENT).SYNC_RETRY_SECONDS == (30, 120, 600)
    assert Config.from_env({**DEPLOYMENT, "SYNC_RETRY_SECONDS": "5, 60"}).SYNC_RETRY_SECONDS == (5, 60)
    for wrong, message in (("30,soon", "whole seconds separated by commas"), ("30,0", "at least 1 second")):
        with pytest.raises(ConfigError, match=message):
            Config.from_env({**DEPLOYMENT, "SYNC_RETRY_SECONDS": wrong})


def test_instance_secret_is_generated_once_and_private(tmp_path):
    first = instance_secret("secret_key", directory=tmp_path)
    assert instance_secret("secret_key", directory=tmp_path) == first
    assert len(first) >= 43 and (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("name", ["GOOGLE_AUTH_URL", "GOOGLE_TOKEN_URL", "GOOGLE_REVOKE_URL", "GOOGLE_CALENDAR_API_URL",
                                  "GOOGLE_USERINFO_URL", "MICROSOFT_AUTHORITY", "MICROSOFT_GRAPH_URL",
                                  "APPLE_CALDAV_URL"])
def test_provider_endpoints_across_the_network_must_be_https(name):
    for url in ("http://accounts.example/path", "http://10.0.0.5:8080/", "ftp://accounts.example/"):
        for switch in ({}, {"OAUTHLIB_INSECURE_TRANSPORT": "1"}):
            with pytest.raises(ConfigError, match=f"^{name} must be an https:// address"):
                Config.from_env({**DEPLOYMENT, name: url, **switch})
    Config.from_env({**DEPLOYMENT, name: "https://stand-in.example/path"})


def test_plain_http_to_a_stand_in_on_this_machine_needs_oauthlibs_switch():
    for host in ("127.0.0.1:8001", "[::1]:8001", "localhost:8001"):
        settings = {**DEPLOYMENT, "GOOGLE_TOKEN_URL": f"http://{host}/token"}
        with pytest.raises(ConfigError) as refused:
            Config.from_env(settings)
        shown = "http://" + host.rsplit(":", 1)[0].strip("[]")
        assert str(refused.value) == (f"GOOGLE_TOKEN_URL is plain http ({shown}): allowed only for a stand-in on "
                                      "this machine, with OAUTHLIB_INSECURE_TRANSPORT=1.")
        config = Config.from_env({**settings, "OAUTHLIB_INSECURE_TRANSPORT": "1"})
        assert config.PROVIDERS["google"]["token_url"] == f"http://{host}/token"


def test_an_endpoint_that_cannot_work_stops_start_up_with_one_line():
    env = {key: value for key, value in os.environ.items() if key != "OAUTHLIB_INSECURE_TRANSPORT"}
    env.update(DEPLOYMENT, GOOGLE_AUTH_URL="http://127.0.0.1:8001/o/oauth2/v2/auth")
    started = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    assert started.returncode == 1
    assert started.stderr.splitlines() == [
        "GOOGLE_AUTH_URL is plain http (http://127.0.0.1): allowed only for a stand-in on this machine, "
        "with OAUTHLIB_INSECURE_TRANSPORT=1."]


def test_only_a_flask_command_without_database_url_uses_the_local_default():
    assert runs_on_local_default({"FLASK_RUN_FROM_CLI": "true"})
    assert not runs_on_local_default({"FLASK_RUN_FROM_CLI": "true", "DATABASE_URL": "postgres://db/x"})  # deployed
    assert not runs_on_local_default({})  # gunicorn, the worker and the scheduler
