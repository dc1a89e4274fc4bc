#!/usr/bin/env bash
# Installs what the dashboard's browser test (internal/e2e/dashboard_test.go)
# needs, idempotently: Debian's chromium and chromium-driver, and the npm
# package playwright-core (which drives /usr/bin/chromium; Playwright's own
# browser download does not work on a closed network, so none is fetched).
#
# playwright-core goes to $HEARTH_BROWSER_DIR (default ~/.cache/hearth-browser),
# outside the repository; the test looks there too.
set -euo pipefail

dir="${HEARTH_BROWSER_DIR:-$HOME/.cache/hearth-browser}"
playwright_version=1.64.1

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		echo "browser: chromium is missing and installing it needs root (apt-get install chromium chromium-driver)" >&2
		exit 1
	fi
	echo "browser: installing chromium chromium-driver" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

if ! command -v node >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		echo "browser: installing nodejs npm" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
	else
		echo "browser: node is missing (apt-get install nodejs npm)" >&2
		exit 1
	fi
fi

installed="$dir/node_modules/playwright-core/package.json"
if [ ! -f "$installed" ] || ! grep -q "\"version\": \"$playwright_version\"" "$installed"; then
	echo "browser: installing playwright-core@$playwright_version into $dir" >&2
	mkdir -p "$dir"
	# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core downloads nothing
	# itself, but say so in case a later version starts to.
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$dir" --no-audit --no-fund --silent \
		"playwright-core@$playwright_version" >/dev/null
fi
