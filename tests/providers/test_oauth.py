"""The shared OAuth flow (webapp.providers.oauth): where it may send a client secret, and what it makes of token
answers it cannot use. The happy paths and the providers' refusals are in test_google.py and test_microsoft.py."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from sandbox.serve import serve_in_thread
from webapp.providers.base import ProviderError, ProviderUnreachable
from webapp.providers.google import GoogleProvider
from webapp.providers.microsoft import MicrosoftProvider

SECRET = "client-secret-do-not-send"
REDIRECT_URI = "http://127.0.0.1:5000/connections/google/callback"


class RecordingTokenEndpoint:
    """A token endpoint that answers 200 with whatever body the test sets, and remembers what it was sent."""

    def __init__(self):
        self.body = b"{}"
        self.content_type = "application/json"
        self.requests: list[bytes] = []

    def __call__(self, environ, start_response):
        self.requests.append(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        start_response("200 OK", [("Content-Type", self.content_type)])
        return [self.body]


@pytest.fixture(scope="module")
def endpoint():
    app = RecordingTokenEndpoint()
    running = serve_in_thread(app)
    yield running.url, app
    running.stop()


def google_at(token_url: str, auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth") -> GoogleProvider:
    return GoogleProvider("client-id", SECRET, auth_url=auth_url, token_url=token_url)


@pytest.mark.parametrize("host", ["oauth.example", "10.0.0.7", "127.0.0.1.nip.io"])
def test_plain_http_to_anything_but_loopback_is_refused_before_sending(host):
    # The test process allows oauthlib plain http (for the emulators); our own check still refuses it elsewhere.
    provider = google_at(f"http://{host}/token")
    with pytest.raises(ProviderError, match="must use https") as caught:
        provider.refresh("a-refresh-token")
    assert not isinstance(caught.value, ProviderUnreachable)  # refused here, not a failed connection attempt
    with pytest.raises(ProviderError, match="must use https"):
        google_at("https://oauth.example/token", auth_url=f"http://{host}/auth").authorization_url(
            state="s", redirect_uri=REDIRECT_URI)


def test_microsoft_authority_over_plain_http_is_refused():
    provider = MicrosoftProvider("client-id", SECRET, authority="http://login.example/common")
    with pytest.raises(ProviderError, match="must use https"):
        provider.exchange_code(code="c", code_verifier="v" * 43, redirect_uri=REDIRECT_URI)


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/json", json.dumps({"token_type": "Bearer", "expires_in": 3600})),
    ("text/html", "<html>Sign in to continue: the-refresh-token</html>"),
    ("application/json", json.dumps({"error": "invalid_request", "error_description": "echo the-refresh-token"})),
])
def test_a_200_answer_without_a_token_is_a_provider_error_that_echoes_nothing(endpoint, content_type, body):
    url, app = endpoint
    app.content_type, app.body = content_type, body.encode()
    with pytest.raises(ProviderError) as caught:
        google_at(f"{url}/token").refresh("the-refresh-token")
    assert type(caught.value) is ProviderError
    assert "the-refresh-token" not in str(caught.value) and SECRET not in str(caught.value)


def test_refresh_sends_the_client_credentials_in_the_body_and_keeps_an_unrotated_refresh_token(endpoint):
    url, app = endpoint
    app.content_type = "application/json"
    app.body = json.dumps({"access_token": "new-access", "token_type": "Bearer", "expires_in": 60}).encode()
    tokens = google_at(f"{url}/token").refresh("kept-refresh-token")
    sent = app.requests[-1].decode()
    assert "grant_type=refresh_token" in sent and "client_id=client-id" in sent and SECRET in sent
    assert tokens.access_token == "new-access" and tokens.refresh_token == "kept-refresh-token"
    assert tokens.expires_at is not None and tokens.expires_at.tzinfo is not None


def test_only_the_sandbox_and_the_tests_let_oauthlib_use_plain_http():
    root = Path(__file__).resolve().parents[2]
    setters = []
    for path in [root / "wsgi.py", *(root / "webapp").rglob("*.py"), *(root / "jobs").rglob("*.py"),
                 *(root / "sandbox").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        # Reading it is allowed: webapp.config refuses plain-http endpoints unless it is set.
        reads = {id(argument) for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Attribute) and node.func.attr == "get" for argument in node.args}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value == "OAUTHLIB_INSECURE_TRANSPORT" and id(node) not in reads:
                setters.append(str(path.relative_to(root)))
    assert setters == ["sandbox/run.py"]
    assert "OAUTHLIB" not in (root / "Procfile").read_text()
