#!/usr/bin/env python3
"""Formats the figures of bench/run.sh as a Markdown table with ratios (edge / nginx)."""
import json
import os
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone

directory, edge_idle_rss, edge_threads, anchor_rss, duration = sys.argv[1:6]


def to_microseconds(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]


def wrk(name, connections):
    text = open(os.path.join(directory, f"wrk-{name}-{connections}.txt")).read()
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for percentile in ("50", "99"):
        result[f"p{percentile}"] = to_microseconds(re.search(rf"\s{percentile}%\s+(\S+)", text).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    result["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    result["errors"] = sum(int(g) for g in errors.groups()) if errors else 0
    return result


def first_line(name):
    return open(os.path.join(directory, name)).read().split()


machine = f"{platform.machine()}, {os.cpu_count()} cores, {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB"
nginx_version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().replace("nginx version: ", "")
print(f"## Edge benchmark — {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, {machine}, {nginx_version}\n")
print(f"wrk -t1 for {duration} s per row; edge and nginx each on one thread; upstream: nginx, one worker.\n")
print("### 1. Cached path (credential held by the edge; constellation at the mock broker's 5 ms fetch wait)\n")
print("| connections | path | req/s | p50 | p99 | non-2xx | socket errors | edge / nginx req/s | added p50 vs direct |")
print("|---|---|---|---|---|---|---|---|---|")
def cached_rows(prefix):
    for connections in (1, 16, 64):
        rows = {name: wrk(prefix + name, connections) for name in ("direct", "nginx", "edge")}
        for name in ("direct", "nginx", "edge"):
            row = rows[name]
            ratio = f"{row['rps'] / rows['nginx']['rps']:.2f}×" if name == "edge" else ""
            added = f"{row['p50'] - rows['direct']['p50']:+.0f} µs" if name != "direct" else ""
            print(
                f"| {connections} | {name} | {row['rps']:,.0f} | {row['p50']:.0f} µs | {row['p99']:.0f} µs | "
                f"{row['non2xx']} | {row['errors']} | {ratio} | {added} |"
            )


cached_rows("")
print("\n### 1b. Cached path to an HTTPS upstream (the edge and nginx originate TLS 1.3, verified, connections kept)\n")
print("| connections | path | req/s | p50 | p99 | non-2xx | socket errors | edge / nginx req/s | added p50 vs direct |")
print("|---|---|---|---|---|---|---|---|---|")
cached_rows("tls-")

cold = json.load(open(os.path.join(directory, "cold.json")))
print("\n### 2. Cold flow (new credential: attest → policy → issue over the broker; fetch wait 1 ms)\n")
print("| mode | requests | p50 | p90 | p99 | max | failures |")
print("|---|---|---|---|---|---|---|")
for mode, failures in (("serial", "serialFailures"), ("concurrent", "concurrentFailures")):
    s = cold[mode]
    label = "serial, fresh token each" if mode == "serial" else "100 at once, one per server workload"
    print(f"| {label} | {s['count']} | {s['p50']:.1f} ms | {s['p90']:.1f} ms | {s['p99']:.1f} ms | {s['max']:.1f} ms | {cold[failures]} |")

flight = json.load(open(os.path.join(directory, "flight.json")))
print("\n### 3. Single flight\n")
print("| concurrent cold requests, one workload | answered 200 | AccessRequested published |")
print("|---|---|---|")
print(f"| {flight['requests']:,} | {flight['ok']:,} | {flight['accessRequested']} |")

start = json.load(open(os.path.join(directory, "edge-start.json")))
print("\n### 3b. A new edge in a tenant with many resources (no anchor; target: ready within 1 s)\n")
print("| server workloads in the tenant | `sigil apply` of them | edge ready (/readyz) | edge knows all of them |")
print("|---|---|---|---|")
def ms(value):
    return "not within 60 s" if value is None else f"{value:,.0f} ms"
print(f"| {start['resources']:,} | {ms(start.get('applyMilliseconds'))} | {ms(start.get('readyMilliseconds'))} "
      f"| {ms(start.get('knowsAllMilliseconds'))} |")

print("\n### 4. Streaming 1 GiB (curl)\n")
before, after, peak = (int(v) for v in first_line("rss-edge.txt"))
print("| path | upload | download | edge / nginx (up, down) |")
print("|---|---|---|---|")
speeds = {}
for name in ("direct", "nginx", "edge"):
    up_status, up = first_line(f"up-{name}.txt")
    down_status, down = first_line(f"down-{name}.txt")
    speeds[name] = (float(up), float(down), up_status, down_status)
for name in ("direct", "nginx", "edge"):
    up, down, up_status, down_status = speeds[name]
    ratio = f"{up / speeds['nginx'][0]:.2f}×, {down / speeds['nginx'][1]:.2f}×" if name == "edge" else ""
    print(f"| {name} | {up / 2**20:,.0f} MiB/s ({up_status}) | {down / 2**20:,.0f} MiB/s ({down_status}) | {ratio} |")
print(f"\nEdge RSS before {before / 1024:.1f} MiB, after {after / 1024:.1f} MiB (growth {(after - before) / 1024:+.1f} MiB), peak {peak / 1024:.1f} MiB.")

print("\n### 5. Idle footprint\n")
print("| process | RSS | threads |")
print("|---|---|---|")
print(f"| sigil-edge (idle, after start) | {int(edge_idle_rss) / 1024:.1f} MiB | {edge_threads} |")
print(f"| nginx anchor (one worker) | {int(anchor_rss) / 1024:.1f} MiB | 1 |")

audit = json.load(open(os.path.join(directory, "audit.json")))
print("\n### 6. Audit: ingestion and syslog delivery (anchor: rsyslog written to directly)\n")
print("| step | records | seconds | records/s | vs anchor |")
print("|---|---|---|---|---|")
print(f"| ingest: signature checked, chained, stored (sigil-audit) | {audit['events']:,} | {audit['ingestSeconds']:.2f} | {audit['ingestPerSecond']:,.0f} | |")
ratio = audit['deliveryPerSecond'] / audit['anchorPerSecond']
print(f"| syslog log stream → rsyslog, TCP, RFC 5424 (first record received to last; the new stream's first record came {audit['streamStartSeconds']:.2f} s after it was applied) | {audit['delivered']:,} delivered, {audit['lost']} lost | {audit['deliverySeconds']:.2f} | {audit['deliveryPerSecond']:,.0f} | {ratio:.2f}× |")
print(f"| anchor: same messages straight to rsyslog over one connection | {audit['events']:,} | {audit['anchorSeconds']:.2f} | {audit['anchorPerSecond']:,.0f} | |")
cpu = audit.get("ingestCPUMicroseconds", {})
if cpu.get("machine"):
    cores = os.cpu_count() or 1
    print(f"\nCPU per record ingested (from /proc, first record recorded to last), µs: sigil-audit {cpu['sigil-audit']:.1f}, "
          f"PostgreSQL {cpu['postgres']:.1f}, the bench's producer {cpu['producer']:.1f}, the broker {cpu['broker']:.1f}; "
          f"the whole machine {cpu['machine']:.1f}, so its {cores} cores allow at most "
          f"{cores * 1e6 / cpu['machine']:,.0f} records/s at this cost.")

verify = json.load(open(os.path.join(directory, "verify.json")))
anchor = json.load(open(os.path.join(directory, "verify-pyjwt.json")))
print("\n### 7. Attestation: JWT evidence verified per second on one core (anchor: PyJWT on OpenSSL; target ≥ 10,000/s)\n")
print("| algorithm | sigil-attest's verifier | PyJWT | sigil / PyJWT |")
print("|---|---|---|---|")
for algorithm in ("ES256", "RS256"):
    ours, theirs = verify["perSecond"][algorithm], anchor["perSecond"][algorithm]
    print(f"| {algorithm} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f}× |")

ours = json.load(open(os.path.join(directory, "policy.json")))
cedar = json.load(open(os.path.join(directory, "policy-cedar.json")))
print("\n### 8. Policy decisions on one core, in process (anchor: Cedar through cedarpy; targets: p99 < 20 µs at 10,000 policies, ≥ 10× Cedar)\n")
print("| policies | sigil p50 | sigil p99 | sigil decisions/s | Cedar p50 | Cedar p99 | Cedar decisions/s | Cedar p50 / sigil p50 |")
print("|---|---|---|---|---|---|---|---|")
for count in sorted(ours, key=int):
    o, c = ours[count], cedar[count]
    print(
        f"| {int(count):,} | {o['p50Microseconds']:.1f} µs | {o['p99Microseconds']:.1f} µs | {o['perSecond']:,.0f} | "
        f"{c['p50Microseconds']:,.1f} µs | {c['p99Microseconds']:,.1f} µs | {c['perSecond']:,.0f} | "
        f"{c['p50Microseconds'] / o['p50Microseconds']:,.0f}× |"
    )
print("\nEach allow checks the trust providers and an office-hours window in Europe/Berlin; every tenth pair has a weekend")
print("deny. Sigil works the local time out of the instant; Cedar (no time zones) is handed the local weekday and minute.")
print("Cedar's figure includes cedarpy's Python-to-Rust call; it weighs every policy, Sigil's engine only the pair's.")

def pgbench(name):
    text = open(os.path.join(directory, f"pgbench-{name}.txt")).read()
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", text) or re.search(r"tps = ([0-9.]+)", text)
    latency = re.search(r"latency average = ([0-9.]+) ms", text)
    failed = re.search(r"number of failed transactions: ([0-9]+)", text)
    return (float(tps.group(1)) if tps else 0.0, float(latency.group(1)) if latency else 0.0,
            int(failed.group(1)) if failed else -1)

print("\n### 9. PostgreSQL through the edge (postgres-dynamic lease) beside PostgreSQL direct, nginx's stream proxy and a kernel-spliced relay (pgbench -S; target ≥ 0.9× direct)\n")
print("| clients | path | TPS | latency avg | failed | / direct | edge / nginx stream |")
print("|---|---|---|---|---|---|---|")
spliced = os.path.exists(os.path.join(directory, "pgbench-splice-1.txt"))
for clients in (1, 8):
    direct = pgbench(f"direct-{clients}")
    relay = pgbench(f"nginx-{clients}")
    edge = pgbench(f"edge-{clients}")
    rows = [("direct", direct), ("nginx stream (TCP relay, one worker)", relay)]
    if spliced:
        rows.append(("kernel-spliced relay (sockmap once logged in: the floor of any hop)", pgbench(f"splice-{clients}")))
    for label, row in rows + [("through the edge", edge)]:
        versus = f"{row[0] / direct[0]:.2f}×" if label != "direct" and direct[0] else ""
        anchor = f"{edge[0] / relay[0]:.2f}×" if label == "through the edge" and relay[0] else ""
        print(f"| {clients} | {label} | {row[0]:,.0f} | {row[1]:.3f} ms | {row[2]} | {versus} | {anchor} |")
if not spliced:
    print("\n(The kernel-spliced relay did not run: BPF needs CAP_BPF and CAP_NET_ADMIN; see splice-relay.log.)")
direct_connect = pgbench("direct-connect")
edge_connect = pgbench("edge-connect")
print("\n| connection setup | per connection | |")
print("|---|---|---|")
print(f"| direct (pgbench -C, SCRAM, one query) | {direct_connect[1]:.2f} ms | |")
print(f"| through the edge, lease held (pgbench -C) | {edge_connect[1]:.2f} ms | {edge_connect[1] / direct_connect[1] if direct_connect[1] else 0:.2f}× direct |")
times = sorted(float(line) for line in open(os.path.join(directory, "new-lease.txt")) if line.strip())
held = [float(line) for line in open(os.path.join(directory, "held-lease.txt")) if line.strip()]
if times:
    print(f"| psql, first connection after the lease was revoked (new lease: access flow + CREATE ROLE), median of {len(times)} | {times[len(times) // 2]:.1f} ms | psql with the lease held: {held[0] if held else 0:.1f} ms |")
