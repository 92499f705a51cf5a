"""The conversation log's tables (SQLAlchemy 2.0 typed ORM).

Times are stored as UTC. Each reply records how it ended (`status`), so the log
answers "what happened" for every turn, including the ones that failed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from chat.domain.status import ReplyStatus
from chat.domain.times import as_utc


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every engine (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    pass


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_owner_recent", "username", "updated_at"),
        # The retention purge finds old and deleted conversations across all users.
        Index("ix_conversations_updated_at", "updated_at"),
        Index("ix_conversations_deleted_at", "deleted_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str] = mapped_column(String(200))
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    temperature: Mapped[float | None] = mapped_column(Float)  # None: the server's default
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Deleted by its owner: gone from every view of theirs, kept for the audit log
    # until the retention period ends.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id", cascade="all, delete-orphan"
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_status_updated", "status", "updated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))  # "user" or "assistant"
    content: Mapped[str] = mapped_column(Text, default="")
    # A reply's reasoning (sent apart by reasoning models): shown collapsed, never sent back.
    reasoning: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(200))
    # What produced a reply, as sent: so a log entry says exactly where it came from.
    system_prompt: Mapped[str | None] = mapped_column(Text)
    temperature: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default=ReplyStatus.COMPLETE)
    # Replaced by a regenerated reply or an edited prompt: kept in the log, out of the
    # chat and of every later request. Apart from how the reply ended (`status`).
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    # The message before it in its branch: a prompt's is the reply it follows (None for the
    # first), a reply's its prompt. Messages of one parent and role are versions of one
    # another (chat/domain/versions.py). No foreign key: a conversation's rows go together.
    parent_id: Mapped[int | None] = mapped_column(Integer)
    # When this version was last chosen to be shown; None: never, since it was written.
    chosen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The user's thumbs on a reply: 1 up, 0 down, None not rated (changeable).
    feedback: Mapped[int | None] = mapped_column(Integer)
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)  # the sentence the user saw
    # The request's context: Parley's own count of its tokens (exact for OpenAI's
    # encodings, else an estimate), and how many earlier messages were left out of it
    # to fit the budget. `prompt_tokens` is what the server reported.
    context_tokens: Mapped[int | None] = mapped_column(Integer)
    context_left_out: Mapped[int | None] = mapped_column(Integer)
    # What the request cut or left out of a prompt's files (chat/domain/planning.py), a sentence a line.
    notices: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    # True when the server sent no usage and the two counts above are Parley's estimate.
    usage_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    # From the price table at the time of the reply; None when the model has no price.
    cost_usd: Mapped[float | None] = mapped_column(Float)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Touched while a reply streams: a `streaming` row that stops being touched
    # belongs to a process that died.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "host:pid" of the process streaming the reply, so a restart on the same host can
    # tell its dead predecessor's replies from a live replica's.
    owner: Mapped[str | None] = mapped_column(String(300))

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    files: Mapped[list[MessageFile]] = relationship(
        order_by="MessageFile.position", cascade="all, delete-orphan", passive_deletes=True
    )


class FileContent(Base):
    """An attached file's content (chat/domain/attachments.py), kept once per user however often
    it is attached: a picture as re-encoded, a document's text. Per user, not shared between users:
    a fast upload must not tell anyone that another user has the same file, and one user's data
    goes at their purge whatever anyone else attached."""

    __tablename__ = "file_contents"
    __table_args__ = (UniqueConstraint("username", "digest", name="uq_file_contents_owner_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the bytes as uploaded
    kind: Mapped[str] = mapped_column(String(16))  # AttachmentKind
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    chars: Mapped[int] = mapped_column(Integer, default=0)
    # Deferred: read only when a request or a thumbnail needs them, never with a conversation's list.
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # a picture's bytes
    text: Mapped[str | None] = mapped_column(Text, deferred=True)  # a document's text
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class MessageFile(Base):
    """A file attached to a prompt: the name it had, its place among the prompt's files, its content."""

    __tablename__ = "message_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    content_id: Mapped[int] = mapped_column(ForeignKey("file_contents.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))

    content: Mapped[FileContent] = relationship()


class AuthSession(Base):
    """One sign-in: the cookie it issued is valid only while this row says so.

    Keyed by the SHA-256 of the cookie token, never the token itself: the table
    can be read without being able to sign in as anyone.
    """

    __tablename__ = "auth_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    # A fingerprint of the user's password hash at sign-in: a password changed
    # anywhere (the app, the CLI, a hand edit) ends the sessions made before.
    password_mark: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """A sign-in attempt, counted per username and client address (and per address) by
    the throttle: `pending` while its password is being checked, then a failure (a
    success deletes it). `failed_at` is when its password check may start.

    The username is stored as a keyed hash: what someone typed into the username box
    may be their password, typed into the wrong box."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_key", "username_key", "address", "failed_at"),
        Index("ix_login_failures_address", "address", "failed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username_key: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LoginAddress(Base):
    """When the next sign-in from an address over its failure budget may check its
    password: attempts from one address take turns, each a delay after the last."""

    __tablename__ = "login_addresses"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditEvent(Base):
    """Something an admin did that reaches past their own data (reading another's
    conversation): who, when, what."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200), default="")


class SignInFlow(Base):
    """A sign-in through the identity provider under way (chat/accounts/oidc.py), from the
    redirect to the provider to its callback, which may reach another replica: so it lives here,
    not in one process's memory or a cookie. Keyed by the SHA-256 of its `state`; taken (deleted)
    by the first callback that names it, so a callback replayed finds nothing."""

    __tablename__ = "sign_in_flows"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The SHA-256 of a random value in a cookie of the browser that began it: a callback
    # brought to another browser (someone else's code and state, to sign them in as you) fails.
    binding_hash: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_path: Mapped[str] = mapped_column(String(2000), default="/")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SsoAccount(Base):
    """Someone who signs in through the identity provider (chat/accounts/sso.py): kept here, not
    in auth.yaml, so every replica knows them. Keyed by the provider's issuer and subject; its
    username, fixed at the first sign-in, is what Parley's other tables know them by."""

    __tablename__ = "sso_accounts"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_sso_accounts_identity"),)

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))  # verified by the provider, else None
    role: Mapped[str] = mapped_column(String(16), default="user")  # as the provider said at the last sign-in
    # What the account's sign-in sessions carry (as `auth_sessions.password_mark`): a new one
    # ends them all, on every replica at once.
    mark: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_signin_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # blocked: cannot sign in, nor register again


class SpooledWrite(Base):
    """A record of the spool file (chat/db/spool.py) that has been written to the log: replaying
    the file again after a crash between the write and the file's rewrite skips it."""

    __tablename__ = "spooled_writes"

    record_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
