"""Drive events: what changed, the ids it touched, and exactly who may see it.

Drive services never commit (the boundary does), so they never publish either: they *record*
an :class:`Event` on the DB session they were given (:func:`record`, kept in ``session.info``).
:func:`install_publisher`, called once by the composition root on its sessionmaker, hands the
recorded events to a publisher only **after the transaction committed** (an ``after_commit``
session hook) and drops them on a rollback: a client never hears of a change that did not
happen, and every front door (REST, WebSocket, WebDAV, CLI) announces the same changes because
the recording sits in the one implementation of each change.

Audiences are computed when the event is recorded, inside the transaction, from the rules of
:mod:`cordvault.drive.access` (so they are consistent with what the change saw):

- tree changes (a file or folder created, renamed, moved, deleted, made public/private, handed
  to another owner) go to every signed-in user: every account may list the tree and see file
  metadata. Their payload therefore carries metadata only (no content hash, no share list);
- share changes go to the file's owner and the user the share names;
- content-derived news (a thumbnail is ready) goes to those who may read the content: the
  owner, users it is shared with, everyone when the file is public;
- upload progress and completion go to the uploader;
- ``account-revoked`` (password change, account disabled, password reset) goes to the account
  itself: the live adapter closes that user's connections authenticated before the change;
- ``sessions-revoked`` (a session revoked: one, all others, all, logout, by an administrator)
  goes to the account too: the live adapter closes the connections authenticated with one of
  those sessions.

An event is a plain value (JSON-able ``data``); the events of one transaction travel together
as one bus message (:func:`encode_batch`), unchanged through Redis between API processes, so a
client receives them together (and a bulk change counts once against its send queue).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from cordvault.drive import repository as repo
from cordvault.drive.models import ROOT_ID, DriveFile, Folder

log = logging.getLogger(__name__)

_INFO_KEY = "cordvault.drive.events"

# Topics (the live adapter sends each as ``s2c:<topic>``).
FILE_MODIFY = "file-modify"
FOLDER_MODIFY = "folder-modify"
UPLOAD_PROGRESS = "upload-progress"
UPLOAD_FINISH = "upload-finish-info"
THUMBNAIL_READY = "thumbnail-ready"
ACCOUNT_REVOKED = "account-revoked"
SESSIONS_REVOKED = "sessions-revoked"
TOPICS = (FILE_MODIFY, FOLDER_MODIFY, UPLOAD_PROGRESS, UPLOAD_FINISH, THUMBNAIL_READY, "resync")
"""Topics a client receives (``account-revoked`` and ``sessions-revoked`` are internal: they
close connections)."""


@dataclass(frozen=True)
class Audience:
    """Who may receive an event: every signed-in user, or exactly ``users``."""

    everyone: bool = False
    users: frozenset[int] = frozenset()

    def includes(self, user_id: int) -> bool:
        return self.everyone or user_id in self.users


EVERYONE = Audience(everyone=True)


def only(*user_ids: int) -> Audience:
    return Audience(users=frozenset(user_ids))


@dataclass(frozen=True)
class Event:
    """One change: ``topic`` (see :data:`TOPICS`), JSON-able ``data``, its audience."""

    topic: str
    data: dict[str, Any]
    audience: Audience = field(default=EVERYONE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "data": self.data,
            "everyone": self.audience.everyone,
            "users": sorted(self.audience.users),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        audience = Audience(everyone=bool(raw["everyone"]), users=frozenset(raw["users"]))
        return cls(topic=str(raw["topic"]), data=dict(raw["data"]), audience=audience)


MAX_BATCH = 1000
"""Events of one transaction beyond this are replaced by one ``resync`` event to everyone
(a merge of a huge folder tells clients to re-list instead of flooding them)."""
RESYNC = "resync"


def encode_batch(events: Sequence[Event]) -> str:
    """One committed transaction's events as one bus message (delivered together)."""
    if len(events) > MAX_BATCH:
        events = [Event(RESYNC, {"reason": "too many changes at once"}, EVERYONE)]
    return json.dumps([e.to_dict() for e in events], separators=(",", ":"))


def decode_batch(text: str | bytes) -> list[Event]:
    raw = json.loads(text)
    if not isinstance(raw, list):
        raise ValueError("a bus message is a list of events")
    return [Event.from_dict(item) for item in raw]


# -- recording and publishing --------------------------------------------------------------


def record(db: Session, event: Event) -> None:
    """Remember ``event`` until the session's transaction ends (published on commit only)."""
    db.info.setdefault(_INFO_KEY, []).append(event)


Publisher = Callable[[Sequence[Event]], None]


def install_publisher(sessions: sessionmaker[Session], publish: Publisher) -> None:
    """Publish each committed transaction's events through ``publish`` (called in the
    committing thread, right after the commit); a rollback discards them. ``publish`` must
    not raise for a delivery problem (the change is committed whatever happens); an exception
    is logged and swallowed here as a last resort."""

    def after_commit(session: Session) -> None:
        events = session.info.pop(_INFO_KEY, None)
        if not events:
            return
        try:
            publish(events)
        except Exception:
            log.error("publishing %d drive event(s) failed", len(events), exc_info=True)

    def after_rollback(session: Session) -> None:
        session.info.pop(_INFO_KEY, None)

    sa_event.listen(sessions, "after_commit", after_commit)
    sa_event.listen(sessions, "after_rollback", after_rollback)


