"""The Dumpus client's wire contract for the insights answers: each answer model's fields, with
exactly the client's names and in order (``docs/insights-api.md``), and those it may omit. The
contract tests (``tests/web/insights``) check the schema and the live answers against it."""

from __future__ import annotations

# The wire contract, field for field and in order (docs/insights-api.md).
DUMPUS_FIELDS: dict[str, list[str]] = {
    "ProcessOut": ["isAccepted", "packageId", "errorMessageCode", "message"],
    "StatusOut": [
        "isDataAvailable",
        "isUpgraded",
        "isErrored",
        "errorMessageCode",
        "isProcessing",
        "processingStep",
        "processingQueuePosition",
    ],
    "QueuePositionOut": [
        "user",
        "total",
        "userWhenStarted",
        "totalWhenStarted",
        "premiumQueueTotal",
        "standardQueueTotal",
        "premiumQueueUser",
        "standardQueueUser",
        "standardWhenJoined",
        "premiumWhenJoined",
    ],
    "BlobOut": ["url", "iv", "ttl"],
    "DeleteOut": ["isDeleted", "errorMessageCode"],
    "UserLookupOut": ["user_id", "display_name", "avatar_url", "username"],
    "WidgetOut": ["name", "icon_url", "member_count"],
    "HealthOut": ["status", "hostname", "version", "queue", "queueDepth", "storage"],
    "UpgradeOut": ["packageId", "isUpgraded"],
}
# Fields the wire omits in some answers (so not "required" in the schema); a queue position
# has its first four fields always, the others while they apply.
OPTIONAL = {
    "ProcessOut": {"message"},
    "HealthOut": {"queueDepth", "storage"},
    "QueuePositionOut": set(DUMPUS_FIELDS["QueuePositionOut"][4:]),
}
