#!/usr/bin/env bash
# Build the image from ./Dockerfile and run it, on a machine with no container registry:
#   1. a Debian bookworm base made by debootstrap (python3 + venv), imported into podman;
#   2. `podman build` of the Dockerfile on that base (BASE_IMAGE build argument);
#   3. the image's default command (`cordvault serve`) in a container: /health answers 200 and
#      the image's own HEALTHCHECK passes; it runs as the image's non-root user;
#   4. `cordvault worker` in a container on the host's Redis: the compose file's worker
#      health check (`celery inspect ping` of its node) answers.
#   5. a drive upload through the container's API reads back byte-identical.
# Not part of `make test`: it needs root (debootstrap, podman), Debian's mirror and PyPI, and
# takes minutes (the base is built once and kept; vfs storage copies every layer). Usage, as root:  bash scripts/container-check.sh
# Environment: CONTAINER_CHECK_DIR (work dir), DEBIAN_MIRROR, CONTAINER_CHECK_BROKER (a Redis
# URL for step 4; default the local one), CONTAINER_CHECK_REBUILD_BASE=1 (re-debootstrap).
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=${CONTAINER_CHECK_DIR:-/var/tmp/cordvault-container-check}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BROKER=${CONTAINER_CHECK_BROKER:-redis://127.0.0.1:6379/12}
BASE=localhost/cordvault-base:bookworm
IMAGE=localhost/cordvault:check
# vfs storage and cgroupfs: no overlay mounts or systemd needed (works inside a VM or a
# container that has no overlayfs-on-overlayfs or cgroup delegation).
PODMAN=(podman --storage-driver vfs --cgroup-manager cgroupfs --events-backend file)

say() { printf '\n== %s\n' "$*"; }
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap, podman)" >&2; exit 1; }

need=()
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v runc >/dev/null 2>&1 || need+=(runc)
if [ "${#need[@]}" -gt 0 ]; then
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
mkdir -p "$WORK"

if [ "${CONTAINER_CHECK_REBUILD_BASE:-0}" = 1 ] || ! "${PODMAN[@]}" image exists "$BASE"; then
  say "base image: debootstrap bookworm -> $BASE"
  rm -rf "$WORK/rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$WORK/rootfs" "$MIRROR"
  rm -rf "$WORK/rootfs/var/lib/apt/lists/"* "$WORK/rootfs/var/cache/apt/"*.bin
  tar -C "$WORK/rootfs" -c . | "${PODMAN[@]}" import \
    --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$BASE"
  rm -rf "$WORK/rootfs"
fi

say "build $IMAGE from ./Dockerfile"
# --format docker keeps HEALTHCHECK (the OCI format has no such field). The host's CA bundle is
# mounted for the build's RUN steps only (a TLS-intercepting egress proxy needs it); it is
# not copied into any layer.
"${PODMAN[@]}" build --format docker --isolation chroot --network host \
  --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  --build-arg BASE_IMAGE="$BASE" --tag "$IMAGE" .

# How the containers run here (a VM with cgroup v1 and no systemd, without CAP_SYS_RESOURCE):
# runc, because crun refuses this cgroup layout ("cgroups in hybrid mode not supported") even
# with --cgroups=disabled; ulimits below the current hard limits, because podman's defaults
# raise RLIMIT_NOFILE / RLIMIT_NPROC ("setrlimit: Operation not permitted"). Host networking:
# the checks talk to 127.0.0.1 only. Podman cannot schedule the periodic HEALTHCHECK without
# systemd (it logs "unable to get systemd connection"); `podman healthcheck run` runs it once.
RUN=(--runtime runc --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

cleanup() {
  "${PODMAN[@]}" rm --force --ignore cv-check-api cv-check-worker >/dev/null 2>&1 || true
  "${PODMAN[@]}" volume rm --force cv-check-data >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

say "run: the image's default command (cordvault serve)"
# The image's CMD listens on 0.0.0.0:8000; only if 8000 is taken is the command overridden
# (serve --host ... --port ..., as compose.yaml writes it) with a free port.
PORT=8000
if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
"${PODMAN[@]}" volume create cv-check-data >/dev/null
args=()
[ "$PORT" = 8000 ] || args=(serve --host 127.0.0.1 --port "$PORT")
"${PODMAN[@]}" run --detach --name cv-check-api "${RUN[@]}" \
  --volume cv-check-data:/var/lib/cordvault "$IMAGE" "${args[@]}"
for _ in $(seq 1 60); do
  if body=$(python3 -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:$PORT/health', timeout=2).read().decode())" 2>/dev/null); then
    break
  fi
  sleep 1
done
echo "GET /health -> ${body:?/health never answered; logs: $("${PODMAN[@]}" logs cv-check-api 2>&1 | tail -20)}"
if [ "$PORT" = 8000 ]; then
  "${PODMAN[@]}" healthcheck run cv-check-api && echo "HEALTHCHECK: healthy"
fi
user=$("${PODMAN[@]}" exec cv-check-api id -u)
echo "process uid: $user"
[ "$user" != 0 ] || { echo "the server runs as root" >&2; exit 1; }
"${PODMAN[@]}" exec cv-check-api ls -ln /var/lib/cordvault
"${PODMAN[@]}" exec cv-check-api pg_dump --version

say "drive round trip through the container's API"
python3 - "$PORT" <<'PY'
import json, os, sys, urllib.request

base = f"http://127.0.0.1:{sys.argv[1]}"

def call(method, path, body=None, token=None, raw=False):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None and not raw:
        body, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as answer:
        return answer.read()

creds = {"name": "check", "password": "container check password"}
token = json.loads(call("POST", "/api/auth/register", creds))["token"]
data = os.urandom(3_000_000)
file_id = json.loads(call("PUT", "/api/drive/upload?path=/check.bin", data, token, raw=True))["file"]["id"]
back = call("GET", f"/api/drive/files/{file_id}/content", token=token)
assert back == data, "the file read back differs"
print(f"uploaded and read back {len(data)} bytes intact")
PY

say "run: cordvault worker on $BROKER"
"${PODMAN[@]}" run --detach --name cv-check-worker "${RUN[@]}" --hostname cv-check-worker \
  --env BROKER_URL="$BROKER" --volume cv-check-data:/var/lib/cordvault "$IMAGE" \
  worker --concurrency 1
ok=0
for _ in $(seq 1 20); do
  if "${PODMAN[@]}" exec cv-check-worker sh -c \
    'celery --broker "$BROKER_URL" inspect ping --destination "celery@$HOSTNAME" --timeout 5'; then
    ok=1
    break
  fi
  sleep 2
done
[ "$ok" = 1 ] || { "${PODMAN[@]}" logs cv-check-worker | tail -20; exit 1; }

"${PODMAN[@]}" image inspect "$IMAGE" --format 'image {{.Id}} user={{.Config.User}} size={{.Size}}'
say "container check passed"
