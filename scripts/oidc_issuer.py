#!/usr/bin/env python3
"""A local OpenID Connect issuer shaped like GitHub Actions' token service.

Serves, on 127.0.0.1 only:

* ``/.well-known/openid-configuration`` and ``/.well-known/jwks``, so OpenBao's
  JWT auth method can validate tokens through ``oidc_discovery_url``;
* ``/token?audience=AUD`` which, like ``$ACTIONS_ID_TOKEN_REQUEST_URL``,
  requires ``Authorization: bearer REQUEST_TOKEN`` and answers
  ``{"count": N, "value": JWT}``.

Tests can shape the minted token with extra query parameters: ``repository``,
``ref``, ``environment``, ``actor``, ``sub``, ``repository_owner``,
``job_workflow_ref``, ``event_name``, ``ref_type``, ``sha`` override claims;
``exp_offset`` and ``nbf_offset`` (seconds, may be negative) move ``exp`` and
``nbf`` relative to now; ``iss`` overrides the issuer claim (to test a
foreign issuer); ``kid`` overrides the header's key id.

Only the standard library is used; signatures come from ``openssl``. The
request token is read from a file (never from argv, which other users of the
machine can read).

usage: oidc_issuer.py --key KEY.pem --port PORT --request-token-file FILE
"""

import argparse
import base64
import json
import subprocess
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_CLAIMS = {
    "repository": "acme/release-tool",
    "repository_owner": "acme",
    "ref": "refs/heads/main",
    "ref_type": "branch",
    "environment": "release",
    "actor": "octocat",
    "sha": "0123456789abcdef0123456789abcdef01234567",
    "event_name": "push",
    "workflow": "release",
    "job_workflow_ref": "acme/release-tool/.github/workflows/release.yml@refs/heads/main",
}
OVERRIDABLE = set(DEFAULT_CLAIMS) | {"sub"}
DEFAULT_AUDIENCE = "https://github.com/acme"
KEY_ID = "windlass-test-key"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key_path: str) -> dict:
    out = subprocess.check_output(
        ["openssl", "rsa", "-in", key_path, "-noout", "-modulus"],
        stderr=subprocess.DEVNULL,
    )
    modulus = out.decode().strip().split("=", 1)[1]
    return {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": KEY_ID,
        "n": b64url(bytes.fromhex(modulus)),
        "e": "AQAB",
    }


class Issuer:
    def __init__(self, key_path: str, port: int, request_token: str):
        self.key_path = key_path
        self.url = f"http://127.0.0.1:{port}"
        self.request_token = request_token
        self.jwks = {"keys": [public_jwk(key_path)]}
        self.issued = 0

    def discovery(self) -> dict:
        return {
            "issuer": self.url,
            "jwks_uri": self.url + "/.well-known/jwks",
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "scopes_supported": ["openid"],
            "claims_supported": sorted(OVERRIDABLE | {"aud", "iss", "exp", "iat", "nbf"}),
        }

    def mint(self, query: dict) -> str:
        now = int(time.time())
        claims = dict(DEFAULT_CLAIMS)
        for name in OVERRIDABLE:
            if name in query:
                claims[name] = query[name]
        if "repository" in query and "repository_owner" not in query:
            claims["repository_owner"] = query["repository"].split("/", 1)[0]
        claims.setdefault(
            "sub", f"repo:{claims['repository']}:environment:{claims['environment']}"
        )
        body = {
            "iss": query.get("iss", self.url),
            "aud": query.get("audience", DEFAULT_AUDIENCE),
            "iat": now,
            "nbf": now + int(query.get("nbf_offset", "-5")),
            "exp": now + int(query.get("exp_offset", "300")),
            "jti": f"windlass-{now}-{self.issued}",
            **claims,
        }
        self.issued += 1
        header = {"alg": "RS256", "typ": "JWT", "kid": query.get("kid", KEY_ID)}
        signing_input = (
            b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(body).encode())
        )
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.key_path, "-binary"],
            input=signing_input.encode(),
            capture_output=True,
            check=True,
        ).stdout
        return signing_input + "." + b64url(signature)


def handler_for(issuer: Issuer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # keep request tokens out of logs
            pass

        def reply(self, code: int, obj: dict) -> None:
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 (http.server's naming)
            url = urllib.parse.urlparse(self.path)
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                return self.reply(200, issuer.discovery())
            if url.path == "/.well-known/jwks":
                return self.reply(200, issuer.jwks)
            if url.path == "/health":
                return self.reply(200, {"ok": True})
            if url.path == "/token":
                scheme, _, presented = self.headers.get("Authorization", "").partition(" ")
                if scheme.lower() != "bearer" or presented != issuer.request_token:
                    return self.reply(401, {"message": "Bad credentials"})
                try:
                    token = issuer.mint(query)
                except ValueError:
                    return self.reply(400, {"message": "bad offset"})
                return self.reply(200, {"count": issuer.issued, "value": token})
            return self.reply(404, {"message": "Not Found"})

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="RSA private key (PEM)")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--request-token-file", required=True)
    args = parser.parse_args()
    with open(args.request_token_file, encoding="utf-8") as f:
        request_token = f.read().strip()
    if not request_token:
        print("oidc_issuer: empty request token file", file=sys.stderr)
        return 2
    issuer = Issuer(args.key, args.port, request_token)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(issuer))
    print(f"oidc_issuer: serving {issuer.url}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
