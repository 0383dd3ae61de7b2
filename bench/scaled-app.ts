/**
 * A web process that says which instance (and process) answered, and a worker that idles: the app
 * tests/integration/scale.test.ts scales and bench/scale.ts times.
 */
export const SCALED_APP: Record<string, string> = {
  'hop3.toml': '[build]\nbuilder = "python"\n',
  Procfile: 'web: exec python3 server.py\nworker: exec python3 worker.py\n',
  'server.py': `import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"release": os.environ["HOP3_RELEASE"], "process": os.environ["HOP3_PROCESS"], "instance": os.environ["HOP3_INSTANCE"], "pid": os.getpid()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
`,
  'worker.py': 'import time\nwhile True:\n    time.sleep(60)\n',
};
