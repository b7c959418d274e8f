#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are reachable for the tests.
#
# Used by `make test` and CI. Idempotent: a running service is only reported.
#   - reachable            -> say so
#   - installed but down   -> start it, wait up to 30 s; exit 1 if it does not come up
#   - not installed        -> exit 1 when CI=true (the tests need it); otherwise warn that its
#                             tests will be skipped and carry on
# Also creates the tradewarden_test database when PostgreSQL is reachable and it is missing.
set -euo pipefail

readonly HOST=127.0.0.1
readonly PG_PORT=5432
readonly REDIS_PORT=6379
readonly TEST_DB=tradewarden_test
readonly WAIT_S=30
readonly REDIS_DATA_DIR=/var/lib/redis
readonly REDIS_LOG_DIR=/var/log/redis

failures=0

say() { printf 'ensure-services: %s\n' "$*"; }
warn() { printf 'ensure-services: WARNING: %s\n' "$*" >&2; }
err() { printf 'ensure-services: ERROR: %s\n' "$*" >&2; }

# Starting system services needs root; use sudo when we are not root and it works unattended.
if [[ ${EUID} -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo -n)
else
    as_root=()
fi

missing() { # missing NAME TESTS_MARKER
    if [[ ${CI:-} == true ]]; then
        err "$1 is not installed, and CI=true: the tests need it"
        failures=$((failures + 1))
    else
        warn "$1 is not installed: tests marked '$2' will be skipped"
    fi
}

wait_for() { # wait_for CHECK_FUNCTION: poll it for up to WAIT_S seconds
    local deadline=$((SECONDS + WAIT_S))
    until "$1"; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.5
    done
}

# --- PostgreSQL -------------------------------------------------------------------------------

pg_bin() { # the newest installed copy of a PostgreSQL client, preferring PATH
    if command -v "$1" >/dev/null 2>&1; then
        command -v "$1"
        return
    fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1 || true)
    [[ -n ${found} ]] && printf '%s\n' "${found}"
}

pg_ready() {
    "${pg_isready}" -q -h "${HOST}" -p "${PG_PORT}"
}

pg_installed() {
    [[ -n ${pg_isready} && -d /etc/postgresql ]] && command -v pg_ctlcluster >/dev/null 2>&1 &&
        [[ -n $(ls /etc/postgresql 2>/dev/null) ]]
}

ensure_test_db() {
    local psql
    psql=$(pg_bin psql || true)
    if [[ -z ${psql} ]]; then
        err "psql not found: cannot check database ${TEST_DB}"
        failures=$((failures + 1))
        return
    fi
    local query="SELECT 1 FROM pg_database WHERE datname = '${TEST_DB}'"
    if [[ $("${psql}" -h "${HOST}" -p "${PG_PORT}" -U postgres -d postgres -XtAc "${query}") == 1 ]]; then
        say "database ${TEST_DB} exists"
        return
    fi
    # Another run may create it between the check and here; only a database still missing
    # afterwards is a failure.
    if "${psql}" -h "${HOST}" -p "${PG_PORT}" -U postgres -d postgres -X -q \
        -c "CREATE DATABASE ${TEST_DB}" 2>/dev/null ||
        [[ $("${psql}" -h "${HOST}" -p "${PG_PORT}" -U postgres -d postgres -XtAc "${query}") == 1 ]]; then
        say "database ${TEST_DB} created"
    else
        err "could not create database ${TEST_DB}"
        failures=$((failures + 1))
    fi
}

ensure_postgres() {
    pg_isready=$(pg_bin pg_isready || true)
    if [[ -n ${pg_isready} ]] && pg_ready; then
        say "PostgreSQL is up on ${HOST}:${PG_PORT}"
    elif pg_installed; then
        local version
        version=$(ls /etc/postgresql | sort -V | tail -1)
        say "PostgreSQL ${version} is installed but not reachable: starting cluster ${version}/main"
        # Exit 2 means "already running"; the wait below decides whether that is good enough.
        "${as_root[@]}" pg_ctlcluster --skip-systemctl-redirect "${version}" main start || true
        if ! wait_for pg_ready; then
            err "PostgreSQL did not accept connections on ${HOST}:${PG_PORT} within ${WAIT_S} s" \
                "(see /var/log/postgresql/postgresql-${version}-main.log)"
            failures=$((failures + 1))
            return
        fi
        say "PostgreSQL is up on ${HOST}:${PG_PORT}"
    else
        missing PostgreSQL postgres
        return
    fi
    ensure_test_db
}

# --- Redis ------------------------------------------------------------------------------------

redis_ready() {
    if command -v redis-cli >/dev/null 2>&1; then
        [[ $(redis-cli -h "${HOST}" -p "${REDIS_PORT}" ping 2>/dev/null) == PONG ]]
    else
        # No redis-cli: speak RESP inline over bash's /dev/tcp.
        local reply
        reply=$(
            { exec 3<>"/dev/tcp/${HOST}/${REDIS_PORT}"; } 2>/dev/null || exit 1
            printf 'PING\r\n' >&3
            timeout 2 head -c 7 <&3
        ) || return 1
        [[ ${reply} == +PONG* ]]
    fi
}

ensure_redis() {
    if redis_ready; then
        say "Redis is up on ${HOST}:${REDIS_PORT}"
    elif command -v redis-server >/dev/null 2>&1; then
        say "Redis is installed but not reachable: starting redis-server on ${HOST}:${REDIS_PORT}"
        "${as_root[@]}" mkdir -p "${REDIS_DATA_DIR}" "${REDIS_LOG_DIR}"
        if ! "${as_root[@]}" redis-server --daemonize yes --bind 127.0.0.1 -::1 \
            --port "${REDIS_PORT}" --save "" --appendonly no --dir "${REDIS_DATA_DIR}" \
            --logfile "${REDIS_LOG_DIR}/ci.log"; then
            err "redis-server failed to start (see ${REDIS_LOG_DIR}/ci.log)"
            failures=$((failures + 1))
            return
        fi
        if ! wait_for redis_ready; then
            err "Redis did not answer PING on ${HOST}:${REDIS_PORT} within ${WAIT_S} s" \
                "(see ${REDIS_LOG_DIR}/ci.log)"
            failures=$((failures + 1))
            return
        fi
        say "Redis is up on ${HOST}:${REDIS_PORT}"
    else
        missing Redis redis
    fi
}

ensure_postgres
ensure_redis

if ((failures > 0)); then
    err "${failures} service problem(s); see above"
    exit 1
fi
