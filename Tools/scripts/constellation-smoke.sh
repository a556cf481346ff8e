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
check "sigil probe (the image's health check) finds a service ready on its SIGIL_HTTP_PORT" \
  env SIGIL_HTTP_PORT=7102 "$sigil" probe
check "sigil probe fails for a port nothing serves" bash -c "! '$sigil' probe --port 7999"

brokers=$(grep '^SIGIL_KAFKA_BROKERS=' "$state/env" | cut -d= -f2-)
metadata=$(kcat -L -b "$brokers" 2>&1 || true)
for topic in config access.requests access.attested access.decisions access.replies access.leases edge.activity posture \
  deadletter; do
  check "kcat sees topic sigil.$topic" grep -q "topic \"sigil.$topic\"" <<<"$metadata"
done
for variable in SIGIL_KAFKA_BROKERS SIGIL_POSTGRES_URL SIGIL_ADMIN_TOKEN SIGIL_AUDITOR_TOKEN SIGIL_ATTEST_URL SIGIL_POLICY_URL \
  SIGIL_ISSUE_URL SIGIL_AUDIT_URL SIGIL_EDGE_URL SIGIL_EDGE_PROXY SIGIL_EDGE_ROLE_TOKEN; do
  check "env file has $variable" grep -q "^$variable=." "$state/env"
done
token=$(grep '^SIGIL_ADMIN_TOKEN=' "$state/env" | cut -d= -f2-)
check "admin API accepts the dev admin token" \
  bash -c "curl -sf -H 'Authorization: Bearer $token' http://127.0.0.1:7101/v1/whoami | grep -q '\"role\":\"admin\"'"
check "admin API refuses a request without a token" \
  bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:7102/v1/whoami)\" = 401 ]"
auditor=$(grep '^SIGIL_AUDITOR_TOKEN=' "$state/env" | cut -d= -f2-)
check "the auditor token reads resources" \
  bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $auditor' http://127.0.0.1:7102/v1/server-workloads)\" = 200 ]"
