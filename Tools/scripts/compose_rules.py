#!/usr/bin/env python3
"""Rules docker-compose.yml must keep beyond the compose specification (run by deploy-check.sh).

usage: compose_rules.py COMPOSE_FILE ENV_FILE KNOWN_VARIABLES_FILE
- the services users scale publish no host port and have no fixed container or host name;
- only the gateway publishes a port, and on loopback;
- every ${VAR} the file interpolates is written by `sigil deploy init` (ENV_FILE is its output);
- every SIGIL_ variable a container is given is one something in Sigil reads (a typo would be ignored silently);
- no secret value is inlined: SIGIL_ variables whose names say key, token or password come from ${...};
- files mounted from the repository exist;
- every service that reaches Kafka does so as its role's own SCRAM user, with the password from .env;
- the broker's unauthenticated listeners listen on its loopback only.
"""
import os
import re
import sys

from ruamel.yaml import YAML

SCALABLE = ["sigil-attest", "sigil-policy", "sigil-issue", "sigil-audit"]
SECRET_NAME = re.compile(r"(KEY|TOKEN|PASSWORD|KEK|SECRET)$")


def main(compose_path, env_path, known_path):
    compose = YAML(typ="safe").load(open(compose_path))
    text = open(compose_path).read()
    generated = {line.split("=", 1)[0] for line in open(env_path) if "=" in line and not line.startswith("#")}
    known = set(open(known_path).read().split())
    failures = []
    services = compose["services"]
    for name in SCALABLE:
        service = services.get(name)
        if service is None:
            failures.append(f"{name}: missing")
            continue
        for field in ("ports", "container_name", "hostname"):
            if field in service:
                failures.append(f"{name}: has '{field}', so a second replica would collide (--scale {name}=2)")
    for name, service in services.items():
        for port in service.get("ports", []):
            if name != "sigil-gateway":
                failures.append(f"{name}: publishes {port}; only the gateway is published")
            elif not str(port).startswith("127.0.0.1:"):
                failures.append(f"{name}: publishes {port} on every interface, not loopback")
        environment = service.get("environment", {}) or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        for key, value in environment.items():
            if not key.startswith("SIGIL_"):
                continue
            if key not in known:
                failures.append(f"{name}: sets {key}, which nothing in Sigil reads")
            if SECRET_NAME.search(key) and not str(value).startswith("${"):
                failures.append(f"{name}: {key} is inlined; secrets come from .env (sigil deploy init)")
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("./") and not source.startswith("./deploy/secrets/"):
                if not os.path.exists(os.path.join(os.path.dirname(compose_path) or ".", source)):
                    failures.append(f"{name}: mounts {source}, which does not exist")
    for name, service in services.items():
        environment = service.get("environment", {}) or {}
        if "SIGIL_KAFKA_BROKERS" not in environment:
            continue
        role = name.removeprefix("sigil-")
        properties = str(environment.get("SIGIL_KAFKA_PROPERTIES", ""))
        expected = [
            "security.protocol=SASL_PLAINTEXT", "sasl.mechanism=SCRAM-SHA-512", f"sasl.username=sigil-{role}",
            f"sasl.password=${{SIGIL_KAFKA_PASSWORD_{role.upper()}:?",
        ]
        missing = [part for part in expected if part not in properties]
        if missing:
            failures.append(f"{name}: reaches Kafka without its own SCRAM user ({', '.join(missing)} missing)")
    kafka = services.get("kafka", {}).get("environment", {})
    protocols = dict(item.split(":", 1) for item in str(kafka.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "")).split(","))
    for listener in str(kafka.get("KAFKA_LISTENERS", "")).split(","):
        listener_name, _, address = listener.partition("://")
        if protocols.get(listener_name) == "PLAINTEXT" and not address.startswith("127.0.0.1:"):
            failures.append(f"kafka: the unauthenticated listener {listener_name} listens on {address or 'every interface'}")
        if protocols.get(listener_name) not in ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"):
            failures.append(f"kafka: listener {listener_name} has no security protocol in the map")
    interpolated = set(re.findall(r"(?<![$])[$][{]([A-Z0-9_]+)", text))  # $${...} is a literal dollar
    for variable in sorted(interpolated):
        if variable not in generated:
            failures.append(f"${{{variable}}} is interpolated but `sigil deploy init` does not write it")
    for failure in failures:
        print(f"not ok - {failure}")
    if failures:
        sys.exit(1)
    print(f"ok - compose rules: {len(services)} services, {len(SCALABLE)} scalable, "
          f"{len(interpolated)} variables from .env")


if __name__ == "__main__":
    main(*sys.argv[1:])
