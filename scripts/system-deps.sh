#!/usr/bin/env bash
# Install the Debian packages listed in system-packages.txt that are not installed yet.
# Idempotent and quiet when nothing is missing; `make test` and `make bench` call it.
set -euo pipefail
# An optional argument names another list (`make bench` passes bench/bench-packages.txt).
list="${1:-$(dirname "$0")/../system-packages.txt}"
missing=()
while read -r pkg _; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "$list"
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
