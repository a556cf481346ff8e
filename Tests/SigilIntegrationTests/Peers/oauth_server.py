"""An OAuth 2.0 authorization server for the tests, built with authlib (PyPI) on Flask: the client-credentials grant
(RFC 6749 §4.4) with client_secret_basic and client_secret_post, scopes, and a count of the tokens it issued (and the
last one, for the tests to compare with what an upstream received).

Usage: oauth_server.py CLIENT_ID CLIENT_SECRET SCOPES EXPIRES_IN PORT_FILE; writes the port it listens on
(127.0.0.1) to PORT_FILE, then serves. GET /stats answers {"tokens": N, "last": {...form fields but the secret...}, "lastToken": ...}.
"""
import json
import os
import secrets
import sys
import threading

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

CLIENT_ID, CLIENT_SECRET, SCOPES, EXPIRES_IN = sys.argv[1], sys.argv[2], sys.argv[3].split(), int(sys.argv[4])
PORT_FILE = sys.argv[5]


class Client(ClientMixin):
    def get_client_id(self):
        return CLIENT_ID

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, CLIENT_SECRET)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials"


class ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


app = Flask(__name__)
app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"client_credentials": EXPIRES_IN}
app.config["OAUTH2_SCOPES_SUPPORTED"] = SCOPES  # any other scope asked for is a 400 invalid_scope
issued = {"tokens": 0, "last": {}}


def save_token(token, req):
    issued["tokens"] += 1
    issued["last"] = {k: v for k, v in request.form.items() if k != "client_secret"}
    issued["last"]["scope"] = token.get("scope", "")
    issued["lastToken"] = token["access_token"]  # for the tests to compare with what the upstream received


server = AuthorizationServer(app, query_client=lambda cid: Client() if cid == CLIENT_ID else None, save_token=save_token)
server.register_grant(ClientCredentials)


@app.route("/oauth/token", methods=["POST"])
def token():
    return server.create_token_response()


@app.route("/stats")
def stats():
    return jsonify(issued)


# Gone with the test: it holds our stdin open, and closes it (or dies) when done.
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
http = make_server("127.0.0.1", 0, app)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(http.server_port))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
http.serve_forever()
