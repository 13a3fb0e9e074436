"""Every table, imported here so Alembic sees them all."""
from webapp.models.accounts import Invitation, PasswordReset, SignupRequest
from webapp.models.audit import AuditLog, AuditStatus
from webapp.models.base import Base
from webapp.models.connections import CalendarConnection, CalendarProvider, CalendarSubscription, OAuthState
from webapp.models.events import CalendarEvent, EventStatus, RecurrenceFrequency, SyncStatus
from webapp.models.feeds import CalendarFeed
from webapp.models.maintenance import AuditLogArchive, HealthSample  # noqa: F401
from webapp.models.overlaps import OverlapExemption
from webapp.models.users import LoginSession, User
from webapp.models.watch import WatchChannel, WatchKind

__all__ = [
    "AuditLog",
    "AuditStatus",
    "Base",
    "CalendarConnection",
    "CalendarEvent",
    "CalendarFeed",
    "CalendarProvider",
    "CalendarSubscription",
    "EventStatus",
    "Invitation",
    "LoginSession",
    "OAuthState",
    "OverlapExemption",
    "PasswordReset",
    "RecurrenceFrequency",
    "SignupRequest",
    "SyncStatus",
    "User",
    "WatchChannel",
    "WatchKind",
]
