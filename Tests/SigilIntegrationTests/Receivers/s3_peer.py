#!/usr/bin/env python3
"""The S3 side of the log-stream tests, with boto3/botocore against moto's S3 server:
  s3_peer.py create-bucket ENDPOINT BUCKET
  s3_peer.py records ENDPOINT BUCKET PREFIX      -> every object's key and gzip check, then one record id per line
  s3_peer.py sign METHOD URL PAYLOAD_HEX KEY_ID SECRET REGION UNIX_SECONDS  -> botocore's Authorization header
"""
import datetime
import gzip
import hashlib
import json
import sys
from unittest import mock

import boto3
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def client(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="AKIDSIGILTEST", aws_secret_access_key="secret")


command = sys.argv[1]
if command == "create-bucket":
    client(sys.argv[2]).create_bucket(Bucket=sys.argv[3])
elif command == "records":
    s3 = client(sys.argv[2])
    objects = s3.list_objects_v2(Bucket=sys.argv[3], Prefix=sys.argv[4]).get("Contents", [])
    for item in objects:
        if not item["Key"].endswith(".jsonl.gz"):
            sys.exit(f"unexpected key {item['Key']}")
        body = s3.get_object(Bucket=sys.argv[3], Key=item["Key"])["Body"].read()
        for line in gzip.decompress(body).decode("utf-8").splitlines():
            print(json.loads(line)["id"])
elif command == "sign":
    method, url, payload_hex, key_id, secret, region, seconds = sys.argv[2:9]
    payload = bytes.fromhex(payload_hex)
    request = AWSRequest(method=method, url=url, data=payload)
    request.headers["x-amz-content-sha256"] = hashlib.sha256(payload).hexdigest()
    moment = datetime.datetime.fromtimestamp(int(seconds), tz=datetime.timezone.utc)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=moment):
        botocore.auth.S3SigV4Auth(Credentials(key_id, secret), "s3", region).add_auth(request)
    print(request.headers["Authorization"])
