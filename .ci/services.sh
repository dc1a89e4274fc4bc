# shellcheck shell=bash
# .ci/services.sh — install and start the real services the state tests need
# (redis-server and PostgreSQL) on a Debian machine, then export the URLs the
# tests read:
#
#   HEARTH_TEST_REDIS_URL     redis://127.0.0.1:6379/0
#   HEARTH_TEST_POSTGRES_URL  postgres://hearth:hearth@127.0.0.1:5432/hearth_test?sslmode=disable
#
# Use it by sourcing, as root:   source .ci/services.sh
#
# It is idempotent: packages already installed are not reinstalled, servers
# already answering are left alone, and the role and database are created only
# when missing. Both servers listen on loopback only.
#
# Sourcing runs in the caller's shell, so this file must not `exit` or leave
# `set -e` / `set -u` changed: everything runs in a subshell (hearth_services_up)
# and only the exports happen in the caller.

hearth_services_up() (
	set -euo pipefail
	export DEBIAN_FRONTEND=noninteractive

	log() { printf 'services: %s\n' "$*" >&2; }

	# Install only what is missing; apt-get update only when we must install,
	# because it is the slow part.
	missing=()
	command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
	command -v pg_ctlcluster >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 ||
		missing+=(postgresql)
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		apt-get update -qq >/dev/null
		# policy-rc.d-less containers may refuse to start services from the
		# package scripts; we start them ourselves below, so ignore that.
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi

	# redis: start a daemon on loopback unless one already answers.
	if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
		log "starting redis-server"
		mkdir -p /var/lib/hearth-redis
		redis-server --bind 127.0.0.1 --port 6379 --daemonize yes \
			--dir /var/lib/hearth-redis --save '' --appendonly no \
			--logfile /var/lib/hearth-redis/redis.log
	fi

	# postgres: the Debian cluster (created by the package), started on loopback.
	ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)
	if ! pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1==v && $2=="main"' | grep -q .; then
		log "creating PostgreSQL $ver cluster"
		pg_createcluster "$ver" main >/dev/null
	fi
	if ! pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $4}' | grep -q online; then
		log "starting PostgreSQL $ver"
		pg_ctlcluster "$ver" main start -o "-c listen_addresses=127.0.0.1 -c port=5432"
	fi

	# Wait until both answer (bounded: 30 s).
	for _ in $(seq 1 300); do
		if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG &&
			su postgres -c "pg_isready -q -h 127.0.0.1 -p 5432"; then
			break
		fi
		sleep 0.1
	done
	redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG || { log "redis did not answer"; return 1; }
	su postgres -c "pg_isready -q -h 127.0.0.1 -p 5432" || { log "postgres did not answer"; return 1; }

	# The test role and database, created once.
	if [ "$(su postgres -c "psql -p 5432 -qtAX -c \"SELECT 1 FROM pg_roles WHERE rolname='hearth'\"")" != 1 ]; then
		log "creating role hearth"
		su postgres -c "psql -p 5432 -qtAX -v ON_ERROR_STOP=1 -c \"CREATE ROLE hearth LOGIN PASSWORD 'hearth'\""
	fi
	if [ "$(su postgres -c "psql -p 5432 -qtAX -c \"SELECT 1 FROM pg_database WHERE datname='hearth_test'\"")" != 1 ]; then
		log "creating database hearth_test"
		su postgres -c "psql -p 5432 -qtAX -v ON_ERROR_STOP=1 -c \"CREATE DATABASE hearth_test OWNER hearth\""
	fi
	log "redis and postgres are up"
)

if hearth_services_up; then
	export HEARTH_TEST_REDIS_URL="redis://127.0.0.1:6379/0"
	export HEARTH_TEST_POSTGRES_URL="postgres://hearth:hearth@127.0.0.1:5432/hearth_test?sslmode=disable"
else
	echo "services: failed to start redis/postgres" >&2
	unset -f hearth_services_up
	# shellcheck disable=SC2317 # exit is reached when the file is run, not sourced
	return 1 2>/dev/null || exit 1
fi
unset -f hearth_services_up
