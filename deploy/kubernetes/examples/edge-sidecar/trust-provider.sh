#!/bin/sh
# Prints the TrustProvider for this cluster's service-account issuer: its issuer URL and its JWKS, read from the API
# server (`kubectl get --raw`), and Sigil's audience. Pipe it to `sigil apply -f -`; run again after the cluster
# rotates its signing keys.
set -eu
issuer=$(kubectl get --raw /.well-known/openid-configuration | python3 -c 'import json,sys; print(json.load(sys.stdin)["issuer"])')
jwks=$(kubectl get --raw /openid/v1/jwks)
cat <<DOC
kind: TrustProvider
metadata:
  name: ${SIGIL_TRUST_PROVIDER_NAME:-this-cluster}
spec:
  type: kubernetes-service-account
  issuer: $issuer
  audiences: [sigil]
  allowedAlgorithms: [RS256, ES256]
  jwks: $jwks
DOC