# -- payloads ------------------------------------------------------------------------------


def _stamp(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def file_handle(row: DriveFile) -> dict[str, Any]:
    """The REST ``FileOut`` shape minus what depends on the recipient (``access``) or needs
    read access (``sha256``): every signed-in user may see this."""
    return {
        "kind": "file",
        "id": row.id,
        "folder_id": row.folder_id,
        "name": row.name,
        "size": row.size,
        "mime_type": row.mime_type,
        "owner_id": row.owner_id,
        "public": row.public,
        "content_version": row.content_version,
        "created_at": _stamp(row.created_at),
        "updated_at": _stamp(row.updated_at),
    }


def folder_handle(row: Folder) -> dict[str, Any]:
    """The REST ``FolderOut`` shape."""
    return {
        "kind": "folder",
        "id": row.id,
        "parent_id": row.parent_id,
        "name": row.name,
        "owner_id": row.owner_id,
        "created_at": _stamp(row.created_at),
        "updated_at": _stamp(row.updated_at),
    }


def _path(db: Session, folder_id: str) -> str:
    """The folder's path; computed in the change's transaction (one bounded query)."""
    from cordvault.drive.folders import ancestry  # folders records events: import late

    parts = [name for fid, name in ancestry(db, folder_id) if fid != ROOT_ID]
    return "/" + "/".join(reversed(parts))


def readers(db: Session, row: DriveFile) -> Audience:
    """Who may read the file's content now (owner, shares, everyone when public)."""
    if row.public:
        return EVERYONE
    return only(row.owner_id, *(share.user_id for share, _name in repo.shares_of(db, row.id)))


# -- the events services record ------------------------------------------------------------


def file_changed(db: Session, row: DriveFile, action: str, change: str, **extra: Any) -> None:
    """A tree change of a file: ``action`` is discord-cloud's (``add``/``delete``/``modify``),
    ``change`` says what happened (``created``, ``renamed``, ``moved``, ``deleted``,
    ``published``, ``unpublished``, ``content``, ``owner``). Everyone may see it."""
    data = {
        "path": _path(db, row.folder_id),
        "action": action,
        "change": change,
        "handle": file_handle(row),
        **extra,
    }
    record(db, Event(FILE_MODIFY, data, EVERYONE))


def folder_changed(db: Session, row: Folder, action: str, **extra: Any) -> None:
    """A tree change of a folder: ``add``/``delete``/``rename``/``move`` (discord-cloud's)."""
    parent = row.parent_id or ROOT_ID
    data = {"path": _path(db, parent), "action": action, "handle": folder_handle(row), **extra}
    record(db, Event(FOLDER_MODIFY, data, EVERYONE))


def share_changed(db: Session, row: DriveFile, user_id: int, access: str | None) -> None:
    """A share was set (``access`` = read/write) or removed (None): owner and that user."""
    data = {
        "path": _path(db, row.folder_id),
        "action": "modify",
        "change": "shared" if access else "unshared",
        "handle": file_handle(row),
        "share": {"user": user_id, "access": access},
    }
    record(db, Event(FILE_MODIFY, data, only(row.owner_id, user_id)))


def upload_progress(
    db: Session, user_id: int, upload_id: str, index: int, received: int, total: int
) -> None:
    data = {"upload_id": upload_id, "index": index, "received": received, "chunk_count": total}
    record(db, Event(UPLOAD_PROGRESS, data, only(user_id)))


def upload_finished(db: Session, user_id: int, upload_id: str, file_id: str) -> None:
    data = {"success": True, "upload_id": upload_id, "file_id": file_id}
    record(db, Event(UPLOAD_FINISH, data, only(user_id)))


def thumbnail_ready(db: Session, row: DriveFile, sizes: Iterable[str]) -> None:
    data = {"file_id": row.id, "content_version": row.content_version, "sizes": list(sizes)}
    record(db, Event(THUMBNAIL_READY, data, readers(db, row)))


def account_revoked(db: Session, user_id: int, token_version: int) -> None:
    """The account's earlier credentials died (password change, disable, reset): its live
    connections authenticated with a lower ``token_version`` are closed."""
    data = {"user_id": user_id, "token_version": token_version}
    record(db, Event(ACCOUNT_REVOKED, data, only(user_id)))


def sessions_revoked(db: Session, user_id: int, session_ids: Sequence[str]) -> None:
    """Sessions of ``user_id`` were revoked: its live connections authenticated with one of
    them are closed (nothing is recorded for an empty list)."""
    if session_ids:
        data = {"user_id": user_id, "session_ids": list(session_ids)}
        record(db, Event(SESSIONS_REVOKED, data, only(user_id)))
