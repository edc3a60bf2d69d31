#!/usr/bin/env bash
# Benchmarks with an optimised build; prints the figures the issues ask for.
#   scripts/bench.sh                 SQLite (temp file)
#   PHARMACY__DATABASE__URL=postgres://... scripts/bench.sh   PostgreSQL for the import
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
bin=target/release/pharmacy
echo "== medication check engine (in process)"
"$bin" bench checks --iterations 5000
echo "== medication check through the HTTP API (with the database)"
PHARMACY__LOG__FILTER=warn "$bin" bench check-api --requests 1000
echo "== e-prescription intake end to end (simulator latency 0)"
PHARMACY__LOG__FILTER=warn "$bin" bench eps
echo "== temperature readings through the HTTP API, and the raw insert rate"
PHARMACY__LOG__FILTER=warn "$bin" bench readings
master=../shared/data/drug-master/mhlw_yakka_20250716.csv
if [ -f "$master" ]; then
    echo "== full MHLW import"
    PHARMACY__LOG__FILTER=warn "$bin" bench import --mhlw "$master"
else
    echo "(no $master: import benchmark skipped)"
fi
