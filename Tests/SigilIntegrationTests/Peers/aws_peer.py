"""AWS for the tests: STS (moto's server, in process) that, as AWS does for an IAM OIDC identity provider, verifies the
web identity token (PyJWT, against the JWKS named by the issuer's discovery document) before AssumeRoleWithWebIdentity,
and an API that accepts only requests signed with SigV4 by credentials STS issued: each signature recomputed with
botocore's signer (SigV4Auth, S3SigV4Auth for s3) over the same request, and the payload hash checked.

Usage: aws_peer.py ACCOUNT_ID TRUSTED_ISSUER_PREFIX AUDIENCE PORT_FILE; writes "STS_PORT API_PORT" to PORT_FILE.
STS: GET /__stats answers {"assumed": N, "refused": N, "last": {"sub", "aud", "sessionName", "duration"}}.
API: any request; 200 {"verified": true, "arn", "service", "method", "path", "bodyBytes"} or 403 {"error", ...}.
"""
import datetime
import hashlib
import hmac
import io
import json
import os
import sys
import threading
from urllib.parse import parse_qs

import jwt
import requests
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.moto_server.werkzeug_app import create_backend_app
from moto.sts.models import sts_backends
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

ACCOUNT, TRUSTED, AUDIENCE, PORT_FILE = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
stats = {"assumed": 0, "refused": 0, "last": {}}
moto_sts = create_backend_app("sts")


def sts_error(code, message):
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>sigil-test</RequestId></ErrorResponse>"
    )
    return Response(body, status=400, content_type="text/xml")


def verify_token(token):
    """What STS does with a web identity token: a trusted issuer, its key from the JWKS, audience, expiry."""
    issuer = jwt.decode(token, options={"verify_signature": False}).get("iss", "")
    if not issuer.startswith(TRUSTED):
        raise jwt.InvalidIssuerError(f"issuer {issuer} is not a registered identity provider")
    discovery = requests.get(issuer + "/.well-known/openid-configuration", timeout=5).json()
    key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["ES256", "RS256"], audience=AUDIENCE, issuer=issuer)


def sts(environ, start_response):
    request = Request(environ)
    if request.path == "/__stats":
        return Response(json.dumps(stats), content_type="application/json")(environ, start_response)
    # Read here, then handed to moto again (a WSGI body is read once).
    data = request.get_data()
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(data), str(len(data))
    form = {name: values[0] for name, values in parse_qs(data.decode(), keep_blank_values=True).items()}
    if form.get("Action") == "AssumeRoleWithWebIdentity":
        try:
            claims = verify_token(form.get("WebIdentityToken", ""))
        except Exception as error:  # noqa: BLE001 — any failure is STS's InvalidIdentityToken
            stats["refused"] += 1
            return sts_error("InvalidIdentityToken", f"the token was refused: {type(error).__name__}")(
                environ, start_response)
        duration = int(form.get("DurationSeconds", "3600"))
        if not 900 <= duration <= 43200:
            stats["refused"] += 1
            return sts_error("ValidationError", "DurationSeconds must be between 900 and 43200")(
                environ, start_response)
        stats["assumed"] += 1
        stats["last"] = {"sub": claims["sub"], "aud": claims["aud"], "sessionName": form.get("RoleSessionName"),
                         "duration": duration}
    return moto_sts(environ, start_response)


def assumed(access_key_id):
    return sts_backends[ACCOUNT]["aws"].get_assumed_role_from_access_key(access_key_id)


def api(environ, start_response):
    request = Request(environ)
    body = request.get_data()

    def refuse(error, **details):
        return Response(json.dumps({"error": error, **details}), status=403, content_type="application/json")(
            environ, start_response)

    authorization = request.headers.get("Authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return refuse("MissingAuthenticationToken")
    fields = dict(part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 "):].split(","))
    access_key_id, day, region, service, _ = fields["Credential"].split("/")
    role = assumed(access_key_id)
    if role is None:
        return refuse("InvalidClientTokenId")
    if request.headers.get("X-Amz-Security-Token") != role.session_token:
        return refuse("InvalidToken")
    amz_date = request.headers.get("X-Amz-Date", "")
    moment = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    if abs((datetime.datetime.now(datetime.timezone.utc) - moment).total_seconds()) > 900:
        return refuse("RequestTimeTooSkewed")
    claimed = request.headers.get("X-Amz-Content-SHA256")
    if claimed not in (None, "UNSIGNED-PAYLOAD") and claimed != hashlib.sha256(body).hexdigest():
        return refuse("XAmzContentSHA256Mismatch")
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed:
        return refuse("SignatureDoesNotMatch", reason="host is not signed")
    url = "http://" + request.headers["Host"] + environ.get("RAW_URI", request.full_path.rstrip("?"))
    replay = AWSRequest(method=request.method, url=url, data=body,
                        headers={name: request.headers[name] for name in signed if name in request.headers})
    replay.context["timestamp"] = amz_date
    signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(
        Credentials(access_key_id, role.secret_access_key, role.session_token), service, region)
    canonical = signer.canonical_request(replay)
    expected = signer.signature(signer.string_to_sign(replay, canonical), replay)
    if not hmac.compare_digest(expected, fields["Signature"]):
        return refuse("SignatureDoesNotMatch", canonical=canonical)
    answer = {"verified": True, "arn": role.arn, "service": service, "region": region, "method": request.method,
              "path": request.path, "bodyBytes": len(body), "signedHeaders": signed}
    return Response(json.dumps(answer), content_type="application/json")(environ, start_response)


# Gone with the test: it holds our stdin open, and closes it (or dies) when done.
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
servers = [make_server("127.0.0.1", 0, sts, threaded=True), make_server("127.0.0.1", 0, api, threaded=True)]
for server in servers:
    threading.Thread(target=server.serve_forever, daemon=True).start()
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(" ".join(str(server.server_port) for server in servers))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
threading.Event().wait()
