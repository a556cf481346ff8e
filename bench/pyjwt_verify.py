#!/usr/bin/env python3
"""The anchor of `sigil-bench verify`: PyJWT (with `cryptography`, OpenSSL underneath) verifying the same tokens with
the same checks (algorithm, signature, iss, aud, exp/nbf/iat required), on one core. Prints JSON."""
import json
import sys
import time

import jwt

directory, issuer, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
rates = {}
for algorithm in ("ES256", "RS256"):
    key = jwt.algorithms.get_default_algorithms()[algorithm].prepare_key(open(f"{directory}/{algorithm}.pem").read())
    tokens = open(f"{directory}/{algorithm}.tokens").read().split()
    options = {"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]}
    jwt.decode(tokens[0], key, algorithms=[algorithm], audience="sigil", issuer=issuer, options=options)
    verified, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for token in tokens:
            jwt.decode(token, key, algorithms=[algorithm], audience="sigil", issuer=issuer, options=options, leeway=30)
        verified += len(tokens)
    rates[algorithm] = verified / (time.perf_counter() - started)
print(json.dumps({"perSecond": rates}))
