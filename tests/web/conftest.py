"""Helpers for the transport tests: free loopback ports and a self-signed certificate for localhost."""
from __future__ import annotations




