"""The job state machine of a package analysis.

::

    LOCKED (queued) -> DOWNLOADING -> ANALYZING -> PROCESSED
          \\               \\              \\
           +---------------+--------------+--> ERRORED (with a code)
    any state --DELETE--> DELETED (blob removed, running work aborted)

``LOCKED`` is the reference's name for "queued". A running job (``DOWNLOADING``/``ANALYZING``)
holds a lease renewed by its worker's heartbeat; when the lease expires the job goes back to
``LOCKED`` (retry) or to ``ERRORED`` with ``WORKER_LOST`` after ``JOB_MAX_ATTEMPTS``.
``ERRORED`` and ``DELETED`` packages are queued again by a new ``POST /process``. An errored job
keeps the step it failed at (``error_step``): ``/status`` reports it, as the reference does.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """States of a package job; values are the reference's ``processingStep`` strings."""

    LOCKED = "LOCKED"
    DOWNLOADING = "DOWNLOADING"
    ANALYZING = "ANALYZING"
    PROCESSED = "PROCESSED"
    ERRORED = "ERRORED"
    DELETED = "DELETED"


#: Jobs that count in the queue (waiting or running).
UNFINISHED: frozenset[JobState] = frozenset(
    {JobState.LOCKED, JobState.DOWNLOADING, JobState.ANALYZING}
)
#: Jobs a worker is running (leased).
RUNNING: frozenset[JobState] = frozenset({JobState.DOWNLOADING, JobState.ANALYZING})
#: States a new POST /process re-queues.
REQUEUEABLE: frozenset[JobState] = frozenset({JobState.ERRORED, JobState.DELETED})
