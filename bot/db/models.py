"""SQLAlchemy 2 typed models: the tables Alembic creates (nothing else creates tables)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without an offset (SQLite keeps none) and always gives back an aware UTC datetime."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


# Discord snowflakes are 64-bit: one alias so every id column agrees.
Snowflake = Annotated[int, mapped_column(BigInteger)]
OptionalSnowflake = Annotated[int | None, mapped_column(BigInteger, nullable=True)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Study(Base):
    __tablename__ = "study"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[Snowflake] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Seoul")
    locale: Mapped[str] = mapped_column(String(8), default="ko")
    reminder_channel_id: Mapped[OptionalSnowflake]
    ping_role_id: Mapped[OptionalSnowflake]
    admin_role_id: Mapped[OptionalSnowflake]
    weekday: Mapped[int] = mapped_column(Integer, default=3)
    start_time: Mapped[str] = mapped_column(String(5), default="09:00")
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    first_session: Mapped[date] = mapped_column(Date)
    location_name: Mapped[str] = mapped_column(String(100), default="Gather Town")
    location_url: Mapped[str] = mapped_column(String(500), default="")
    reminder_offsets: Mapped[str] = mapped_column(String(100), default="1440,60")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Raised by one with every committed edit: how other processes (and the snapshot) tell that the study
    # changed — a timestamp cannot, since two edits may share one.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A random, stable name for the study outside this database (calendar UIDs): row ids repeat across
    # deployments, this does not.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: secrets.token_hex(8))
    # The study's practice: when the check-in window opens before a session and how long after the start a
    # check-in still counts as present; the nudge's distance before the session (0 = no nudge); whether the
    # recap and the session-start post go out.
    checkin_opens_minutes: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    checkin_grace_minutes: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    nudge_offset_minutes: Mapped[int] = mapped_column(Integer, default=1440, server_default="1440")
    recap_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    checkin_post_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # The [guide] section of the study definition as JSON text ({"ko": {...}, "en": {...}}); "" = none.
    guide: Mapped[str] = mapped_column(Text, default="", server_default="")

    members: Mapped[list[Member]] = relationship(back_populates="study", cascade="all, delete-orphan")
    weeks: Mapped[list[CurriculumWeek]] = relationship(back_populates="study", cascade="all, delete-orphan")


class Member(Base):
    __tablename__ = "member"
    __table_args__ = (
        UniqueConstraint("study_id", "name"),
        UniqueConstraint("study_id", "discord_user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    discord_user_id: Mapped[OptionalSnowflake]
    role: Mapped[str] = mapped_column(String(16), default="member")
    github: Mapped[str] = mapped_column(String(500), default="")
    blog: Mapped[str] = mapped_column(String(500), default="")
    # No rule reads it; kept because the column is part of the schema (NOT NULL, filled by this default).
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    joined_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Whether the weekly nudge may ping this member (only when linked); everyone else is listed by name.
    nudge_opt_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    study: Mapped[Study] = relationship(back_populates="members")


class CurriculumWeek(Base):
    __tablename__ = "curriculum_week"
    __table_args__ = (UniqueConstraint("study_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")

    study: Mapped[Study] = relationship(back_populates="weeks")


class Material(Base):
    """A learning material: of one week (`week_id`), or study-wide when `week_id` is null."""

    __tablename__ = "material"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    week_id: Mapped[int | None] = mapped_column(
        ForeignKey("curriculum_week.id", ondelete="CASCADE"), nullable=True, index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(16), default="link")
    position: Mapped[int] = mapped_column(Integer, default=0)


class SessionChange(Base):
    __tablename__ = "session_change"
    __table_args__ = (UniqueConstraint("study_id", "original_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    original_date: Mapped[date] = mapped_column(Date)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    moved_to: Mapped[datetime | None] = mapped_column(nullable=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    # Raised by one with every change of this session (cancel, move, restore): the calendar's SEQUENCE.
    # A restore keeps the row (neither cancelled nor moved) so the count never goes back.
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Delivery(Base):
    """The delivery ledger: one row per (study, occurrence, kind) — the UNIQUE constraint is the claim."""

    __tablename__ = "delivery"
    __table_args__ = (UniqueConstraint("study_id", "occurrence", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    occurrence: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # claimed | sent | failed | missed
    due_at: Mapped[datetime]
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    nonce: Mapped[str] = mapped_column(String(25), default="")
    message_id: Mapped[OptionalSnowflake]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Attendance(Base):
    """One member at one session: the session is named by its regular slot date (kept when it is moved).

    No row for a session that has ended means absent; `absent` is stored only when an admin says so.
    """

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("study_id", "member_id", "original_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    original_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # present | late | excused | absent
    checked_in_at: Mapped[datetime | None] = mapped_column(nullable=True)
    source: Mapped[str] = mapped_column(String(16))  # button | command | admin
    updated_at: Mapped[datetime]


class StudyLog(Base):
    """A member's notes for one session/week (스터디로그): a link and a short note."""

    __tablename__ = "study_log"
    __table_args__ = (UniqueConstraint("study_id", "member_id", "original_date", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    original_date: Mapped[date] = mapped_column(Date)
    url: Mapped[str] = mapped_column(String(500))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class RosterClaim(Base):
    """A Discord account asking to be a roster entry; an admin confirms it (then the member is linked)."""

    __tablename__ = "roster_claim"
    __table_args__ = (
        UniqueConstraint("study_id", "discord_user_id"),
        UniqueConstraint("study_id", "member_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    discord_user_id: Mapped[Snowflake]
    created_at: Mapped[datetime]


class ScheduledEventLink(Base):
    """Which Discord guild scheduled event stands for which session slot, and what was last sent."""

    __tablename__ = "scheduled_event"
    __table_args__ = (UniqueConstraint("study_id", "original_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    original_date: Mapped[date] = mapped_column(Date)
    discord_event_id: Mapped[Snowflake]
    fingerprint: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[OptionalSnowflake]
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class BotState(Base):
    """Small key/value facts about the bot itself (e.g. the hash of the last synced command tree)."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --- the study's web page ------------------------------------------------------------------------------------


class WebPage(Base):
    """A study's read-only web page: its unguessable address (rotatable), whether it is on, whether public.

    One row per study, created the first time an admin turns the page on. `token` is the only thing that
    names the page on the web; rotating it makes every old link a 404.
    """

    __tablename__ = "web_page"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebHiddenLinks(Base):
    """A member who asked (`/privacy`) that their GitHub and blog links stay off the web page."""

    __tablename__ = "web_hidden_links"
    __table_args__ = (UniqueConstraint("member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
