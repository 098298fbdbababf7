#!/usr/bin/env bash
# Quick start on a fresh Debian machine with Node and npm: installs what is missing
# (scripts/install-deps.sh: Redis, rsync, and what `npm test` needs), installs and builds pika-migrate, makes sure a Redis target answers on
# 127.0.0.1:6379 (starts one if none does), then runs the daemon with pika.conf.example.
# Extra arguments are passed to pika-migrate.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

npm ci --no-audit --no-fund
npm run build

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "no Redis on 127.0.0.1:6379: starting one for the quick start (redis-server --daemonize yes)"
  redis-server --port 6379 --bind 127.0.0.1 --save '' --daemonize yes
fi

exec dist/src/cli.js -c pika.conf.example "$@"
