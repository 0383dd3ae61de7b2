#!/usr/bin/env bash
# Runs the whole test suite (unit and integration, with the real uWSGI and nginx) after making
# sure everything it needs is installed.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
cd "$HOP3_ROOT"
npm test
