#!/usr/bin/env bash
# Installs, with Debian's apt, what pika-migrate and its tests need and the machine lacks: a Redis
# (server and cli), rsync, and for the tests openssl, g++ with librocksdb-dev (the real-RocksDB
# fixture writer), rocksdb-tools (ldb, sst_dump: RocksDB's own view of the fixtures), the runtime
# libraries of the real Pika masters in ../shared/pika-bin, and /usr/bin/time. Used by .ci/run and
# scripts/quickstart.sh, so the quick start's `npm test` finds what CI has.
set -euo pipefail

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v rsync >/dev/null || need+=(rsync)
command -v openssl >/dev/null || need+=(openssl)
command -v g++ >/dev/null || need+=(g++)
[ -f /usr/include/rocksdb/db.h ] || need+=(librocksdb-dev)
command -v ldb >/dev/null && command -v sst_dump >/dev/null || need+=(rocksdb-tools)
for pkg in librocksdb7.8 libprotobuf32 libgoogle-glog0v6 libgflags2.2 libfmt9 libsnappy1v5 libzstd1 liblz4-1 libbz2-1.0 libunwind8; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
