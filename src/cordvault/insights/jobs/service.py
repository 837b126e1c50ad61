"""Package job use cases: submit (link or upload), status, delete, upgrade.

Services never commit: the request or task boundary does, and only after the commit does it
wake the workers (:class:`~cordvault.insights.jobs.dispatch.Dispatcher`), so a worker never
looks for a job that is not visible yet. What a job needs later (link, UPN) is sealed with the
transit key before it reaches the session.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.insights.jobs import repository as repo
from cordvault.insights.jobs.package_links import PackageLink, package_id_for, parse_link
from cordvault.insights.jobs.states import JobState
from cordvault.insights.transit import TransitKey

#: Purpose label binding a sealed job input to its use.
SECRET_PURPOSE = "job-input"  # noqa: S105 - a label, not a secret


@dataclass(frozen=True)
class Submitted:
    """Outcome of a submission. ``queued`` is True when a new job must be dispatched."""

    package_id: str
    queued: bool
    premium: bool


@dataclass(frozen=True, repr=False)
class JobInput:
    """The unsealed input of a job (secret: no repr)."""

    upn: str
    link: str | None


def seal_input(transit: TransitKey, package_id: str, upn: str, link: str | None) -> bytes:
    """Seal what a worker needs for ``package_id``."""
    raw = json.dumps({"upn": upn, "link": link}).encode()
    return transit.seal(raw, package_id=package_id, purpose=SECRET_PURPOSE)


def open_input(transit: TransitKey, package_id: str, sealed: bytes) -> JobInput:
    """Unseal a job input; a value that fails to open -> ``CORRUPT_BLOB``."""
    data = json.loads(transit.unseal(sealed, package_id=package_id, purpose=SECRET_PURPOSE))
    return JobInput(upn=str(data["upn"]), link=data.get("link"))


def submit_link(
    session: Session, transit: TransitKey, link: object, prefixes: list[str]
) -> Submitted:
    """Queue the package behind ``link`` (``INVALID_LINK`` if we do not accept it)."""
    parsed: PackageLink = parse_link(link, prefixes)
    return _submit(session, transit, parsed.package_id, parsed.upn, parsed.url, source="link")


def submit_upload(session: Session, transit: TransitKey, upn: str) -> Submitted:
    """Queue an uploaded package (the caller has stored the zip at its upload path)."""
    return _submit(session, transit, package_id_for(upn), upn, None, source="upload")


def _submit(
    session: Session,
    transit: TransitKey,
    package_id: str,
    upn: str,
    link: str | None,
    *,
    source: str,
) -> Submitted:
    sealed = seal_input(transit, package_id, upn, link)
    try:
        with session.begin_nested():
            queued = repo.enqueue(
                session, package_id, source=source, sealed_secret=sealed, now=repo.utcnow()
            )
    except IntegrityError:
        # A concurrent submission of the same package inserted the row first.
        queued = False
    job = repo.get(session, package_id)
    return Submitted(package_id, queued, bool(job and job.is_upgraded))


def can_accept_upload(session: Session, package_id: str) -> bool:
    """Whether an upload for ``package_id`` would be queued (not queued/running/processed)."""
    job = repo.get(session, package_id)
    return job is None or job.state in (JobState.ERRORED, JobState.DELETED)


def status(db: Session | Connection, package_id: str) -> dict[str, Any]:
    """The ``GET /process/<id>/status`` body (the caller has checked the bearer).

    The hot path of the API (every client polls it every second): one indexed lookup for a
    finished package, plus one aggregate query for a waiting one.
    """
    body = base_status()
    job = repo.status_row(db, package_id)
    if job is None or job.state == JobState.DELETED:
        body["errorMessageCode"] = ErrorCode.UNKNOWN_PACKAGE_ID.value
        return body
    body["isUpgraded"] = bool(job.is_upgraded)
    if job.state == JobState.ERRORED:
        # As the reference: still "processing" at the step it failed at (the client's types
        # only know LOCKED/DOWNLOADING/ANALYZING/PROCESSED); isErrored stops its polling.
        body["isErrored"] = True
        body["errorMessageCode"] = job.error_code or ErrorCode.UNKNOWN_ERROR.value
        body["isProcessing"] = True
        body["processingStep"] = job.error_step or JobState.LOCKED.value
        return body
    if job.state == JobState.PROCESSED:
        body["isDataAvailable"] = True
        body["processingStep"] = JobState.PROCESSED.value
        return body
    body["isProcessing"] = True
    body["processingStep"] = job.state
    body["processingQueuePosition"] = queue_position(db, job)
    return body


def queue_position(db: Session | Connection, job: repo.StatusRow) -> dict[str, int]:
    """Positions and totals: premium jobs go first, each queue counts its older unfinished jobs."""
    counts = repo.position(db, job)
    older = counts.older
    if job.is_upgraded:
        premium_user, standard_user, user = older, 0, older
    else:
        # Every unfinished premium job runs before us.
        premium_user, standard_user, user = counts.premium, older, counts.premium + older
    joined_total = job.premium_when_joined + job.standard_when_joined
    return {
        "user": user,
        "total": counts.premium + counts.standard,
        "userWhenStarted": joined_total,
        "totalWhenStarted": joined_total,
        "premiumQueueTotal": counts.premium,
        "standardQueueTotal": counts.standard,
        "premiumQueueUser": premium_user,
        "standardQueueUser": standard_user,
        "standardWhenJoined": job.standard_when_joined,
        "premiumWhenJoined": job.premium_when_joined,
    }


def base_status() -> dict[str, Any]:
    """The reference's empty status body."""
    return {
        "isDataAvailable": False,
        "isUpgraded": False,
        "isErrored": False,
        "errorMessageCode": None,
        "isProcessing": False,
        "processingStep": None,
        "processingQueuePosition": {
            "user": 0,
            "total": 0,
            "userWhenStarted": 0,
            "totalWhenStarted": 0,
        },
    }


def delete(session: Session, package_id: str) -> tuple[bool, str | None]:
    """Delete a package; returns ``(known, blob key the caller removes after commit)``."""
    return repo.mark_deleted(session, package_id, now=repo.utcnow())


def upgrade(session: Session, package_id: str) -> bool:
    """Move a package to the premium queue; unknown -> ``UNKNOWN_PACKAGE_ID``."""
    if not repo.set_upgraded(session, package_id, True):
        raise CordvaultError(ErrorCode.UNKNOWN_PACKAGE_ID, "no such package")
    return True
