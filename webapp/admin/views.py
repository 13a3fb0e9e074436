"""Admin pages: audit log, sync health, users."""
