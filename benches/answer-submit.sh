#!/usr/bin/env bash
# The submit benchmark of BENCHMARKS.md ("Answer page: submitting"): answers per
# second through POST /r/{token} (wrk on loopback) next to the raw submit
# transaction, on SQLite and PostgreSQL, in one run. Needs PostgreSQL at
# SAFEPULSE_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
export SAFEPULSE_TEST_POSTGRES_URL="${SAFEPULSE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
cargo bench --workspace --bench answer_submit
