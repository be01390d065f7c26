#!/usr/bin/env bash
# Installs the Debian packages the tests start for real (run by `npm test` via pretest, and by .ci/run).
# Idempotent: only what is missing is installed. One "command package" pair per line.
set -euo pipefail
DEPS=(
  # "command-that-must-exist debian-package"
  "nginx nginx"
  "memcached memcached"
  "nutcracker nutcracker"
  "etcd etcd-server"
  "etcdctl etcd-client"
  "dnsmasq dnsmasq-base"
  "chromium chromium"
  "redis-server redis-server"
)
missing=()
for pair in "${DEPS[@]}"; do
  cmd=${pair%% *}
  pkg=${pair##* }
  command -v "$cmd" >/dev/null 2>&1 || [ -x "$cmd" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "switchyard tests need these Debian packages: ${missing[*]} (install them as root with apt-get)" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
