#!/usr/bin/env bash
# `make bench`: the edge beside its anchor, nginx, in one run on this machine, then a table with ratios.
#   1. cached path: wrk through the edge vs through nginx (proxy_pass + proxy_set_header, keep-alive upstream) vs
#      direct, to one nginx upstream that answers 200 only with the right key; 16 and 64 connections, and 1
#      connection for the latency a hop adds when nothing queues. 1b: the same to the upstream over HTTPS (TLS the
#      edge, and nginx with proxy_ssl_verify and session reuse, originate; plain HTTP from wrk to the proxy).
#   2. cold flow: requests that need a new credential (attest -> policy -> issue over the broker), serial with a
#      fresh workload token each, and 100 at once (one per server workload).
#   3. 1,000 concurrent cold requests for one workload: access requests published (single flight: must be 1).
#   4. 1 GiB up and 1 GiB down through the edge and through nginx: throughput and the edge's RSS growth.
#   5. the edge's idle RSS and threads (nginx's beside it).
#   6. audit: 200,000 signed records ingested (checked, chained, stored) per second, with the CPU each process spent
#      per record; a syslog log stream's delivery to rsyslog over TCP beside the same number of messages written
#      straight to a second rsyslog.
#   7. attestation: service-account tokens (ES256, RS256) verified per second on one core by sigil-attest's verifier,
#      beside PyJWT verifying the same tokens with the same checks.
#   8. policy: decisions among 10, 1,000 and 10,000 policies (time windows, source networks, trust providers, weekend
#      denies) by the policy service's engine and by Cedar through cedarpy, both in process on one core.
#   9. databases: pgbench select-only through the edge's PostgreSQL listener (a postgres-dynamic lease) beside pgbench
#      straight to the same PostgreSQL, through nginx's stream proxy (a plain TCP relay, one worker: what any hop
#      costs on this machine) and through bench/splice_relay.c (the relay the kernel does once logged in: the floor
#      of any hop); 1 and 8 clients; connection setup per connection with the lease held (pgbench -C), and
#      the first connection after the lease was revoked (a new lease: the access flow and CREATE ROLE).
# Release build; the constellation runs from it with `sigil dev up` (mock broker, throwaway PostgreSQL). The edge
# runs one proxy thread (SIGIL_EDGE_THREADS=1), as nginx runs one worker.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"

DURATION=${BENCH_DURATION:-10}
KEY="bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
DIR=$(mktemp -d /tmp/sigil-bench.XXXXXX)
SHM=$(mktemp -d /dev/shm/sigil-bench.XXXXXX)
STATE=.sigil/bench
UPSTREAM=18080
ANCHOR=18081
UPSTREAM_TLS=18443
ANCHOR_TLS=18082
COLD_BASE=18100
COLD_COUNT=100
RSYSLOG=18514
AUDIT_EVENTS=${BENCH_AUDIT_EVENTS:-200000}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # 1,000 concurrent connections in step 3

Tools/scripts/install-deps.sh bench
echo "==> swift build -c release"
swift build -c release 2>&1 | tail -1
BIN=.build/release

