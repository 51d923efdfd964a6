#!/usr/bin/env bash
# Installs what the QEMU end-to-end suite needs (QEMU through apt-get, a
# Debian cloud kernel and busybox into the cache dir) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./internal/testutil/qemu/setup