check "the auditor token changes nothing (403)" \
  bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Authorization: Bearer $auditor' -H 'Content-Type: application/json' -d '{\"metadata\":{},\"spec\":{\"host\":\"a\",\"port\":1}}' http://127.0.0.1:7102/v1/server-workloads/a)\" = 403 ]"
check "no service logged the admin token" bash -c "! grep -rqF -- '$token' $state/logs"
edge_token=$(grep '^SIGIL_EDGE_ROLE_TOKEN=' "$state/env" | cut -d= -f2-)
check "the edge's status answers its own edge token" \
  bash -c "curl -sf -H 'Authorization: Bearer $edge_token' http://127.0.0.1:7105/v1/edge/status | grep -q '\"proxyListensOnLoopback\":true'"
check "the edge does not know the admin token" \
  bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $token' http://127.0.0.1:7105/v1/edge/status)\" = 401 ]"
check "the edge's environment holds no admin token" bash -c "! grep -qzF -- '$token' /proc/\$(python3 -c \"import json; print([p['pid'] for p in json.load(open('$state/processes.json'))['processes'] if p['name'] == 'sigil-edge'][0])\")/environ"
check "the edge proxy listens on loopback only" bash -c "ss -ltnH 'sport = :7480' | awk '{print \$4}' | grep -qx '127.0.0.1:7480'"

python3 -c "import openapi_spec_validator, yaml" 2>/dev/null || pip install -q openapi-spec-validator pyyaml
for port in 7101 7102 7103 7104 7105; do
  check "the OpenAPI document of :$port is valid OpenAPI" python3 -c "
import sys, urllib.request, yaml
from openapi_spec_validator import validate
validate(yaml.safe_load(urllib.request.urlopen('http://127.0.0.1:$port/openapi.yaml').read()))"
done

# A service started against topics with fewer replicas than it is configured for refuses to run, naming the fix: the
# running policy service's settings with SIGIL_TOPIC_REPLICATION=3 (the dev broker's topics have one replica).
check "a service refuses topics with fewer replicas than SIGIL_TOPIC_REPLICATION, naming the fix" python3 - "$state" "${SIGIL_BIN:-.build/debug}" <<'PY'
import json, subprocess, sys
state, binaries = sys.argv[1], sys.argv[2]
pid = [p["pid"] for p in json.load(open(f"{state}/processes.json"))["processes"] if p["name"] == "sigil-policy"][0]
environment = dict(entry.split("=", 1) for entry in open(f"/proc/{pid}/environ").read().split("\0") if "=" in entry)
environment.update(SIGIL_TOPIC_REPLICATION="3", SIGIL_HTTP_PORT="7199", SIGIL_INSTANCE_ID="unsafe-check")
result = subprocess.run([f"{binaries}/sigil-policy"], env=environment, capture_output=True, text=True, timeout=60)
output = result.stdout + result.stderr
sys.exit(0 if result.returncode != 0 and "SIGIL_TOPIC_REPLICATION asks for 3" in output
         and "kafka-reassign-partitions.sh" in output else 1)
PY

# docker-compose's admin gateway (deploy/compose/gateway.conf) in front of this constellation: the same nginx
# configuration with the compose service names replaced by loopback addresses (no Docker DNS here).
gateway="$state/gateway"
mkdir -p "$gateway"
sed -e 's/sigil-attest:7101/127.0.0.1:7101/; s/sigil-policy:7102/127.0.0.1:7102/; s/sigil-issue:7103/127.0.0.1:7103/' \
  -e 's/sigil-audit:7104/127.0.0.1:7104/; /resolver 127.0.0.11/d; s/listen 7100;/listen 127.0.0.1:17100;/' \
  -e "s|pid /tmp/nginx.pid;|pid $PWD/$gateway/nginx.pid;|" deploy/compose/gateway.conf >"$gateway/gateway.conf"
nginx -p "$PWD/$gateway" -c "$PWD/$gateway/gateway.conf" -g 'daemon off;' >"$gateway/nginx.log" 2>&1 &
gateway_pid=$!
trap 'kill $gateway_pid 2>/dev/null || true; cleanup' EXIT
for i in $(seq 50); do curl -sf http://127.0.0.1:17100/healthz >/dev/null && break; sleep 0.1; done
for path in trust-providers client-workloads server-workloads access-policies credential-providers log-streams \
  audit/events whoami; do
  check "the gateway routes /v1/$path to its service" \
    bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $token' http://127.0.0.1:17100/v1/$path)\" = 200 ]"
done
check "the gateway answers 404 problem+json for a path no service has" \
  bash -c "curl -s http://127.0.0.1:17100/v1/nothing | grep -q 'urn:sigil:problem:not-found'"
check "sigil get works with every service URL set to the gateway" bash -c "SIGIL_ATTEST_URL=http://127.0.0.1:17100 \
  SIGIL_POLICY_URL=http://127.0.0.1:17100 SIGIL_ISSUE_URL=http://127.0.0.1:17100 SIGIL_AUDIT_URL=http://127.0.0.1:17100 \
  SIGIL_ADMIN_TOKEN='$token' '$sigil' get TrustProvider >/dev/null"
kill $gateway_pid 2>/dev/null || true

# sigil apply / get against this constellation.
set -a; . "$state/env"; set +a
cat >"$state/resources.yaml" <<YAML
kind: LogStream
metadata: {name: smoke-file}
spec:
  destination: {type: file, path: smoke/audit.jsonl}
  format: json
---
kind: ServerWorkload
metadata: {name: smoke-api}
spec: {scheme: http, host: smoke.internal, port: 8080}
YAML
cat >"$state/outside.yaml" <<'YAML'
kind: LogStream
metadata: {name: outside}
spec: {destination: {type: file, path: ../../etc/cron.d/sigil}}
YAML
cat >"$state/invalid.yaml" <<'YAML'
kind: ServerWorkload
metadata: {name: broken}
spec: {scheme: gopher, host: smoke.internal, port: 8080}
YAML
check "sigil apply -f applies a multi-document file" "$sigil" apply -f "$state/resources.yaml"
check "applying the same file again changes nothing" bash -c "'$sigil' apply -f '$state/resources.yaml' | grep -c ' unchanged$' | grep -qx 2"
check "sigil get lists what was applied" bash -c "for i in \$(seq 50); do '$sigil' get ServerWorkload | grep -q smoke-api && exit 0; sleep 0.1; done; exit 1"
check "the file log stream receives audit records as JSON lines" bash -c "for i in \$(seq 50); do grep -q '\"subject\":\"ServerWorkload/smoke-api\"' '$SIGIL_AUDIT_FILE_DIR/smoke/audit.jsonl' 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
check "a file log stream outside SIGIL_AUDIT_FILE_DIR is refused" bash -c "! '$sigil' apply -f '$state/outside.yaml' >'$state/outside.out' 2>&1 && grep -q 'spec.destination.path' '$state/outside.out'"
check "sigil audit streams shows the stream's delivery" bash -c "for i in \$(seq 50); do '$sigil' audit streams | grep -q '^smoke-file.file:smoke/audit.jsonl.json.0' && exit 0; sleep 0.1; done; exit 1"
check "sigil audit tail shows the applied resources" bash -c "'$sigil' audit tail | grep -q 'ServerWorkload/smoke-api'"
check "sigil audit verify proves the chain intact" "$sigil" audit verify
check "sigil get -o yaml output applies back unchanged" bash -c "'$sigil' get ServerWorkload smoke-api -o yaml >'$state/roundtrip.yaml' && '$sigil' apply -f '$state/roundtrip.yaml' | grep -qx 'ServerWorkload/smoke-api unchanged'"
check "sigil audit tail names who changed a resource" bash -c "'$sigil' audit tail | grep 'ServerWorkload/smoke-api' | grep -q 'by bootstrap-admin (admin)'"
check "sigil delete --dry-run deletes nothing" bash -c "'$sigil' delete ServerWorkload smoke-api --dry-run && '$sigil' get ServerWorkload smoke-api >/dev/null"
check "sigil delete -f removes the file's resources" bash -c "'$sigil' delete -f '$state/resources.yaml' && ! '$sigil' get ServerWorkload smoke-api >/dev/null 2>&1"
check "an invalid document is refused, naming the field" bash -c "! '$sigil' apply -f '$state/invalid.yaml' >'$state/invalid.out' 2>&1 && grep -q 'spec.scheme' '$state/invalid.out'"

# The Kubernetes edge-sidecar example's Sigil documents: trust-provider.sh against a stand-in kubectl that serves an
# issuer and a JWKS as the API server does, then the example's client workload, server workload and policy.
mkdir -p "$state/fake-kubectl"
python3 - "$state/fake-kubectl/jwks.json" <<'PY'
import base64, json, sys
from cryptography.hazmat.primitives.asymmetric import ec
numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
b64 = lambda n: base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()
json.dump({"keys": [{"kty": "EC", "crv": "P-256", "kid": "smoke", "use": "sig", "alg": "ES256",
                     "x": b64(numbers.x), "y": b64(numbers.y)}]}, open(sys.argv[1], "w"))
PY
cat >"$state/fake-kubectl/kubectl" <<KUBECTL
#!/bin/sh
case "\$3" in
  /.well-known/openid-configuration) echo '{"issuer":"https://kubernetes.default.svc.cluster.local"}' ;;
  /openid/v1/jwks) cat "$PWD/$state/fake-kubectl/jwks.json" ;;
  *) exit 1 ;;
