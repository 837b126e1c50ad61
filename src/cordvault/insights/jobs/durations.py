"""How long similar jobs took: typical (median) durations per processing step and in total,
for the ``/insights`` page's "similar jobs took about N s" (``GET /insights/typical-durations``).

Aggregates only, nothing that identifies a job: the ``DOWNLOADING`` and ``ANALYZING`` figures
come from the cluster-wide step histogram (``insights_job_step_stats``, every job ever recorded:
the table has no package ids nor times); ``LOCKED`` (the wait in the queue) and the total (from
sending to the result being ready) from the times of the :data:`RECENT_JOBS` most recently
processed jobs. A figure drawn from fewer than :data:`MIN_JOBS` jobs is withheld (``null``): one
job's own duration is not "typical", and would describe that one job.

The histogram's median is estimated as the mean duration of the observations in the bucket
that holds the median rank (``seconds_total / observations`` of that bucket, which always lies
within the bucket's bounds), so it never depends on the bucket layout beyond that bucket.
"""

from __future__ import annotations

from datetime import datetime
from statistics import median

from sqlalchemy.orm import Session

from cordvault.insights.api_models import TypicalDurationOut, TypicalDurationsOut
from cordvault.insights.jobs import repository as repo
from cordvault.insights.jobs.states import JobState

RECENT_JOBS = 50
MIN_JOBS = 3
HISTOGRAM_STEPS = (JobState.DOWNLOADING.value, JobState.ANALYZING.value)


def histogram_median(buckets: list[tuple[str, int, float]]) -> float | None:
    """The median estimate of one step's non-cumulative ``(le, count, seconds)`` buckets."""
    total = sum(count for _le, count, _s in buckets)
    if total == 0:
        return None
    rank = (total + 1) // 2  # the lower median's rank, 1-based
    seen = 0
    for _le, count, seconds in sorted(buckets, key=lambda b: float(b[0])):
        seen += count
        if count and seen >= rank:
            return seconds / count
    return None  # unreachable: the ranks add up to total


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


def _figure(values: list[float]) -> TypicalDurationOut:
    typical = round(median(values), 1) if len(values) >= MIN_JOBS else None
    return TypicalDurationOut(typicalSeconds=typical, jobs=len(values))


def typical_durations(session: Session) -> TypicalDurationsOut:
    """The typical durations from the database (two bounded queries)."""
    histograms = repo.step_buckets(session)
    times = repo.recent_processed_times(session, RECENT_JOBS)
    steps: dict[str, TypicalDurationOut] = {
        JobState.LOCKED.value: _figure([_seconds(s, q) for q, s, _f in times]),
    }
    for step in HISTOGRAM_STEPS:
        buckets = histograms.get(step, [])
        jobs = sum(count for _le, count, _s in buckets)
        estimate = histogram_median(buckets) if jobs >= MIN_JOBS else None
        steps[step] = TypicalDurationOut(
            typicalSeconds=None if estimate is None else round(estimate, 1), jobs=jobs
        )
    return TypicalDurationsOut(
        steps=steps,
        total=_figure([_seconds(f, q) for q, _s, f in times]),
        minimumJobs=MIN_JOBS,
        recentJobs=RECENT_JOBS,
    )
