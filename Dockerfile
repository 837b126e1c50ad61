# syntax=docker/dockerfile:1
# One image for every cordvault process: `cordvault serve` (the default command) and
# `cordvault worker` (compose.yaml overrides the command). See docs/operations.md.
#
# The commands and environment names below are the ones tests/runtime/test_deployment.py runs;
# tests/runtime/test_container_files.py fails when they drift apart.
#
# BASE_IMAGE: any Debian bookworm image with python3 (>= 3.11) and its venv module. The default
# is the official slim Python image; scripts/container-check.sh builds one with debootstrap.

ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- builder: the project's wheel, installed with its dependencies into a venv ---------------
FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --upgrade pip \
    && /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install /wheels/cordvault-*.whl

# --- runtime: the venv, the PostgreSQL client (cordvault backup / restore), a non-root user ---
FROM ${BASE_IMAGE} AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 cordvault \
    && useradd --system --uid 10001 --gid cordvault --home-dir /var/lib/cordvault \
       --shell /usr/sbin/nologin cordvault \
    && install -d -o cordvault -g cordvault -m 0700 /var/lib/cordvault
COPY --from=builder /opt/venv /opt/venv
# DATA_DIR holds the key files (drive_master.key, drive_secret.key, transit.key), the local
# chunk store and temporary files: a volume shared by every process of one deployment.
# No secret is baked in: they come from that volume or from the environment at run time.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/var/lib/cordvault
USER 10001:10001
WORKDIR /var/lib/cordvault
VOLUME ["/var/lib/cordvault"]
EXPOSE 8000
# /health answers 200 while the API process lives (the worker overrides this in compose.yaml).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
ENTRYPOINT ["python", "-m", "cordvault"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
