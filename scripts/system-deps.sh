#!/usr/bin/env bash
# Installs the Debian packages the live tests start for real, as listed in test/live/binaries.json (binary →
# package; test/helpers/live.ts reads the same file). Run by .ci/run, never by `npm test`: a user's test run
# skips live suites whose binaries are missing and ends by printing the install command instead.
# Idempotent: only what is missing is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
while read -r cmd pkg; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
done < <(node -e 'for (const [b, p] of Object.entries(require("./test/live/binaries.json"))) console.log(b, p)')
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "switchyard's live tests need these Debian packages: ${missing[*]} (install them as root with apt-get)" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
