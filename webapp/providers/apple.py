"""iCloud: the CalDAV provider with Apple's server as its preset address (APPLE_CALDAV_URL) and Apple's words."""
from __future__ import annotations

from webapp.providers.caldav import ETAG_TOKEN_PREFIX, CalDavProvider, ForeignHost

ICLOUD_URL = "https://caldav.icloud.com/"

__all__ = ["ETAG_TOKEN_PREFIX", "ICLOUD_URL", "AppleProvider", "ForeignHost"]


class AppleProvider(CalDavProvider):
    kind = "APPLE"
    label = "Apple"

    def __init__(self, base_url: str = ICLOUD_URL, **options):
        super().__init__(base_url, **options)