cleanup() {
  "$BIN/sigil" dev down --state-directory "$STATE" >/dev/null 2>&1 || true
  for pidfile in "$DIR"/*.pid "$DIR"/*.pid.bench; do [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true; done
  rm -rf "$DIR" "$SHM"
}
trap cleanup EXIT

# --- nginx: the upstream (answers 200 only with the key) and the anchor proxy, one worker each -------------------
mkdir -p "$DIR/www" "$DIR/tmp" "$DIR/tls"
# The upstream's HTTPS certificate (for localhost and 127.0.0.1) from a CA made here; both proxies verify it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=bench CA" \
  -keyout "$DIR/tls/ca.key" -out "$DIR/tls/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$DIR/tls/server.key" -out "$DIR/tls/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$DIR/tls/ext.cnf"
openssl x509 -req -in "$DIR/tls/server.csr" -CA "$DIR/tls/ca.pem" -CAkey "$DIR/tls/ca.key" -CAcreateserial \
  -days 2 -extfile "$DIR/tls/ext.cnf" -out "$DIR/tls/server.pem" 2>/dev/null
truncate -s 1G "$DIR/www/big.bin"
cold_listens=""
for ((i = 0; i < COLD_COUNT; i++)); do cold_listens+="    listen 127.0.0.1:$((COLD_BASE + i));"$'\n'; done
common="daemon off; master_process off; worker_processes 1; worker_rlimit_nofile 65536;
events { worker_connections 16384; }"
temps="client_body_temp_path $DIR/tmp/body; proxy_temp_path $DIR/tmp/proxy; fastcgi_temp_path $DIR/tmp/fcgi;
  uwsgi_temp_path $DIR/tmp/uwsgi; scgi_temp_path $DIR/tmp/scgi;"
cat > "$DIR/upstream.conf" <<CONF
$common
pid $DIR/upstream-nginx.pid;
http {
  access_log off; $temps
  default_type text/plain; keepalive_requests 10000000; keepalive_timeout 300s; client_max_body_size 0;
  server {
    listen 127.0.0.1:$UPSTREAM;
    listen 127.0.0.1:$UPSTREAM_TLS ssl;
    ssl_certificate $DIR/tls/server.pem; ssl_certificate_key $DIR/tls/server.key; ssl_protocols TLSv1.2 TLSv1.3;
$cold_listens
    # Uploads are written to tmpfs (WebDAV PUT): nginx reads the whole body before answering, so the figure is the
    # proxy's forwarding, not an early answer.
    location /upload/ {
      if (\$http_x_api_key != "$KEY") { return 401; }
      dav_methods PUT; create_full_put_path on; root $SHM; client_body_temp_path $SHM/tmp;
    }
    location = /big.bin { if (\$http_x_api_key != "$KEY") { return 401; } root $DIR/www; }
    location / { if (\$http_x_api_key != "$KEY") { return 401; } return 200 "ok\n"; }
  }
}
CONF
cat > "$DIR/anchor.conf" <<CONF
$common
pid $DIR/anchor-nginx.pid;
http {
  access_log off; $temps
  keepalive_requests 10000000; keepalive_timeout 300s; client_max_body_size 0;
  upstream backend { server 127.0.0.1:$UPSTREAM; keepalive 64; }
  upstream backend_tls { server 127.0.0.1:$UPSTREAM_TLS; keepalive 64; }
  server {
    listen 127.0.0.1:$ANCHOR;
    location / {
      proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header X-API-Key "$KEY"; proxy_request_buffering off; proxy_buffering off;
    }
  }
  server {
    listen 127.0.0.1:$ANCHOR_TLS;
    location / {
      proxy_pass https://backend_tls; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_verify on; proxy_ssl_trusted_certificate $DIR/tls/ca.pem; proxy_ssl_name localhost;
      proxy_ssl_server_name on; proxy_ssl_session_reuse on;
      proxy_set_header X-API-Key "$KEY"; proxy_request_buffering off; proxy_buffering off;
    }
  }
}
CONF
for name in upstream anchor; do
  nginx -p "$DIR" -c "$DIR/$name.conf" -e "$DIR/$name-error.log" & echo $! > "$DIR/$name.pid"
done
sleep 0.5
curl -fsS -H "X-API-Key: $KEY" "http://127.0.0.1:$UPSTREAM/" >/dev/null
curl -fsS "http://127.0.0.1:$ANCHOR/" >/dev/null
curl -fsS "http://127.0.0.1:$ANCHOR_TLS/" >/dev/null
curl -fsS --cacert "$DIR/tls/ca.pem" -H "X-API-Key: $KEY" "https://localhost:$UPSTREAM_TLS/" >/dev/null

# --- the constellation, from the release build ---------------------------------------------------------------------
start_constellation() {  # fetch-wait-ms
  "$BIN/sigil" dev down --state-directory "$STATE" >/dev/null 2>&1 || true
  SIGIL_KAFKA_FETCH_WAIT_MAX_MS=$1 SIGIL_EDGE_THREADS=1 SIGIL_LOG_LEVEL=warning \
    "$BIN/sigil" dev up --detach --state-directory "$STATE" >"$DIR/devup.log"
  EDGE_PID=$(python3 -c "import json; print([p['pid'] for p in json.load(open('$STATE/processes.json'))['processes'] if p['name']=='sigil-edge'][0])")
  PROXY=$(sed -n 's/^SIGIL_EDGE_PROXY=//p' "$STATE/env")
}
configure() {
  "$BIN/sigil-bench" setup --state-directory "$STATE" --upstream-port $UPSTREAM --cold-port-base $COLD_BASE \
    --cold-ports $COLD_COUNT --api-key "$KEY" --tls-port $UPSTREAM_TLS --tls-ca "$DIR/tls/ca.pem"
}
proc() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }
echo "==> sigil dev up (release; the mock broker's default fetch wait, 5 ms)"
start_constellation 5
sleep 2
EDGE_IDLE_RSS=$(proc "$EDGE_PID" VmRSS); EDGE_THREADS=$(proc "$EDGE_PID" Threads)
ANCHOR_RSS=$(proc "$(cat "$DIR/anchor.pid")" VmRSS)
configure

# --- 1. cached path --------------------------------------------------------------------------------------------------
printf 'wrk.path = "http://127.0.0.1:%s/"\n' "$UPSTREAM" > "$DIR/absolute.lua"
RESULTS="$DIR/results.txt"
run_wrk() {  # name connections args...
  local name=$1 connections=$2; shift 2
  echo "==> wrk $name, $connections connections, ${DURATION}s"
  wrk -t1 -c"$connections" -d"${DURATION}s" --latency "$@" > "$DIR/wrk-$name-$connections.txt"
  echo "wrk $name $connections $DIR/wrk-$name-$connections.txt" >> "$RESULTS"
}
for connections in 1 16 64; do
  run_wrk direct "$connections" -H "X-API-Key: $KEY" "http://127.0.0.1:$UPSTREAM/"
  run_wrk nginx "$connections" "http://127.0.0.1:$ANCHOR/"
  run_wrk edge "$connections" -s "$DIR/absolute.lua" "$PROXY/"
done
# 1b. HTTPS upstream: the proxies originate TLS (wrk speaks plain HTTP to them); direct is wrk's own TLS.
printf 'wrk.path = "http://127.0.0.1:%s/"\n' "$UPSTREAM_TLS" > "$DIR/absolute-tls.lua"
for connections in 1 16 64; do
  run_wrk tls-direct "$connections" -H "X-API-Key: $KEY" "https://127.0.0.1:$UPSTREAM_TLS/"
  run_wrk tls-nginx "$connections" "http://127.0.0.1:$ANCHOR_TLS/"
  run_wrk tls-edge "$connections" -s "$DIR/absolute-tls.lua" "$PROXY/"
done

# --- 4. streaming ----------------------------------------------------------------------------------------------------
# A first 1 GiB written to tmpfs is slower than the next ones (page allocation): one unmeasured upload first.
curl -sS -H "X-API-Key: $KEY" -T "$DIR/www/big.bin" -o /dev/null "http://127.0.0.1:$UPSTREAM/upload/warmup.bin"
rm -f "$SHM/upload/warmup.bin"
echo "==> 1 GiB up and down, edge"
before=$(proc "$EDGE_PID" VmRSS)
curl -sS -x "$PROXY" -T "$DIR/www/big.bin" -o /dev/null -w '%{http_code} %{speed_upload}\n' \
  "http://127.0.0.1:$UPSTREAM/upload/edge.bin" > "$DIR/up-edge.txt"
rm -f "$SHM/upload/edge.bin"
curl -sS -x "$PROXY" -o /dev/null -w '%{http_code} %{speed_download}\n' \
  "http://127.0.0.1:$UPSTREAM/big.bin" > "$DIR/down-edge.txt"
after=$(proc "$EDGE_PID" VmRSS)
echo "$before $after $(proc "$EDGE_PID" VmHWM)" > "$DIR/rss-edge.txt"
echo "==> 1 GiB up and down, direct"
curl -sS -H "X-API-Key: $KEY" -T "$DIR/www/big.bin" -o /dev/null -w '%{http_code} %{speed_upload}\n' \
  "http://127.0.0.1:$UPSTREAM/upload/direct.bin" > "$DIR/up-direct.txt"
rm -f "$SHM/upload/direct.bin"
curl -sS -H "X-API-Key: $KEY" -o /dev/null -w '%{http_code} %{speed_download}\n' \
  "http://127.0.0.1:$UPSTREAM/big.bin" > "$DIR/down-direct.txt"
echo "==> 1 GiB up and down, nginx"
curl -sS -T "$DIR/www/big.bin" -o /dev/null -w '%{http_code} %{speed_upload}\n' \
  "http://127.0.0.1:$ANCHOR/upload/nginx.bin" > "$DIR/up-nginx.txt"
rm -f "$SHM/upload/nginx.bin"
curl -sS -o /dev/null -w '%{http_code} %{speed_download}\n' \
  "http://127.0.0.1:$ANCHOR/big.bin" > "$DIR/down-nginx.txt"

# --- 9. PostgreSQL through the edge (a postgres-dynamic lease) beside PostgreSQL direct ------------------------------
# On the quiet constellation (5 ms fetch wait): at 1 ms its consumers poll the mock broker every millisecond and take
# CPU from pgbench and PostgreSQL. A new lease's access flow then waits for the mock's 5 ms fetches.
echo "==> databases: pgbench select-only through the edge and direct"
PGURL=$(sed -n 's/^SIGIL_POSTGRES_URL=//p' "$STATE/env")
PGPORT=$(python3 -c "import sys, urllib.parse as u; print(u.urlparse(sys.argv[1]).port)" "$PGURL")
PGDB=$(python3 -c "import sys, urllib.parse as u; print(u.urlparse(sys.argv[1]).path[1:])" "$PGURL")
LEASE_ADMIN_PASSWORD="bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
pgbench -i -s 10 -q "$PGURL" > "$DIR/pgbench-init.txt" 2>&1
psql "$PGURL" -v ON_ERROR_STOP=1 -q -c "CREATE ROLE bench_lease_admin LOGIN CREATEROLE PASSWORD '$LEASE_ADMIN_PASSWORD'" \
  -c "CREATE ROLE bench_reader" -c "GRANT SELECT ON pgbench_accounts, pgbench_branches, pgbench_tellers TO bench_reader" \
  -c "GRANT bench_reader TO bench_lease_admin WITH ADMIN OPTION"
cat > "$DIR/database.yaml" <<YAML
kind: ServerWorkload
metadata: {name: bench-db}
spec: {scheme: postgres, host: 127.0.0.1, port: $PGPORT, listenPort: 16432, sslmode: disable}
---
kind: CredentialProvider
metadata: {name: bench-lease}
spec:
  type: postgres-dynamic
  host: 127.0.0.1
  port: $PGPORT
  database: $PGDB
  sslmode: disable
  adminUser: bench_lease_admin
  adminPassword: $LEASE_ADMIN_PASSWORD
  grants: {roles: [bench_reader]}
---
kind: AccessPolicy
metadata: {name: billing-bench-db}
spec: {clientWorkload: billing, serverWorkload: bench-db, trustProvider: demo-cluster, credentialProvider: bench-lease}
YAML
(set -a; . "$STATE/env"; set +a; "$BIN/sigil" apply -f "$DIR/database.yaml" > "$DIR/database-apply.txt")
EDGE_DB="host=127.0.0.1 port=16432 user=billing dbname=$PGDB"
RELAY=16433
cat > "$DIR/stream.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off; master_process off; worker_processes 1; pid $DIR/stream-nginx.pid;
events { worker_connections 1024; }
stream { server { listen 127.0.0.1:$RELAY; proxy_pass 127.0.0.1:$PGPORT; } }
CONF
nginx -p "$DIR" -c "$DIR/stream.conf" -e "$DIR/stream-error.log" & echo $! > "$DIR/stream.pid"
on_port() {  # the PostgreSQL URL on another port
  python3 -c "import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(p._replace(netloc=p.netloc.replace(':' + str(p.port), ':' + sys.argv[2])).geturl())" "$PGURL" "$1"
}
RELAY_DB=$(on_port $RELAY)
SPLICE=16434
cc -O2 -o "$DIR/splice_relay" bench/splice_relay.c -lpthread
"$DIR/splice_relay" $SPLICE "$PGPORT" 2> "$DIR/splice-relay.log" & echo $! > "$DIR/splice.pid"
SPLICE_DB=$(on_port $SPLICE)
for _ in $(seq 1 100); do psql "$EDGE_DB" -w -Atc "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
pgbench_run() {  # name connection-string extra-args...
  local name=$1 target=$2; shift 2
  pgbench -n -S -T "$DURATION" "$@" "$target" > "$DIR/pgbench-$name.txt" 2>&1 || true
}
for clients in 1 8; do
  pgbench_run "direct-$clients" "$PGURL" -c "$clients" -j "$(( clients > 1 ? 2 : 1 ))"
  pgbench_run "nginx-$clients" "$RELAY_DB" -c "$clients" -j "$(( clients > 1 ? 2 : 1 ))"
  if kill -0 "$(cat "$DIR/splice.pid")" 2>/dev/null; then
    pgbench_run "splice-$clients" "$SPLICE_DB" -c "$clients" -j "$(( clients > 1 ? 2 : 1 ))"
  fi
  pgbench_run "edge-$clients" "$EDGE_DB" -c "$clients" -j "$(( clients > 1 ? 2 : 1 ))"
done
pgbench_run direct-connect "$PGURL" -C -c 1 -j 1
pgbench_run edge-connect "$EDGE_DB" -C -c 1 -j 1
# A new lease: revoke the held one; the edge's next connection is refused by the database (the role is gone), asks
# again, and gets a new lease (the access flow, then CREATE ROLE and its grants). Five times; the times in ms.
: > "$DIR/new-lease.txt"
for _ in 1 2 3 4 5; do
  lease=$(set -a; . "$STATE/env"; set +a; "$BIN/sigil" lease list | awk -F'\t' 'NR > 1 && $3 == "billing" { print $1; exit }')
  (set -a; . "$STATE/env"; set +a; "$BIN/sigil" lease revoke "$lease" >/dev/null)
  python3 -c "import subprocess, sys, time; t = time.monotonic(); subprocess.run(['psql', sys.argv[1], '-w', '-Atc', 'SELECT 1'], check=True, capture_output=True); print((time.monotonic() - t) * 1000)" "$EDGE_DB" >> "$DIR/new-lease.txt"
done
python3 -c "import subprocess, sys, time; t = time.monotonic(); subprocess.run(['psql', sys.argv[1], '-w', '-Atc', 'SELECT 1'], check=True, capture_output=True); print((time.monotonic() - t) * 1000)" "$EDGE_DB" > "$DIR/held-lease.txt"

# --- 2. and 3. cold flow and single flight ---------------------------------------------------------------------------
# The mock broker answers a fetch only when fetch.wait.max.ms ends (real Kafka answers as soon as data is there): a
# constellation with 1 ms, so a hop costs what it would on a broker, not the mock's wait. Its consumers then poll
# the mock every millisecond, which is why the cached path above ran on a quieter constellation.
echo "==> sigil dev up again (fetch wait 1 ms) for the cold flow"
start_constellation 1
configure
echo "==> cold flow"
"$BIN/sigil-bench" cold --state-directory "$STATE" --upstream-port $UPSTREAM --cold-port-base $COLD_BASE \
  --cold-ports $COLD_COUNT > "$DIR/cold.json"
echo "==> single flight"
"$BIN/sigil-bench" single-flight --state-directory "$STATE" --upstream-port $UPSTREAM > "$DIR/flight.json"
echo "==> a new edge in a tenant with 10,000 server workloads"
"$BIN/sigil-bench" edge-start --state-directory "$STATE" --upstream-port $UPSTREAM --resources 10000 > "$DIR/edge-start.json"

# --- 6. audit ingestion and syslog delivery --------------------------------------------------------------------------
for n in 1 2; do
  cat > "$DIR/rsyslog$n.conf" <<CONF
global(workDirectory="$DIR" maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" port="$((RSYSLOG + n - 1))" address="127.0.0.1")
template(name="bench$n" type="string" string="%msgid% %structured-data% %msg%\n")
action(type="omfile" file="$DIR/rsyslog$n.out" template="bench$n")
CONF
  rsyslogd -n -f "$DIR/rsyslog$n.conf" -i "$DIR/rsyslog$n.pid" & echo $! > "$DIR/rsyslog$n.pid.bench"
done
sleep 0.5
echo "==> audit: ${AUDIT_EVENTS} records ingested, then delivered to rsyslog"
"$BIN/sigil-bench" audit --state-directory "$STATE" --events "$AUDIT_EVENTS" --rsyslog-port $RSYSLOG \
  --rsyslog-output "$DIR/rsyslog1.out" --anchor-port $((RSYSLOG + 1)) --anchor-output "$DIR/rsyslog2.out" \
  > "$DIR/audit.json"

# --- 7. JWT evidence verification on one core, beside PyJWT -----------------------------------------------------------
echo "==> attestation: JWT verification per core (ES256, RS256), sigil and PyJWT"
mkdir -p "$DIR/verify"
taskset -c 0 "$BIN/sigil-bench" verify --output-directory "$DIR/verify" > "$DIR/verify.json"
taskset -c 0 python3 bench/pyjwt_verify.py "$DIR/verify" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["issuer"])' "$DIR/verify.json")" 3 \
  > "$DIR/verify-pyjwt.json"

# --- 8. policy decisions among 10, 1,000 and 10,000 policies, beside Cedar (cedarpy) -------------------------------------
echo "==> policy: decisions among 10, 1,000 and 10,000 policies, sigil's engine and Cedar"
taskset -c 0 "$BIN/sigil-bench" policy --policies 10 1000 10000 > "$DIR/policy.json"
taskset -c 0 python3 bench/cedar_decide.py 10,1000,10000 3 > "$DIR/policy-cedar.json"

# --- the table -------------------------------------------------------------------------------------------------------
python3 bench/table.py "$DIR" "$EDGE_IDLE_RSS" "$EDGE_THREADS" "$ANCHOR_RSS" "$DURATION" | tee "$DIR/table.md"
cp "$DIR/table.md" bench/latest.md
echo "(table also in bench/latest.md)"
