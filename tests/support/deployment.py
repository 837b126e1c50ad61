"""The scaled deployment's topology, in one place: what ``tests/runtime/test_deployment.py``
starts, and what ``Dockerfile`` and ``compose.yaml`` must start too.

The deployment test builds its command lines and environment from these names;
``tests/runtime/test_container_files.py`` parses both container files and asserts that they say
the same, so the image and the compose file run exactly what the test proves.
"""

from __future__ import annotations

# Every process is `python -m cordvault ARGS` (the image's ENTRYPOINT is this with its venv's
# python first on PATH).
ENTRYPOINT_ARGS = ("-m", "cordvault")

# The API processes and the workers, by name: the test's log files and compose's services.
API_SERVICES = ("api-1", "api-2")
WORKER_SERVICES = ("worker-1", "worker-2")

# The first API process starts alone: it creates the key files in the shared DATA_DIR and
# applies the database migrations; the other processes start once it answers /health.
FIRST_API = API_SERVICES[0]

# A worker runs one job at a time (the jobs run in a child process it supervises).
WORKER_ARGS = ("worker", "--concurrency", "1")


def serve_args(host: str, port: int) -> list[str]:
    """The arguments of one API process listening on ``host:port``."""
    return ["serve", "--host", host, "--port", str(port)]


# Settings every process of the deployment gets (values differ: hosts, credentials) ...
DEPLOYMENT_ENV = (
    "DATA_DIR",
    "DATABASE_URL",
    "BROKER_URL",
    "STORAGE_BACKEND",
    "BLOB_STORE",
    "S3_ENDPOINT_URL",
    "S3_BUCKET",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
)
# ... of which these have the same value everywhere: chunks in the shared DATA_DIR volume,
# result blobs in S3.
FIXED_ENV = {"STORAGE_BACKEND": "local", "BLOB_STORE": "s3"}
