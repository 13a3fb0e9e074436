"""The app's provider settings (Config.PROVIDERS) for the emulators and a Radicale server running at these URLs."""
from __future__ import annotations


def provider_settings(google_url: str, microsoft_url: str, radicale_url: str, *, google_client: tuple[str, str],
                      microsoft_client: tuple[str, str]) -> dict:
    return {
        "google": {
            "client_id": google_client[0], "client_secret": google_client[1],
            "auth_url": f"{google_url}/o/oauth2/v2/auth", "token_url": f"{google_url}/token",
            "revoke_url": f"{google_url}/revoke", "api_url": f"{google_url}/calendar/v3",
            "userinfo_url": f"{google_url}/v1/userinfo",
        },
        "microsoft": {
            "client_id": microsoft_client[0], "client_secret": microsoft_client[1],
            "authority": f"{microsoft_url}/common", "graph_url": f"{microsoft_url}/v1.0",
        },
        "apple": {"base_url": f"{radicale_url}/"},
        "sandbox": False,
        # The servers the tests start are on loopback (tests/providers/test_guard.py checks the guard without it).
        "allow_private_sources": True,
    }
