"""The ``insights_packages`` table: one row per package id, its job state and its result.

No column holds a UPN or a link in clear: ``sealed_secret`` is the transit-key-sealed job input
(see :mod:`cordvault.insights.transit`), wiped when the job ends. ``blob_meta`` is the public
:class:`~cordvault.insights.blob.BlobMeta` JSON (IV, MAC, key check).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cordvault.db import Base


class PackageJob(Base):
    """A package and its analysis job (the reference's ``PackageProcessStatus``)."""

    __tablename__ = "insights_packages"

    package_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    error_code: Mapped[str | None] = mapped_column(String(32))
    # The step the job failed at: /status keeps reporting it, as the reference does.
    error_step: Mapped[str | None] = mapped_column(String(16))
    is_upgraded: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # "link" or "upload": where the worker finds the package.
    source: Mapped[str] = mapped_column(String(8), nullable=False, default="link")
    sealed_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    premium_when_joined: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    standard_when_joined: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Random per attempt: only the worker holding it may move the job on.
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    blob_key: Mapped[str | None] = mapped_column(String(128))
    blob_meta: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_insights_packages_queue", "state", "is_upgraded", "queued_at"),)


class JobStepStat(Base):
    """One bucket of the cluster-wide job step duration histogram.

    Whoever runs a job (an API process with the in-process queue, a Celery worker) adds each
    finished step here in its own short transaction, so every API process's ``/metrics``
    exports the same histogram whatever process ran the job. Rows are per (step, bucket),
    *not* cumulative: ``le`` is the bucket's upper bound as Prometheus writes it (``"2.5"``,
    ``"+Inf"``), ``observations`` the steps that fell into it (``le`` of the previous bucket <
    seconds <= ``le``) and ``seconds_total`` their summed duration. The table never holds more
    than steps x buckets rows, so reading it is a bounded query; it carries no package id.
    """

    __tablename__ = "insights_job_step_stats"

    step: Mapped[str] = mapped_column(String(16), primary_key=True)
    le: Mapped[str] = mapped_column(String(16), primary_key=True)
    observations: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    seconds_total: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
