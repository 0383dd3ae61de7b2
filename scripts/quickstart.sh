#!/usr/bin/env bash
# Installs hop3, starts hop3-server on its embedded defaults (SQLite records, its own uWSGI
# emperor and nginx), deploys the two examples and prints their URLs.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
cd "$HOP3_ROOT"
export HOP3_HOME=${HOP3_HOME:-/var/lib/hop3}
# Idempotent and quick once everything is there: packages, the layout, the admin token, and
# (as root) the hop3 account and sudo rule for `git push hop3@HOST:APP`.
./bin/hop3-server setup
mkdir -p "$HOP3_HOME/log"

log="$HOP3_HOME/log/hop3-server.log"
if ! ./bin/hop3 apps >/dev/null 2>&1; then
  echo "-----> Starting hop3-server (log: $log)" >&2
  nohup ./bin/hop3-server serve >>"$log" 2>&1 &
  daemon=$!
  for _ in $(seq 1 100); do
    ./bin/hop3 apps >/dev/null 2>&1 && break
    kill -0 "$daemon" 2>/dev/null || break  # it exited: no use waiting
    sleep 0.2
  done
  if ! ./bin/hop3 apps >/dev/null 2>&1; then
    echo "-----> hop3-server did not come up; the end of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
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
Push over SSH: $HOP3_ROOT/bin/hop3-server ssh-key add ~/.ssh/id_ed25519.pub, then
      git push ${HOP3_SSH_USER:-hop3}@HOST:APP main (see README.md, "Deploying with git push").
The client is $HOP3_ROOT/bin/hop3 (see README.md, "CLI reference"); stop everything with
$HOP3_ROOT/bin/hop3-server halt and kill \$(cat $HOP3_HOME/run/hop3-server.pid).
EOT
