"""The insights API's JSON answers (pydantic), field for field the Dumpus contract.

Field names are the wire names the Dumpus client reads (camelCase where the reference uses it),
declared in the order the reference writes them; a field with a ``None`` value is still sent
(``null``). The one exception is :attr:`ProcessOut.message`: present only on a refused
request, so those routes serialise with ``exclude_unset``. ``docs/insights-api.md`` lists every
route; ``tests/web/insights/test_openapi.py`` checks that ``/openapi.json`` names these models with
exactly these fields.

The status poll (:class:`StatusOut`) is built as a plain dict by
:func:`cordvault.insights.jobs.service.status` and written with orjson (it is polled every
second by every waiting client); the model documents it in the OpenAPI document and a test
checks that the dict keys are the model's fields. Nothing secret is ever part of an answer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    # Forbidding extras makes a test's model_validate(body) catch any key the contract lacks.
    model_config = ConfigDict(extra="forbid")


class ProcessOut(_Out):
    """``POST /process`` and ``POST /process/upload``."""

    isAccepted: bool
    packageId: str | None
    errorMessageCode: str | None
    message: str | None = Field(
        default=None, description="Only on a refused request (400/413): why, for humans."
    )


def _while_queued() -> Any:
    return Field(default=None, description="Only while queued or running (absent otherwise).")


class QueuePositionOut(_Out):
    """``processingQueuePosition``: the reference's four counters, then ours while queued or
    running (absent otherwise)."""

    user: int
    total: int
    userWhenStarted: int
    totalWhenStarted: int
    premiumQueueTotal: int | None = _while_queued()
    standardQueueTotal: int | None = _while_queued()
    premiumQueueUser: int | None = _while_queued()
    standardQueueUser: int | None = _while_queued()
    standardWhenJoined: int | None = _while_queued()
    premiumWhenJoined: int | None = _while_queued()


class StatusOut(_Out):
    """``GET /process/{package_id}/status`` (the 401 answer has the same keys)."""

    isDataAvailable: bool
    isUpgraded: bool
    isErrored: bool
    errorMessageCode: str | None
    isProcessing: bool
    processingStep: str | None = Field(
        description="LOCKED, DOWNLOADING, ANALYZING or PROCESSED (an errored job keeps the step "
        "it failed at)."
    )
    processingQueuePosition: QueuePositionOut


class BlobOut(_Out):
    """``GET /process/{package_id}/blob``: where to fetch the encrypted result."""

    url: str = Field(description="Absolute URL of the raw AES-CBC ciphertext, valid ttl seconds.")
    iv: str | None = Field(description="The IV in hex; null for the demo (plain gzip).")
    ttl: int


class DeleteOut(_Out):
    """``DELETE /process/{package_id}``."""

    isDeleted: bool
    errorMessageCode: str | None


class UserLookupOut(_Out):
    """``GET /process/{package_id}/user/{user_id}``: a Discord user's public profile."""

    user_id: str
    display_name: str | None
    avatar_url: str
    username: str


class WidgetOut(_Out):
    """``GET /widget/{guild_id}``: a guild's name, icon and member count."""

    name: str
    icon_url: str | None
    member_count: int | None


class QueueDepthOut(_Out):
    """Unfinished (queued or running) insights jobs per queue."""

    premium: int
    standard: int


class StorageOut(_Out):
    """The drive's chunk store as this process sees it."""

    backend: str = Field(description='"local" or "discord".')
    state: str = Field(
        description='"ok" (opened; a local store\'s directory is writable) or "unavailable" '
        "(it could not be opened, or its directory is not writable)."
    )


class HealthOut(_Out):
    """``GET /health``."""

    status: str = Field(description='Always "alive".')
    hostname: str
    version: str
    queue: str | None = Field(description='"inprocess" or "celery"; null outside the lifespan.')
    queueDepth: QueueDepthOut | None = Field(
        None, description="Unfinished jobs per queue; null when the database did not answer."
    )
    storage: StorageOut | None = Field(None, description="The drive's chunk storage backend.")


class UpgradeOut(_Out):
    """``POST /admin/process/{package_id}/upgrade``."""

    packageId: str
    isUpgraded: bool


class TypicalDurationOut(_Out):
    """One typical duration (``GET /insights/typical-durations``)."""

    typicalSeconds: float | None = Field(
        description="The median in seconds (0.1 s precision); null when fewer than "
        "minimumJobs jobs were measured."
    )
    jobs: int = Field(description="How many jobs the figure is drawn from.")


class TypicalDurationsOut(_Out):
    """``GET /insights/typical-durations``: how long similar jobs took (aggregates only)."""

    steps: dict[str, TypicalDurationOut] = Field(
        description="LOCKED (waiting in the queue, over the recentJobs newest processed jobs), "
        "DOWNLOADING and ANALYZING (over every job the step histogram recorded)."
    )
    total: TypicalDurationOut = Field(
        description="From sending the package to the result being ready, over the recentJobs "
        "newest processed jobs."
    )
    minimumJobs: int = Field(description="Fewer jobs than this: the figure is withheld (null).")
    recentJobs: int = Field(description="How many of the newest processed jobs are considered.")
