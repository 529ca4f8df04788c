"""Accounts (people who sign in), their linked OAuth identities, role grants and server-side sessions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from auth.roles import Role
from core.clock import utcnow
from core.columns import enum_type, utc_datetime


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320, index=True)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())
    disabled_at: datetime | None = Field(default=None, sa_type=utc_datetime())


class OAuthIdentity(SQLModel, table=True):
    """A provider's account linked to ours; keyed on (provider, subject), never on e-mail alone."""

    __table_args__ = (sa.UniqueConstraint("provider", "subject", name="uq_oauthidentity_provider_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    provider: str = Field(max_length=40)
    subject: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=320)
    created_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())


class RoleGrant(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("account_id", "role", "opl_id", "aspirant_id", name="uq_rolegrant_scope"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    role: Role = Field(sa_type=enum_type(Role))
    opl_id: int | None = Field(default=None, foreign_key="opl.id")
    aspirant_id: int | None = Field(default=None, foreign_key="aspirant.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())


class UserSession(SQLModel, table=True):
    """Server-side session: the cookie holds only a random token whose hash is this row's key."""

    token_hash: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="account.id", index=True)
    csrf_token: str = Field(max_length=64)
    locale: str | None = Field(default=None, max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())
    revoked_at: datetime | None = Field(default=None, sa_type=utc_datetime())
    # Which provider this session was started through and whether it proved a second factor: the staff sign-in
    # policy (auth/staff_policy.py) is checked against them, also for sessions already open.
    provider: str = Field(default="", max_length=40, sa_column_kwargs={"server_default": ""})
    second_factor: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class StaffSignInPolicy(SQLModel, table=True):
    """An OPL's rule for its reviewers and admins: sign in only through its provider, with a second factor."""

    __tablename__ = "staff_sign_in_policy"

    opl_id: int = Field(primary_key=True, foreign_key="opl.id")
    provider: str = Field(max_length=40)
    require_second_factor: bool = True
    updated_at: datetime = Field(default_factory=utcnow, sa_type=utc_datetime())
    updated_by_account_id: int | None = Field(default=None, foreign_key="account.id")
