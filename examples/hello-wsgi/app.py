"""A WSGI app using only the standard library."""
import json
import os


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]
    body = {
        "app": os.environ.get("HOP3_APP"),
        "release": os.environ.get("HOP3_RELEASE"),
        "greeting": os.environ.get("GREETING", "hello from hop3"),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode() + b"\n"]
