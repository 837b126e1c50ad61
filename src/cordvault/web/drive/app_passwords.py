"""``/api/auth/app-passwords``: a user's per-device passwords for WebDAV (HTTP Basic).

Create (the secret is in that one answer, never again), list, revoke. A revoked app password
fails at the next WebDAV request (``drive/app_passwords.py``). Signed-in users manage their own
only; administrators disable an account to stop all of its app passwords at once.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from cordvault.drive import app_passwords
from cordvault.drive.api_models import AppPasswordIn, AppPasswordOut
from cordvault.web.drive.deps import CurrentUser, DriveDep, SessionDep

router = APIRouter(prefix="/api/auth/app-passwords", tags=["auth"])


@router.post("", status_code=201)
def create(
    body: AppPasswordIn, actor: CurrentUser, drive: DriveDep, db: SessionDep
) -> AppPasswordOut:
    """A new app password named ``name``; the answer's ``password`` is shown only now."""
    made = app_passwords.create(drive, db, actor, body.name)
    return AppPasswordOut.of(made.row, made.secret)


@router.get("")
def list_mine(actor: CurrentUser, db: SessionDep) -> list[AppPasswordOut]:
    return [AppPasswordOut.of(row) for row in app_passwords.list_mine(db, actor)]


@router.delete("/{app_password_id}", status_code=204)
def revoke(app_password_id: str, actor: CurrentUser, db: SessionDep) -> Response:
    app_passwords.revoke(db, actor, app_password_id)
    return Response(status_code=204)
