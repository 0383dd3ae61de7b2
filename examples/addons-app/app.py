"""A WSGI app that keeps notes in PostgreSQL and counts visits in Redis.

It reaches them through the URLs hop3 gives it when addons are attached (DATABASE_URL,
REDIS_URL and REDIS_KEY_PREFIX), with Debian's python3-psycopg2 and python3-redis, which the
app's virtualenv sees (it is made with --system-site-packages).
"""
import json
import os


def _notes(body):
    import psycopg2

    with psycopg2.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text NOT NULL)")
        if body:
            cur.execute("INSERT INTO notes (body) VALUES (%s)", (body,))
        cur.execute("SELECT body FROM notes ORDER BY id")
        return [r[0] for r in cur.fetchall()]


def _visits():
    import redis

    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    # The ACL user may touch only the keys under its prefix.
    return r.incr(os.environ.get("REDIS_KEY_PREFIX", "") + "visits")


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]
    try:
        if path == "/notes":
            body = environ.get("QUERY_STRING", "")
            out = {"notes": _notes(body)}
        elif path == "/visits":
            out = {"visits": _visits()}
        else:
            out = {"addons": sorted(k for k in ("DATABASE_URL", "REDIS_URL", "MYSQL_URL") if k in os.environ)}
        status = "200 OK"
    except Exception as e:  # the test reads the reason
        out = {"error": type(e).__name__, "message": str(e).splitlines()[0] if str(e) else ""}
        status = "503 Service Unavailable"
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps(out).encode() + b"\n"]
