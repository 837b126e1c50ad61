"""All SQL of the package job table.

Every state change is one conditional ``UPDATE`` (compare-and-set on the state and, for running
jobs, the attempt's ``lease_token``), so any number of API processes and workers on any machine
can share the table without locks: exactly one claimer wins a job, a worker that lost its lease
(job deleted, re-queued after a timeout) can no longer move it on. Functions take a session and
never commit; the caller's request or task boundary does.

Over 450 lines on purpose: every query of the job tables (the queue, the lease protocol, the
step-duration histogram and its readers) stays in this one module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Result,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cordvault.core.errors import ErrorCode
from cordvault.insights.jobs.models import JobStepStat, PackageJob
from cordvault.insights.jobs.states import RUNNING, UNFINISHED, JobState

_UNFINISHED = [s.value for s in UNFINISHED]
_RUNNING = [s.value for s in RUNNING]


def utcnow() -> datetime:
    """Timezone-aware now (stored as UTC on both backends)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class QueueCounts:
    """Unfinished jobs per queue."""

    premium: int
    standard: int


@dataclass(frozen=True)
class Claimed:
    """What a worker needs after claiming a job."""

    package_id: str
    token: str
    source: str
    sealed_secret: bytes | None
    attempts: int


@dataclass(frozen=True)
class StatusRow:
    """The columns ``/status`` needs. ``queued_at`` is the raw database value (only ever
    compared with itself, so its driver type does not matter)."""

    package_id: str
    state: str
    error_code: str | None
    error_step: str | None
    is_upgraded: bool
    queued_at: Any
    premium_when_joined: int
    standard_when_joined: int


@dataclass(frozen=True)
class Position:
    """Unfinished jobs per queue, and how many of the job's own queue joined before it."""

    premium: int
    standard: int
    older: int


# The status poll runs for every waiting client every second: its two statements are plain
# driver SQL (no expression compilation or type processing: ~6x cheaper than Core on SQLite).
_STATUS_SQL = (
    "SELECT package_id, state, error_code, error_step, is_upgraded, queued_at, "
    "premium_when_joined, standard_when_joined FROM insights_packages WHERE package_id = {p}"
)
_POSITION_SQL = (
    "SELECT "
    "COALESCE(SUM(CASE WHEN is_upgraded THEN 1 ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN is_upgraded THEN 0 ELSE 1 END), 0), "
    "COALESCE(SUM(CASE WHEN is_upgraded = {p} AND (queued_at < {p} "
    "OR (queued_at = {p} AND package_id < {p})) THEN 1 ELSE 0 END), 0) "
    "FROM insights_packages WHERE state IN ('LOCKED', 'DOWNLOADING', 'ANALYZING')"
)


def _driver_sql(conn: Connection, template: str) -> str:
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return template.format(p=marker)


