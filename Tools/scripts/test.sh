#!/usr/bin/env bash
# `make test`: lint, build, unit and integration tests (a throwaway PostgreSQL started here, the librdkafka mock
# broker in-process), then the end-to-end check of the local constellation.
set -euo pipefail
cd "$(dirname "$0")/../.."

Tools/scripts/install-deps.sh test

echo "==> swift format lint --strict"
swift format lint --strict -r Package.swift Shared Services Tools Tests

echo "==> swift build --build-tests"
swift build --build-tests

echo "==> deployment files: compose, gateway, topics, Kubernetes manifests (validated; no Docker or cluster here)"
Tools/scripts/deploy-check.sh

pgdata=".sigil/test/postgres"
stop_postgres() { .build/debug/sigil dev postgres stop --data-directory "$pgdata" || true; }
trap stop_postgres EXIT
echo "==> throwaway PostgreSQL on 127.0.0.1:7433"
url=$(.build/debug/sigil dev postgres start --data-directory "$pgdata" --port 7433 | sed -n 's/^SIGIL_POSTGRES_URL=//p')

echo "==> swift test: unit and integration"
SIGIL_TEST_POSTGRES_URL="$url" swift test --skip-build --skip SigilEndToEndTests --skip EdgeCredentialTests

echo "==> swift test: the edge's credential deadlines (alone: they are timed, and 2 cores under the other suites skew them)"
swift test --skip-build --filter EdgeCredentialTests

echo "==> swift test: end to end (the services as processes; alone and one suite at a time: each runs a constellation"
echo "    on the same ports, and timings must not be skewed by other tests)"
swift test --skip-build --no-parallel --filter SigilEndToEndTests

echo "==> local constellation end to end"
Tools/scripts/constellation-smoke.sh