esac
KUBECTL
chmod +x "$state/fake-kubectl/kubectl"
example=deploy/kubernetes/examples/edge-sidecar
check "the sidecar example's trust-provider.sh output applies" bash -c \
  "PATH='$PWD/$state/fake-kubectl':\$PATH $example/trust-provider.sh | '$sigil' apply -f - | grep -qx 'TrustProvider/this-cluster created'"
check "the sidecar example's credential provider (as its comment shows) applies" bash -c "'$sigil' apply -f - <<'DOC'
kind: CredentialProvider
metadata: {name: reports-api-key}
spec: {type: static, inject: header, header: X-API-Key, value: smoke-reports-key-0123456789}
DOC"
check "the sidecar example's sigil-resources.yaml applies" "$sigil" apply -f "$example/sigil-resources.yaml"
check "sigil policy explain names the policy that grants" bash -c \
  "'$sigil' policy explain --client billing --server reports | grep -q '^allow: access policy billing-reads-reports'"
check "a weekend deny overrides the allow on Saturday only; explain shows each check" bash -c "'$sigil' apply -f - <<'DOC' >/dev/null &&
kind: AccessPolicy
metadata: {name: no-weekend-reports}
spec:
  clientWorkload: billing
  serverWorkload: reports
  effect: deny
  conditions: {timeWindows: [{days: [sat, sun], from: '00:00', to: '24:00', timeZone: Europe/Berlin}]}
DOC
for i in \$(seq 50); do '$sigil' policy explain --client billing --server reports --at 2026-11-28T10:00:00Z > '$state/explain.out' && grep -q '^deny: denied-by-policy' '$state/explain.out' && break; sleep 0.1; done
grep -q '^deny: denied-by-policy' '$state/explain.out' && grep -q 'ok   timeWindows: expected sat,sun 00:00-24:00 Europe/Berlin, was sat 11:00 Europe/Berlin' '$state/explain.out' &&
'$sigil' policy explain --client billing --server reports --at 2026-11-25T10:00:00Z | grep -q '^allow: access policy billing-reads-reports'"

check "schemathesis finds no server error and no contract violation in any service's API" \
  Tools/scripts/api-contract.sh "$state"

pids=$(python3 -c "import json;print(' '.join(str(p['pid']) for p in json.load(open('$state/processes.json'))['processes']))")
check "dev down stops everything" "$sigil" dev down --state-directory "$state"
alive=""
for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
check "no process of ours is left (pids:$pids)" test -z "$alive"
check "PostgreSQL is stopped" test ! -e "$state/postgres/postmaster.pid"

echo "constellation: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
