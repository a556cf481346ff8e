#!/usr/bin/env python3
"""The anchor of `sigil-bench policy`: Cedar (cedarpy, in process) deciding the same requests over the same policies
on one core. Each allow: the client may reach its server when "cluster" vouched, it is a weekday, 09:00-17:00, and
the request comes from 10.0.0.0/8 (Cedar's ipaddr extension);
every tenth pair also a weekend forbid. Cedar has no time zones: the request's context carries the weekday and minute
already in Europe/Berlin time (Sigil's engine works them out from the instant). Policies and entities are parsed once
(cedarpy.PolicySet, Entities); only `is_authorized` is timed. Prints JSON."""
import json
import sys
import time

import cedarpy

counts = [int(value) for value in sys.argv[1].split(",")]
seconds = float(sys.argv[2])
results = {}
for count in counts:
    text = []
    for pair in range(count):
        text.append(
            f'@id("p{pair}") permit(principal == Client::"c{pair}", action == Action::"access", '
            f'resource == Server::"s{pair}") when {{ context.trustProviders.contains("cluster") && '
            f"context.weekday >= 1 && context.weekday <= 5 && context.minute >= 540 && context.minute < 1020 && "
            f'context.source.isInRange(ip("10.0.0.0/8")) }};'
        )
        if pair % 10 == 0:
            text.append(
                f'@id("d{pair}") forbid(principal == Client::"c{pair}", action == Action::"access", '
                f'resource == Server::"s{pair}") when {{ context.weekday == 0 || context.weekday == 6 }};'
            )
    policies = cedarpy.PolicySet.from_str("\n".join(text))
    entities = cedarpy.Entities.from_json_str("[]")
    # Wednesday 11:00 in Berlin, as Sigil's bench decides at 2026-11-25T10:00:00Z.
    context = {
        "trustProviders": ["cluster"], "weekday": 3, "minute": 660,
        "source": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}},
    }
    durations, granted, index = [], 0, 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(100):
            pair = (index * 7919) % count
            index += 1
            request = {
                "principal": f'Client::"c{pair}"', "action": 'Action::"access"', "resource": f'Server::"s{pair}"',
                "context": context,
            }
            before = time.perf_counter_ns()
            result = cedarpy.is_authorized(request, policies, entities)
            durations.append(time.perf_counter_ns() - before)
            granted += result.decision == cedarpy.Decision.Allow
    total = time.perf_counter() - started
    durations.sort()
    results[str(count)] = {
        "decisions": len(durations), "granted": granted, "perSecond": len(durations) / total,
        "p50Microseconds": durations[len(durations) // 2] / 1000,
        "p99Microseconds": durations[min(len(durations) - 1, int(len(durations) * 0.99))] / 1000,
    }
print(json.dumps(results, sort_keys=True))
