#!/usr/bin/env bash
# Installs R (r-base-core, R 4.2 on Debian bookworm) for the R binding's tests.
# Idempotent: does nothing when Rscript is already on PATH. Needs root (or sudo).
set -euo pipefail
if command -v Rscript >/dev/null 2>&1 && command -v R >/dev/null 2>&1; then
    echo "install-r: R already installed ($(R --version | head -n1))"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends r-base-core
echo "install-r: installed $(R --version | head -n1)"
