"""An HTTPS API that requires a client certificate (mutual TLS), built on Python's ssl module: it trusts only the CA
bundle it is given (Sigil's tenant CAs) and answers who the client certificate says the caller is.

Usage: mtls_upstream.py SERVER_CHAIN_PEM SERVER_KEY_PEM CLIENT_CA_PEM PORT_FILE; writes its port (127.0.0.1) to
PORT_FILE. GET any path: 200 {"spiffeID": <the certificate's URI SAN>, "subject": <its common name>, "path": ...}.
"""
import json
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHAIN, KEY, CLIENT_CA, PORT_FILE = sys.argv[1:5]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        certificate = self.connection.getpeercert() or {}
        uris = [value for kind, value in certificate.get("subjectAltName", ()) if kind == "URI"]
        names = [value for entry in certificate.get("subject", ()) for kind, value in entry if kind == "commonName"]
        body = json.dumps({"spiffeID": uris[0] if uris else None, "subject": names[0] if names else None,
                           "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(CHAIN, KEY)
context.verify_mode = ssl.CERT_REQUIRED
context.load_verify_locations(CLIENT_CA)
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
# Gone with the test: it holds our stdin open, and closes it (or dies) when done.
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
