# Sourced by the test scripts: finds (or starts) the PostgreSQL server for tests
# and exports TEST_DATABASE_URL. With CI=true a missing server is a failure.

pg_default_url="postgres://postgres@127.0.0.1:5432/postgres"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$pg_default_url}"

pg_reachable() {
    if command -v psql >/dev/null 2>&1; then
        psql "$TEST_DATABASE_URL" -Atqc 'SELECT 1' >/dev/null 2>&1
    else
        # Without a client, at least the port must answer.
        (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
    fi
}

pg_ensure() {
    if pg_reachable; then
        return 0
    fi
    # The machine's own cluster, if installed but stopped.
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        for v in /etc/postgresql/*; do
            pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start >/dev/null 2>&1 || true
        done
        for _ in $(seq 1 20); do
            pg_reachable && return 0
            sleep 0.5
        done
    fi
    if [ "${CI:-}" = "true" ]; then
        echo "FATAL: PostgreSQL is not reachable at $TEST_DATABASE_URL and could not be started (CI=true)" >&2
        exit 1
    fi
    echo "WARNING: PostgreSQL is not reachable at $TEST_DATABASE_URL; PostgreSQL steps are skipped (set CI=true to make this fatal)" >&2
    return 1
}
