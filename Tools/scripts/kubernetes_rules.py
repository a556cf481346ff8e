#!/usr/bin/env python3
"""Rules the rendered Kubernetes manifests must keep beyond the Kubernetes schemas (run by deploy-check.sh).

usage: kubernetes_rules.py RENDERED_YAML KNOWN_VARIABLES_FILE [--external-postgres]
- every Sigil Deployment: liveness on /healthz, readiness on /readyz, requests and limits, non-root, read-only root
  filesystem, no privilege escalation, every capability dropped, its own ServiceAccount, a Service, a
  HorizontalPodAutoscaler and a PodDisruptionBudget;
- a default-deny NetworkPolicy covers every Sigil pod;
- no Secret is rendered (secrets are referenced, never inlined) and no secret-named variable has a literal value;
- every SIGIL_ variable a container is given is one something in Sigil reads;
- Strimzi KafkaTopic and KafkaUser objects match the Strimzi v1 CRD schemas (the fields and constraints below are
  transcribed from Strimzi's CustomResourceDefinitions, kafka.strimzi.io/v1);
- --external-postgres: the database URL comes whole from a Secret, and no in-cluster password is passed.
"""
import re
import sys

import jsonschema
from ruamel.yaml import YAML

SECRET_NAME = re.compile(r"(KEY|TOKEN|PASSWORD|KEK|SECRET)$")

OBJECT_META = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}}}
STRIMZI_SCHEMAS = {
    "KafkaTopic": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "kafka.strimzi.io/v1"},
            "metadata": OBJECT_META,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "partitions": {"type": "integer", "minimum": 1},
                    "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                    "config": {"type": "object"},
                    "topicName": {"type": "string"},
                },
            },
        },
    },
    "KafkaUser": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "kafka.strimzi.io/v1"},
            "metadata": OBJECT_META,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "userName": {"type": "string"},
                    "authentication": {
                        "type": "object",
                        "required": ["type"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"enum": ["tls", "tls-external", "scram-sha-512"]},
                            "password": {"type": "object"},
                        },
                    },
                    "authorization": {
                        "type": "object",
                        "required": ["acls", "type"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"enum": ["simple"]},
                            "acls": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["resource", "operations"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "type": {"enum": ["allow", "deny"]},
                                        "host": {"type": "string"},
                                        "resource": {
                                            "type": "object",
                                            "required": ["type"],
                                            "additionalProperties": False,
                                            "properties": {
                                                "name": {"type": "string"},
                                                "patternType": {"enum": ["literal", "prefix"]},
                                                "type": {"enum": ["topic", "group", "cluster", "transactionalId"]},
                                            },
                                        },
                                        "operations": {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": {"enum": ["Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction", "AlterConfigs", "DescribeConfigs", "IdempotentWrite", "All"]},
                                        },
                                    },
                                },
                            },
                        },
                    },
                    "quotas": {"type": "object"},
                    "template": {"type": "object"},
                },
            },
        },
    },
}


def get_path(probe):
    return ((probe or {}).get("httpGet") or {}).get("path")


def main(rendered, known_path, *flags):
    objects = [o for o in YAML(typ="safe").load_all(open(rendered)) if o]
    known = set(open(known_path).read().split())
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    failures = []
    if "Secret" in by_kind:
        failures.append(f"Secrets rendered (they must be referenced, not inlined): {sorted(by_kind['Secret'])}")
    deny = [p for p in by_kind.get("NetworkPolicy", {}).values()
            if set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"} and not p["spec"].get("ingress")
            and not p["spec"].get("egress")]
    sigil_deployments = {n: d for n, d in by_kind.get("Deployment", {}).items() if n.startswith("sigil-")}
    if not sigil_deployments:
        failures.append("no Sigil Deployment rendered")
    for name, deployment in sigil_deployments.items():
        pod = deployment["spec"]["template"]
        spec = pod["spec"]
        labels = pod["metadata"].get("labels", {})
        if not any(all(labels.get(k) == v for k, v in p["spec"]["podSelector"].get("matchLabels", {}).items()) for p in deny):
            failures.append(f"{name}: no default-deny NetworkPolicy selects its pods")
        if spec.get("securityContext", {}).get("runAsNonRoot") is not True:
            failures.append(f"{name}: pod does not set runAsNonRoot")
        account = spec.get("serviceAccountName")
        if account != name or account not in by_kind.get("ServiceAccount", {}):
            failures.append(f"{name}: does not run as its own ServiceAccount")
        for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
            if name not in by_kind.get(kind, {}):
                failures.append(f"{name}: has no {kind}")
        hpa = by_kind.get("HorizontalPodAutoscaler", {}).get(name)
        if hpa and hpa["spec"]["scaleTargetRef"]["name"] != name:
            failures.append(f"{name}: its HorizontalPodAutoscaler scales something else")
        for container in spec["containers"]:
            where = f"{name}/{container['name']}"
            if get_path(container.get("livenessProbe")) != "/healthz":
                failures.append(f"{where}: liveness probe is not /healthz")
            if get_path(container.get("readinessProbe")) != "/readyz":
                failures.append(f"{where}: readiness probe is not /readyz")
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(part, {})):
                    failures.append(f"{where}: resources.{part} lacks cpu or memory")
            context = container.get("securityContext", {})
            if context.get("allowPrivilegeEscalation") is not False:
                failures.append(f"{where}: privilege escalation not disabled")
            if context.get("readOnlyRootFilesystem") is not True:
                failures.append(f"{where}: root filesystem not read-only")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                failures.append(f"{where}: capabilities not all dropped")
            environment = {e["name"]: e for e in container.get("env", [])}
            for variable, entry in environment.items():
                if variable.startswith("SIGIL_") and variable not in known:
                    failures.append(f"{where}: sets {variable}, which nothing in Sigil reads")
                if SECRET_NAME.search(variable) and "value" in entry:
                    failures.append(f"{where}: {variable} has a literal value; secrets come from a Secret")
            if "--external-postgres" in flags:
                url = environment.get("SIGIL_POSTGRES_URL", {})
                if not url.get("valueFrom", {}).get("secretKeyRef"):
                    failures.append(f"{where}: SIGIL_POSTGRES_URL does not come from a Secret")
                if "POSTGRES_PASSWORD" in environment:
                    failures.append(f"{where}: still given the in-cluster database password")
    strimzi = 0
    for o in objects:
        schema = STRIMZI_SCHEMAS.get(o["kind"]) if o["apiVersion"].startswith("kafka.strimzi.io/") else None
        if schema:
            strimzi += 1
            for error in jsonschema.Draft202012Validator(schema).iter_errors(o):
                failures.append(f"{o['kind']}/{o['metadata']['name']}: {error.json_path}: {error.message}")
    for failure in failures:
        print(f"not ok - {failure}")
    if failures:
        sys.exit(1)
    print(f"ok - {len(objects)} objects, {len(sigil_deployments)} Sigil Deployments, {strimzi} Strimzi objects keep the rules")


if __name__ == "__main__":
    main(*sys.argv[1:])
