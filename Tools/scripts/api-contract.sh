#!/usr/bin/env bash
# The API contract check of `make test`: schemathesis drives every service's admin API from the OpenAPI document it
# serves (coverage, fuzzing and stateful phases, every check but positive-data acceptance, see below) and must find
# nothing. Run against a constellation that `sigil dev up` started; the state directory holds its env file.
#
# positive_data_acceptance is left out on purpose: a schema-valid document that names a resource that does not exist
# (an AccessPolicy naming an unknown ClientWorkload) is answered 422 by design, which that check counts as a failure.
# Every 422 is still checked against the document (status, content type and schema).
set -euo pipefail
state="${1:?usage: api-contract.sh STATE_DIRECTORY}"
python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check schemathesis
setting() { grep "^$1=" "$state/env" | cut -d= -f2-; }

status=0
for service in ATTEST POLICY ISSUE AUDIT EDGE; do
  url=$(setting "SIGIL_${service}_URL")
  token=$(setting SIGIL_ADMIN_TOKEN)
  [ "$service" = EDGE ] && token=$(setting SIGIL_EDGE_ROLE_TOKEN)
  echo "==> schemathesis: sigil-${service,,} ($url/openapi.yaml)"
  if ! schemathesis --config-file "$(dirname "$0")/schemathesis.toml" run "$url/openapi.yaml" -H "Authorization: Bearer $token" \
    --checks all --exclude-checks positive_data_acceptance --max-examples "${SIGIL_CONTRACT_EXAMPLES:-30}" \
    --no-color >"$state/schemathesis-${service,,}.log" 2>&1; then
    status=1
    grep -E "^_{3,} |^- ST|^\[[0-9]{3}\]" "$state/schemathesis-${service,,}.log" | cut -c1-300 | head -40
  fi
  grep -E "^  [0-9]+ generated" "$state/schemathesis-${service,,}.log" | cut -c1-200 || true
done
exit $status
