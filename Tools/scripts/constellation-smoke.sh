#!/usr/bin/env bash
# End-to-end check of the local constellation, run by `make test`: `sigil dev up` brings the broker, PostgreSQL and
# the five services to ready; `sigil dev status` reports them healthy; an independent Kafka client (kcat) sees the
# broker and Sigil's topics; `sigil dev down` leaves no process behind.
set -euo pipefail

sigil="${SIGIL_BIN:-.build/debug}/sigil"
state=".sigil/smoke"
rm -rf "$state"
passed=0
failed=0
check() {  # check NAME COMMAND...
  local name="$1"
  shift
  if "$@"; then
    echo "ok - $name"
    passed=$((passed + 1))
  else
    echo "not ok - $name"
    failed=$((failed + 1))
  fi
}

cleanup() { "$sigil" dev down --state-directory "$state" >/dev/null 2>&1 || true; }
trap cleanup EXIT

check "dev up brings every service to ready" "$sigil" dev up --detach --state-directory "$state"
check "dev status reports every process healthy" "$sigil" dev status --state-directory "$state"

brokers=$(grep '^SIGIL_KAFKA_BROKERS=' "$state/env" | cut -d= -f2-)
metadata=$(kcat -L -b "$brokers" 2>&1 || true)
for topic in config access.requests access.attested access.decisions access.replies edge.activity posture deadletter; do
  check "kcat sees topic sigil.$topic" grep -q "topic \"sigil.$topic\"" <<<"$metadata"
done
for variable in SIGIL_KAFKA_BROKERS SIGIL_POSTGRES_URL SIGIL_ADMIN_TOKEN SIGIL_ATTEST_URL SIGIL_POLICY_URL \
  SIGIL_ISSUE_URL SIGIL_AUDIT_URL SIGIL_EDGE_URL SIGIL_EDGE_PROXY; do
  check "env file has $variable" grep -q "^$variable=." "$state/env"
done
token=$(grep '^SIGIL_ADMIN_TOKEN=' "$state/env" | cut -d= -f2-)
check "admin API accepts the dev admin token" \
  bash -c "curl -sf -H 'Authorization: Bearer $token' http://127.0.0.1:7101/v1/whoami | grep -q '\"role\":\"admin\"'"
check "admin API refuses a request without a token" \
  bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:7102/v1/whoami)\" = 401 ]"
check "no service logged the admin token" bash -c "! grep -rqF -- '$token' $state/logs"

pids=$(python3 -c "import json;print(' '.join(str(p['pid']) for p in json.load(open('$state/processes.json'))['processes']))")
check "dev down stops everything" "$sigil" dev down --state-directory "$state"
alive=""
for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
check "no process of ours is left (pids:$pids)" test -z "$alive"
check "PostgreSQL is stopped" test ! -e "$state/postgres/postmaster.pid"

echo "constellation: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
