#!/usr/bin/env bash
# Installs the Debian packages (and, for tests, the PyPI checkers) Sigil needs, if any is missing.
# Uses sudo when not root. Usage: install-deps.sh [run|test|bench]
set -euo pipefail

packages=(pkg-config librdkafka-dev zlib1g-dev libmaxminddb-dev postgresql curl)
case "${1:-run}" in
  test) packages+=(kcat rsyslog rsyslog-gnutls openssl nginx kubectl) ;;
  bench) packages+=(nginx libnginx-mod-stream wrk rsyslog postgresql-contrib gcc linux-libc-dev) ;;
esac

# Test peers and checkers from PyPI: schemathesis drives the APIs from their OpenAPI documents; ocsf-json-schema
# (the official OCSF schemas as JSON Schema) checks the OCSF log-stream format; moto's S3 server and boto3/botocore are
# the S3 log stream's peer and SigV4 reference; check-jsonschema (with the compose specification built in) and
# kubernetes-validate (the Kubernetes API's schemas) check the deployment files; mmdb-writer writes the geography
# tests' MaxMind-format database; PyJWT verifies minted JWTs against Sigil's JWKS; authlib (on Flask) is the OAuth 2.0
# authorization server of the client-credentials tests.
if [ "${1:-run}" = test ]; then
  python3 -c "import schemathesis, openapi_spec_validator, yaml, jsonschema, ocsf_json_schema, moto.server, boto3, \
check_jsonschema, kubernetes_validate, mmdb_writer, jwt, cryptography, authlib, flask" 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check schemathesis openapi-spec-validator pyyaml jsonschema \
      ocsf-json-schema 'moto[server]' boto3 check-jsonschema kubernetes-validate mmdb-writer 'pyjwt[crypto]' authlib flask
fi
# The anchors of the JWT verification and policy benchmarks.
if [ "${1:-run}" = bench ]; then
  python3 -c "import jwt, cryptography, cedarpy" 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check 'pyjwt[crypto]' cedarpy
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "missing packages ${missing[*]} and no sudo to install them" >&2; exit 1; }
  sudo="sudo"
fi
echo "==> installing ${missing[*]}"
$sudo apt-get update -qq
# The postgresql package must not start a system-wide cluster we do not use; our clusters are throwaway ones.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
