#!/usr/bin/env bash
# Installs what the dashboard's browser test (internal/e2e/dashboard_test.go)
# needs, idempotently: Debian's chromium, which the test drives over the
# DevTools protocol with chromedp (a Go module, fetched by `go mod download`
# like any other). Nothing else: no driver, no Node.js, no browser download.
#
# The test finds chromium on PATH, or at $HEARTH_CHROMIUM.
set -euo pipefail

if [ -n "${HEARTH_CHROMIUM:-}" ] && [ -x "$HEARTH_CHROMIUM" ]; then
	exit 0
fi
if command -v chromium >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "browser: chromium is missing and installing it needs root (apt-get install chromium)" >&2
	exit 1
fi
echo "browser: installing chromium" >&2
DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null 2>&1 || {
	echo "browser: chromium is still not on PATH after apt-get install" >&2
	exit 1
}
