"""``/api/auth/...``: register the first account, sign in and out, change one's password,
manage accounts (administrators). Sign-in goes through :mod:`cordvault.drive.signin` (the one
throttled credential check). Sessions and the security log: :mod:`.security`. Rules and error
codes: ``docs/drive-api.md`` (Authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from cordvault.drive import sessions, signin, users
from cordvault.drive.api_models import (
    Credentials,
    NewUser,
    PasswordChange,
    TokenOut,
    UserOut,
    UserPatch,
)
from cordvault.drive.auth import issue_token
from cordvault.drive.clients import ClientInfo
from cordvault.drive.context import DriveContext
from cordvault.drive.models import DriveUser
from cordvault.drive.paging import MAX_OFFSET
from cordvault.web.drive.deps import ClientDep, CurrentUser, DriveDep, SessionDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _token_out(drive: DriveContext, db: Session, user: DriveUser, client: ClientInfo) -> TokenOut:
    issued = issue_token(drive, db, user, client)
    return TokenOut(token=issued.token, expires_at=issued.expires_at, user=UserOut.of(user))


@router.post("/register", status_code=201)
def register(body: Credentials, drive: DriveDep, db: SessionDep, client: ClientDep) -> TokenOut:
    """Create the first account (an administrator). Closed (403) once any account exists."""
    user = users.register_first(db, body.name, body.password, client)
    return _token_out(drive, db, user, client)


@router.post("/login")
def login(body: Credentials, drive: DriveDep, db: SessionDep, client: ClientDep) -> TokenOut:
    """Exchange name and password for a token (a new session). Throttled per client: 429
    with ``details.retry_after`` while this client must wait; never a lock of the account."""
    user = signin.check_password(drive, db, body.name, body.password, client, via="api")
    return _token_out(drive, db, user, client)


@router.post("/logout", status_code=204)
def logout(actor: CurrentUser, db: SessionDep) -> None:
    """End the session of the token used (it is refused from now on)."""
    if actor.session_id is not None:
        sessions.revoke_session(db, actor, actor.session_id)


@router.get("/me")
def me(actor: CurrentUser, db: SessionDep) -> UserOut:
    return UserOut.of(users.get_user(db, actor.id))


@router.post("/password")
def change_password(
    body: PasswordChange, actor: CurrentUser, drive: DriveDep, db: SessionDep, client: ClientDep
) -> TokenOut:
    """Change one's password (a throttled sign-in check of the old one): every earlier
    session ends; a new token is returned."""
    user = users.change_password(drive, db, actor, body.old_password, body.new_password, client)
    return _token_out(drive, db, user, client)


@router.get("/users")
def list_users(
    _actor: CurrentUser,
    db: SessionDep,
    q: str | None = Query(None, max_length=64),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> list[UserOut]:
    """Search accounts by name (any user: needed to share); admins see every field."""
    rows = users.search_users(db, q, limit=limit, offset=offset)
    return [UserOut.of(u) for u in rows]


@router.post("/users", status_code=201)
def create_user(body: NewUser, actor: CurrentUser, db: SessionDep) -> UserOut:
    """Create an account (administrators only)."""
    user = users.create_user(db, actor, body.name, body.password, is_admin=body.is_admin)
    return UserOut.of(user)


@router.patch("/users/{user_id}")
def update_user(user_id: int, body: UserPatch, actor: CurrentUser, db: SessionDep) -> UserOut:
    """Promote/demote, disable/enable, reset the password (administrators only)."""
    user = users.update_user(
        db,
        actor,
        user_id,
        is_admin=body.is_admin,
        disabled=body.disabled,
        password=body.password,
    )
    return UserOut.of(user)
