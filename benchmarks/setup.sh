#!/usr/bin/env bash
# Tools the benchmarks compare against (not needed by the tests): nginx for
# benchmarks/drive_http.py (the machine's HTTP limit), curl as the client of both drive
# benchmarks, wrk as the 1,000 status pollers of benchmarks/load.py. Idempotent: installs only what is missing, from Debian.
set -euo pipefail
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian package enables and starts a system nginx on port 80; the benchmark runs its own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
    systemctl stop nginx || true
fi
