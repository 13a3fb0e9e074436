from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, MetaData, Text, func, text
from sqlalchemy.dialects.postgresql import TIMESTAMP, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

# Stable constraint names so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "%(table_name)s_%(column_0_N_name)s_idx",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def Timestamp() -> TIMESTAMP:  # noqa: N802 - reads like a type in column definitions
    """TIMESTAMPTZ(3): every timestamp column has a time zone and millisecond precision."""
    return TIMESTAMP(timezone=True, precision=3)


def pg_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    return Enum(enum_cls, name=name, values_callable=lambda members: [m.value for m in members])


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()"), sort_order=-10
    )


class CreatedAt:
    created_at: Mapped[datetime] = mapped_column(Timestamp(), server_default=func.now(), sort_order=10)


class Timestamps(CreatedAt):
    # A trigger keeps updated_at current for every UPDATE, including bulk ones that bypass the ORM.
    updated_at: Mapped[datetime] = mapped_column(Timestamp(), server_default=func.now(), sort_order=10)


class UserToken(UUIDPrimaryKey, CreatedAt):
    """A row a secret token stands for (a browser session, a password-reset link): whose it is, the SHA-256 of the
    token (never the token), and when it stops working."""

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    expires_at: Mapped[datetime] = mapped_column(Timestamp())

    @declared_attr.directive
    def __table_args__(cls) -> tuple:  # noqa: N805 - declared_attr passes the class
        # Built per table: a constraint object belongs to one table only.
        return (CheckConstraint("expires_at > created_at", name="expires_after_creation"), Index(None, "expires_at"))
