#!/usr/bin/env bash
# Installs hop3, starts hop3-server on its embedded defaults (SQLite records, its own uWSGI
# emperor and nginx), deploys the two examples and prints their URLs.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
cd "$HOP3_ROOT"
export HOP3_HOME=${HOP3_HOME:-/var/lib/hop3}
mkdir -p "$HOP3_HOME/log"

if ! ./bin/hop3 apps >/dev/null 2>&1; then
  echo "-----> Starting hop3-server (log: $HOP3_HOME/log/hop3-server.log)" >&2
  nohup ./bin/hop3-server serve >>"$HOP3_HOME/log/hop3-server.log" 2>&1 &
  for _ in $(seq 1 100); do ./bin/hop3 apps >/dev/null 2>&1 && break; sleep 0.2; done
fi

for example in hello-wsgi static-site; do
  ./bin/hop3 deploy "examples/$example"
done
echo
./bin/hop3 apps
echo
for app in hello-wsgi static-site; do
  ./bin/hop3 status "$app" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const a=JSON.parse(s);for(const u of a.urls)console.log(`${a.name}: ${u}`)})'
done
cat <<EOT

Try:  curl http://hello-wsgi.localhost${HOP3_HTTP_PORT:+:$HOP3_HTTP_PORT}/
The client is $HOP3_ROOT/bin/hop3 (see README.md, "CLI reference"); stop everything with
$HOP3_ROOT/bin/hop3-server halt and kill \$(cat $HOP3_HOME/run/hop3-server.pid).
EOT