def _connection(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def get(session: Session, package_id: str) -> PackageJob | None:
    """The job row, or None."""
    return session.get(PackageJob, package_id)


def status_row(db: Session | Connection, package_id: str) -> StatusRow | None:
    """The status columns of a package, or None (one indexed lookup)."""
    conn = _connection(db)
    row = conn.exec_driver_sql(_driver_sql(conn, _STATUS_SQL), (package_id,)).first()
    if row is None:
        return None
    return StatusRow(
        str(row[0]), str(row[1]), row[2], row[3], bool(row[4]), row[5], int(row[6]), int(row[7])
    )


def position(db: Session | Connection, job: StatusRow) -> Position:
    """Queue totals and the job's position in its own queue, in one aggregate query."""
    conn = _connection(db)
    params = (job.is_upgraded, job.queued_at, job.queued_at, job.package_id)
    row = conn.exec_driver_sql(_driver_sql(conn, _POSITION_SQL), params).one()
    return Position(premium=int(row[0]), standard=int(row[1]), older=int(row[2]))


def queue_counts(db: Session | Connection) -> QueueCounts:
    """Unfinished jobs in the premium and standard queues."""
    rows = db.execute(
        select(PackageJob.is_upgraded, func.count())
        .where(PackageJob.state.in_(_UNFINISHED))
        .group_by(PackageJob.is_upgraded)
    ).all()
    counts = {bool(upgraded): int(n) for upgraded, n in rows}
    return QueueCounts(premium=counts.get(True, 0), standard=counts.get(False, 0))


def enqueue(
    session: Session, package_id: str, *, source: str, sealed_secret: bytes, now: datetime
) -> bool:
    """Queue a package unless it is already queued, running or processed.

    Returns True when a job was (re-)queued, False when an existing one stands. An errored or
    deleted package is queued again (its premium flag is kept). Raises ``IntegrityError`` when a
    concurrent request inserted the same id first; the caller treats it as "already queued".
    """
    counts = queue_counts(session)
    job = get(session, package_id)
    if job is not None and job.state not in (JobState.ERRORED, JobState.DELETED):
        return False
    if job is None:
        job = PackageJob(package_id=package_id, is_upgraded=False)
        session.add(job)
    job.state = JobState.LOCKED
    job.error_code = None
    job.error_step = None
    job.source = source
    job.sealed_secret = sealed_secret
    job.queued_at = now
    job.premium_when_joined = counts.premium
    job.standard_when_joined = counts.standard
    job.attempts = 0
    job.lease_token = None
    job.lease_expires_at = None
    job.started_at = None
    job.finished_at = None
    session.flush()
    return True


def claim_next(
    session: Session, *, token: str, lease_seconds: float, now: datetime
) -> Claimed | None:
    """Atomically take the oldest queued job, premium first; None when the queue is empty."""
    for _ in range(20):
        row = session.execute(
            select(PackageJob.package_id)
            .where(PackageJob.state == JobState.LOCKED)
            .order_by(PackageJob.is_upgraded.desc(), PackageJob.queued_at, PackageJob.package_id)
            .limit(1)
        ).first()
        if row is None:
            return None
        package_id = str(row[0])
        won = session.execute(
            update(PackageJob)
            .where(PackageJob.package_id == package_id, PackageJob.state == JobState.LOCKED)
            .values(
                state=JobState.DOWNLOADING,
                lease_token=token,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                attempts=PackageJob.attempts + 1,
                started_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if _rows(won) == 1:
            job = session.execute(
                select(PackageJob.source, PackageJob.sealed_secret, PackageJob.attempts).where(
                    PackageJob.package_id == package_id
                )
            ).one()
            return Claimed(package_id, token, str(job[0]), job[1], int(job[2]))
        # Another worker claimed it between our SELECT and UPDATE: look again.
    return None


def _owned(package_id: str, token: str) -> ColumnElement[bool]:
    return and_(
        PackageJob.package_id == package_id,
        PackageJob.lease_token == token,
        PackageJob.state.in_(_RUNNING),
    )


def _rows(result: Result[Any]) -> int:
    """Rows an UPDATE matched (the compare-and-set succeeded when 1)."""
    return int(cast(CursorResult[Any], result).rowcount)


def heartbeat(
    session: Session,
    package_id: str,
    token: str,
    *,
    lease_seconds: float,
    now: datetime,
    step: JobState | None = None,
) -> bool:
    """Renew the lease (and move to ``step``); False when the job is no longer ours."""
    values: dict[str, object] = {"lease_expires_at": now + timedelta(seconds=lease_seconds)}
    if step is not None:
        values["state"] = step
    result = session.execute(
        update(PackageJob)
        .where(_owned(package_id, token))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rows(result) == 1


def finish_processed(
    session: Session, package_id: str, token: str, *, blob_key: str, blob_meta: str, now: datetime
) -> bool:
    """Mark PROCESSED with its blob and wipe the sealed input; False if no longer ours."""
    result = session.execute(
        update(PackageJob)
        .where(_owned(package_id, token))
        .values(
            state=JobState.PROCESSED,
            error_code=None,
            blob_key=blob_key,
            blob_meta=blob_meta,
            sealed_secret=None,
            lease_token=None,
            lease_expires_at=None,
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return _rows(result) == 1


def finish_errored(
    session: Session, package_id: str, token: str, *, code: ErrorCode | str, now: datetime
) -> bool:
    """Mark ERRORED with ``code`` and wipe the sealed input; False if no longer ours."""
    result = session.execute(
        update(PackageJob)
        .where(_owned(package_id, token))
        .values(
            state=JobState.ERRORED,
            error_code=str(code),
            error_step=PackageJob.state,
            sealed_secret=None,
            lease_token=None,
            lease_expires_at=None,
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return _rows(result) == 1


def release_lost(
    session: Session, package_id: str, token: str, *, max_attempts: int, now: datetime
) -> JobState | None:
    """The attempt died (worker or analysis process killed): retry it or fail it.

    Returns the new state (LOCKED to retry, ERRORED after ``max_attempts``), None if the job is
    no longer ours.
    """
    job = get(session, package_id)
    if job is None or job.lease_token != token or job.state not in RUNNING:
        return None
    return _retry_or_fail(session, job, max_attempts=max_attempts, now=now)


def reap_expired(
    session: Session, *, max_attempts: int, now: datetime
) -> list[tuple[str, JobState]]:
    """Retry or fail every running job whose lease expired (its worker is gone)."""
    stale = session.scalars(
        select(PackageJob).where(PackageJob.state.in_(_RUNNING), PackageJob.lease_expires_at < now)
    ).all()
    out: list[tuple[str, JobState]] = []
    for job in stale:
        state = _retry_or_fail(session, job, max_attempts=max_attempts, now=now)
        if state is not None:
            out.append((job.package_id, state))
    return out


def _retry_or_fail(
    session: Session, job: PackageJob, *, max_attempts: int, now: datetime
) -> JobState | None:
    retry = job.attempts < max_attempts
    values: dict[str, object] = {"lease_token": None, "lease_expires_at": None}
    if retry:
        values["state"] = JobState.LOCKED
    else:
        values.update(
            state=JobState.ERRORED,
            error_code=str(ErrorCode.WORKER_LOST),
            error_step=job.state,
            sealed_secret=None,
            finished_at=now,
        )
    # Compare-and-set on the token we saw: a heartbeat that raced us keeps the job.
    result = session.execute(
        update(PackageJob)
        .where(
            PackageJob.package_id == job.package_id,
            PackageJob.lease_token == job.lease_token,
            PackageJob.state == job.state,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if _rows(result) != 1:
        return None
    return JobState.LOCKED if retry else JobState.ERRORED


def mark_deleted(session: Session, package_id: str, *, now: datetime) -> tuple[bool, str | None]:
    """Delete a package: state DELETED, sealed input and blob reference wiped.

    Returns ``(known, blob key to remove)``. A running attempt loses its lease token and aborts
    at its next heartbeat.
    """
    job = get(session, package_id)
    if job is None:
        return False, None
    blob_key = job.blob_key
    session.execute(
        update(PackageJob)
        .where(PackageJob.package_id == package_id)
        .values(
            state=JobState.DELETED,
            error_code=None,
            sealed_secret=None,
            lease_token=None,
            lease_expires_at=None,
            blob_key=None,
            blob_meta=None,
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return True, blob_key


def set_upgraded(session: Session, package_id: str, upgraded: bool) -> bool:
    """Move a package to the premium (or back to the standard) queue; False when unknown."""
    result = session.execute(
        update(PackageJob)
        .where(PackageJob.package_id == package_id)
        .values(is_upgraded=upgraded)
        .execution_options(synchronize_session=False)
    )
    return _rows(result) == 1


def queued_ids(session: Session) -> list[tuple[str, bool]]:
    """Ids (and premium flag) of the jobs waiting for a worker, in claim order."""
    rows = session.execute(
        select(PackageJob.package_id, PackageJob.is_upgraded)
        .where(PackageJob.state == JobState.LOCKED)
        .order_by(PackageJob.is_upgraded.desc(), PackageJob.queued_at, PackageJob.package_id)
    ).all()
    return [(str(r[0]), bool(r[1])) for r in rows]


def stalled_queue(session: Session) -> tuple[str, bool] | None:
    """The first queued job when nothing runs at all (a lost wake-up), else None."""
    running = session.execute(
        select(func.count()).where(PackageJob.state.in_(_RUNNING))
    ).scalar_one()
    if running:
        return None
    ids = queued_ids(session)
    return ids[0] if ids else None


def counts_by_state(db: Session | Connection) -> dict[str, int]:
    """How many jobs are in each state (for ``/metrics``)."""
    rows = _connection(db).execute(
        select(PackageJob.state, func.count()).group_by(PackageJob.state)
    )
    return {str(state): int(count) for state, count in rows}


def bucket_label(seconds: float, buckets: tuple[float, ...]) -> str:
    """The ``le`` label of the histogram bucket ``seconds`` falls into (``"+Inf"`` above all)."""
    for bound in buckets:
        if seconds <= bound:
            return f"{float(bound):g}"
    return "+Inf"


def record_step(session: Session, step: str, seconds: float, buckets: tuple[float, ...]) -> None:
    """Add one finished step to the shared step duration histogram (one row per bucket).

    An ``UPDATE ... SET observations = observations + 1`` first, so concurrent writers on any
    machine add up without a lock; the bucket's first observation inserts its row inside a
    savepoint, and a writer that lost that race to another one updates instead.
    """
    le = bucket_label(seconds, buckets)
    match = and_(JobStepStat.step == step, JobStepStat.le == le)
    add = {
        "observations": JobStepStat.observations + 1,
        "seconds_total": JobStepStat.seconds_total + seconds,
    }
    if _rows(session.execute(update(JobStepStat).where(match).values(add))):
        return
    try:
        with session.begin_nested():
            session.execute(
                insert(JobStepStat).values(step=step, le=le, observations=1, seconds_total=seconds)
            )
    except IntegrityError:
        session.execute(update(JobStepStat).where(match).values(add))


@dataclass(frozen=True, slots=True)
class StepHistogram:
    """One step's histogram: cumulative ``(le, count)`` buckets ending at ``+Inf``, and the sum."""

    step: str
    buckets: list[tuple[str, int]]
    sum_seconds: float


def step_histograms(db: Session | Connection, buckets: tuple[float, ...]) -> list[StepHistogram]:
    """Every step's histogram, read in one bounded query (steps x buckets rows at most).

    ``buckets`` are the configured bounds: each is reported (zero when empty), as are bounds
    stored by an older configuration, so a changed configuration never loses observations.
    """
    rows = _connection(db).execute(
        select(
            JobStepStat.step, JobStepStat.le, JobStepStat.observations, JobStepStat.seconds_total
        )
    )
    per_step: dict[str, dict[str, tuple[int, float]]] = {}
    for step, le, count, total in rows:
        per_step.setdefault(str(step), {})[str(le)] = (int(count), float(total))
    out: list[StepHistogram] = []
    configured = {f"{float(b):g}" for b in buckets} | {"+Inf"}
    for step in sorted(per_step):
        stored = per_step[step]
        labels = sorted(configured | set(stored), key=float)
        running = 0
        cumulative: list[tuple[str, int]] = []
        for le in labels:
            running += stored.get(le, (0, 0.0))[0]
            cumulative.append((le, running))
        total_seconds = sum(t for _c, t in stored.values())
        out.append(StepHistogram(step=step, buckets=cumulative, sum_seconds=total_seconds))
    return out


def step_buckets(db: Session | Connection) -> dict[str, list[tuple[str, int, float]]]:
    """Each step's histogram rows as stored: ``(le, observations, seconds_total)`` per bucket,
    not cumulative, in increasing ``le`` (one bounded query: steps x buckets rows at most)."""
    rows = _connection(db).execute(
        select(
            JobStepStat.step, JobStepStat.le, JobStepStat.observations, JobStepStat.seconds_total
        )
    )
    out: dict[str, list[tuple[str, int, float]]] = {}
    for step, le, count, total in rows:
        out.setdefault(str(step), []).append((str(le), int(count), float(total)))
    for buckets in out.values():
        buckets.sort(key=lambda b: float(b[0]))
    return out


def recent_processed_times(
    db: Session | Connection, limit: int
) -> list[tuple[datetime, datetime, datetime]]:
    """``(queued_at, started_at, finished_at)`` of the ``limit`` most recently finished
    processed jobs (no package id: only the times leave this function)."""
    rows = _connection(db).execute(
        select(PackageJob.queued_at, PackageJob.started_at, PackageJob.finished_at)
        .where(
            PackageJob.state == JobState.PROCESSED,
            PackageJob.started_at.is_not(None),
            PackageJob.finished_at.is_not(None),
        )
        .order_by(PackageJob.finished_at.desc())
        .limit(limit)
    )
    return [(q, s, f) for q, s, f in rows if s is not None and f is not None]
