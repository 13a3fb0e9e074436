"""Sandbox mode for `make run` without provider credentials: the emulators and Radicale beside the app,
with sample calendars, so a newcomer can connect all three providers end to end."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

APPLE_SANDBOX_USER = ("sandbox.user@icloud.com", "sand-boxp-assw-ord1")


@dataclass
class Sandbox:
    environment: dict[str, str]
    servers: list = field(default_factory=list)

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()


def is_wanted(environ: dict[str, str]) -> bool:
    """Real client ids turn the sandbox off."""
    return not (environ.get("GOOGLE_CLIENT_ID") or environ.get("MICROSOFT_CLIENT_ID"))


def start_sandbox(data_dir: Path) -> Sandbox:
    from sandbox import google_emulator, microsoft_emulator
    from sandbox.feed_server import FeedServer
    from sandbox.radicale_server import seed_sample_calendars, start_radicale
    from sandbox.serve import serve_in_thread

    google = serve_in_thread(google_emulator.create_google_emulator(google_emulator.sample_google_state()))
    microsoft = serve_in_thread(
        microsoft_emulator.create_microsoft_emulator(microsoft_emulator.sample_microsoft_state()))
    feeds = FeedServer()  # sample ICS feeds for "Subscribe by URL"
    for name in ("holidays.ics", "fixtures.ics", "outlook-rota.ics"):
        feeds.put_corpus(f"/{name}", name)
    feed_server = serve_in_thread(feeds)
    radicale_dir = data_dir / "radicale"
    seeded = (radicale_dir / ".seeded").exists()
    radicale = start_radicale(radicale_dir, {APPLE_SANDBOX_USER[0]: APPLE_SANDBOX_USER[1]})
    if not seeded:
        seed_sample_calendars(radicale.url, *APPLE_SANDBOX_USER)
        (radicale_dir / ".seeded").touch()
    environment = {
        "ALMANAC_SANDBOX": "1",
        # The emulators speak plain http on 127.0.0.1; oauthlib refuses that unless told (webapp.providers.oauth
        # still refuses http to any other host).
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
        "GOOGLE_CLIENT_ID": google_emulator.SANDBOX_CLIENT_ID,
        "GOOGLE_CLIENT_SECRET": google_emulator.SANDBOX_CLIENT_SECRET,
        "GOOGLE_AUTH_URL": f"{google.url}/o/oauth2/v2/auth",
        "GOOGLE_TOKEN_URL": f"{google.url}/token",
        "GOOGLE_REVOKE_URL": f"{google.url}/revoke",
        "GOOGLE_CALENDAR_API_URL": f"{google.url}/calendar/v3",
        "GOOGLE_USERINFO_URL": f"{google.url}/v1/userinfo",
        "MICROSOFT_CLIENT_ID": microsoft_emulator.DEFAULT_CLIENT_ID,
        "MICROSOFT_CLIENT_SECRET": microsoft_emulator.DEFAULT_CLIENT_SECRET,
        "MICROSOFT_AUTHORITY": f"{microsoft.url}/common",
        "MICROSOFT_GRAPH_URL": f"{microsoft.url}/v1.0",
        "APPLE_CALDAV_URL": f"{radicale.url}/",
        "APPLE_SANDBOX_USER": APPLE_SANDBOX_USER[0],
        "APPLE_SANDBOX_PASSWORD": APPLE_SANDBOX_USER[1],
        # The sandbox's CalDAV server and sample feed are on loopback: let users name them.
        "ALLOW_PRIVATE_SOURCES": "1",
        "SANDBOX_FEED_URL": f"{feed_server.url}/holidays.ics",
        # Pages for changing the sample calendars by hand (sandbox.ui): an open Almanac tab follows within seconds.
        "ALMANAC_SANDBOX_GOOGLE_UI": f"{google.url}/_emulator/ui",
        "ALMANAC_SANDBOX_MICROSOFT_UI": f"{microsoft.url}/_emulator/ui",
    }
    return Sandbox(environment, [google, microsoft, radicale, feed_server])
