#!/usr/bin/env bash
# The test command (`make test`): installs what the tests need on a Debian
# machine (idempotent, quick when already done), starts the services, and
# runs every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v wat2wasm >/dev/null 2>&1 || need+=(wabt)
if ((${#need[@]})) && [ "$(id -u)" = 0 ]; then
	echo "test: installing ${need[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# shellcheck source=services.sh
source .ci/services.sh
# Chromium for the dashboard's browser test.
bash .ci/browser.sh

go mod download
go vet ./...
go test -race -count=1 -timeout 75m "$@" ./...
