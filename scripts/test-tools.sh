#!/usr/bin/env bash
# Install the programs the test suite drives (idempotent; `make test` runs it before pytest):
#   chromium  - the browser for the Playwright page tests (Playwright's own download is unused)
#   litmus    - the WebDAV conformance suite
#   rclone    - a real WebDAV client
# Debian packages only; each is installed once, then found on PATH.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v litmus >/dev/null 2>&1 || need+=(litmus)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
# Fonts so page screenshots show text.
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)

if [ "${#need[@]}" -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
exit 0
