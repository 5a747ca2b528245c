#!/usr/bin/env bash
# Start (once) a throwaway PostgreSQL on 127.0.0.1 for the store's tests and print its URL.
# Installs Debian's postgresql when no server binaries exist and RAYTRADER_PG_INSTALL=1.
set -euo pipefail
port=${RAYTRADER_PG_PORT:-55432}
data=${RAYTRADER_PG_DIR:-/tmp/raytrader-pg}
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bin=$(find_bin)
if [ -z "$bin" ] && [ "${RAYTRADER_PG_INSTALL:-0}" = 1 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  bin=$(find_bin)
fi
[ -n "$bin" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 3; }
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  rm -rf "$data" && mkdir -p "$data"
  [ "$(id -u)" = 0 ] && chown postgres: "$data"
  as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-h 127.0.0.1 -p $port -k /tmp -c fsync=off" start >/dev/null
fi
if ! as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -Atc \
  "SELECT 1 FROM pg_database WHERE datname = 'raytrader_test'" | grep -q 1; then
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres raytrader_test
fi
echo "postgresql://postgres@127.0.0.1:$port/raytrader_test"
