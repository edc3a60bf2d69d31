#!/usr/bin/env bash
# Checks that migrations/sqlite and migrations/postgres hold the same migration
# names, and that applying each tree yields the same set of tables and columns,
# which is also the set declared in src/db/schema.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh

fail() { echo "check-migrations: $*" >&2; exit 1; }

sqlite_names=$(ls migrations/sqlite)
pg_names=$(ls migrations/postgres)
if [ "$sqlite_names" != "$pg_names" ]; then
    diff <(echo "$sqlite_names") <(echo "$pg_names") >&2 || true
    fail "migration names differ between migrations/sqlite and migrations/postgres"
fi
for d in $sqlite_names; do
    for f in up.sql down.sql; do
        [ -f "migrations/sqlite/$d/$f" ] || fail "migrations/sqlite/$d/$f missing"
        [ -f "migrations/postgres/$d/$f" ] || fail "migrations/postgres/$d/$f missing"
    done
done
echo "check-migrations: $(echo "$sqlite_names" | wc -l) migration(s), same names in both trees"

# scripts/test.sh passes the binary its test build made (building it again
# without the test features would recompile much of the dependency tree).
bin="${PHARMACY_BIN:-}"
if [ -z "$bin" ]; then
    cargo build --quiet --locked
    bin=target/debug/pharmacy
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

PHARMACY__LOG__FILTER=warn PHARMACY__DATABASE__URL="sqlite://$tmp/check.db" "$bin" migrate 2>/dev/null
python3 - "$tmp/check.db" > "$tmp/sqlite.cols" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("""SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
                       AND m.name <> '__diesel_schema_migrations'""").fetchall()
for t, c in sorted(rows):
    print(f"{t}.{c}")
PY

python3 - src/db/schema.rs > "$tmp/schema.cols" <<'PY'
import re, sys
src = open(sys.argv[1], encoding="utf-8").read()
for m in re.finditer(r"diesel::table!\s*\{\s*(\w+)\s*\([^)]*\)\s*\{(.*?)\}\s*\}", src, re.S):
    table, body = m.group(1), m.group(2)
    for col in re.findall(r"^\s*(\w+)\s*->", body, re.M):
        print(f"{table}.{col}")
PY
sort -o "$tmp/schema.cols" "$tmp/schema.cols"
if ! diff -u "$tmp/schema.cols" "$tmp/sqlite.cols" >&2; then
    fail "SQLite schema differs from src/db/schema.rs (- schema.rs, + sqlite)"
fi

if pg_ensure; then
    name="pharmacy_migcheck_$$_$RANDOM"
    base="${TEST_DATABASE_URL%/*}"
    psql "$TEST_DATABASE_URL" -Atqc "CREATE DATABASE $name" >/dev/null
    cleanup_pg() { psql "$TEST_DATABASE_URL" -Atqc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
    trap cleanup_pg EXIT
    PHARMACY__LOG__FILTER=warn PHARMACY__DATABASE__URL="$base/$name" "$bin" migrate 2>/dev/null
    psql "$base/$name" -Atqc "SELECT table_name || '.' || column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'" | sort > "$tmp/pg.cols"
    if ! diff -u "$tmp/sqlite.cols" "$tmp/pg.cols" >&2; then
        fail "tables/columns differ between SQLite (-) and PostgreSQL (+)"
    fi
    echo "check-migrations: SQLite, PostgreSQL and schema.rs agree on $(wc -l < "$tmp/pg.cols") columns"
else
    echo "check-migrations: SQLite and schema.rs agree; PostgreSQL comparison skipped"
fi
