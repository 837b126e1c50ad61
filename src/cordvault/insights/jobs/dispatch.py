"""How the API tells insights workers that a job is waiting, or that one was deleted.

The protocols are the shared job framework's (:mod:`cordvault.core.jobs`): the database is the
queue (jobs are claimed from it in priority order); a dispatcher only wakes workers up. Calls
happen after the commit that made the job visible and carry ids only (here: package ids).
"""

from __future__ import annotations

from cordvault.core.jobs import Dispatcher, JobQueue

__all__ = ["Dispatcher", "JobQueue"]
