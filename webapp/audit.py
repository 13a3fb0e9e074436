"""The single way to write an audit row. It only adds the row; it commits with the change it describes."""
from __future__ import annotations

import uuid
from typing import Any

from flask import has_request_context, request
from sqlalchemy.orm import Session

from webapp.models import AuditLog, AuditStatus
from webapp.text import without_control_characters

# Keys whose values must never be stored, whatever a caller passes.
SECRET_KEYS = ("token", "password", "secret", "code", "verifier", "authorization", "cookie")


def scrub(details: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in details.items():
        if any(word in key.lower() for word in SECRET_KEYS):
            clean[key] = "[redacted]"
        elif isinstance(value, dict):
            clean[key] = scrub(value)
        elif isinstance(value, uuid.UUID):
            clean[key] = str(value)
        else:
            clean[key] = value
    return clean


def request_origin() -> dict[str, str | None]:
    if not has_request_context():
        return {"ip_address": None, "user_agent": None}
    user_agent = without_control_characters(request.headers.get("User-Agent"))
    return {"ip_address": request.remote_addr, "user_agent": user_agent[:1000] if user_agent else None}


def record(
    session: Session,
    action: str,
    *,
    user_id: uuid.UUID | None,
    resource: tuple[str, Any] | None = None,
    status: AuditStatus = AuditStatus.SUCCESS,
    error: str | None = None,
    origin: dict[str, str | None] | None = None,
    **details: Any,
) -> AuditLog:
    """`origin` is the request's `request_origin()`, for jobs that record on behalf of a request."""
    entry = AuditLog(
        user_id=user_id,
        action=action,
        status=status,
        error_message=error,
        resource_type=resource[0] if resource else None,
        resource_id=str(resource[1]) if resource else None,
        metadata_=scrub(details) or None,
        **(origin or request_origin()),
    )
    session.add(entry)
    return entry
