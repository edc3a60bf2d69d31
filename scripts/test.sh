#!/usr/bin/env bash
# The whole test suite, as CI runs it: format check, clippy with warnings as
# errors, the migration-tree check, then every test on SQLite and again on
# PostgreSQL (TEST_DATABASE_URL, or the local server at 127.0.0.1:5432; with
# CI=true a missing PostgreSQL fails the run instead of being skipped).
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true
cd "$(dirname "$0")/.."
source scripts/pg.sh
source scripts/smtp.sh
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
started=$SECONDS
step() { echo; echo "==> $* ($((SECONDS - started))s)"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --locked --all-targets -- -D warnings

step "build"
cargo test --locked --no-run

step "SMTP test server environment"
smtp_ensure

have_pg=true
pg_ensure || have_pg=false

step "migration trees"
PHARMACY_BIN=target/debug/pharmacy scripts/check-migrations.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT

step "tests on SQLite"
TEST_BACKEND=sqlite cargo test --locked --lib --bins --tests 2>&1 | tee -a "$log"

if $have_pg; then
    step "tests on PostgreSQL ($TEST_DATABASE_URL)"
    TEST_BACKEND=postgres cargo test --locked --lib --bins --tests 2>&1 | tee -a "$log"
else
    echo "PostgreSQL tests SKIPPED (no server; not CI)"
fi

step "benchmarks (figures only; this is the debug test build, see scripts/bench.sh for release numbers)"
target/debug/pharmacy bench checks --iterations 1000
PHARMACY__LOG__FILTER=warn target/debug/pharmacy bench check-api --requests 200
PHARMACY__LOG__FILTER=warn target/debug/pharmacy bench eps --sequential 50 --concurrent 200
PHARMACY__LOG__FILTER=warn target/debug/pharmacy bench readings --readings 20000 --batch 5000
if [ -f ../shared/data/drug-master/mhlw_yakka_20250716.csv ]; then
    PHARMACY__LOG__FILTER=warn target/debug/pharmacy bench import --mhlw ../shared/data/drug-master/mhlw_yakka_20250716.csv
fi

passed=$(grep -Eo 'test result: [a-z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')
step "done"
echo "$passed passed, $failed failed"
