#!/usr/bin/env python3
"""Validates every line of a Sigil OCSF log stream file against the official OCSF 1.2.0 schema (as JSON Schema, from
the ocsf-json-schema package: required attributes, types, enums, no unknown attributes), for the class its class_uid
names. Prints the classes seen; exits 1 naming the first line that fails."""
import collections
import json
import sys

import jsonschema
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version="1.2.0"))
validators = {}
classes = collections.Counter()
with open(sys.argv[1], encoding="utf-8") as lines:
    for number, line in enumerate(lines, 1):
        event = json.loads(line)
        uid = event.get("class_uid")
        if uid not in validators:
            name = schema.lookup_class_name_from_uid(uid)
            validators[uid] = (name, jsonschema.Draft202012Validator(schema.get_class_schema(name)))
        name, validator = validators[uid]
        error = jsonschema.exceptions.best_match(validator.iter_errors(event))
        if error is not None:
            sys.exit(f"line {number}: not a valid OCSF 1.2.0 {name}: {error.message} at {list(error.absolute_path)}")
        classes[name] += 1
if not classes:
    sys.exit("no OCSF events to validate")
print(" ".join(f"{name}={count}" for name, count in sorted(classes.items())))
