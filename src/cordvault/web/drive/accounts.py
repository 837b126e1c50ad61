"""``/api/auth/...``: register the first account, sign in, change one's password, manage
accounts (administrators). Rules and error codes: ``docs/drive-api.md`` (Authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from cordvault.drive import users
from cordvault.drive.api_models import (
    Credentials,
    NewUser,
    PasswordChange,
    TokenOut,
    UserOut,
    UserPatch,
)
from cordvault.drive.auth import issue_token
from cordvault.drive.context import DriveContext
from cordvault.drive.models import DriveUser
from cordvault.drive.paging import MAX_OFFSET
from cordvault.web.drive.deps import CurrentUser, DriveDep, SessionDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _token_out(drive: DriveContext, user: DriveUser) -> TokenOut:
    issued = issue_token(drive, user)
    return TokenOut(token=issued.token, expires_at=issued.expires_at, user=UserOut.of(user))


@router.post("/register", status_code=201)
def register(body: Credentials, drive: DriveDep, db: SessionDep) -> TokenOut:
    """Create the first account (an administrator). Closed (403) once any account exists."""
    user = users.register_first(db, body.name, body.password)
    return _token_out(drive, user)


@router.post("/login")
def login(body: Credentials, drive: DriveDep, db: SessionDep) -> TokenOut:
    """Exchange name and password for a token (throttled: 429 after repeated failures)."""
    user = users.authenticate(drive, db, body.name, body.password)
    return _token_out(drive, user)


@router.get("/me")
def me(actor: CurrentUser, db: SessionDep) -> UserOut:
    return UserOut.of(users.get_user(db, actor.id))


@router.post("/password")
def change_password(
    body: PasswordChange, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> TokenOut:
    """Change one's password: every earlier token stops working; a new one is returned."""
    user = users.change_password(drive, db, actor, body.old_password, body.new_password)
    return _token_out(drive, user)


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
