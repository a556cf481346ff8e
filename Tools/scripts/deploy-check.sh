#!/usr/bin/env bash
# `make test`'s check of the deployment files (no Docker engine or Kubernetes cluster runs here, so they are
# validated, not run): docker-compose.yml against the compose specification and Sigil's own rules, the gateway's nginx
# configuration with `nginx -t`, the topic files against what `sigil deploy topics` generates, the init container's
# script against a stand-in kafka-topics.sh, and every Kustomize overlay rendered with kubectl and validated against the
# Kubernetes schemas (Strimzi objects against their CRDs' schemas).
set -euo pipefail
cd "$(dirname "$0")/../.."
sigil="${SIGIL_BIN:-.build/debug}/sigil"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
check() {  # check NAME COMMAND...
  local name="$1"
  shift
  if "$@" >"$work/out" 2>&1; then
    echo "ok - $name"
  else
    echo "not ok - $name"
    sed 's/^/    /' "$work/out"
    failed=1
  fi
}

# Every SIGIL_ variable something in Sigil reads (services, CLI, tools, the compose init scripts): the compose and
# manifest rules use it.
{ grep -rhoE '"SIGIL_[A-Z0-9_]+' Shared Services Tools | tr -d '"'; grep -ohE '[{]SIGIL_[A-Z0-9_]+' deploy/compose/*.sh | tr -d '{'; } \
  | sort -u >"$work/known-variables"
# What `sigil deploy init` writes, into a scratch directory.
check "sigil deploy init writes an env file and trust bundle" \
  "$sigil" deploy init --env-file "$work/init/.env" --secrets-directory "$work/init/secrets"
check "sigil deploy init refuses to overwrite them" \
  bash -c "! '$sigil' deploy init --env-file '$work/init/.env' --secrets-directory '$work/init/secrets'"
check "the env file is readable only by its owner" test "$(stat -c %a "$work/init/.env")" = 600

# docker compose
check "docker-compose.yml validates against the compose specification" \
  check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
check "docker-compose.yml keeps Sigil's rules (scalable services, secrets, variables)" \
  python3 Tools/scripts/compose_rules.py docker-compose.yml "$work/init/.env" "$work/known-variables"
mkdir -p "$work/nginx"
check "the gateway's nginx configuration passes nginx -t" \
  nginx -t -q -c "$PWD/deploy/compose/gateway.conf" -p "$work/nginx"

# Topics: the committed files are what the code generates.
check "deploy/compose/create-topics.sh is sigil deploy topics' output" \
  bash -c "'$sigil' deploy topics --format kafka-topics | diff -u deploy/compose/create-topics.sh -"
check "deploy/kubernetes/components/strimzi/topics.yaml is sigil deploy topics' output" \
  bash -c "'$sigil' deploy topics --format strimzi | diff -u deploy/kubernetes/components/strimzi/topics.yaml -"
cat >"$work/kafka-topics" <<'FAKE'
#!/bin/sh
echo "$*" >>"$CALLS"
FAKE
chmod +x "$work/kafka-topics"
CALLS="$work/calls" KAFKA_TOPICS="$work/kafka-topics" SIGIL_TOPIC_REPLICATION=1 SIGIL_TOPIC_MIN_INSYNC_REPLICAS=1 \
  sh deploy/compose/create-topics.sh >/dev/null
check "create-topics.sh creates every topic once, if not there" \
  test "$(grep -c -- '--create --if-not-exists' "$work/calls")" = "$(grep -c '^topic ' deploy/compose/create-topics.sh)"
check "create-topics.sh makes sigil.config compacted, kept forever, compacted within a day" \
  grep -q -- '--topic sigil.config --partitions 3 --replication-factor 1 --config min.insync.replicas=1 --config cleanup.policy=compact --config max.compaction.lag.ms=86400000 --config retention.ms=-1' "$work/calls"
check "create-topics.sh gives the access topics SIGIL_TOPIC_PARTITIONS partitions" \
  grep -q -- '--topic sigil.access.requests --partitions 12 ' "$work/calls"

# Kafka users: the committed files are what the code generates; the script, run against stand-in tools, makes one
# SCRAM user per role from the env file's passwords, and the edge may not write configuration or read decisions.
check "deploy/compose/kafka-users.sh is sigil deploy kafka-users' output" \
  bash -c "'$sigil' deploy kafka-users --format kafka-acls | diff -u deploy/compose/kafka-users.sh -"
check "deploy/kubernetes/components/strimzi/users.yaml is sigil deploy kafka-users' output" \
  bash -c "'$sigil' deploy kafka-users --format strimzi | diff -u deploy/kubernetes/components/strimzi/users.yaml -"
mkdir -p "$work/kafka-bin"
for tool in kafka-configs.sh kafka-acls.sh; do cp "$work/kafka-topics" "$work/kafka-bin/$tool"; done
: >"$work/acl-calls"
check "kafka-users.sh creates a user per role with the password from the env file" \
  bash -c "set -a; . '$work/init/.env'; set +a; CALLS='$work/acl-calls' KAFKA_BIN='$work/kafka-bin' sh deploy/compose/kafka-users.sh \
    && [ \$(grep -c -- '--entity-type users' '$work/acl-calls') = 5 ] \
    && grep -q -- \"--entity-name sigil-edge --add-config SCRAM-SHA-512=\[iterations=8192,password=\$SIGIL_KAFKA_PASSWORD_EDGE\]\" '$work/acl-calls'"
check "kafka-users.sh lets the edge write requests, lease releases and activity only" \
  bash -c "[ \"\$(grep -- 'User:sigil-edge' '$work/acl-calls' | grep -- '--operation Write' | grep -o -- '--topic [a-z.]*' | sort | tr '\n' ' ')\" = '--topic sigil.access.leases --topic sigil.access.requests --topic sigil.edge.activity ' ]"
check "kafka-users.sh refuses to run without a password" \
  bash -c "! env -i PATH=\"\$PATH\" CALLS=/dev/null KAFKA_BIN='$work/kafka-bin' sh deploy/compose/kafka-users.sh"

# Kubernetes: every overlay and the example rendered by kubectl's Kustomize, validated against the Kubernetes API's
# schemas (strict: unknown fields refused) and Sigil's rules; production once more with the Strimzi component.
k8s=deploy/kubernetes
mkdir -p "$work/strimzi"
cp -r "$k8s" "$work/strimzi/"
sed -i 's|^resources:|components:\n  - ../../components/strimzi\nresources:|' "$work/strimzi/kubernetes/overlays/production/kustomization.yaml"
for target in overlays/dev overlays/production examples/edge-sidecar strimzi; do
  directory="$k8s/$target"
  [ "$target" = strimzi ] && directory="$work/strimzi/kubernetes/overlays/production"
  rendered="$work/${target//\//-}.yaml"
  check "kubectl kustomize renders $target" bash -c "kubectl kustomize '$directory' >'$rendered'"
  check "$target validates against the Kubernetes schemas" \
    bash -c "kubernetes-validate --strict --quiet '$rendered' 2>&1 | grep -v \"Couldn't find schema for kind Kafka\" | (! grep .)"
  flags=""
  case "$target" in overlays/production | strimzi) flags="--external-postgres" ;; esac
  if [ "$target" != examples/edge-sidecar ]; then
    check "$target keeps Sigil's rules (probes, security contexts, autoscaling, policies, Strimzi CRD schemas)" \
      python3 Tools/scripts/kubernetes_rules.py "$rendered" "$work/known-variables" $flags
  fi
done
check "the Strimzi component renders every topic and one user per role" \
  bash -c "[ \$(grep -c '^kind: KafkaTopic' '$work/strimzi.yaml') = 10 ] && [ \$(grep -c '^kind: KafkaUser' '$work/strimzi.yaml') = 5 ]"
check "the edge-sidecar example's Sigil documents name the projected token's audience" \
  bash -c "grep -q 'audience: sigil' $k8s/examples/edge-sidecar/workload.yaml && grep -q 'audiences: \[sigil\]' $k8s/examples/edge-sidecar/trust-provider.sh"

exit $failed
